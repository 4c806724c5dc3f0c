"""Report plots of eta_op and cost per MAC (matplotlib, Agg), readable on screen and in print.

Conventions: eta_op on a linear axis with eta_op = 1 (the standard conv) drawn; one panel
per series (board / kernel library) where series would otherwise share bars; legends
outside the data; cases that are the standard conv under another name (a pointwise conv
in a 1x1 slot) marked, never counted as a result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.cases.spec import OPS as CONV_OPS

from .eta import sweep_slots
from .headline import series_order, with_series
from .plot_style import finish, geomean, op_style, plt

import matplotlib.patches as mpatches  # noqa: E402  (after plot_style chose the Agg backend)
import matplotlib.ticker as mticker  # noqa: E402

SUBJECT_OPS = [op for op in CONV_OPS if op != "standard"]
UNIT_PROVENANCE = {"instructions": "emulator-count", "cycles": "hardware-measured"}
MAX_LABELLED_SERIES = 3   # more bars per group than this: values are in the table, not on the bars


def _cost_per_mac(t: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """Cost per MAC for the right-hand panel: estimated cycles where every row has them (the
    figure energy and eta_op come from on emulated boards), else the metric as counted."""
    est = pd.to_numeric(t["cycles_estimated"], errors="coerce") if "cycles_estimated" in t else None
    if est is not None and est.notna().all() and set(t["metric_unit"]) == {"instructions"}:
        return t.assign(cost_per_mac=est / t["macs"]), "estimated cycles", "model-estimate, core pipeline model"
    unit = "/".join(sorted(set(t["metric_unit"])))
    return (t.assign(cost_per_mac=t["metric_per_mac"]), unit,
            ", ".join(UNIT_PROVENANCE.get(u, u) for u in sorted(set(t["metric_unit"]))))


def _ops(t: pd.DataFrame, ops=SUBJECT_OPS) -> list[str]:
    return [op for op in ops if op in set(t["op"])]


def _eta_axis(ax, top: float) -> None:
    ax.axhline(1.0, color="black", linewidth=1.1, linestyle="--")
    ax.annotate("standard conv (η = 1)", xy=(0.005, 1.0), xycoords=("axes fraction", "data"),
                xytext=(0, 3), textcoords="offset points", fontsize=7)
    ax.set_ylim(0, max(1.15, top * 1.12))
    ax.grid(True, axis="y", alpha=0.3)


# -- 1. the overview: eta_op and cost per MAC per operator, per series -------------------
def overview(table: pd.DataFrame, path: Path) -> Path:
    """Left: geometric-mean eta_op per operator (whiskers: min to max), one bar per series.
    Right: median metric per MAC per operator and series (standard conv included). Works for
    one series (a single run) as for many (boards, cores, kernel libraries)."""
    t = with_series(table[table["op"].isin(CONV_OPS) & ~table["same_as_standard"]])
    series = series_order(t)
    labelled = len(series) <= MAX_LABELLED_SERIES
    units = sorted(set(t["metric_unit"]))
    fig, axes = plt.subplots(1, 1 + len(units), dpi=120, squeeze=False,
                             figsize=(5.2 + 4.6 * len(units) + 0.3 * len(series), 4.4))
    left = axes[0][0]
    ops = _ops(t)
    width = 0.8 / max(len(series), 1)
    colors = plt.get_cmap("tab10")
    top = 1.0
    for n, s in enumerate(series):
        sub = t[(t["series"] == s) & t["op"].isin(ops)].dropna(subset=["eta_op"])
        g = sub.groupby("op")["eta_op"]
        xs = np.arange(len(ops)) + (n - (len(series) - 1) / 2) * width
        mean = np.array([geomean(g.get_group(op)) if op in g.groups else np.nan for op in ops])
        lo = np.array([g.get_group(op).min() if op in g.groups else np.nan for op in ops])
        hi = np.array([g.get_group(op).max() if op in g.groups else np.nan for op in ops])
        color = [op_style(op)[0] for op in ops] if len(series) == 1 else colors(n % 10)
        left.bar(xs, mean, width * 0.92, color=color, edgecolor="black", linewidth=0.5, label=s)
        left.errorbar(xs, mean, yerr=[np.clip(mean - lo, 0, None), np.clip(hi - mean, 0, None)], fmt="none", ecolor="black", capsize=3,
                      linewidth=0.8)
        for x, m in zip(xs, mean) if labelled else ():
            if np.isfinite(m):  # inside the bar, clear of the whiskers and the neighbours
                left.annotate(f"{m:.2f}", xy=(x, m / 2), ha="center", va="center", fontsize=7,
                              bbox=dict(facecolor="white", edgecolor="none", pad=1, alpha=0.85))
        top = max(top, np.nanmax(hi) if np.isfinite(hi).any() else 1.0)
    left.set_xticks(range(len(ops)), ops)
    _eta_axis(left, top)
    left.set_ylabel(r"$\eta_{op} = E_{standard} / E_{op}$ per MAC")
    prov = ", ".join(sorted(t["eta_provenance"].dropna().unique()))
    left.set_title("η_op per operator (geometric mean; whiskers: min to max)", fontsize=9)
    all_ops = _ops(t, CONV_OPS)
    for ax, unit in zip(axes[0][1:], units):
        u, cost, cost_prov = _cost_per_mac(t[t["metric_unit"] == unit])
        u_series = [s for s in series if s in set(u["series"])]
        w = 0.8 / max(len(u_series), 1)
        for n, s in enumerate(u_series):
            sub = u[u["series"] == s]
            med = sub.groupby("op")["cost_per_mac"].median()
            xs = np.arange(len(all_ops)) + (n - (len(u_series) - 1) / 2) * w
            vals = np.array([med.get(op, np.nan) for op in all_ops])
            color = [op_style(op)[0] for op in all_ops] if len(series) == 1 else colors(series.index(s) % 10)
            ax.bar(xs, vals, w * 0.92, color=color, edgecolor="black", linewidth=0.5, label=s)
            for x, v in zip(xs, vals) if labelled else ():
                if np.isfinite(v):
                    ax.annotate(f"{v:.3g}", xy=(x, v), xytext=(0, 2), textcoords="offset points",
                                fontsize=7, ha="center")
        ax.set_xticks(range(len(all_ops)), all_ops)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(mticker.FormatStrFormatter("%g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_ylabel(f"{cost} per MAC (median)")
        ax.set_title(f"{cost.capitalize()} per MAC ({cost_prov}; lower is cheaper)", fontsize=9)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle(f"η_op from energy ({prov})" + ("" if labelled else "; values per series in the table"),
                 fontsize=9)
    if len(series) > 1:
        axes[0][-1].legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           title="series", title_fontsize=8)
    fig.tight_layout()
    return finish(fig, path)


# -- 2. eta_op in every layer slot, slots by size --------------------------------------
def _slot_text(r) -> str:
    hw = f"{r['h']}²" if r["h"] == r["w"] else f"{r['h']}x{r['w']}"
    s = f" s{r['stride']}" if r["stride"] != 1 else ""
    return f"{hw}x{r['c_in']}→{r['c_out']} k{r['ref_k']}{s}"


MISSING_NOTE = "no bar: not in these runs (not swept for that operator, or the case failed: see Warnings)"
MOVED_NOTE = ("†: depthwise keeps c_out = c_in, so in a slot with c_out ≠ c_in its bar is the case "
              "c_in → c_in, compared with the standard conv c_in → c_in")
def eta_by_slot(table: pd.DataFrame, path: Path) -> Path:
    """eta_op of each operator in each layer slot, slots sorted by the standard conv's MACs;
    missing bars lettered with their reason, cases equal to the standard conv hatched."""
    t = with_series(table[table["op"].isin(SUBJECT_OPS)].dropna(subset=["eta_op"]))
    keys = ["h", "w", "c_in", "slot_c_out", "ref_k", "stride"]
    groups = [(s, sweep_slots(g)) for s, g in t.groupby("series", sort=True)] or [("-", sweep_slots(t))]
    n_slots = max((len(g.drop_duplicates(keys)) for _, g in groups), default=1)
    fig, axes = plt.subplots(len(groups), 1, squeeze=False, dpi=120,
                             figsize=(max(7.5, 0.5 * n_slots + 3), 3.9 * len(groups) + 1.0))
    notes = set()
    for ax, (series, sub) in zip(axes[:, 0], groups):
        ops = _ops(sub)
        slots = sub.drop_duplicates(keys)[keys].copy()
        slots["ref_macs"] = (-(-slots["h"] // slots["stride"])) * (-(-slots["w"] // slots["stride"])) \
            * slots["c_in"] * slots["slot_c_out"] * slots["ref_k"] ** 2
        slots = slots.sort_values(["ref_macs", "c_in"]).reset_index(drop=True)
        width = 0.8 / max(len(ops), 1)
        top = 1.0
        by_slot = dict(list(sub.groupby(keys)))
        for n, op in enumerate(ops):
            for i, slot in slots.iterrows():
                x = i + (n - (len(ops) - 1) / 2) * width
                here = by_slot[tuple(slot[keys])]
                hit = here[here["op"] == op]
                if not len(hit):
                    notes.add(MISSING_NOTE)
                    ax.annotate("–", xy=(x, 0.0), xytext=(0, 1), textcoords="offset points", ha="center",
                                fontsize=8, color="#777777")
                    continue
                eta = geomean(hit["eta_op"])
                same = bool(hit["same_as_standard"].any())
                ax.bar(x, eta, width * 0.92, color=op_style(op)[0], edgecolor="black", linewidth=0.4,
                       hatch="////" if same else None, alpha=0.45 if same else 1.0)
                if same:
                    ax.annotate("= standard", xy=(x, eta / 2), ha="center", va="center", fontsize=6,
                                rotation=90, bbox=dict(facecolor="white", edgecolor="none", pad=1))
                if hit["moved"].any():
                    notes.add(MOVED_NOTE)
                    ax.annotate("†", xy=(x, eta), xytext=(0, 1), textcoords="offset points", ha="center",
                                fontsize=8)
                top = max(top, eta)
        ax.set_xticks(range(len(slots)), [_slot_text(r.rename({"c_out": "_", "slot_c_out": "c_out"}))
                                          for _, r in slots.iterrows()], rotation=55,
                      ha="right", fontsize=7)
        _eta_axis(ax, top)
        ax.set_xlim(-0.6, len(slots) - 0.4)
        ax.set_ylabel(r"$\eta_{op}$ (>1: cheaper MAC than standard)")
        prov = ", ".join(sorted(sub["eta_provenance"].dropna().unique()))
        ax.set_title(f"{series}: η_op per layer slot, slots by the standard conv's MACs "
                     f"(energy {prov})", fontsize=9)
        handles = [mpatches.Patch(facecolor=op_style(op)[0], edgecolor="black") for op in ops]
        labels = list(ops)
        if any(sub["same_as_standard"]):
            handles.append(mpatches.Patch(facecolor="white", edgecolor="black", hatch="////"))
            labels.append("= the standard conv\n(1x1 slot: pointwise is it)")
        ax.legend(handles, labels, frameon=False, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set_xlabel("layer slot: h x w x c_in → c_out, k of the standard conv, stride")
    if notes:
        fig.text(0.01, -0.01, "\n".join(sorted(notes)), fontsize=7, va="top", color="#444444")
    fig.tight_layout()
    return finish(fig, path)


# -- 3. eta_op against C_in, one line per kernel size ----------------------------------
def eta_vs_channels(table: pd.DataFrame, path: Path) -> Path:
    """eta_op against C_in per operator, one line per kernel size (geometric mean over the cases
    at each C_in); stride-2 cases as open markers. Replaces a C_in x map heatmap: a diagonal sweep
    leaves most of that grid empty and averaging over k hides the strongest effect."""
    t = with_series(table[table["op"].isin(SUBJECT_OPS) & ~table["same_as_standard"]]
                    .dropna(subset=["eta_op"]))
    groups = list(t.groupby("series", sort=True)) or [("-", t)]
    ops = _ops(t)
    ks = sorted(set(t["ref_k"]))
    cmap = plt.get_cmap("viridis")
    kcolor = {k: cmap(i / max(len(ks) - 1, 1) * 0.85) for i, k in enumerate(ks)}
    fig, axes = plt.subplots(len(groups), max(len(ops), 1), squeeze=False, dpi=120, sharey=True,
                             figsize=(4.3 * max(len(ops), 1) + 1.6, 3.6 * len(groups) + 0.6))
    top = max(1.0, float(t["eta_op"].max()) if len(t) else 1.0)
    for row, (series, sub) in enumerate(groups):
        for col, op in enumerate(ops):
            ax = axes[row][col]
            mine = sub[sub["op"] == op]
            for k in ks:
                for stride, fill in ((1, True), (2, False)):
                    pts = mine[(mine["ref_k"] == k) & ((mine["stride"] == 1) == (stride == 1))]
                    if not len(pts):
                        continue
                    ax.scatter(pts["c_in"], pts["eta_op"], s=22, color=kcolor[k] if fill else "white",
                               edgecolor=kcolor[k], linewidth=1.1, zorder=3,
                               label=f"k = {k}" if fill else f"k = {k}, stride 2")
                    if fill:
                        line = pts.groupby("c_in")["eta_op"].agg(geomean)
                        ax.plot(line.index, line.values, color=kcolor[k], linewidth=1.3, zorder=2)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
            ax.set_xlabel("c_in (input channels)")
            _eta_axis(ax, top)
            ax.set_title(f"{op} ({series})" if len(groups) > 1 else op, fontsize=9)
            if col == 0:
                ax.set_ylabel(r"$\eta_{op}$")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    order = sorted(handles, key=lambda s: (int(s.split("=")[1].split(",")[0]), "stride" in s))
    axes[0][-1].legend([handles[o] for o in order], order, frameon=False, fontsize=7.5, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), title="k of the standard conv", title_fontsize=7.5)
    prov = ", ".join(sorted(t["eta_provenance"].dropna().unique())) or "none"
    fig.suptitle(f"η_op against input channels, one line per kernel size (energy {prov}; "
                 "map size varies with c_in in the sweep)", fontsize=9)
    fig.tight_layout()
    return finish(fig, path)


# -- 4. energy per MAC per layer slot ----------------------------------------------------
def energy_per_mac(table: pd.DataFrame, path: Path) -> Path:
    """Energy per MAC against the layer slot's size (its standard conv's MACs), so the
    operators of one slot stand in one column; one panel per series; outliers (over 3x their
    operator's median) labelled."""
    t = with_series(table[table["op"].isin(CONV_OPS)].dropna(subset=["energy_per_mac_nj"]))
    t = t.assign(slot_macs=t["out_h"] * t["out_w"] * t["c_in"] * t["c_out"] * t["ref_k"] ** 2)
    groups = list(t.groupby("series", sort=True)) or [("-", t)]
    fig, axes = plt.subplots(1, len(groups), squeeze=False, dpi=120, sharey=True,
                             figsize=(5.8 * len(groups) + 1.8, 4.6))
    for ax, (series, sub) in zip(axes[0], groups):
        for op in _ops(sub, CONV_OPS):
            grp = sub[sub["op"] == op]
            color, marker = op_style(op)
            ax.scatter(grp["slot_macs"], grp["energy_per_mac_nj"], label=op, color=color, marker=marker,
                       s=30, edgecolor="black", linewidth=0.5, zorder=3)
            median = grp["energy_per_mac_nj"].median()
            outliers = grp[grp["energy_per_mac_nj"] > 3 * median].sort_values("slot_macs")
            for j, r in enumerate(outliers.itertuples()):
                ax.annotate(f"{op} k{r.k}, {r.h}²x{r.c_in}", xy=(r.slot_macs, r.energy_per_mac_nj),
                            xytext=(12, -14 - 11 * j), textcoords="offset points", fontsize=7,
                            arrowprops=dict(arrowstyle="-", color="#777777", linewidth=0.6))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("layer slot size: MACs of its standard conv")
        prov = ", ".join(sorted(sub["energy_provenance"].dropna().unique()))
        ax.set_title(f"{series}: energy per MAC ({prov})", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("energy per MAC (nJ)")
    axes[0][-1].legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return finish(fig, path)
