"""``python -m bench predict`` and ``python -m bench holdout``: the cost predictor
from the command line.

predict: answers for one shape with the prediction and its expected error,
from a saved predictor JSON (``--predictor``) or one fitted from runs
(``--runs``, default every run under runs/ for that board; the fit is kept in
runs/predictors/<board>.json and redone when a results.csv is newer).

holdout: fits on runs and prints, per board, kernel library and operator, the
share of held-out shapes predicted within +-10 % and +-5 % (whole shapes are
held out: leave-one-shape-out, or k-fold over shapes for large sets).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.errors import BenchError, ConfigError

from .load import find_runs, load_results
from .predictor import Predictor, fit_predictor

TARGET_WITHIN_10 = 0.95
SHAPE_ARGS = ("h", "w", "c_in", "c_out", "k", "stride", "groups")


def _key_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"expected key=value, got {item!r} (e.g. board=qemu_m7 op=depthwise h=16 c_in=32 ...)")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def predictor_for(board: str | None, runs: list[str] | None, predictor: Path | None,
                  refit: bool = False) -> Predictor:
    if predictor is not None:
        return Predictor.load(predictor)
    patterns = runs or ["runs"]
    found = find_runs(patterns)
    results = load_results(found)
    if board is not None:
        results = results[results["board"] == board]
        if not len(results):
            raise BenchError(f"no results for board {board!r} under {', '.join(patterns)}; "
                             f"run python -m bench run board={board} first")
    cache = Path("runs") / "predictors" / f"{board or 'all'}.json" if not runs else None
    if cache is not None and cache.exists() and not refit:
        newest = max((r / "results.csv").stat().st_mtime for r in found)
        if cache.stat().st_mtime >= newest:
            return Predictor.load(cache)
    fitted = fit_predictor(results)
    if cache is not None:
        fitted.save(cache)
    return fitted


def predict_main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench predict",
        description="predicted cost of one operator call (metric, energy, latency) with its expected error",
        epilog="example: python -m bench predict board=qemu_m7 op=depthwise h=32 w=32 c_in=64 c_out=64 k=3 stride=1")
    parser.add_argument("shape", nargs="+", help="board=, op=, kernels= (optional), h=, w= (default h), "
                        "c_in=, c_out=, k=, stride= (default 1), groups= (default 1; depthwise: c_in)")
    parser.add_argument("--runs", nargs="+", help="run folders or globs to fit on (default: runs/)")
    parser.add_argument("--predictor", type=Path, help="a saved predictor JSON to use instead of fitting")
    parser.add_argument("--save", type=Path, help="also save the fitted predictor to this JSON file")
    parser.add_argument("--refit", action="store_true", help="refit even if runs/predictors/<board>.json is current")
    parser.add_argument("--json", action="store_true", help="print the prediction as JSON")
    ns = parser.parse_args(args)
    kv = _key_values(ns.shape)
    for required in ("board", "op", "h", "c_in", "c_out", "k"):
        if required not in kv:
            raise ConfigError(f"predict needs {required}=...; see python -m bench predict --help")
    try:
        shape = {key: int(kv[key]) for key in SHAPE_ARGS if key in kv}
    except ValueError as exc:
        raise ConfigError(f"shape values must be integers: {exc}") from None
    shape.setdefault("w", shape["h"])
    unknown = set(kv) - set(SHAPE_ARGS) - {"board", "op", "kernels"}
    if unknown:
        raise ConfigError(f"unknown predict argument(s): {', '.join(sorted(unknown))}")
    pred = predictor_for(kv["board"], ns.runs, ns.predictor, ns.refit)
    if ns.save:
        pred.save(ns.save)
    kernels = kv.get("kernels")
    if kernels is None:
        choices = pred.kernels(kv["board"])
        if len(choices) != 1:
            raise ConfigError(f"board {kv['board']} has kernel libraries {choices or 'none'}; give kernels=...")
        kernels = choices[0]
    out = pred.predict(kv["board"], kernels, kv["op"], **shape)
    if ns.json:
        print(json.dumps(out, indent=1))
        return 0
    err = out["expected_rel_error"]
    err_txt = f"+-{100 * err:.2g} %" if err is not None else "unknown (too few shapes to validate)"
    print(f"{kv['board']} / {kernels} / {kv['op']}  h={shape['h']} w={shape['w']} c_in={shape['c_in']} "
          f"c_out={shape['c_out']} k={shape['k']} stride={shape.get('stride', 1)}"
          f"  ({out['macs']:,} MACs)")
    print(f"  metric   {out['metric']:,.0f} {out['metric_unit']}   expected error {err_txt} "
          f"(95th pct. of held-out shapes)")
    if out["energy_uj"] is not None:
        print(f"  energy   {out['energy_uj']:.4g} uJ  (fitted on {out['energy_inputs_provenance']} energy)")
    if out["latency_s"] is not None:
        print(f"  latency  {out['latency_s'] * 1e3:.4g} ms  ({out['latency_basis']})")
    print(f"  provenance: {out['provenance']} fitted on {out['inputs_provenance']} data ({out['form']} model)")
    for note in out["notes"]:
        print(f"  note: {note}")
    if out["extrapolating"]:
        print(f"  warning: outside the measured range in {', '.join(out['extrapolating'])}: extrapolating")
    return 0


def holdout_table(pred: Predictor) -> pd.DataFrame:
    table = pred.held_out_table()
    table["meets_target"] = table["metric_within_10pct"] >= TARGET_WITHIN_10
    return table


def format_holdout(table: pd.DataFrame) -> str:
    lines = [f"{'board':<10} {'kernels':<8} {'op':<10} {'unit (provenance)':<30} {'shapes':>6} "
             f"{'<=10%':>7} {'<=5%':>7} {'median':>8} {'max':>8}  model   energy<=10%"]
    def pct(v: float, width: int, digits: int) -> str:  # no "nan%" for an operator with no held-out shape
        return f"{100 * v:>{width}.{digits}f}%" if pd.notna(v) else f"{'-':>{width + 1}}"

    for r in table.itertuples():
        energy = f"{100 * r.energy_within_10pct:.1f} %" if pd.notna(r.energy_within_10pct) else "-"
        lines.append(f"{r.board:<10} {r.kernels:<8} {r.op:<10} {f'{r.metric_unit} ({r.provenance})':<30} "
                     f"{r.metric_shapes:>6} {pct(r.metric_within_10pct, 6, 1)} {pct(r.metric_within_5pct, 6, 1)} "
                     f"{pct(r.metric_median_abs, 7, 2)} {pct(r.metric_max_abs, 7, 2)}  {r.form:<7} {energy}")
    met = bool(table["meets_target"].all())
    lines.append(f"target (>= {100 * TARGET_WITHIN_10:.0f} % of held-out shapes within +-10 % for every "
                 f"operator): {'met' if met else 'NOT met'}")
    if (table["metric_shapes"] == 0).any():
        lines.append("operators with 0 shapes could not be held out (too few shapes measured: a sweep such as "
                     "sweep=default or sweep=characterize gives enough)")
    return "\n".join(lines)


def holdout_main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench holdout",
        description="held-out accuracy of the cost predictor: whole shapes left out of the fit, per operator")
    parser.add_argument("runs", nargs="+", help="run folders, multirun folders or globs")
    parser.add_argument("--out", type=Path, help="also write the table as CSV here")
    parser.add_argument("--group", choices=["shape", "slot"], default="shape",
                        help="hold out one shape at a time (default), or every shape on the same input map "
                             "(H, W, C_in, stride) together, i.e. at least a whole layer slot")
    parser.add_argument("--against", nargs="+", metavar="RUN",
                        help="instead: fit on RUNS once and score the shapes of these other runs that the fit "
                             "did not contain (an independent test set)")
    ns = parser.parse_args(args)
    results = load_results(ns.runs)
    pred = fit_predictor(results, grouping=ns.group)
    if ns.against:
        table = against_table(pred, results, load_results(ns.against))
        print(f"fitted on {results['run'].nunique()} run(s); scored on the shapes of {', '.join(ns.against)} "
              "that were not in the fit")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if ns.out:
            table.to_csv(ns.out, index=False)
        return 0 if (table["within_10pct"] >= TARGET_WITHIN_10).all() else 1
    table = holdout_table(pred)
    held = "leave-one-shape-out" if ns.group == "shape" else "leave-one-input-map-out (whole slots)"
    print(f"held-out accuracy over {results['run'].nunique()} run(s), {held} "
          f"(10-fold above 60 groups); metric = per-call count as measured")
    print(format_holdout(table))
    if ns.out:
        table.to_csv(ns.out, index=False)
        print(f"table: {ns.out}")
    return 0 if table["meets_target"].all() else 1


def against_table(pred: Predictor, train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Share within +-10 % / +-5 % on test shapes absent from the training results."""
    import numpy as np

    from .predictor import SHAPE_KEYS, usable_rows

    seen = set(map(tuple, usable_rows(train)[["board", "kernels", "op", *SHAPE_KEYS]].astype(str).values))
    rows = []
    test = usable_rows(test)
    for (board, kernels, op), grp in test.groupby(["board", "kernels", "op"]):
        if board not in pred.boards() or op not in pred.ops(board, kernels):
            continue
        errors = []
        for r in grp.drop_duplicates(["case_id"]).itertuples():
            key = tuple(map(str, (board, kernels, op, *[getattr(r, k) for k in SHAPE_KEYS])))
            if key in seen or r.padding != "same":
                continue
            out = pred.predict(board, kernels, op, int(r.h), int(r.w), int(r.c_in), int(r.c_out), int(r.k),
                               int(r.stride), int(r.groups))
            errors.append(out["metric"] / r.metric - 1.0)
        e = np.abs(np.array(errors))
        if len(e):
            rows.append({"board": board, "kernels": kernels, "op": op,
                         "fitted_shapes": pred.model(board, kernels, op).held_out.get("shapes"),
                         "test_shapes": len(e), "within_10pct": float(np.mean(e <= 0.10)),
                         "within_5pct": float(np.mean(e <= 0.05)), "max_abs": float(e.max())})
    return pd.DataFrame(rows)
