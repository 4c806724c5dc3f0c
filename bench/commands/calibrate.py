"""``python -m bench calibrate``: fit a core's cycle costs to a board's measured cycles."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.collect.run_folder import find_runs
from bench.store.db import store_refs
from bench.timing.calibrate import calibrate


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench calibrate", description=(
        "Fit per-class cycle costs to a real board's measured cycles (NNLS) and store them as yaml. "
        "Give the run folders of one board and toolchain."))
    p.add_argument("runs", nargs="+", help="run folders with results.csv and instruction_mix.csv (paths, globs, "
                                           "`latest` or results-store ids)")
    p.add_argument("--core", default="cortex-m7", help="prior model in conf/cores (default cortex-m7)")
    p.add_argument("--holdout", type=float, default=0.25, help="fraction of cases held out for the error (0.25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="output yaml (default conf/cores/fitted/<board>__<toolchain>.yaml)")
    ns = p.parse_args(args)
    out, doc = calibrate(find_runs(store_refs(ns.runs)), ns.out, ns.holdout, ns.seed, ns.core)
    err = doc["error"]
    print(f"fitted {doc['board']} ({doc['toolchain']}) on {len(doc['sources'])} run(s): "
          f"held-out mean |error| {err['holdout_mean_abs_pct']} % (max {err['holdout_max_abs_pct']} %, "
          f"{err['holdout_cases']} cases), train {err['train_mean_abs_pct']} %")
    for name, entry in doc["classes"].items():
        if entry["basis"] == "fitted":
            print(f"  {name:<18} {entry['cycles']:8.3f} cycles")
    print(f"written: {out}")
    return 0
