"""eta_op: how much cheaper (or dearer) an operator's MAC is than a standard conv's.

eta_op = E_S / E_op, energies per MAC, where E_S is the standard convolution
matched to the case: same board, kernel library, input map (H, W, C_in),
output channels, stride and padding, and kernel size ``ref_k`` (the case's
own k for depthwise and grouped; the slot's k for pointwise, which is 1x1).
Only cases whose output matched the golden output are used, and a ratio is
only taken between figures of the same provenance: an emulator count is never
divided by a hardware measurement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.cases.spec import OPS as CONV_OPS

MATCH_KEYS = ["board", "kernels", "cflags", "h", "w", "c_in", "c_out", "stride", "padding"]
# Same firmware too, when the results say which: a library changed between two runs is
# another cost function even under the same name.
BUILD_KEYS = ["compiler", "kernels_version"]
PROVENANCE_KEYS = ["metric_unit", "provenance", "energy_provenance", "energy_basis"]


def usable(results: pd.DataFrame) -> pd.DataFrame:
    """Cases that ran and whose output matched the golden output."""
    return results[(results["status"] == "ok") & results["energy_uj"].notna()].copy()


def eta_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per measured case with its per-MAC figures and eta_op."""
    ok = usable(results)
    if "energy_basis" not in ok:  # results written before the column existed
        ok["energy_basis"] = "unrecorded"
    ok["energy_basis"] = ok["energy_basis"].fillna("unrecorded").astype(str)
    keys = MATCH_KEYS + [k for k in BUILD_KEYS if k in ok]
    for k in BUILD_KEYS:
        if k in ok:
            ok[k] = ok[k].astype(str)
    ok["energy_per_mac_nj"] = ok["energy_uj"] * 1e3 / ok["macs"]
    ok["metric_per_mac"] = ok["metric"] / ok["macs"]
    ok["macs_per_unit"] = ok["macs"] / ok["metric"]
    ref = ok[ok["op"] == "standard"][keys + PROVENANCE_KEYS + ["k", "case_id", "energy_per_mac_nj", "metric_per_mac"]]
    ref = ref.drop_duplicates(keys + PROVENANCE_KEYS + ["k"]).rename(columns={
        "k": "ref_k", "case_id": "ref_case_id", "energy_per_mac_nj": "ref_energy_per_mac_nj",
        "metric_per_mac": "ref_metric_per_mac"})
    table = ok.merge(ref, on=keys + PROVENANCE_KEYS + ["ref_k"], how="left")
    table["eta_op"] = table["ref_energy_per_mac_nj"] / table["energy_per_mac_nj"]
    table["eta_provenance"] = table["energy_provenance"]
    # The same ratio from the metric alone (instructions or cycles), labelled with the
    # metric's provenance: for a model-estimate energy linear in the count they agree.
    table["eta_metric"] = table["ref_metric_per_mac"] / table["metric_per_mac"]
    table["eta_metric_provenance"] = table["provenance"]
    # Element-wise and pooling cases stay in the table (their per-unit figures are
    # meaningful) but have no matched standard conv: no eta_op, whatever shape matched.
    other = ~table["op"].isin(CONV_OPS)
    table.loc[other, ["ref_case_id", "ref_energy_per_mac_nj", "ref_metric_per_mac", "eta_op",
                      "eta_metric"]] = np.nan
    table["same_as_standard"] = same_as_standard(table)
    _add_latency_and_memory(table)
    return table


def same_as_standard(table: pd.DataFrame) -> pd.Series:
    """Cases that *are* their matched standard conv under another name: a pointwise conv in a
    1x1 slot, a grouped conv with one group, a depthwise conv over one channel. Their eta_op is
    1 by construction (up to noise), so summaries leave them out and plots mark them."""
    return (table["op"].isin(CONV_OPS) & (table["op"] != "standard")
            & (table["k"] == table["ref_k"]) & (table["groups"] == 1))


SLOT_KEYS = ["h", "w", "c_in", "c_out", "ref_k", "stride"]


