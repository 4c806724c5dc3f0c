"""Fit a core's class costs to cycles measured on a board: ``python -m bench calibrate``.

Input: run folders of a real board (results.csv with the metric in cycles,
DWT CYCCNT) and the instruction mix of each case (instruction_mix.csv, which
every run writes: Unicorn runs the same ELF). Model: measured cycles =
counts . costs, costs >= 0, solved with non-negative least squares
(scipy.optimize.nnls). Classes a set of cases never exercises (or exercises
identically in every case) cannot be identified; they keep the prior cost
(conf/cores/<core>.yaml) and are marked ``basis: prior``.

The error is reported on held-out cases (a seeded split: the fit never saw
them), then the stored model is refitted on every case. The result is plain
yaml (``conf/cores/fitted/<board>__<toolchain>.yaml``), never a pickle, so it
outlives the library versions that wrote it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import nnls

from bench.timing import cycle_model
from bench.errors import BenchError, ConfigError
from bench.timing.instruction_classes import CLASSES, EXTRAS

FEATURES = (*CLASSES, *EXTRAS)


@dataclass
class Fit:
    costs: dict                 # feature -> cycles
    fitted: list                # features whose cost came from the data
    holdout_mape: float | None  # mean |error| / measured on held-out cases
    holdout_max_ape: float | None
    train_mape: float
    n_cases: int
    n_holdout: int


def _identifiable(X: np.ndarray) -> np.ndarray:
    """Columns that vary across cases (a constant column is confounded with every other)."""
    return np.array([np.ptp(X[:, j]) > 0 for j in range(X.shape[1])])


def _solve(X: np.ndarray, y: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NNLS on the identifiable columns; the others keep the prior cost (taken off y first)."""
    free = _identifiable(X)
    costs = prior.astype(float).copy()
    rest = y - X[:, ~free] @ prior[~free]
    if free.any():
        # Scale columns so that the solver's tolerance means the same for rare and common classes.
        scale = np.maximum(np.abs(X[:, free]).max(axis=0), 1.0)
        sol, _ = nnls(X[:, free] / scale, rest)
        costs[free] = sol / scale
    return costs, free


