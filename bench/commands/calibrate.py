"""``python -m bench calibrate``: fit a core's cycle costs to a board's measured cycles."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.collect.run_folder import find_runs
from bench.store.db import store_refs
from bench.timing.calibrate import calibrate
from bench.timing.calibrate_pipeline import calibrate_pipeline


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench calibrate", description=(
        "Fit per-class cycle costs to a real board's measured cycles (NNLS) and store them as yaml. "
        "Give the run folders of one board and toolchain."))
    p.add_argument("runs", nargs="+", help="run folders of the board: results.csv with cycles (and "
                   "instruction_mix.csv for the linear fit); paths, globs, `latest` or results-store ids")
    p.add_argument("--core", default="cortex-m7", help="prior model in conf/cores (default cortex-m7)")
    p.add_argument("--holdout", type=float, default=0.25, help="fraction of cases held out for the error (0.25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="output yaml (default conf/cores/fitted/<board>__<toolchain>.yaml)")
    p.add_argument("--pipeline", nargs="+", default=None, metavar="EMULATED_RUN",
                   help="fit the pipeline model (the QEMU cycle plugin's parts, from these runs of the emulated "
                        "twin: same sweep and kernels) instead of the linear class costs")
    ns = p.parse_args(args)
    runs = find_runs(store_refs(ns.runs))
    if ns.pipeline:
        out, doc = calibrate_pipeline(runs, find_runs(store_refs(ns.pipeline)), ns.core, ns.out, ns.holdout, ns.seed)
        err = doc["error"]
        print(f"fitted the {doc['core']} pipeline model to {doc['board']} ({doc['toolchain']}), {doc['cases']} cases: "
              f"held-out mean |error| {err.get('holdout_mean_abs_pct')} % (max {err.get('holdout_max_abs_pct')} %), "
              f"train {err['train_mean_abs_pct']} %, model as written {err['unfitted_mean_abs_pct']} %")
        for name, entry in doc["weights"].items():
            print(f"  {name:<18} {entry['value']:8.3f} ({entry['basis']})")
        print(f"written: {out}  (use it with board timing.fitted: {out.name})")
        return 0
    out, doc = calibrate(runs, ns.out, ns.holdout, ns.seed, ns.core)
    err = doc["error"]
    print(f"fitted {doc['board']} ({doc['toolchain']}) on {len(doc['sources'])} run(s): "
          f"held-out mean |error| {err['holdout_mean_abs_pct']} % (max {err['holdout_max_abs_pct']} %, "
          f"{err['holdout_cases']} cases), train {err['train_mean_abs_pct']} %")
    for name, entry in doc["classes"].items():
        if entry["basis"] == "fitted":
            print(f"  {name:<18} {entry['cycles']:8.3f} cycles")
    print(f"written: {out}")
    return 0
