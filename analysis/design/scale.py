"""Hardware-aware scaling: solve a network's hyperparameters for a board's budgets.

Given budgets (flash, RAM, and any of MACs, energy or latency per inference),
find PhiNet (alpha, beta, t0) or XiNet (alpha, gamma) — the networks as
micromind builds them (analysis.design.phinet, xinet) — such that the network
fits every budget, maximising a capacity objective (parameters or MACs).

As the PhiNet/XiNet authors put it, hardware-aware scaling inverts the mapping
from hyperparameters to cost. Here the mapping is evaluated in closed form:
each block's parameters, MACs, flash and live tensor bytes are integer
expressions in its channel counts and map sizes, which are expressions in the
hyperparameters (analysis.design.closed_form); a candidate costs a fraction
of a millisecond, so no network is built or traced while solving. The chosen
answer is then built in torch once, run, traced and counted
(``verify``), and both counts are reported side by side.

The solver (scipy.optimize):
- Every cost is a step function of the hyperparameters (channel counts are
  truncated and rounded), so gradient methods stall on the exact costs; a
  smooth relaxation would solve a different network than the one deployed.
- Every cost is monotone non-decreasing in the width alpha, so for fixed
  secondary variables the largest feasible alpha is the root of
  ``usage(alpha) - 1`` (usage = max over budgets of cost / budget):
  ``scipy.optimize.brentq`` brackets it and the answer is taken on the
  feasible side of the jump. Below the smallest alpha whose network has a
  channel in every layer there is no network; the bracket starts there.
- The secondary variables (beta, t0 for PhiNet; gamma for XiNet, an integer
  since micromind truncates it) are searched on a grid; ``refine`` passes
  re-grid a box of one step around the best answer (continuous variables only).
- Selection rule (``rank_answers``, also the order of grid.csv and the
  report's grid table): feasible answers only; those using the binding budget
  within 5 % first; then the largest objective; then the higher usage.

Costs come from the closed form (flash, RAM, MACs, params) and
analysis.design.cost (energy, latency: convolutions only, element-wise layers
are not costed).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy import optimize

from bench.errors import ConfigError

from . import phinet, reference, xinet
from .complexity import count
from .cost import CostSource, design_cost, energy_latency

BINDING_WITHIN = 0.05
FAMILIES = {
    "phinet": {"module": phinet, "network": phinet.PhiNet, "vars": ("alpha", "beta", "t0"), "integer": ()},
    "xinet": {"module": xinet, "network": xinet.XiNet, "vars": ("alpha", "gamma"), "integer": ("gamma",)},
}
COUNTS = ("params", "macs", "flash_bytes", "ram_bytes")


@dataclass
class Budget:
    """Per-inference limits; None = no limit."""

    flash_bytes: float
    ram_bytes: float
    macs: float | None = None
    energy_uj: float | None = None
    latency_s: float | None = None

    def items(self) -> dict[str, float]:
        pairs = {"flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "macs": self.macs,
                 "energy_uj": self.energy_uj, "latency_s": self.latency_s}
        return {k: float(v) for k, v in pairs.items() if v is not None}


@dataclass
class Problem:
    family: str
    budget: Budget
    bounds: dict[str, tuple[float, float]]      # alpha and the secondary variables
    fixed: dict = field(default_factory=dict)   # n_blocks and the family's options (micromind's names)
    resolutions: tuple[int, ...] = (96,)
    in_channels: int = 3
    objective: str = "params"                   # maximised: params or macs
    grid: int = 5                               # points per continuous secondary variable
    refine: int = 0                             # extra grid passes around the best answer
    source: CostSource | None = None            # needed for energy / latency budgets
    board: str = ""
    kernels: str = ""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ConfigError(f"unknown family {self.family!r}; known: {', '.join(FAMILIES)}")
        want = set(FAMILIES[self.family]["vars"])
        if set(self.bounds) != want:
            raise ConfigError(f"{self.family} needs bounds for {sorted(want)}, got {sorted(self.bounds)}")
        if self.objective not in ("params", "macs"):
            raise ConfigError(f"objective must be params or macs, got {self.objective!r}")
        if self.grid < 2:
            raise ConfigError(f"family.grid must be at least 2, got {self.grid}")
        needs_cost = self.budget.energy_uj is not None or self.budget.latency_s is not None
        if needs_cost and self.source is None:
            raise ConfigError("an energy or latency budget needs the board's cost predictor")

    def plan(self, hyper: dict, resolution: int):
        """The family's plan (raises ConfigError where micromind could not build the network)."""
        fixed = dict(self.fixed)
        n = fixed.pop("n_blocks", FAMILIES[self.family]["module"].DEFAULTS["n_blocks"])
        mod = FAMILIES[self.family]["module"]
        return mod.plan(*[hyper[v] for v in mod.HYPER], n, resolution=resolution, in_channels=self.in_channels,
                        **fixed)

    def counts(self, plan, cache: dict | None = None) -> dict:
        """Closed-form counts (and predicted cost, with a cost source) of a plan; with ``cache`` only the
        energy and latency totals are predicted (the solver's fast path), each layer shape once."""
        cx = FAMILIES[self.family]["module"].complexity(plan)
        return measure(cx, self, cache)


