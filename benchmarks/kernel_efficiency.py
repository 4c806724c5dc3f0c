"""Instructions per nominal MAC, per operator and shape, for each kernel library.

Runs the same sweep (default: conf/sweep/kernels.yaml, maps 8x8 to 48x48 and
8 to 256 channels) once per kernel library on one or more boards (default
qemu_m7 at -O2), every case checked bit-exact on the target as always, and
prints per board a markdown table: instructions/MAC per library and the ratio
to ref, then each target class of issue 5 with its worst case. With several
boards it ends with one table across cores: the median instructions/MAC per
operator and library, and opt against cmsis_nn.

    python benchmarks/kernel_efficiency.py                       # ref and opt
    python benchmarks/kernel_efficiency.py --libs ref,opt,cmsis_nn --cmsis-nn-path ~/CMSIS-NN
    python benchmarks/kernel_efficiency.py --board qemu_m0plus,qemu_m3,qemu_m4,qemu_m7,qemu_m33,qemu_m55
    python benchmarks/kernel_efficiency.py --from-runs runs/kernel_efficiency/<stamp>   # re-print

cmsis_nn joins the default libraries when CMSIS_NN_PATH is set. Results stay
as plain results.csv files under runs/kernel_efficiency/<stamp>/<library>/
(one board) or <stamp>/<board>/<library>/ (several).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (class, op, filter, limit): the targets of issue 5, in instructions per nominal MAC.
TARGETS = (
    ("standard 3x3", "standard", lambda d: d["k"] == 3, 1.7),
    ("pointwise 1x1, C_in >= 32", "pointwise", lambda d: d["c_in"] >= 32, 1.7),
    ("grouped 3x3, 4 groups", "grouped", lambda d: (d["k"] == 3) & (d["groups"] == 4), 2.2),
    ("depthwise 3x3", "depthwise", lambda d: d["k"] == 3, 6.0),
)
OP_ORDER = {"standard": 0, "pointwise": 1, "grouped": 2, "depthwise": 3}


def run_library(lib: str, board: str, args, out: Path) -> Path:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from bench import paths
    from bench.orchestrate import pipeline

    overrides = [f"board={board}", f"kernels={lib}", f"sweep={args.sweep}", f"op={args.op}",
                 f"build.opt_level={args.opt_level}", "run.report=false", *(args.set or [])]
    if lib == "cmsis_nn" and args.cmsis_nn_path:
        overrides.append(f"kernels.cmsis_nn_path={args.cmsis_nn_path}")
    with initialize_config_dir(config_dir=str(paths.conf_dir()), version_base="1.3"):
        cfg = OmegaConf.to_container(compose(config_name="config", overrides=overrides), resolve=True)
    run_dir = out / lib
    summary = pipeline.run_benchmark(cfg, run_dir)
    if summary.failed:
        print(f"warning: {lib}: {len(summary.failed)} case(s) not ok:", *summary.failed[:5], sep="\n  ",
              file=sys.stderr)
    return run_dir


def load(run_dirs: list[Path]) -> pd.DataFrame:
    frames = []
    for d in run_dirs:
        r = pd.read_csv(d / "results.csv")
        frames.append(r)
    df = pd.concat(frames, ignore_index=True)
    df = df[df["status"] == "ok"].copy()
    df["instr_per_mac"] = df["metric"] / df["macs"]
    if "cycles_estimated" in df:   # the QEMU cycle plugin's estimate (model-estimate)
        df["cycles_per_mac"] = pd.to_numeric(df["cycles_estimated"], errors="coerce") / df["macs"]
    return df


def table(df: pd.DataFrame, value: str = "instr_per_mac") -> pd.DataFrame:
    libs = sorted(df["kernels"].unique(), key=lambda s: (s != "ref", s != "opt", s))
    wide = df.pivot_table(index=["op", "case_id", "h", "w", "c_in", "c_out", "k", "stride", "groups", "macs"],
                          columns="kernels", values=value, aggfunc="first").reset_index()
    wide.columns.name = None
    for lib in libs:
        if lib != "ref" and "ref" in wide:
            wide[f"{lib}/ref"] = wide[lib] / wide["ref"]
    ratios = [f"{lib}/ref" for lib in libs if lib != "ref" and "ref" in wide]
    if "opt" in wide and "cmsis_nn" in wide:
        wide["opt/cmsis_nn"] = wide["opt"] / wide["cmsis_nn"]
        ratios.append("opt/cmsis_nn")
    wide["_order"] = wide["op"].map(OP_ORDER)
    wide = wide.sort_values(["_order", "k", "c_in", "h"]).drop(columns="_order")
    return wide[["op", "case_id", "macs", *libs, *ratios]]


def markdown(frame: pd.DataFrame, floatfmt: str = "{:.2f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [floatfmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, op, keep, limit in TARGETS:
        for lib, part in df[df["op"] == op].groupby("kernels"):
            part = part[keep(part)]
            if part.empty:
                continue
            worst = part.loc[part["instr_per_mac"].idxmax()]
            met = part[part["instr_per_mac"] <= limit]
            rows.append({"class": name, "library": lib, "target": limit,
                         "best": part["instr_per_mac"].min(), "worst": worst["instr_per_mac"],
                         "worst case": worst["case_id"], "shapes met": f"{len(met)}/{len(part)}"})
    return pd.DataFrame(rows)


def across_cores(df: pd.DataFrame) -> pd.DataFrame:
    """Median instructions/MAC per board, operator and library; opt/cmsis_nn where both ran."""
    med = df.pivot_table(index=["board", "op"], columns="kernels", values="instr_per_mac",
                         aggfunc="median").reset_index()
    med.columns.name = None
    if {"opt", "cmsis_nn"} <= set(med.columns):
        # per case, then the worst: where opt is furthest above CMSIS-NN
        per_case = df.pivot_table(index=["board", "op", "case_id"], columns="kernels", values="instr_per_mac",
                                  aggfunc="first").reset_index()
        per_case["ratio"] = per_case["opt"] / per_case["cmsis_nn"]
        stats = per_case.groupby(["board", "op"])["ratio"].agg(["median", "max"]).reset_index()
        stats.columns = ["board", "op", "opt/cmsis_nn median", "opt/cmsis_nn worst"]
        med = med.merge(stats, on=["board", "op"])
    med["_order"] = med["op"].map(OP_ORDER)
    return med.sort_values(["board", "_order"]).drop(columns="_order")


def report(df: pd.DataFrame, out: Path) -> None:
    for board, part in df.groupby("board", sort=False):
        cflags = "; ".join(f"{k}: {v}" for k, v in part.groupby("kernels")["cflags"].first().items())
        versions = ", ".join(f"{k} {v}" for k, v in part.groupby("kernels")["kernels_version"].first().items())
        print(f"# Instructions per nominal MAC ({board}; {versions})\n")
        print(f"runs: {out}\ncflags: {cflags}\n")
        print(markdown(table(part)))
        print("\n## Target classes\n")
        print(markdown(targets(part)))
        if "cycles_per_mac" in part and part["cycles_per_mac"].notna().all():
            models = ", ".join(sorted(part["cycles_model"].dropna().unique()))
            print(f"\n# Estimated cycles per nominal MAC ({board}; {models}; model-estimate)\n")
            print(markdown(table(part, "cycles_per_mac")))
        print()
    if df["board"].nunique() > 1:
        print("# Across cores: median instructions per nominal MAC\n")
        print(markdown(across_cores(df)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_libs = "ref,opt" + (",cmsis_nn" if os.environ.get("CMSIS_NN_PATH") else "")
    parser.add_argument("--libs", default=default_libs, help=f"kernel libraries (default {default_libs})")
    parser.add_argument("--board", default="qemu_m7", help="a board, or several separated by commas")
    parser.add_argument("--sweep", default="kernels")
    parser.add_argument("--op", default="all")
    parser.add_argument("--opt-level", default="-O2")
    parser.add_argument("--cmsis-nn-path", default=os.environ.get("CMSIS_NN_PATH"))
    parser.add_argument("--out", type=Path, default=None, help="folder for the runs")
    parser.add_argument("--set", action="append", metavar="OVERRIDE",
                        help="extra Hydra override for every run, e.g. --set board.core=cortex-m4 (repeatable)")
    parser.add_argument("--from-runs", type=Path, default=None,
                        help="only read <dir>/<library>/results.csv from an earlier invocation")
    args = parser.parse_args(argv)

    if args.from_runs:
        run_dirs = sorted({p.parent for p in args.from_runs.glob("**/results.csv")})
        out = args.from_runs
        if not run_dirs:
            print(f"error: no results.csv under {args.from_runs} (expected <dir>/<library>/ or "
                  "<dir>/<board>/<library>/)", file=sys.stderr)
            return 2
    else:
        out = args.out or ROOT / "runs" / "kernel_efficiency" / time.strftime("%Y-%m-%d_%H-%M-%S")
        boards = [b.strip() for b in args.board.split(",") if b.strip()]
        libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
        run_dirs = [run_library(lib, board, args, out / board if len(boards) > 1 else out)
                    for board in boards for lib in libs]
    report(load(run_dirs), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