def sweep_slots(table: pd.DataFrame) -> pd.DataFrame:
    """Adds each case's layer slot's C_out (``slot_c_out``) and ``moved``: a depthwise case keeps
    C_out = C_in, so in a sweep slot with another C_out it lands alone in a C_in -> C_in slot; it is
    put back in the sweep slot it came from (same map, C_in, k and stride, another C_out, no
    depthwise case of its own), so that the operators of one sweep slot can be compared."""
    table = table.assign(slot_c_out=table["c_out"], moved=False)
    subjects = table[table["op"] != "standard"]
    ops_at = subjects.groupby(SLOT_KEYS)["op"].agg(set)
    for idx, r in subjects[subjects["op"] == "depthwise"].iterrows():
        key = tuple(r[k] for k in SLOT_KEYS)
        if ops_at[key] != {"depthwise"}:
            continue
        homes = [k for k, ops in ops_at.items() if "depthwise" not in ops
                 and (k[0], k[1], k[2], k[4], k[5]) == (key[0], key[1], key[2], key[4], key[5])]
        if homes:
            table.loc[idx, ["slot_c_out", "moved"]] = [homes[0][3], True]
    return table


def _add_latency_and_memory(table: pd.DataFrame) -> None:
    """Latency per MAC, MACs per cycle/instruction, memory and arithmetic intensity.

    Latency is metric / clock when the metric is cycles (hardware-measured), and
    metric x CPI / clock with the board energy model's *stated* clock and CPI when
    it is an emulator instruction count (``latency_basis`` says which).
    """
    nan = pd.Series(np.nan, index=table.index)
    clock = table["clock_hz"] if "clock_hz" in table else nan
    cpu = table["cycles_per_unit"] if "cycles_per_unit" in table else nan
    estimated = pd.to_numeric(table["cycles_estimated"], errors="coerce") if "cycles_estimated" in table else nan
    is_cycles = table["metric_unit"] == "cycles"
    has_estimate = ~is_cycles & estimated.notna()
    cycles = np.where(is_cycles, table["metric"],
                      np.where(has_estimate, estimated, table["metric"] * cpu.fillna(1.0)))
    table["latency_s"] = cycles / clock
    table["latency_per_mac_ns"] = table["latency_s"] * 1e9 / table["macs"]
    table["latency_basis"] = np.where(
        clock.isna(), "no clock known",
        np.where(is_cycles, "measured cycles / clock",
                 np.where(has_estimate,
                          "estimated cycles (core timing model) / stated clock: model-estimate",
                          "instructions x stated CPI / stated clock: model-estimate")))
    table["macs_per_cycle"] = np.where(is_cycles, table["macs"] / table["metric"], np.nan)
    # Model-estimate, kept apart from measured cycles: MACs per cycle from the cycle model.
    table["macs_per_cycle_estimated"] = np.where(has_estimate, table["macs"] / estimated, np.nan)
    table["macs_per_instruction"] = np.where(table["metric_unit"] == "instructions",
                                             table["macs"] / table["metric"], np.nan)
    table["input_bytes"] = table["h"] * table["w"] * table["c_in"]
    table["output_bytes"] = table["out_h"] * table["out_w"] * table["c_out"]
    # Peak activations of a single-layer call: every int8 input and the output are live.
    # bench writes that as activation_bytes (two inputs for add and mul).
    table["peak_activation_bytes"] = (table["activation_bytes"] if "activation_bytes" in table
                                      else table["input_bytes"] + table["output_bytes"])
    # MACs per byte that must at least be read or written once (weights, input, output).
    table["arith_intensity"] = table["macs"] / (table["weight_bytes"] + table["peak_activation_bytes"])


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per board, kernel library and operator: geometric mean, min and max of eta_op.

    Cases that are the standard conv under another name (``same_as_standard``) are left
    out of the statistics (they would pull an operator's mean towards 1) and counted in
    ``same_as_standard_cases``."""
    def geomean(s: pd.Series) -> float:
        s = s.dropna()
        return float(np.exp(np.log(s).mean())) if len(s) else float("nan")

    keys = ["board", "kernels", "op", "eta_provenance"]
    table = table[table["op"].isin(CONV_OPS)]  # eta_op subjects only
    degenerate = (table[table["same_as_standard"]].groupby(keys, sort=False).size()
                  .rename("same_as_standard_cases"))
    table = table[~table["same_as_standard"]]
    return (table.groupby(keys, sort=False)
            .agg(cases=("eta_op", "count"), eta_geomean=("eta_op", geomean),
                 eta_min=("eta_op", "min"), eta_max=("eta_op", "max"),
                 eta_metric_geomean=("eta_metric", geomean),
                 eta_metric_provenance=("eta_metric_provenance", "first"),
                 metric_per_mac_median=("metric_per_mac", "median"),
                 metric_unit=("metric_unit", "first"))
            .join(degenerate).fillna({"same_as_standard_cases": 0})
            .astype({"same_as_standard_cases": int})
            .reset_index())


TREND_AXES = {"channels": "c_in", "map": "map_pixels", "kernel": "ref_k"}


def _slope(x: pd.Series, y: pd.Series) -> float:
    """d log y / d log x by least squares (nan when x does not vary), to 3 decimals: a
    constant eta_op (the standard conv's) gives 0, not rounding noise like -1.6e-10."""
    ok = x.notna() & y.notna() & (x > 0) & (y > 0)
    lx, ly = np.log(x[ok].astype(float)), np.log(y[ok].astype(float))
    if ok.sum() < 3 or lx.std() < 1e-9:
        return float("nan")
    dx = lx - lx.mean()
    return round(float((dx * (ly - ly.mean())).sum() / (dx * dx).sum()), 3) + 0.0


def operator_summary(table: pd.DataFrame) -> pd.DataFrame:
    """summarize() plus, per operator, how eta_op moves with channels, map size and kernel
    size (log-log slope: +0.5 means eta_op grows about 1.4x when the axis doubles),
    per-MAC cost, throughput and memory."""
    summary = summarize(table)
    rows = []
    table = table[~table["same_as_standard"]]
    for keys, grp in table.groupby(["board", "kernels", "op", "eta_provenance"], sort=False):
        grp = grp.assign(map_pixels=grp["h"] * grp["w"])
        rows.append({
            **dict(zip(["board", "kernels", "op", "eta_provenance"], keys)),
            **{f"eta_slope_{name}": _slope(grp[col], grp["eta_op"]) for name, col in TREND_AXES.items()},
            "latency_per_mac_ns_median": grp["latency_per_mac_ns"].median(),
            "macs_per_cycle_median": grp["macs_per_cycle"].median(),
            "macs_per_cycle_estimated_median": grp["macs_per_cycle_estimated"].median(),
            "macs_per_instruction_median": grp["macs_per_instruction"].median(),
            "weight_bytes_max": grp["weight_bytes"].max(),
            "peak_activation_bytes_max": grp["peak_activation_bytes"].max(),
        })
    keys = ["board", "kernels", "op", "eta_provenance"]
    extra = pd.DataFrame(rows) if rows else pd.DataFrame(columns=keys)  # no convolution: nothing to add
    return summary.merge(extra, on=keys, how="left")


def trends(table: pd.DataFrame) -> pd.DataFrame:
    """Geometric-mean eta_op per operator at each value of channels, map size and kernel size."""
    out = []
    t = table[(table["op"] != "standard") & ~table["same_as_standard"]].dropna(subset=["eta_op"])
    t = t.assign(map_pixels=t["h"] * t["w"])
    for axis, col in TREND_AXES.items():
        g = (t.groupby(["board", "kernels", "op", col], sort=True)["eta_op"]
             .agg(cases="count", eta_geomean=lambda s: float(np.exp(np.log(s).mean())))
             .reset_index().rename(columns={col: "value"}))
        g.insert(3, "axis", {"channels": "c_in", "map": "h*w", "kernel": "ref_k"}[axis])
        out.append(g)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
