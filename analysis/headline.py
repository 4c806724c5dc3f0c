"""The answer first: per board and kernel library ("series"), eta_op per operator in a few
rows and one sentence naming the operator that does a MAC most cheaply and how that
changes with shape. Printed at the end of every run and at the top of every report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.cases.spec import OPS as CONV_OPS

from .eta import TREND_AXES, operator_summary, sweep_slots

AXIS_WORDS = {"channels": ("input channels", "c_in"), "map": ("map size", "h*w"),
              "kernel": ("kernel size", "k")}
SLOT_KEYS = ["h", "w", "c_in", "slot_c_out", "ref_k", "stride", "padding"]


# Series are ordered along the Cortex-M family, not alphabetically (m33 after m7, not after m3).
CORE_ORDER = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m85"]


def series_order(t: pd.DataFrame) -> list[str]:
    """The series of a table that has them (with_series), along CORE_ORDER, then by board and library."""
    core = t["core"].astype(str) if "core" in t else pd.Series("", index=t.index)
    rank = core.map(lambda c: CORE_ORDER.index(c) if c in CORE_ORDER else len(CORE_ORDER))
    ordered = t.assign(_rank=rank).sort_values(["_rank", "board", "kernels"], kind="stable")
    return list(dict.fromkeys(ordered["series"]))


def with_series(table: pd.DataFrame) -> pd.DataFrame:
    """Adds ``series``: the board (with its core), plus the kernel library when a report holds
    more than one; the unit every per-board figure and sentence is grouped by."""
    several_libs = table["kernels"].nunique() > 1
    core = table["core"].astype(object) if "core" in table else pd.Series("", index=table.index)
    core = core.where(core.notna(), "").astype(str)  # no core recorded (older runs): board alone
    board = table["board"].astype(str) + np.where(core != "", " (" + core + ")", "")
    series = board + (" / " + table["kernels"].astype(str) if several_libs else "")
    return table.assign(series=series)


def operator_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per series and operator: cases, eta_op geometric mean and range, and the metric per MAC
    (instructions or cycles, median over the cases; estimated cycles when the run made them)."""
    t = with_series(table[table["op"].isin(CONV_OPS)])
    summary = operator_summary(t)
    label = t.drop_duplicates(["board", "kernels"]).set_index(["board", "kernels"])["series"]
    summary["series"] = [label[(b, k)] for b, k in zip(summary["board"], summary["kernels"])]
    plain = t[~t["same_as_standard"]]
    est = pd.to_numeric(plain.get("cycles_estimated"), errors="coerce") if "cycles_estimated" in plain else None
    if est is not None and est.notna().any():
        per = (est / plain["macs"]).groupby([plain["board"], plain["kernels"], plain["op"]]).median()
        summary["cycles_estimated_per_mac"] = [per.get((b, k, o), np.nan) for b, k, o
                                               in zip(summary["board"], summary["kernels"], summary["op"])]
    order = {op: n for n, op in enumerate(CONV_OPS)}
    rank = {s: n for n, s in enumerate(series_order(t))}
    summary = summary.assign(_s=summary["series"].map(rank), _o=summary["op"].map(order))
    summary = summary.sort_values(["_s", "_o"], kind="stable")
    return summary.drop(columns=["_s", "_o"]).reset_index(drop=True)


def _slot_winners(sub: pd.DataFrame) -> pd.DataFrame:
    """Per sweep slot (input map, channels, kernel of the standard conv, stride): the operator with
    the highest eta_op (the standard conv counts as 1), ignoring cases equal to the standard."""
    cand = sub[sub["op"].isin(CONV_OPS) & ~sub["same_as_standard"]].dropna(subset=["eta_op"])
    cand = sweep_slots(cand)
    cand = cand.assign(eta=np.where(cand["op"] == "standard", 1.0, cand["eta_op"]))
    contested = cand.groupby(SLOT_KEYS)["op"].transform("nunique") > 1  # not a reference alone
    cand = cand[contested]
    best = cand.sort_values("eta", ascending=False, kind="stable").drop_duplicates(SLOT_KEYS)
    return best[SLOT_KEYS + ["op", "eta"]]


def _where(slots: pd.DataFrame) -> str:
    """The shape range a set of slots covers, in the report's vocabulary."""
    parts = []
    for col, name in (("c_in", "c_in"), ("h", "h"), ("ref_k", "k")):
        lo, hi = int(slots[col].min()), int(slots[col].max())
        parts.append(f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}")
    return ", ".join(parts)


