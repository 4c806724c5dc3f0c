"""Check a design against measurement: a block benchmarked as the sequence of its operators.

``decompose`` turns a counted block into the single-operator cases the
pipeline can run (``bench.cases.CaseSpec`` for each convolution; a linear
layer is a pointwise conv on a 1x1 map; element-wise add and multiply as
ADD / MUL over the layer's element count, laid out as a 1x1xN map since the
kernels are flat loops; ReLU / ReLU6 / Hardtanh as RELU6; pooling as
AVERAGE_POOL_2D or MAX_POOL_2D, max when the layer's name says so) and lists
the layers it cannot run (other activations, concat). A multiply that
broadcasts (squeeze-excite) is measured as a same-shape MUL of its output
size: a proxy, said in ``note``. ``sweep_files`` writes one sweep yaml per
operator so that ``python -m bench run`` measures those cases (plus, as every
run does, the standard convs the convolutions are compared with for eta_op).
``predicted_vs_measured`` pairs every layer's prediction with the measured row
of the same shape in results.csv and sums them per block over the layers that
have both. Convolutions are predicted by the board's cost predictor; the
element-wise and pooling layers by a per-unit fit (energy and metric per
element, or per tap for pooling, from the measured cases of that op on the
board and library: a model-estimate, labelled so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bench.cases.spec import EXTRA_OPS, OPS, POOL_OPS, CaseSpec, validate

from .complexity import Complexity, Layer
from .cost import CostSource, layer_costs

NOT_BENCHMARKABLE = "no firmware operator for this layer"
NOT_SAME = "its padding is not SAME (output map differs), the cases' only conv padding"
SHAPE_KEYS = ["op", "h", "w", "c_in", "c_out", "k", "stride", "groups", "padding"]
RELU_LIKE = ("relu", "relu6", "hardtanh")
UNIT_FIT = "per-unit fit on measured {op} cases: model-estimate"


def case_for(layer: Layer) -> CaseSpec | None:
    if layer.op == "linear":
        return CaseSpec(op="pointwise", h=1, w=1, c_in=layer.c_in, c_out=layer.c_out, k=1, ref_k=1)
    if layer.op in ("add", "mul", "activation"):
        if layer.elem_ops < 1:
            return None
        if layer.op == "activation" and layer.detail.lower() not in RELU_LIKE:
            return None
        op = "relu6" if layer.op == "activation" else layer.op
        return CaseSpec(op=op, h=1, w=1, c_in=layer.elem_ops, c_out=layer.elem_ops, k=1)
    if layer.op == "pooling":
        return _pool_case(layer)
    if layer.op not in OPS:
        return None
    case = CaseSpec(op=layer.op, h=layer.h, w=layer.w, c_in=layer.c_in, c_out=layer.c_out, k=layer.k,
                    stride=layer.stride, groups=layer.groups, padding="same", ref_k=layer.k)
    # micromind pads a strided 5x5 depthwise by 1, not SAME: no case measures that layer
    return case if (case.out_h, case.out_w) == (layer.out_h, layer.out_w) else None


def _pool_case(layer: Layer) -> CaseSpec | None:
    """The pooling case whose output map is the layer's (VALID when it fits exactly, else SAME)."""
    op = "maxpool" if "max" in layer.name.lower() else "avgpool"
    k = max(1, layer.k)
    for stride in sorted({max(1, layer.h // max(1, layer.out_h)), k}):
        for padding in ("valid", "same"):
            case = CaseSpec(op=op, h=layer.h, w=layer.w, c_in=layer.c_in, c_out=layer.c_in, k=k,
                            stride=stride, padding=padding)
            if (case.out_h, case.out_w) == (layer.out_h, layer.out_w) and not validate(case):
                return case
    return None


def _note(layer: Layer, case: CaseSpec | None) -> str:
    if case is None or case.is_conv:
        return ""
    if case.op == "mul":
        return "measured as a same-shape MUL of the output size (a broadcast multiply is a proxy)"
    if case.op == "relu6" and layer.detail.lower() != "relu6":
        return f"{layer.detail} measured as RELU6 (same kernel, other clamp)"
    if case.op in POOL_OPS and "max" not in layer.name.lower():
        return "pooling measured as AVERAGE_POOL_2D (the layer's name does not say max)"
    return ""


def decompose(cx: Complexity) -> pd.DataFrame:
    """One row per layer: the case that measures it, or why it cannot be measured yet."""
    rows = []
    for layer in cx.layers:
        case = case_for(layer)
        problems = validate(case) if case is not None else []
        rows.append({"name": layer.name, "op": layer.op, "benchmarkable": case is not None and not problems,
                     "case_id": case.case_id if case is not None else "", "macs": layer.macs,
                     "elem_ops": layer.elem_ops,
                     "why_not": "; ".join(problems) if problems else ("" if case is not None else
                                                                      NOT_SAME if layer.is_conv else NOT_BENCHMARKABLE),
                     "note": _note(layer, case), "case": case})
    return pd.DataFrame(rows)


def sweep_files(cx: Complexity, out_dir: Path, name: str) -> list[tuple[Path, str]]:
    """One sweep yaml per operator with that operator's slots, and the command that runs it.

    Slots are filled by ``bench.cases.case_for_slot``: depthwise takes C_out = C_in
    times ``op.depth_multiplier``, grouped takes ``op.groups``, pointwise a 1x1 conv.
    One value of each per run: a block whose grouped convs use different group
    counts needs one run per count (the command names the first).
    """
    parts = decompose(cx)
    out_dir = Path(out_dir)
    (out_dir / "sweep").mkdir(parents=True, exist_ok=True)
    written = []
    cases = [c for c in parts["case"] if c is not None]
    for op in OPS:
        mine = [c for c in cases if c.op == op]
        if not mine:
            continue
        shapes = []
        for c in mine:
            slot = {"h": c.h, "w": c.w, "c_in": c.c_in, "c_out": c.c_out, "k": c.k if op != "pointwise" else 1,
                    "stride": c.stride}
            if slot not in shapes:
                shapes.append(slot)
        sweep = f"{name}_{op}"
        path = out_dir / "sweep" / f"{sweep}.yaml"
        path.write_text("# written by python -m bench search: the " + op + " convolutions of " + name + "\n"
                        + yaml.safe_dump({"name": sweep, "padding": "same", "seed": 0, "shapes": shapes},
                                         sort_keys=False))
        extra = ""
        if op == "grouped":
            extra = f" op.groups={sorted({c.groups for c in mine})[0]}"
        if op == "depthwise":
            extra = f" op.depth_multiplier={sorted({c.c_out // c.c_in for c in mine})[0]}"
        cmd = (f"python -m bench run op={op}{extra} sweep={sweep} "
               f"'hydra.searchpath=[file://{out_dir.resolve()}]'")
        written.append((path, cmd))
    for op in EXTRA_OPS:
        for padding in ("same", "valid"):
            mine = [c for c in cases if c.op == op and c.padding == padding]
            if not mine:
                continue
            shapes = []
            for c in mine:
                slot = {"h": c.h, "w": c.w, "c_in": c.c_in, "c_out": c.c_out, "k": c.k, "stride": c.stride}
                if slot not in shapes:
                    shapes.append(slot)
            sweep = f"{name}_{op}" + ("_valid" if padding == "valid" else "")
            path = out_dir / "sweep" / f"{sweep}.yaml"
            path.write_text("# written by python -m bench search: the " + op + " layers of " + name + "\n"
                            + yaml.safe_dump({"name": sweep, "padding": padding, "seed": 0, "shapes": shapes},
                                             sort_keys=False))
            cmd = (f"python -m bench run op=elementwise 'op.names=[{op}]' sweep={sweep} "
                   f"'hydra.searchpath=[file://{out_dir.resolve()}]'")
            written.append((path, cmd))
    return written


def _unit_rates(rows: pd.DataFrame, op: str) -> tuple[float, float, str]:
    """Energy (uJ) and metric per work unit of ``op``: sum over its measured cases / their units."""
    mine = rows[(rows["op"] == op) & rows["energy_uj"].notna()] if len(rows) else rows
    if not len(mine):
        return np.nan, np.nan, ""
    units = float(mine["macs"].sum())
    unit = str(mine["metric_unit"].iloc[0]) if "metric_unit" in mine else ""
    metric = mine[mine["metric_unit"] == unit]["metric"] if "metric_unit" in mine else mine["metric"]
    return float(mine["energy_uj"].sum()) / units, float(metric.sum()) / units, unit


def predicted_vs_measured(cx: Complexity, results: pd.DataFrame, source: CostSource, board: str,
                          kernels: str, fit_results: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Per conv layer: predicted and measured energy; per block: sums over layers with both.

    ``fit_results`` are the rows the predictor was fitted on: a measured shape that is
    among them is marked ``in_fit`` (the comparison is then not out of sample).
    """
    parts = decompose(cx)
    pred = layer_costs(cx, source, board, kernels)
    ok = results[(results["board"] == board) & (results["kernels"] == kernels) & (results["status"] == "ok")]
    ok = ok[ok["energy_uj"].notna()]
    if "padding" not in ok:
        ok = ok.assign(padding="same")
    fit_rows = ok
    if fit_results is not None and len(fit_results):
        fit_rows = fit_results[(fit_results["board"] == board) & (fit_results["kernels"] == kernels)
                               & (fit_results["status"] == "ok")]
    rates = {}
    for op in EXTRA_OPS:
        # The per-unit fit uses the predictor's fit rows when they hold this op, else the measurements.
        r = _unit_rates(fit_rows, op)
        rates[op] = r if not np.isnan(r[0]) else _unit_rates(ok, op)
    rows = []
    for (_, part), (_, p) in zip(parts.iterrows(), pred.iterrows()):
        row = {"name": part["name"], "op": part["op"], "case_id": part["case_id"], "macs": part["macs"],
               "predicted_uj": p["energy_uj"], "measured_uj": np.nan,
               "predicted_metric": p["metric"], "measured_metric": np.nan, "metric_unit": p["metric_unit"],
               "measured_in": "",
               "benchmarkable": part["benchmarkable"], "why_not": part["why_not"], "note": part["note"],
               "source": p["source"]}
        case = part["case"]
        if case is not None and not case.is_conv and part["benchmarkable"]:
            e_rate, m_rate, unit = rates[case.op]
            row.update(predicted_uj=e_rate * case.macs, predicted_metric=m_rate * case.macs, metric_unit=unit,
                       source=UNIT_FIT.format(op=case.op) if not np.isnan(e_rate)
                       else f"no measured {case.op} cases to fit", macs=case.macs)
        if case is not None:
            m = ok
            for key in SHAPE_KEYS:
                m = m[m[key] == getattr(case, key)]
            if fit_results is not None:
                f = fit_results[(fit_results["board"] == board) & (fit_results["kernels"] == kernels)]
                if "padding" not in f:
                    f = f.assign(padding="same")
                for key in SHAPE_KEYS:
                    f = f[f[key] == getattr(case, key)]
                row["in_fit"] = bool(len(f))
            if len(m):
                last = m.iloc[-1]
                row.update(measured_uj=float(last["energy_uj"]), measured_in=str(last.get("run", "")),
                           measured_metric=float(last["metric"]) if last.get("metric_unit") == row["metric_unit"]
                           else np.nan,
                           energy_provenance=last.get("energy_provenance", ""))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["rel_error"] = table["predicted_uj"] / table["measured_uj"] - 1
    table["metric_rel_error"] = table["predicted_metric"] / table["measured_metric"] - 1
    both = table.dropna(subset=["predicted_uj", "measured_uj"])
    cased = table[table["case_id"] != ""]
    convs = cased[~cased["op"].isin(("add", "mul", "activation", "pooling"))]
    others = cased[cased["op"].isin(("add", "mul", "activation", "pooling"))]
    summary = {
        "conv_layers": len(convs), "measured_conv_layers": int(convs["measured_uj"].notna().sum()),
        "elementwise_layers": len(others), "measured_elementwise_layers": int(others["measured_uj"].notna().sum()),
        "predicted_uj": float(both["predicted_uj"].sum()) if len(both) else np.nan,
        "measured_uj": float(both["measured_uj"].sum()) if len(both) else np.nan,
        "not_benchmarkable": ", ".join(f"{op} x{n}" for op, n in
                                       table.loc[~table["benchmarkable"], "op"].value_counts().items()),
        "not_benchmarkable_elem_ops": int(sum(layer.elem_ops for layer, ok_ in
                                              zip(cx.layers, table["benchmarkable"]) if not ok_)),
    }
    summary["rel_error"] = summary["predicted_uj"] / summary["measured_uj"] - 1 if len(both) else np.nan
    bm = table.dropna(subset=["predicted_metric", "measured_metric"])
    summary["metric_unit"] = str(bm["metric_unit"].iloc[0]) if len(bm) else ""
    summary["metric_rel_error"] = (float(bm["predicted_metric"].sum() / bm["measured_metric"].sum() - 1)
                                   if len(bm) else np.nan)
    summary["complete"] = (summary["measured_conv_layers"] == summary["conv_layers"]
                           and summary["measured_elementwise_layers"] == summary["elementwise_layers"])
    summary["out_of_sample"] = bool("in_fit" in table and not table.loc[table["measured_uj"].notna(), "in_fit"]
                                    .fillna(False).astype(bool).any())
    return table, summary
