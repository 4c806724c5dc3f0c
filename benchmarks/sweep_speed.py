"""How long the default sweep of all four operators takes, end to end.

Runs, as a user would:
    python -m bench run -m op=standard,depthwise,grouped,pointwise [OVERRIDES]
once to warm the caches (unless --cold), then once measured, and prints wall
time split into generate / build / emulate / analyse, the harness share
(everything that is not the emulator running), and cases per second.

    python benchmarks/sweep_speed.py                 # default sweep, warm cache
    python benchmarks/sweep_speed.py --cold          # empty cache: includes torch, LiteRT, gcc
    python benchmarks/sweep_speed.py sweep=smoke     # any Hydra override
    python benchmarks/sweep_speed.py --single        # one job, op=all (what `python -m bench run` does)

Each measurement is made twice, with the cycle estimate (the default) and with
run.cycles=false, and the script prints both wall times and their ratio (the
cost of cycles_estimated; the target is at most 1.5x).
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

OPS = "op=standard,depthwise,grouped,pointwise"


def run_sweep(out: Path, overrides: list[str], env: dict, single: bool = False) -> float:
    if single:
        cmd = [sys.executable, "-m", "bench", "run", "op=all", f"hydra.run.dir={out}/all", *overrides]
    else:
        cmd = [sys.executable, "-m", "bench", "run", "-m", OPS, f"hydra.sweep.dir={out}", *overrides]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"sweep failed:\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="measure with an empty cache")
    parser.add_argument("--single", action="store_true",
                        help="one job with op=all instead of a multirun over the four ops")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. sweep=smoke")
    ns = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ)
        if ns.cold:
            env["BENCH_CACHE_DIR"] = str(tmp / "cache")
        else:
            run_sweep(tmp / "warm-up", ns.overrides, env, ns.single)
        wall = run_sweep(tmp / "measured", ns.overrides, env, ns.single)
        if ns.cold:   # the second run would find the first one's cache: give it its own
            env["BENCH_CACHE_DIR"] = str(tmp / "cache-off")
        wall_off = run_sweep(tmp / "no-cycles", [*ns.overrides, "run.cycles=false"], env, ns.single)
        emulate_off = sum(json.loads(t.read_text())["emulate_wall_s"] for t in (tmp / "no-cycles").rglob("timings.json"))

        rows = []
        for timings in sorted((tmp / "measured").rglob("timings.json")):
            t = json.loads(timings.read_text())
            cases = len(pd.read_csv(timings.parent / "results.csv"))
            rows.append({"job": timings.parent.name, "cases": cases, **t})
    df = pd.DataFrame(rows)
    # analyse_s is per job; a multirun writes one combined report instead, which
    # counts in the whole command's wall time.
    cols = [c for c in ("generate_s", "build_s", "emulate_wall_s", "analyse_s", "total_s") if c in df]
    mode = "python -m bench run op=all" if ns.single else f"python -m bench run -m {OPS}"
    print(f"{mode}: {'cold' if ns.cold else 'warm'} cache, {os.cpu_count()} cores, "
          f"overrides: {ns.overrides or '(default sweep)'}")
    print(df[["job", "cases", *cols]].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    emulate = df["emulate_wall_s"].sum()
    cases = int(df["cases"].sum())
    harness = wall - emulate
    print(f"\nwall time, whole command (start-up, Hydra, all jobs, combined report): {wall:.1f} s")
    print(f"emulation (QEMU running, parallel runs counted once):                  {emulate:.1f} s")
    print(f"harness (everything else):                                             {harness:.1f} s"
          f" = {100 * harness / wall:.0f} % of the total")
    print(f"cases: {cases}, {cases / wall:.1f} cases/s")
    print(f"\nwith cycles_estimated (default):   wall {wall:.1f} s, emulation {emulate:.1f} s")
    print(f"without (run.cycles=false):        wall {wall_off:.1f} s, emulation {emulate_off:.1f} s")
    print(f"ratio with/without cycles: wall {wall / wall_off:.2f}x, emulation {emulate / emulate_off:.2f}x"
          " (target: wall <= 1.5x)")


if __name__ == "__main__":
    main()