def measure(cx, p: Problem, cache: dict | None = None) -> dict:
    out = {"macs": cx.macs, "params": cx.params, "flash_bytes": cx.flash_bytes, "ram_bytes": cx.peak_ram_bytes,
           "elem_ops": cx.elem_ops, "energy_uj": np.nan, "latency_s": np.nan}
    if p.source is not None and cache is not None:
        out["energy_uj"], out["latency_s"] = energy_latency(cx, p.source, p.board, p.kernels, cache)
    elif p.source is not None:
        cost = design_cost(cx, p.source, p.board, p.kernels)
        out.update(energy_uj=cost["energy_uj"], latency_s=cost["latency_s"], cost_sources=cost["cost_sources"],
                   provenance=cost["provenance"], inputs_provenance=cost["inputs_provenance"],
                   uncosted_elem_ops=cost["uncosted_elem_ops"], expected_rel_error=cost["expected_rel_error"])
    return out


class Evaluator:
    """Closed-form costs of one hyperparameter point, cached by the network's structure."""

    def __init__(self, problem: Problem):
        self.p = problem
        self._cache: dict = {}
        self._layer_costs: dict = {}          # predicted energy and latency per conv shape
        self.evaluations = 0
        self.why_not: set[str] = set()      # why points had no network (micromind could not build them)

    def hyper(self, alpha: float, secondary: tuple[float, ...]) -> dict:
        return dict(zip(FAMILIES[self.p.family]["vars"], (alpha, *secondary)))

    def costs(self, hyper: dict, resolution: int) -> dict | None:
        """Costs, or None where there is no such network (a layer without channels, a map mismatch)."""
        self.evaluations += 1
        try:
            plan = self.p.plan(hyper, resolution)
            key = repr((plan.stem, plan.blocks, getattr(plan, "skip_channels", 0), resolution))
            if key not in self._cache:
                self._cache[key] = self.p.counts(plan, self._layer_costs)
        except ConfigError as exc:
            self.why_not.add(str(exc).split(":", 1)[-1].strip() if "resolution" in str(exc) else "layers without "
                             "channels at small alpha")
            return None
        return self._cache[key]

    def usage(self, costs: dict) -> dict[str, float]:
        return {k: costs[k] / v for k, v in self.p.budget.items().items()}

    def excess(self, alpha: float, secondary: tuple, resolution: int) -> float:
        costs = self.costs(self.hyper(alpha, secondary), resolution)
        return math.inf if costs is None else max(self.usage(costs).values()) - 1.0


def _smallest_buildable(ev: Evaluator, secondary: tuple, resolution: int) -> float | None:
    """The smallest alpha in bounds whose network exists (existence is monotone in alpha)."""
    lo, hi = ev.p.bounds["alpha"]
    if ev.costs(ev.hyper(lo, secondary), resolution) is not None:
        return lo
    if ev.costs(ev.hyper(hi, secondary), resolution) is None:
        return None
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ev.costs(ev.hyper(mid, secondary), resolution) is not None else (mid, hi)
    return hi