def _strongest_trend(rows: pd.DataFrame) -> str:
    best, any_slope = None, False
    for r in rows[rows["op"] != "standard"].itertuples():
        for axis in TREND_AXES:
            slope = getattr(r, f"eta_slope_{axis}")
            any_slope = any_slope or pd.notna(slope)
            if pd.notna(slope) and (best is None or abs(slope) > abs(best[2])):
                best = (r.op, axis, slope)
    if not any_slope:
        return "too few shapes per operator (3 needed) to say how η_op moves with shape"
    if best is None or abs(best[2]) < 0.05:
        return "no operator's η_op moves noticeably with channels, map size or kernel size"
    op, axis, slope = best
    words, sym = AXIS_WORDS[axis]
    verb = "rises" if slope > 0 else "falls"
    return (f"the strongest shape effect is {op}'s η_op, which {verb} with {words} "
            f"(x{2 ** slope:.2f} per doubling of {sym}; log-log slope {slope:+.2f})")


def sentence(table: pd.DataFrame, series: str, rows: pd.DataFrame) -> str:
    """One sentence for one series: the operator that does a MAC most cheaply, where others win,
    and the strongest shape effect."""
    sub = with_series(table)
    sub = sub[sub["series"] == series]
    rows = rows[rows["series"] == series]
    means = {r.op: (1.0 if r.op == "standard" else r.eta_geomean) for r in rows.itertuples()
             if pd.notna(r.eta_geomean)}
    if not means:
        return f"{series}: no operator has an η_op (no matched standard conv measured)."
    means.setdefault("standard", 1.0)
    best = max(means, key=means.get)
    others = ", ".join(f"{op} {means[op]:.2f}" for op in CONV_OPS if op in means and op not in ("standard", best))
    if best == "standard":
        head = (f"On {series}, the standard convolution does a MAC most cheaply: no other operator's "
                f"geometric-mean η_op reaches 1 ({others})")
    else:
        head = (f"On {series}, {best} does a MAC most cheaply (geometric-mean η_op {means[best]:.2f}, "
                f"i.e. {means[best]:.2f}x the standard convolution's MACs per joule"
                + (f"; {others})" if others else ")"))
    winners = _slot_winners(sub)
    if len(winners):
        mine = winners[winners["op"] == best]
        head += f"; it is cheapest in {len(mine)} of {len(winners)} layer slots"
        for op, grp in winners[winners["op"] != best].groupby("op", sort=False):
            head += f", {op} in {len(grp)} ({_where(grp)})"
    return f"{head}; {_strongest_trend(rows)}."


def sentences(table: pd.DataFrame, rows: pd.DataFrame | None = None) -> list[str]:
    rows = operator_rows(table) if rows is None else rows
    return [sentence(table, s, rows) for s in rows["series"].drop_duplicates()]


def _range(r) -> str:
    if r.op == "standard" or pd.isna(r.eta_min):
        return "-"
    return f"{r.eta_min:.3g}-{r.eta_max:.3g}"


def print_summary(table: pd.DataFrame, console=None) -> list[str]:
    """The terminal table and sentences (rich); returns the sentences."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    rows = operator_rows(table)
    texts = sentences(table, rows)
    for (series, grp), text in zip(rows.groupby("series", sort=False), texts):
        unit = grp["metric_unit"].iloc[0]
        prov = ", ".join(sorted(set(grp["eta_provenance"].dropna())))
        console.print(f"[bold]{series}[/bold]: η_op = E_standard / E_op per MAC (>1: cheaper than the "
                      f"standard conv; energy {prov})", highlight=False)
        t = Table(box=None, pad_edge=False)
        t.add_column("operator")
        t.add_column("cases", justify="right")
        t.add_column("η_op geomean", justify="right")
        t.add_column("range", justify="right")
        t.add_column(f"{unit}/MAC", justify="right")
        est = "cycles_estimated_per_mac" in grp and grp["cycles_estimated_per_mac"].notna().any()
        if est:
            t.add_column("est. cycles/MAC", justify="right")
        for r in grp.itertuples():
            cells = [r.op, str(r.cases), "1 (reference)" if r.op == "standard" else f"{r.eta_geomean:.3g}",
                     _range(r), f"{r.metric_per_mac_median:.3g}"]
            if est:
                cells.append(f"{r.cycles_estimated_per_mac:.3g}")
            t.add_row(*cells)
        console.print(t)
        for r in grp[grp["same_as_standard_cases"] > 0].itertuples():
            console.print(f"  ({r.same_as_standard_cases} {r.op} case(s) left out: identical to their standard "
                          "conv, e.g. pointwise in a 1x1 slot)", highlight=False)
        console.print(text, highlight=False)
        console.print()
    return texts