def fit_costs(X: np.ndarray, y: np.ndarray, prior: np.ndarray, holdout: float = 0.25,
              seed: int = 0) -> Fit:
    """Fit costs, report held-out error, then refit on every case."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 3:
        raise BenchError(f"calibration needs at least 3 measured cases, got {n}")
    n_test = int(round(n * holdout)) if holdout > 0 else 0
    n_test = min(n_test, n - 2)
    mape = max_ape = None
    if n_test > 0:
        order = np.random.default_rng(seed).permutation(n)
        test, train = order[:n_test], order[n_test:]
        costs, _ = _solve(X[train], y[train], prior)
        ape = np.abs(X[test] @ costs - y[test]) / y[test]
        mape, max_ape = float(ape.mean()), float(ape.max())
    costs, free = _solve(X, y, prior)
    train_mape = float((np.abs(X @ costs - y) / y).mean())
    return Fit(costs=dict(zip(FEATURES, map(float, costs))),
               fitted=[f for f, ok in zip(FEATURES, free) if ok],
               holdout_mape=mape, holdout_max_ape=max_ape, train_mape=train_mape,
               n_cases=n, n_holdout=n_test)


def prior_vector(model: Mapping) -> np.ndarray:
    classes, extras = cycle_model.cost_vector(model)
    return np.array([*classes, *extras], dtype=float)


def observations(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """One row per measured case: board, compiler, cycles_measured and the mix features."""
    frames = []
    for run in run_dirs:
        results, mix = run / "results.csv", run / "instruction_mix.csv"
        if not results.exists():
            raise BenchError(f"{run}: no results.csv")
        r = pd.read_csv(results)
        r = r[(r["status"] == "ok") & (r["metric_unit"] == "cycles")]
        if r.empty:
            raise BenchError(f"{run}: no case with measured cycles (metric_unit=cycles, status ok): "
                             "calibrate fits a real board's DWT cycles")
        if not mix.exists():
            raise BenchError(f"{run}: needs instruction_mix.csv (a board run with run.instruction_mix=true), "
                             "or fit the pipeline model with --pipeline EMULATED_RUN")
        m = pd.read_csv(mix)
        m = m[m["check"] == "ok"]
        # The median per call when the run reports it (robust to a SysTick landing in one call).
        cycles = r["metric"]
        if "metric_median" in r:
            cycles = pd.to_numeric(r["metric_median"], errors="coerce").fillna(r["metric"])
        r = r.assign(cycles_measured=cycles)
        frames.append(r[["case_id", "board", "compiler", "cycles_measured"]]
                      .merge(m[["case_id", *FEATURES]], on="case_id"))
    if not frames:
        raise BenchError("no run folders given")
    data = pd.concat(frames, ignore_index=True).drop_duplicates("case_id", keep="last")
    if data.empty:
        raise BenchError("no case has both measured cycles (metric_unit=cycles, status ok) and an instruction mix")
    return data


def toolchain_tag(compiler: str) -> str:
    """'arm-none-eabi-gcc (15:12.2.rel1-1) 12.2.1 20221205' -> 'gcc-12.2.1'."""
    family = re.search(r"gcc|clang", compiler)
    versions = re.findall(r"(?<![\d.])(\d+\.\d+\.\d+)(?![\d.])", compiler)
    if family and versions:
        return f"{family.group(0)}-{versions[0]}"
    return re.sub(r"[^A-Za-z0-9.]+", "-", compiler).strip("-")[:40] or "unknown"


def model_document(fit: Fit, prior: Mapping, board: str, compiler: str, sources: Sequence[str]) -> dict:
    classes, extras = {}, {}
    for name in FEATURES:
        entry = {"cycles": round(fit.costs[name], 4),
                 "basis": "fitted" if name in fit.fitted else "prior"}
        if name not in fit.fitted:
            entry["note"] = f"not identifiable from these cases; prior from {prior.get('name', prior.get('core'))}"
        (classes if name in CLASSES else extras)[name] = entry
    return {
        "core": prior.get("core"),
        "name": f"fitted {board} {toolchain_tag(compiler)}",
        "reference": (f"NNLS fit to DWT CYCCNT cycles of {fit.n_cases} cases on {board}; "
                      f"prior {prior.get('name', prior.get('core'))}"),
        "board": board,
        "toolchain": compiler,
        "fitted_on": dt.date.today().isoformat(),
        "sources": list(sources),
        "error": {"holdout_cases": fit.n_holdout,
                  "holdout_mean_abs_pct": None if fit.holdout_mape is None else round(100 * fit.holdout_mape, 3),
                  "holdout_max_abs_pct": None if fit.holdout_max_ape is None else round(100 * fit.holdout_max_ape, 3),
                  "train_mean_abs_pct": round(100 * fit.train_mape, 3)},
        "classes": classes,
        "extras": extras,
    }


def calibrate(run_dirs: Sequence[Path], out: Path | None = None, holdout: float = 0.25,
              seed: int = 0, core: str | None = None) -> tuple[Path, dict]:
    data = observations(run_dirs)
    boards = sorted(set(data["board"]))
    compilers = sorted(set(data["compiler"]))
    if len(boards) != 1 or len(compilers) != 1:
        raise ConfigError(f"calibrate one board and toolchain at a time; got boards {boards}, compilers {compilers}")
    board, compiler = boards[0], compilers[0]
    core = core or "cortex-m7"
    prior = cycle_model.load_model(cycle_model.cores_dir() / f"{core}.yaml")
    fit = fit_costs(data[list(FEATURES)].to_numpy(), data["cycles_measured"].to_numpy(),
                    prior_vector(prior), holdout=holdout, seed=seed)
    doc = model_document(fit, prior, board, compiler, [str(p) for p in run_dirs])
    out = out or cycle_model.cores_dir() / "fitted" / f"{board}__{toolchain_tag(compiler)}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Written by python -m bench calibrate. Plain data: edit or delete freely.\n"
                   + yaml.safe_dump(doc, sort_keys=False))
    return out, doc
