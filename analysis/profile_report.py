"""The profile report of one model on one board (reads a profile run folder only).

Inputs, all written by ``python -m bench profile``: layers.csv (every operator
of the model), results.csv (one row per measured case), whatif.csv (the
depthwise-separable pairs and their standard-conv stand-ins), profile.json.
Outputs: profile.csv, profile.md, profile.html (self-contained) and
profile_cycles.png (cycles per layer, horizontal bars).

Cycles per layer: measured cycles where the target has a cycle counter
(hardware), else the core cycle model's estimate from the instruction mix,
else the counted metric times the board's stated cycles per unit; the
``cycles_basis`` column says which. The total is the sum of the layers: it
leaves out the interpreter (operator dispatch, tensor arena set-up, data
movement between layers). eta_op = (E_standard / MAC) / (E_layer / MAC),
both measured in the same run.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .report import Section, render_html, render_markdown  # noqa: E402

TOTAL_NOTE = ("sum of the layers' kernel costs: excludes interpreter overhead (operator dispatch, "
              "arena set-up, copies between layers) and anything outside the timed kernel calls")
LAYER_COLUMNS = ["layer", "tflite_op", "op", "status", "input_shapes", "output_shapes", "kernel", "stride",
                 "activation", "macs", "cycles", "cycles_basis", "latency_ms", "energy_uj", "energy_basis",
                 "share_pct", "macs_per_cycle", "weight_bytes", "activation_bytes", "live_bytes",
                 "bit_exact", "instructions", "eta_op", "ref_case_id", "reason"]
OP_COLOURS = {"standard": "#1f77b4", "pointwise": "#2ca02c", "depthwise": "#ff7f0e", "grouped": "#9467bd",
              "fully_connected": "#8c564b", "add": "#7f7f7f", "mul": "#7f7f7f", "avgpool": "#17becf",
              "maxpool": "#17becf", "softmax": "#e377c2"}


def _cycles(row: pd.Series, cycles_per_unit: float) -> tuple[float, str]:
    if pd.notna(row.get("cycles_measured")):
        return float(row["cycles_measured"]), "measured (hardware cycle counter)"
    if pd.notna(row.get("cycles_estimated")):
        return float(row["cycles_estimated"]), f"estimated ({row.get('cycles_model') or 'core model'})"
    if pd.notna(row.get("metric")):
        return (float(row["metric"]) * cycles_per_unit,
                f"estimated ({row['metric_unit']} x {cycles_per_unit:g} cycles/unit, stated)")
    return float("nan"), ""


def _case_costs(results: pd.DataFrame, cycles_per_unit: float) -> pd.DataFrame:
    """Per case id: cycles (with basis), energy, instructions, bit-exact flag."""
    out = results.drop_duplicates("case_id", keep="last").set_index("case_id")
    picked = [_cycles(r, cycles_per_unit) for _, r in out.iterrows()]
    out["cycles"] = [c for c, _ in picked]
    out["cycles_basis"] = [b for _, b in picked]
    out["bit_exact"] = out["status"] == "ok"
    return out


def profile_table(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    facts = json.loads((run_dir / "profile.json").read_text())
    layers = pd.read_csv(run_dir / "layers.csv", keep_default_na=False)  # empty text stays ""
    results = pd.read_csv(run_dir / "results.csv") if (run_dir / "results.csv").exists() else pd.DataFrame(
        columns=["case_id", "status"])
    costs = _case_costs(results, float(facts["energy_model"].get("cycles_per_unit", 1.0)))
    clock = float(facts["clock_hz"])
    table = layers.copy()
    for col in ("cycles", "energy_uj", "instructions"):
        table[col] = [costs[col].get(c, np.nan) if col in costs and isinstance(c, str) else np.nan
                      for c in table["case_id"]]
    for col in ("cycles_basis", "energy_basis", "status_case", "detail"):
        src = {"status_case": "status"}.get(col, col)
        table[col] = [costs[src].get(c, "") if src in costs and isinstance(c, str) else "" for c in table["case_id"]]
    table["bit_exact"] = [("yes" if costs["bit_exact"].get(c) else f"NO ({s}: {d})")
                          if isinstance(c, str) and c in costs.index else ""
                          for c, s, d in zip(table["case_id"], table["status_case"], table["detail"])]
    zero = table["status"] == "zero-compute"
    table.loc[zero, ["cycles", "energy_uj"]] = 0.0
    table.loc[zero, "cycles_basis"] = "zero compute (view change)"
    table["latency_ms"] = table["cycles"] / clock * 1e3
    total = table["cycles"].sum(skipna=True)
    table["share_pct"] = 100.0 * table["cycles"] / total if total else np.nan
    table["macs_per_cycle"] = table["macs"] / table["cycles"].replace(0, np.nan)
    eta = []
    for _, r in table.iterrows():
        ref = r.get("ref_case_id")
        if isinstance(ref, str) and ref and ref in costs.index and costs.loc[ref, "bit_exact"] \
                and r["bit_exact"] == "yes" and r["macs"]:
            e_ref = costs.loc[ref, "energy_uj"] / costs.loc[ref, "macs"]
            eta.append(e_ref / (r["energy_uj"] / r["macs"]))
        else:
            eta.append(np.nan)
    table["eta_op"] = eta
    return table, {**facts, "costs": costs, "total_cycles": total}


def what_if(run_dir: Path, table: pd.DataFrame, costs: pd.DataFrame, clock: float) -> pd.DataFrame:
    pairs = pd.read_csv(run_dir / "whatif.csv", keep_default_na=False)
    rows = []
    by_layer = table.set_index("layer")
    for p in pairs.itertuples():
        dw, pw = by_layer.loc[p.depthwise_layer], by_layer.loc[p.pointwise_layer]
        std = p.standard_case_id
        pair_cycles, pair_macs = dw["cycles"] + pw["cycles"], dw["macs"] + pw["macs"]
        pair_energy = dw["energy_uj"] + pw["energy_uj"]
        row = {"pair": f"L{p.depthwise_layer:02d}+L{p.pointwise_layer:02d}", "pair_macs": pair_macs,
               "pair_cycles": pair_cycles, "pair_latency_ms": pair_cycles / clock * 1e3,
               "standard_case_id": std}
        if std and std in costs.index and costs.loc[std, "bit_exact"]:
            s = costs.loc[std]
            row.update(standard_macs=s["macs"], standard_cycles=s["cycles"],
                       standard_latency_ms=s["cycles"] / clock * 1e3,
                       standard_over_pair_cycles=s["cycles"] / pair_cycles,
                       eta_pair=(s["energy_uj"] / s["macs"]) / (pair_energy / pair_macs))
        rows.append(row)
    return pd.DataFrame(rows)


def cycles_chart(table: pd.DataFrame, path: Path, title: str, basis: str = "") -> Path:
    shown = table.iloc[::-1]
    labels = [f"L{int(r.layer):02d} {r.tflite_op}" + (f" {r.kernel}" if isinstance(r.kernel, str) and r.kernel
                                                      and r.op not in ("fully_connected", "softmax", "add", "mul")
                                                      else "")
              for r in shown.itertuples()]
    values = shown["cycles"].fillna(0.0).to_numpy()
    colours = [OP_COLOURS.get(op, "#cccccc") for op in shown["op"].fillna("")]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(shown) + 1.6))
    bars = ax.barh(range(len(shown)), values, color=colours)
    for bar, r in zip(bars, shown.itertuples()):
        note = {"zero-compute": "0 (view change)", "unsupported": "unsupported"}.get(r.status)
        if note is None and r.bit_exact != "yes":
            note = "not bit-exact"
        text = note or (f"{r.share_pct:.1f} %" if r.share_pct >= 0.1 else "< 0.1 %")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + text, va="center", fontsize=8)
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.set_xlabel(f"cycles per call ({basis})" if basis else "cycles per call")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, max(values.max(), 1) * 1.18)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for op, c in OP_COLOURS.items() if op in set(shown["op"])]
    ax.legend(handles, [op for op in OP_COLOURS if op in set(shown["op"])], fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_profile_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    table, facts = profile_table(run_dir)
    costs, clock = facts.pop("costs"), float(facts["clock_hz"])
    table[[c for c in LAYER_COLUMNS if c in table]].to_csv(run_dir / "profile.csv", index=False)
    whatif = what_if(run_dir, table, costs, clock)
    whatif.to_csv(run_dir / "whatif_costs.csv", index=False)

    model = Path(facts["model"]).name
    total, bases = facts["total_cycles"], sorted(set(table["cycles_basis"]) - {"", "zero compute (view change)"})
    chart = cycles_chart(table, run_dir / "profile_cycles.png",
                         f"{model} on {facts['board']} ({facts['kernels']})\n{total:,.0f} cycles in total "
                         f"(sum of layers, excluding interpreter overhead)", "; ".join(bases))
    cases = table[table["status"] == "case"]
    exact = int((cases["bit_exact"] == "yes").sum())
    peak = table.loc[table["live_bytes"].idxmax()] if len(table) else None
    summary = Section("Model and board").items([
        f"model `{facts['model']}` (sha256 {facts['model_sha256'][:16]}...), {facts['operators']} operators; "
        f"sample input: {facts['sample']}",
        f"board {facts['board']} ({facts.get('core', '')}), kernels {facts['kernels']}, "
        f"clock for latency {clock / 1e6:g} MHz",
        f"bit-exact against the reference interpreter's output of each layer: {exact} of {len(cases)} layers run",
        f"cycles: {'; '.join(bases) or 'none measured'}",
        f"**total {total:,.0f} cycles = {total / clock * 1e3:.3f} ms at {clock / 1e6:g} MHz**, {TOTAL_NOTE}",
        f"energy: {table['energy_uj'].sum():.2f} uJ (sum of layers; basis: "
        f"{'; '.join(sorted(set(table['energy_basis']) - {''})) or 'none'})",
        f"peak activation memory: {int(peak['live_bytes']):,} bytes at layer {int(peak['layer'])} "
        f"({peak['tflite_op']}) of {int(facts['ram_bytes']):,} bytes of {facts['ram_region']} "
        f"({100.0 * peak['live_bytes'] / facts['ram_bytes']:.2f} %); every live activation counted, "
        "no in-place reuse (an upper bound of an arena planner's need)" if peak is not None else "",
        f"weights: {int(table['weight_bytes'].sum()):,} bytes (int8 weights, int32 biases)",
    ])
    layers_sec = Section("Layers").table(table[[c for c in LAYER_COLUMNS if c in table and c not in (
        "instructions", "ref_case_id", "energy_basis", "cycles_basis", "reason", "input_shapes")]])
    layers_sec.img(chart, "cycles per layer")
    unsupported = table[table["status"] == "unsupported"]
    if len(unsupported):
        layers_sec.p("Unsupported operators (listed, not run):").table(
            unsupported[["layer", "tflite_op", "input_shapes", "output_shapes", "reason"]])
    eta_sec = Section("eta_op of depthwise, pointwise and grouped layers").p(
        "eta_op = energy per MAC of the standard convolution of the same slot (same input, output channels, "
        "stride, padding; kernel of the layer, or of its depthwise partner for a pointwise layer) over the "
        "layer's, both measured in this run. Above 1: the layer's MACs are cheaper than a standard conv's.")
    eta_rows = table[table["eta_op"].notna()]
    eta_sec.table(eta_rows[["layer", "op", "case_id", "macs", "cycles", "ref_case_id", "eta_op"]])
    whatif_sec = Section("What if: a standard convolution instead of each depthwise-separable pair").p(
        "The same input, output and receptive field done by one standard conv, measured in this run. "
        "standard_over_pair_cycles above 1: the separable pair is faster; eta_pair is the pair's eta_op "
        "(standard energy per MAC over the pair's).")
    whatif_sec.table(whatif)
    sections = [summary, layers_sec, eta_sec, whatif_sec]
    title = f"Profile: {model} on {facts['board']} ({facts['kernels']})"
    (run_dir / "profile.md").write_text(render_markdown(sections, run_dir, title))
    (run_dir / "profile.html").write_text(render_html(sections, title))
    return run_dir / "profile.md"
