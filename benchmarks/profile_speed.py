"""How long `python -m bench profile` takes for one model on one emulated board.

Runs, as a user would:
    python -m bench profile MODEL board=qemu_m7 kernels=opt [OVERRIDES]
once to warm the caches (unless --cold), then once measured, and prints the
wall time, the split the run recorded (plan = model reading, interpreter run
and reference-conv generation; build and run = gcc, QEMU and the instruction
mix) and the number of cases.

    python benchmarks/profile_speed.py                      # DS-CNN, warm cache
    python benchmarks/profile_speed.py --cold               # empty cache: torch, LiteRT, gcc, Unicorn
    python benchmarks/profile_speed.py --model ../shared/models/pretrainedResnet_quant.tflite kernels=ref
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path(os.environ.get("BENCH_SHARED_DIR") or REPO.parent / "shared") / "models" / "kws_ref_model.tflite"


def profile(model: Path, out: Path, overrides: list[str], env: dict) -> float:
    cmd = [sys.executable, "-m", "bench", "profile", str(model), "--out", str(out), *overrides]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"profile failed:\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="measure with an empty cache")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (default board=qemu_m7 kernels=opt)")
    ns = parser.parse_args()
    if not ns.model.exists():
        sys.exit(f"no model at {ns.model} (set BENCH_SHARED_DIR or pass --model)")
    overrides = ["board=qemu_m7", "kernels=opt", *ns.overrides]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ)
        if ns.cold:
            env["BENCH_CACHE_DIR"] = str(tmp / "cache")
        else:
            profile(ns.model, tmp / "warm-up", overrides, env)
        wall = profile(ns.model, tmp / "measured", overrides, env)
        timings = json.loads((tmp / "measured" / "timings.json").read_text())
        cases = len(pd.read_csv(tmp / "measured" / "results.csv"))
        exact = int((pd.read_csv(tmp / "measured" / "profile.csv", keep_default_na=False)["bit_exact"]
                     == "yes").sum())

    print(f"model {ns.model.name}, {' '.join(overrides)}, {'cold' if ns.cold else 'warm'} cache")
    print(f"  wall time        {wall:6.1f} s   ({cases} cases: layers + standard-conv references; "
          f"{exact} layers bit-exact)")
    print(f"  plan             {timings['plan_s']:6.1f} s   (read model, interpreter, reference convs)")
    print(f"  build and run    {timings['build_and_run_s']:6.1f} s   (gcc, QEMU, instruction mix)")
    print(f"  start-up, report {wall - timings['total_s']:6.1f} s   (Python, Hydra, report and chart)")


if __name__ == "__main__":
    main()
