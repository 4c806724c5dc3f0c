"""Load results.csv files from one or several run folders (globs allowed)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from bench.collect.run_folder import find_runs, run_config  # noqa: F401 - part of this module's API
from bench.errors import BenchError


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
        model = (run_config(run).get("board") or {}).get("energy_model") or {}
        df["clock_hz"] = float(model["clock_hz"]) if "clock_hz" in model else float("nan")
        df["cycles_per_unit"] = float(model["cycles_per_unit"]) if "cycles_per_unit" in model else float("nan")
        frames.append(df)
    if not frames:
        raise BenchError(f"no measured cases in {', '.join(map(str, runs))}: every results.csv there is empty")
    return pd.concat(frames, ignore_index=True)
