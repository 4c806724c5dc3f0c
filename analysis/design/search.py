"""Block-design search: which block to use in a layer slot on a board.

Designs are ``TemplateBlock`` variants (channel structure nwn or wnw, the
operator of the spatial conv and of the 1x1 convs, kernel size, expansion or
compression ratio) plus named baselines (MobileNetV2; PhiNet and XiNet
blocks as micromind builds them; ResNet basic and bottleneck), all filling
one slot (H x W x C_in -> C_out, stride). Each is counted exactly (analysis.design.complexity) and
costed on the board (analysis.design.cost). Designs that do not fit the
board's flash and RAM limits are kept in the table but marked and never on a
front.

Fronts: a feasible design is on the energy-params front when no other feasible
design has both lower-or-equal energy and higher-or-equal parameters (one of
them strictly); likewise for MACs. Ranking among feasible designs: Pareto
layer of (energy down, parameters up) by non-dominated sorting (layer 1 = the
front), then parameters per microjoule (the most capacity for the energy)
within a layer. Budgets beyond flash and RAM (MACs, energy, latency per call)
only remove designs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from bench.errors import ConfigError

from . import blocks, phinet, xinet
from .complexity import count
from .cost import CostSource, design_cost

SHORT = {"standard": "std", "depthwise": "dw", "grouped": "g", "pointwise": "pw"}


@dataclass(frozen=True)
class Slot:
    hw: int
    c_in: int
    c_out: int
    stride: int = 1

    @property
    def label(self) -> str:
        return f"{self.hw}x{self.hw}x{self.c_in}>{self.c_out} s{self.stride}"


@dataclass(frozen=True)
class Design:
    name: str
    family: str                  # template or baseline name
    structure: str               # nwn, wnw, or the baseline's
    spatial_op: str
    k: int
    ratio: float
    pw_op: str = "pointwise"
    build: Callable[[], nn.Module] = field(compare=False, repr=False, default=None)


def template_designs(slot: Slot, structures: Iterable[str], spatial_ops: Iterable[str], kernel_sizes: Iterable[int],
                     ratios: dict, pw_ops: Iterable[str], groups: int) -> list[Design]:
    out = []
    for structure, op, k, pw in itertools.product(structures, spatial_ops, kernel_sizes, pw_ops):
        for ratio in ratios[structure]:
            sp = f"g{groups}" if op == "grouped" else SHORT[op]
            one = f"gpw{groups}" if pw == "grouped" else "pw"
            name = f"{structure}-k{k}{sp}-r{ratio:g}-{one}"
            def build(structure=structure, ratio=ratio, op=op, k=k, pw=pw):
                return blocks.TemplateBlock(slot.c_in, slot.c_out, slot.stride, structure, ratio, op, k, pw, groups)
            out.append(Design(name, "template", structure, op, k, ratio, pw, build))
    return out


def baseline_designs(slot: Slot, names: Iterable[str]) -> list[Design]:
    s = slot
    table = {
        "mobilenetv2": lambda: Design("mobilenetv2-t6", "mobilenetv2", "nwn", "depthwise", 3, 6, "pointwise",
                                      lambda: blocks.InvertedResidual(s.c_in, s.c_out, s.stride, 6)),
        "phinet": lambda: Design("phinet-t6-se", "phinet", "nwn", "depthwise", 3, 6, "pointwise",
                                 lambda: phinet.PhiNetBlock(phinet.block_for_slot(s.c_in, s.c_out, s.stride))),
        "xinet": lambda: Design("xinet-g4", "xinet", "wnw", "standard", 3, 4, "pointwise",
                                lambda: xinet.XiConv(xinet.block_for_slot(s.c_in, s.c_out, s.stride))),
        "resnet_basic": lambda: Design("resnet-basic", "resnet_basic", "plain", "standard", 3, 1, "pointwise",
                                       lambda: blocks.BasicBlock(s.c_in, s.c_out, s.stride)),
        "resnet_bottleneck": lambda: Design("resnet-bottleneck", "resnet_bottleneck", "wnw", "standard", 3, 4,
                                            "pointwise", lambda: blocks.Bottleneck(s.c_in, s.c_out, s.stride)),
    }
    unknown = set(names) - set(table)
    if unknown:
        raise ConfigError(f"unknown baseline(s) {sorted(unknown)}; known: {', '.join(table)}")
    return [table[n]() for n in names]


def evaluate(designs: Iterable[Design], slot: Slot, source: CostSource, board: str, kernels: str,
             flash_bytes: float, ram_bytes: float, macs: float | None = None, energy_uj: float | None = None,
             latency_s: float | None = None) -> pd.DataFrame:
    """Counts, cost, fit and front membership of every design (one row each)."""
    rows = []
    for d in designs:
        try:
            with torch.device("meta"):
                model = d.build()
        except ConfigError as exc:       # e.g. grouped conv whose groups do not divide
            rows.append({"design": d.name, "family": d.family, "structure": d.structure, "spatial_op": d.spatial_op,
                         "k": d.k, "ratio": d.ratio, "pw_op": d.pw_op, "fits": False, "why_not": str(exc)})
            continue
        cx = count(model, (slot.c_in, slot.hw, slot.hw))
        cost = design_cost(cx, source, board, kernels)
        why = []
        if cx.flash_bytes > flash_bytes:
            why.append(f"flash {cx.flash_bytes / 1024:.1f} KB > {flash_bytes / 1024:g} KB")
        if cx.peak_ram_bytes > ram_bytes:
            why.append(f"RAM {cx.peak_ram_bytes / 1024:.1f} KB > {ram_bytes / 1024:g} KB")
        if macs is not None and cx.macs > macs:
            why.append(f"MACs {cx.macs:.3g} > {macs:.3g}")
        if energy_uj is not None and cost["energy_uj"] > energy_uj:
            why.append(f"energy {cost['energy_uj']:.3g} uJ > {energy_uj:.3g} uJ")
        if latency_s is not None and cost["latency_s"] > latency_s:
            why.append(f"latency {cost['latency_s'] * 1e3:.3g} ms > {latency_s * 1e3:.3g} ms")
        if not np.isfinite(cost["energy_uj"]) or cost["uncosted_convs"]:
            why.append("not costed on this board")
        rows.append({"design": d.name, "family": d.family, "structure": d.structure, "spatial_op": d.spatial_op,
                     "k": d.k, "ratio": d.ratio, "pw_op": d.pw_op, **cx.totals(), **cost,
                     "macs_per_uj": cx.macs / cost["energy_uj"] if cost["energy_uj"] else np.nan,
                     "params_per_uj": cx.params / cost["energy_uj"] if cost["energy_uj"] else np.nan,
                     "fits": not why, "why_not": "; ".join(why)})
    df = pd.DataFrame(rows)
    return rank(df)


def smallest_design(df: pd.DataFrame, limits: dict[str, float | None]) -> str:
    """What the design closest to fitting needs, against each limit (for when none fits)."""
    keys = [k for k, v in limits.items() if v is not None and k in df]
    built = df.dropna(subset=keys) if keys else df.iloc[:0]
    if not len(built):
        return "No design could be built or costed: " + "; ".join(df["why_not"].astype(str).unique()[:3])
    over = pd.concat([built[k] / float(limits[k]) for k in keys], axis=1).max(axis=1)
    row = built.loc[over.idxmin()]
    unit = {"flash_bytes": 1 / 1024, "peak_ram_bytes": 1 / 1024, "latency_s": 1e3}
    name = {"flash_bytes": "flash KB", "peak_ram_bytes": "RAM KB", "macs": "MACs", "energy_uj": "energy uJ",
            "latency_s": "latency ms"}
    needs = ", ".join(f"{name[k]} {row[k] * unit.get(k, 1):.4g} of {float(limits[k]) * unit.get(k, 1):.4g}"
                      for k in keys)
    return (f"The smallest design, {row['design']}, needs {needs} ({over.min():.0%} of the tightest limit); "
            f"{row['why_not']}. Loosen a budget or give a smaller slot.")


def pareto_front(cost: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Mask of points not dominated: lower-or-equal cost and higher-or-equal capacity, one strictly."""
    cost, capacity = np.asarray(cost, float), np.asarray(capacity, float)
    n = len(cost)
    mask = np.ones(n, bool)
    for i in range(n):
        dominated = (cost <= cost[i]) & (capacity >= capacity[i]) & ((cost < cost[i]) | (capacity > capacity[i]))
        mask[i] = not dominated.any()
    return mask


