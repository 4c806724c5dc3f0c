"""Fit the pipeline model's run-time parameters to a board's DWT cycles.

The QEMU cycle plugin splits each case's estimate (results.csv ``cycles_parts``)
into the static schedule of its blocks, branch refill cycles, the number of
mispredicted branches and the stall cycles carried between blocks. On a real
board the same cases measure cycles (DWT CYCCNT). Fitted per board and
toolchain with non-negative least squares (the same solver and held-out
split as ``calibrate.py``):

    measured = a * static + b * branch + c * mispredicts + d * stall

``c`` is the core's mispredict penalty in cycles; ``a``, ``b``, ``d`` scale
the model's own issue schedule, branch refills and carried stalls (1.0 = the
model as written). QEMU cannot run a board's image (no machine for it), so
the emulated twin of the same cases supplies the parts: the same sweep and
kernel library built for the emulated board of the same core (for the
STM32H743, qemu_m7), matched by case id. The int8 kernels' code is the same
under both boards' flags; the board layer outside the timed call differs and
is outside the windows.

The result is plain yaml (``conf/cores/fitted/<board>__pipeline__<toolchain>.yaml``);
an emulated board uses it with ``timing.fitted: <file>``, and its
``cycles_model`` then says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from bench.errors import BenchError, ConfigError
from bench.timing import core_model
from bench.timing.calibrate import _solve, toolchain_tag
from bench.timing.cycle_parts import PARTS, WEIGHTS, parse_parts


def observations(board_runs: Sequence[Path], emulated_runs: Sequence[Path]) -> pd.DataFrame:
    """Measured cycles (board runs) joined with the plugin's parts (emulated runs) by case id."""
    def read(runs: Sequence[Path]) -> pd.DataFrame:
        frames = [pd.read_csv(r / "results.csv") for r in runs if (r / "results.csv").exists()]
        if not frames:
            raise BenchError(f"no results.csv in {', '.join(map(str, runs))}")
        df = pd.concat(frames, ignore_index=True)
        return df[df["status"] == "ok"]

    hw = read(board_runs)
    hw = hw[hw["metric_unit"] == "cycles"]
    if hw.empty:
        raise BenchError("the board runs have no case measured in cycles (metric_unit=cycles, status ok)")
    cycles = pd.to_numeric(hw.get("metric_median", hw["metric"]), errors="coerce").fillna(hw["metric"])
    hw = hw.assign(cycles_measured=cycles)[["case_id", "board", "compiler", "kernels", "cycles_measured"]]
    emu = read(emulated_runs)
    if "cycles_parts" not in emu or emu["cycles_parts"].isna().all():
        raise BenchError("the emulated runs have no cycles_parts (runs with the cycle plugin, run.cycles=true)")
    parts = pd.DataFrame([parse_parts(t) for t in emu["cycles_parts"].fillna("")], index=emu.index)
    emu = pd.concat([emu[["case_id", "kernels", "cycles_model"]], parts], axis=1).dropna(subset=list(PARTS))
    data = hw.merge(emu, on=["case_id", "kernels"])
    if data.empty:
        raise BenchError("no case id is in both the board runs and the emulated runs (same sweep and kernels?)")
    return data.drop_duplicates(["case_id", "kernels"], keep="last")


def fit(data: pd.DataFrame, mispredict_prior: float, holdout: float = 0.25, seed: int = 0) -> dict:
    X = data[list(PARTS)].to_numpy(dtype=float)
    y = data["cycles_measured"].to_numpy(dtype=float)
    prior = np.array([1.0, 1.0, float(mispredict_prior), 1.0])
    n = len(y)
    if n < 3:
        raise BenchError(f"calibration needs at least 3 matched cases, got {n}")
    n_test = min(int(round(n * holdout)), n - 2) if holdout > 0 else 0
    err = {}
    if n_test > 0:
        order = np.random.default_rng(seed).permutation(n)
        w, _ = _solve(X[order[n_test:]], y[order[n_test:]], prior)
        ape = np.abs(X[order[:n_test]] @ w - y[order[:n_test]]) / y[order[:n_test]]
        err = {"holdout_cases": n_test, "holdout_mean_abs_pct": round(100 * float(ape.mean()), 3),
               "holdout_max_abs_pct": round(100 * float(ape.max()), 3)}
    w, free = _solve(X, y, prior)
    model_err = np.abs(X @ prior - y) / y       # the model as written, before the fit
    err.update(train_mean_abs_pct=round(100 * float((np.abs(X @ w - y) / y).mean()), 3),
               unfitted_mean_abs_pct=round(100 * float(model_err.mean()), 3))
    weights = {WEIGHTS[p]: {"value": round(float(v), 4), "basis": "fitted" if ok else "prior"}
               for p, v, ok in zip(PARTS, w, free)}
    return {"weights": weights, "error": err, "cases": n}


def calibrate_pipeline(board_runs: Sequence[Path], emulated_runs: Sequence[Path], core: str,
                       out: Path | None = None, holdout: float = 0.25, seed: int = 0) -> tuple[Path, dict]:
    data = observations(board_runs, emulated_runs)
    boards, compilers = sorted(set(data["board"])), sorted(set(data["compiler"]))
    if len(boards) != 1 or len(compilers) != 1:
        raise ConfigError(f"calibrate one board and toolchain at a time; got boards {boards}, compilers {compilers}")
    model = core_model.load(core)
    result = fit(data, model["branches"]["mispredict"]["value"], holdout, seed)
    doc = {"core": core, "kind": "pipeline-fit", "board": boards[0], "toolchain": compilers[0],
           "reference": f"NNLS fit of the {core} pipeline model's parts to DWT cycles of {result['cases']} cases "
                        f"on {boards[0]}", "fitted_on": dt.date.today().isoformat(),
           "board_runs": [str(p) for p in board_runs], "emulated_runs": [str(p) for p in emulated_runs],
           **result}
    out = out or core_model.cores_dir() / "fitted" / f"{boards[0]}__pipeline__{toolchain_tag(compilers[0])}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Written by python -m bench calibrate --pipeline. Plain data.\n"
                   + yaml.safe_dump(doc, sort_keys=False))
    return out, doc
