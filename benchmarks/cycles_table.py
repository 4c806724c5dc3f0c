"""Estimated cycles per instruction and per MAC, per core, kernel library and operator.

Reads run folders (results.csv with cycles_estimated from the QEMU cycle plugin)
and prints a markdown table of medians over each group's cases: instructions
per MAC (emulator-count), estimated cycles per MAC and per instruction
(model-estimate). Used for the table in docs/emulation.md:

    python -m bench run op=all kernels=opt board.core=cortex-m4 \\
        "board.cpu_flags=['-mcpu=cortex-m4','-mthumb','-mfloat-abi=soft']" hydra.run.dir=runs/cycles/m4_opt
    python benchmarks/cycles_table.py runs/cycles/*
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

OPS = ["standard", "pointwise", "grouped", "depthwise", "add", "mul", "relu6", "avgpool", "maxpool"]


def summarize(run_dirs: list[Path]) -> pd.DataFrame:
    df = pd.concat([pd.read_csv(d / "results.csv") for d in run_dirs], ignore_index=True)
    df = df[(df["status"] == "ok") & df["cycles_estimated"].notna()].copy()
    df["core"] = df["cycles_model"].str.split().str[0]
    df["instr_per_mac"] = df["instructions"] / df["macs"]
    df["cycles_per_mac"] = df["cycles_estimated"] / df["macs"]
    df["cpi"] = df["cycles_estimated"] / df["instructions"]
    out = (df.groupby(["core", "kernels", "op"])
           .agg(cases=("case_id", "count"), instr_per_mac=("instr_per_mac", "median"),
                cycles_per_mac=("cycles_per_mac", "median"), cpi=("cpi", "median"))
           .reset_index())
    out["_op"] = out["op"].map({op: i for i, op in enumerate(OPS)})
    return out.sort_values(["core", "kernels", "_op"]).drop(columns="_op")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    table = summarize(parser.parse_args().runs)
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |\n|" + "|".join("---" for _ in cols) + "|")
    for row in table.itertuples(index=False):
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