def pareto_layers(objectives: np.ndarray) -> np.ndarray:
    """Non-dominated sorting, all objectives minimised: 1 for the front, 2 for the next, ..."""
    obj = np.asarray(objectives, float)
    layer = np.zeros(len(obj), int)
    remaining = np.arange(len(obj))
    level = 1
    while len(remaining):
        sub = obj[remaining]
        nd = []
        for i in range(len(sub)):
            dom = np.all(sub <= sub[i], axis=1) & np.any(sub < sub[i], axis=1)
            if not dom.any():
                nd.append(i)
        layer[remaining[nd]] = level
        remaining = np.delete(remaining, nd)
        level += 1
    return layer


def rank(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("front_params", "front_macs"):
        df[col] = False
    df["pareto_layer"] = np.nan
    df["rank"] = np.nan
    ok = df.index[df["fits"].astype(bool)]
    if len(ok):
        sub = df.loc[ok]
        df.loc[ok, "front_params"] = pareto_front(sub["energy_uj"], sub["params"])
        df.loc[ok, "front_macs"] = pareto_front(sub["energy_uj"], sub["macs"])
        df.loc[ok, "pareto_layer"] = pareto_layers(np.c_[sub["energy_uj"], -sub["params"]])
        order = df.loc[ok].sort_values(["pareto_layer", "params_per_uj"], ascending=[True, False]).index
        df.loc[order, "rank"] = np.arange(1, len(order) + 1)
    return df.sort_values(["rank", "design"], na_position="last").reset_index(drop=True)


def compare_rankings(a: pd.DataFrame, b: pd.DataFrame, label_a: str, label_b: str) -> tuple[pd.DataFrame, float]:
    """Ranks of the same designs under two cost sources, and Kendall's tau of the two rankings."""
    from scipy.stats import kendalltau

    cols = ["design", "rank", "energy_uj", "params_per_uj"]
    m = a[cols].merge(b[cols], on="design", suffixes=(f" {label_a}", f" {label_b}"))
    m["rank change"] = m[f"rank {label_b}"] - m[f"rank {label_a}"]
    both = m.dropna(subset=[f"rank {label_a}", f"rank {label_b}"])
    tau = float(kendalltau(both[f"rank {label_a}"], both[f"rank {label_b}"]).statistic) if len(both) > 1 else np.nan
    return m.sort_values(f"rank {label_a}", na_position="last").reset_index(drop=True), tau