def _max_alpha(ev: Evaluator, secondary: tuple, resolution: int) -> dict:
    """Largest alpha within bounds such that every budget holds, for fixed secondary variables."""
    lo = _smallest_buildable(ev, secondary, resolution)
    hi = ev.p.bounds["alpha"][1]
    if lo is None:
        return {"feasible": False, "alpha": np.nan, "why": "no buildable network at this point"}
    g = lambda a: ev.excess(a, secondary, resolution)  # noqa: E731
    if g(lo) > 0:
        return {"feasible": False, "alpha": lo, "why": "over a budget at the smallest alpha",
                **ev.costs(ev.hyper(lo, secondary), resolution)}
    if g(hi) <= 0:
        alpha = hi
    else:
        alpha = optimize.brentq(lambda a: min(g(a), 1e9), lo, hi, xtol=1e-4)
        while g(alpha) > 0 and alpha > lo:    # the root sits on a jump: step to its feasible side
            alpha = max(lo, alpha - 1e-4)
    # report alpha rounded down to 3 decimals when that is the same network
    short = math.floor(alpha * 1000) / 1000
    if short >= lo and ev.costs(ev.hyper(short, secondary), resolution) == ev.costs(ev.hyper(alpha, secondary),
                                                                                  resolution):
        alpha = short
    costs = ev.costs(ev.hyper(alpha, secondary), resolution)
    usage = ev.usage(costs)
    return {"feasible": True, "alpha": alpha, **costs, "usage": usage,
            "binding": max(usage, key=usage.get), "binding_usage": max(usage.values())}


def rank_answers(table: pd.DataFrame, objective: str) -> pd.DataFrame:
    """The selection rule, as an order: feasible first; within 5 % of the binding budget first; then the
    largest objective; then the higher usage. Row 0 is the answer."""
    t = table.copy()
    feasible = t["feasible"].astype(bool)
    usage = pd.to_numeric(t.get("binding_usage", pd.Series(np.nan, index=t.index)), errors="coerce")
    t["within_5pct"] = feasible & (usage >= 1 - BINDING_WITHIN)
    t["_obj"] = pd.to_numeric(t.get(objective, pd.Series(np.nan, index=t.index)), errors="coerce").where(feasible)
    t["_use"] = usage.where(feasible)
    t = t.sort_values(["feasible", "within_5pct", "_obj", "_use"], ascending=False, na_position="last", kind="stable")
    return t.drop(columns=["_obj", "_use"]).reset_index(drop=True)


def _pick(p: Problem, answers: list[dict]) -> tuple[pd.DataFrame, pd.Series | None, bool]:
    rows = [{k: v for k, v in a.items() if k != "usage"} | {f"use_{k}": v for k, v in a.get("usage", {}).items()}
            for a in answers]
    table = rank_answers(pd.DataFrame(rows), p.objective)
    if not table["feasible"].any():
        return table, None, False
    best = table.iloc[0]
    return table, best, bool(best["within_5pct"])


def _grid_values(p: Problem, name: str, lo: float, hi: float) -> list[float]:
    if name in FAMILIES[p.family]["integer"]:
        return [float(v) for v in range(math.ceil(lo), math.floor(hi) + 1)] or [float(lo)]
    return [float(v) for v in np.linspace(lo, hi, p.grid)]


def solve(p: Problem) -> tuple[dict, pd.DataFrame]:
    """Best hyperparameters and the table of every grid point's answer, in selection order.

    ``p.refine`` extra passes grid a box of one grid step around the best answer so far
    (same number of points, so the step shrinks each pass); integer variables stay put."""
    ev = Evaluator(p)
    names = FAMILIES[p.family]["vars"][1:]
    answers, seen = [], set()

    def run(box: dict, resolution: int) -> None:
        for point in itertools.product(*[_grid_values(p, n, *box[n]) for n in names]):
            if (point, resolution) in seen:
                continue
            seen.add((point, resolution))
            a = _max_alpha(ev, point, resolution)
            a.update(dict(zip(names, point)), resolution=resolution)
            answers.append(a)

    for resolution in p.resolutions:
        run({n: p.bounds[n] for n in names}, resolution)
    steps = {n: (p.bounds[n][1] - p.bounds[n][0]) / (p.grid - 1) for n in names}
    for _ in range(p.refine):
        _, best, _ = _pick(p, answers)
        if best is None:
            break
        box = {n: (float(best[n]),) * 2 if n in FAMILIES[p.family]["integer"] else
               (max(p.bounds[n][0], float(best[n]) - steps[n]), min(p.bounds[n][1], float(best[n]) + steps[n]))
               for n in names}
        run(box, int(best["resolution"]))
        steps = {n: 2 * st / (p.grid - 1) for n, st in steps.items()}
    table, best, within = _pick(p, answers)
    table = table.drop(columns=[c for c in ("energy_uj", "latency_s") if c in table and table[c].isna().all()])
    if best is None:
        raise ConfigError(smallest_needs(p, table, ev.why_not))
    answer = {"family": p.family, **{n: float(best[n]) for n in FAMILIES[p.family]["vars"]},
              "resolution": int(best["resolution"]), "binding": best["binding"],
              "binding_usage": float(best["binding_usage"]), "within_5pct": within,
              "grid_points": len(table), "closed_form_evaluations": ev.evaluations,
              "distinct_networks_counted": len(ev._cache)}
    return answer, table


