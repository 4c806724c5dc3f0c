"""Load results.csv files from one or several run folders (globs allowed)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from bench.collect import run_folder
from bench.collect.run_folder import run_config  # noqa: F401 - part of this module's API
from bench.store.db import store_refs
from bench.errors import BenchError


def find_runs(refs: Iterable[str | Path]) -> list[Path]:
    """Run folders from references: paths, globs, ``latest`` or results-store ids."""
    return run_folder.find_runs(store_refs(refs))


def load_results(patterns: Iterable[str | Path]) -> pd.DataFrame:
    """Every results.csv under the patterns, one row per case, with the run folder and the
    clock and CPI of the run's board energy model (``clock_hz``, ``cycles_per_unit``)
    so that instruction counts can be turned into a stated-clock latency."""
    frames = []
    runs = find_runs(patterns)
    for run in runs:
        df = pd.read_csv(run / "results.csv")
        if df.empty:  # a run stopped before its first case: nothing to read
            continue
        df.insert(0, "run", str(run))
        board = run_config(run).get("board") or {}
        model = board.get("energy_model") or {}
        df["core"] = board.get("core") or ""  # grouping and labels of multi-board reports
        df["clock_hz"] = float(model["clock_hz"]) if "clock_hz" in model else float("nan")
        df["cycles_per_unit"] = float(model["cycles_per_unit"]) if "cycles_per_unit" in model else float("nan")
        df["run_mtime"] = (run / "results.csv").stat().st_mtime
        frames.append(df)
    if not frames:
        raise BenchError(f"no measured cases in {', '.join(map(str, runs))}: every results.csv there is empty")
    return deduplicate(pd.concat(frames, ignore_index=True))


# A case is the same measurement when its id (shape, op, seed) and its build agree.
SAME_CASE = ["case_id", "board", "kernels", "kernels_version", "compiler", "cflags", "metric_unit",
             "provenance"]


def deduplicate(results: pd.DataFrame) -> pd.DataFrame:
    """One row per case: where several runs measured the same case with the same build, the
    newest run's row is kept and ``results.attrs["notes"]`` says how many and by how much
    the repeats differed (emulator counts should not differ at all)."""
    keys = [k for k in SAME_CASE if k in results]
    filled = results[keys].astype(str)
    repeated = filled.duplicated(keep=False)
    notes = []
    if repeated.any():
        rep = results[repeated].assign(_key=filled[repeated].agg("|".join, axis=1))
        spread = rep[rep["status"] == "ok"].groupby("_key")["metric"].agg(lambda m: m.max() / m.min() - 1)
        runs = rep.groupby("_key")["run"].nunique()
        worst = float(spread.max()) if len(spread) else 0.0
        notes.append(f"{runs.size} case(s) were measured in more than one run (up to {runs.max()} times, "
                     f"same build); the newest run's figure is used for each, and the repeats' metric "
                     f"differed by at most {worst:.2%}.")
    order = results.sort_values("run_mtime", kind="stable")
    out = order[~filled.loc[order.index].duplicated(keep="last")].sort_index()
    out = out.drop(columns="run_mtime").reset_index(drop=True)
    out.attrs["notes"] = notes
    return out
