"""report.md for ``python -m bench search`` and ``python -m bench scale``."""

from __future__ import annotations

import json

import pandas as pd

SEARCH_COLUMNS = ["rank", "design", "macs", "params", "flash_bytes", "peak_ram_bytes", "energy_uj", "latency_s",
                  "params_per_uj", "front_params", "front_macs", "expected_rel_error", "uncosted_elem_ops"]


def _as_list(v) -> list[str]:
    return [str(v)] if isinstance(v, str) else [str(x) for x in v]


def _md(df: pd.DataFrame, as_text: bool = False) -> str:
    """Markdown table; ``as_text`` keeps preformatted cells as written (no re-parsing of "85,836")."""
    if not len(df):
        return "_(none)_"
    return df.to_markdown(index=False, disable_numparse=True) if as_text else df.to_markdown(index=False,
                                                                                              floatfmt=".4g")


def search_md(cfg, slot, source, notes, tables, label, comparison, tau, measured, png, out, top,
              nothing: str | None = None) -> str:
    main = tables[label]
    lines = [f"# Block-design search: slot {slot.label} on {label}", ""]
    if nothing:
        lines += ["## Nothing fits", "", f"No design fits the budgets on {label}. {nothing}", ""]
    lines += ["## Inputs", "",
              f"- results: {', '.join(_as_list(cfg['runs']))}; cost: {source.note or 'fitted predictor'} "
              f"(eta_op-table fallback for operators without a model)",
              f"- budget: {json.dumps(cfg['budget'])}"]
    lines += [f"- {n}" for n in notes]
    for name, df in tables.items():
        prov = sorted(set(df["inputs_provenance"].dropna()) - {""}) if "inputs_provenance" in df else []
        srcs = sorted({part.split(" by ", 1)[-1] for v in df.get("cost_sources", pd.Series(dtype=str)).dropna()
                       for part in str(v).split("; ") if part}) or ["none"]
        lines.append(f"- {name}: costs are {', '.join(sorted(set(df['provenance'].dropna()) - {''}))} from "
                     f"{', '.join(prov)} inputs (convs costed by: {', '.join(srcs)}); "
                     f"{int(df['fits'].sum())}/{len(df)} designs fit")
    lines += ["", "Energy and latency are the sum over the block's convolutions of the cost sources above. "
              "Element-wise and pooling layers (residual add, SE/attention multiply, activations that do not fuse, "
              "pooling) are not costed by the search (the predictor models convolutions only; `measure` benchmarks them). "
              "`uncosted_elem_ops` counts them.",
              "", "## Ranking", "",
              "Feasible designs ranked by Pareto layer of (energy down, parameters up), then parameters per uJ. "
              "`front_params` / `front_macs`: on the energy-parameters / energy-MACs front.", "",
              _md(main[SEARCH_COLUMNS].head(top)), "", f"![pareto]({png.relative_to(out)})", ""]
    infeasible = main[~main["fits"].astype(bool)]
    if len(infeasible):
        lines += [f"{len(infeasible)} design(s) excluded:", "", _md(infeasible[["design", "why_not"]]), ""]
    if comparison is not None:
        other = [x for x in tables if x != label][0]
        lines += [f"## How the ranking changes: {label} vs {other}", "",
                  f"Kendall's tau between the two rankings: {tau:.3f} (1 = same order).", "",
                  _md(comparison.head(top)), ""]
    if measured:
        name, pvm, s, sweeps = measured
        lines += [f"## Top design against measurement: {name}", "",
                  f"{s['measured_conv_layers']} of {s['conv_layers']} convolutions have a measured case of the same "
                  f"shape in the results; over those, predicted {s['predicted_uj']:.4g} uJ vs measured "
                  f"{s['measured_uj']:.4g} uJ (relative error {s['rel_error']:+.2%}; on the "
                  f"{s['metric_unit']} themselves {s['metric_rel_error']:+.2%}); "
                  + ("out of sample: none of these shapes was in the predictor's fit." if s["out_of_sample"] else
                     "NOT out of sample: some shapes were in the predictor's fit (`in_fit`); fit on runs without "
                     "them (runs=...) and point measure_runs= at the measurement runs.") if s["measured_conv_layers"]
                  else f"None of its {s['conv_layers']} convolutions is measured yet.", "",
                  f"{s.get('measured_elementwise_layers', 0)} of {s.get('elementwise_layers', 0)} element-wise and "
                  "pooling layers are measured; their prediction is a per-unit fit (energy per element, or per "
                  "tap for pooling) on the measured cases of that op: a model-estimate (`source`).", "",
                  f"Not benchmarkable (no firmware operator): {s['not_benchmarkable'] or 'none'} "
                  f"({s['not_benchmarkable_elem_ops']} element operations).", "",
                  _md(pvm.drop(columns=[c for c in ("case", "measured_in") if c in pvm])), "",
                  "Measure its operators (one run per operator):", "", "```"]
        lines += [cmd for _, cmd in sweeps] + ["```", ""]
    return "\n".join(lines)