def smallest_needs(p: Problem, table: pd.DataFrame, why_not: set[str] = frozenset()) -> str:
    """Why nothing fits: what the cheapest buildable network of the grid needs against each budget."""
    cands = table.dropna(subset=["flash_bytes"]) if "flash_bytes" in table else table.iloc[:0]
    if not len(cands):
        return (f"no {p.family} network can be built within the bounds at resolution(s) {list(p.resolutions)}: "
                + "; ".join(sorted(why_not)))
    keys = list(p.budget.items())
    over = cands[keys].div(pd.Series(p.budget.items())).max(axis=1)
    row = cands.loc[over.idxmin()]
    needs = ", ".join(f"{k} {row[k]:.4g} vs {v:.4g}" for k, v in p.budget.items().items())
    return (f"no {p.family} within the bounds fits the budgets; the smallest "
            f"(alpha={row['alpha']:.3g}, resolution {int(row['resolution'])}) needs {needs}; loosen a budget "
            "or offer smaller resolutions (family.resolutions=[...])")


def build(p: Problem, answer: dict):
    """The torch network of an answer (on the current default device)."""
    plan = p.plan(answer, answer["resolution"])
    return FAMILIES[p.family]["network"](plan).eval()


def closed_complexity(p: Problem, answer: dict):
    """The answer's per-layer counts in closed form (complexity.Complexity)."""
    return FAMILIES[p.family]["module"].complexity(p.plan(answer, answer["resolution"]))


def micromind_call(p: Problem, answer: dict) -> str:
    """The micromind constructor call that builds the answer's network."""
    return FAMILIES[p.family]["module"].micromind_call(p.plan(answer, answer["resolution"]))


def verify(p: Problem, answer: dict) -> dict:
    """Build the answer in torch on CPU, run it, trace and count it, and compare with the closed form."""
    torch.manual_seed(0)
    plan = p.plan(answer, answer["resolution"])
    network = FAMILIES[p.family]["network"]
    shape = (p.in_channels, answer["resolution"], answer["resolution"])
    with torch.no_grad():
        out = network(plan).eval()(torch.zeros(1, *shape))      # it runs, on CPU, with real weights
    with torch.device("meta"):                                  # the same network traced for counting (no compute)
        traced = measure(count(network(plan), shape), p)
    closed = p.counts(plan)
    usage = {k: traced[k] / v for k, v in p.budget.items().items()}
    call = micromind_call(p, answer)
    return {"output_shape": tuple(out.shape), **traced,
            "closed_form": {k: closed[k] for k in COUNTS + ("energy_uj", "latency_s")},
            "closed_form_matches": all(closed[k] == traced[k] for k in COUNTS), "usage": usage,
            "fits": all(u <= 1.0 for u in usage.values()),
            "binding": max(usage, key=usage.get), "binding_usage": max(usage.values()),
            "within_5pct": max(usage.values()) >= 1 - BINDING_WITHIN,
            "plan": [vars(b) for b in plan.blocks], "micromind": call,
            "micromind_check": against_micromind(call, shape, traced)}


def against_micromind(call: str, shape: tuple, ours: dict, mods: dict | None = None) -> dict:
    """micromind's own network from ``call`` (when micromind is installed), counted by the same rules."""
    try:
        mods = mods or reference.load()
    except ImportError as exc:
        return {"compared": False, "why": str(exc)}
    with torch.device("meta"):
        cx = count(reference.build(call, mods), shape)
    theirs = {"params": cx.params, "macs": cx.macs, "flash_bytes": cx.flash_bytes, "ram_bytes": cx.peak_ram_bytes}
    return {"compared": True, **theirs, "equal": all(theirs[k] == ours[k] for k in theirs)}