def slots_md(cfg, summary: pd.DataFrame) -> str:
    lines = [f"# Block-design search over {len(summary)} slots on {cfg['board']['name']}/{cfg['kernels']['name']}", "",
             f"- budget: {json.dumps(cfg['budget'])}", "",
             "Rank-1 design of each slot (per-slot reports, tables and plots in the sub-folders):", "",
             _md(summary), ""]
    return "\n".join(lines)


def scale_md(cfg, p, answer, check, usage, plan, grid, notes, timing) -> str:
    hyper = ", ".join(f"{k} = {answer[k]:g}" for k in ("alpha", "beta", "t0", "gamma") if k in answer)
    lines = [f"# {p.family} scaled for {p.board}", "",
             f"**{hyper}, resolution {answer['resolution']}** (N = {p.fixed.get('n_blocks')}, objective: "
             f"maximise {p.objective}). The network as micromind 0.2.1 builds it:", "",
             f"```python\n{check['micromind']}\n```", ""]
    mm = check["micromind_check"]
    lines += [(f"micromind {'installed' if mm['compared'] else ''}: its network from this call, counted by the same "
               f"rules, has params {mm['params']:,}, MACs {mm['macs']:,}, flash {mm['flash_bytes']:,} B, peak RAM "
               f"{mm['ram_bytes']:,} B: **{'equal' if mm['equal'] else 'DIFFERENT'}** to the figures below."
               if mm["compared"] else f"Not compared with micromind: {mm['why']}."), ""]
    lines += ["## Budgets and the network", "",
              "`closed form`: the solver's counts (per-block expressions in the hyperparameters, no torch); "
              "`traced`: the network built in torch on CPU from these hyperparameters, run once on a zero input "
              f"(output shape {check['output_shape']}) and counted from its traced graph. Flash = int8 weights + "
              "int32 biases + per-channel requantization parameters; RAM = peak of live int8 activation tensors. "
              f"The two counts {'agree' if check['closed_form_matches'] else 'DIFFER'}.", "",
              _md(usage, as_text=True), ""]
    lines += [f"- {n}" for n in notes]
    lines += [f"- fits every budget: **{check['fits']}**; binding budget **{check['binding']}** used "
              f"{check['binding_usage']:.1%} ({'within' if check['within_5pct'] else 'NOT within'} 5 %)"]
    if not check["within_5pct"]:
        lines.append("- No grid point reached 95 % of the binding budget: the cost jumps by more than 5 % between "
                     "consecutive channel roundings of alpha here. The answer is still the largest objective "
                     "among the feasible points; a finer lever (resolution list, another grid) can close the gap.")
    if p.source is not None:
        lines.append("- energy/latency per inference: the board's cost model summed over the convolutions; "
                     "per layer in `network_layers.csv`")
    lines += ["", "## Method", "",
              "For each grid point of the secondary variables, the largest alpha that meets every budget is found "
              "by scipy.optimize.brentq on usage(alpha) - 1, which is monotone in alpha; every candidate is counted "
              "in closed form (analysis/design/closed_form.py). Selection rule, also the order of the grid table "
              "below and of grid.csv: feasible; within 5 % of the binding budget; largest "
              f"{p.objective}; highest usage.",
              f"{answer['grid_points']} grid points, {answer['closed_form_evaluations']} closed-form evaluations "
              f"({answer['distinct_networks_counted']} distinct networks), solved in {timing['solve_s']:.2f} s, "
              f"{timing['total_s']:.1f} s with the traced check.", "", "## Blocks", "", _md(plan), "",
              "## Grid (in selection order; row 1 is the answer)", "", _md(grid.head(15)), ""]
    return "\n".join(lines)
