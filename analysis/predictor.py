"""Cost predictor: metric (cycles or instructions), energy and latency of an
operator call for shapes that were not measured, fitted from microbenchmarks.

One model per (board, kernel library, operator). Analytic forms are fitted by
least squares (their features, computed from the shape alone, are in
analysis/features.py) and chosen on held-out shapes (see ``_fit_value``):

- ``loops``: cost = sum_j c_j * n_j with c_j >= 0 (scipy.optimize.nnls), where
  the n_j are the loop-trip counts of a direct convolution of that shape: one
  per call, per output row, per output pixel, per output value (accumulator
  set-up, bias, requantization), per kernel row visited, per kernel column
  visited inside the map, per valid tap (inner-loop entry) and per valid MAC
  (taps that fall in the padding are skipped by TFLite-style kernels, so
  they are counted exactly from the padding rule). The rows are weighted by
  1 / measured value, so the fit minimises *relative* error.
- ``loops+``: ``loops`` plus the trip counts of im2col + GEMM kernels
  (features.EXTRA_FEATURES).
- ``power``: log cost = b0 + b1 log MACs + b2 log(C_in/groups) + b3 log C_out
  + b4 log(H_out W_out) + b5 log k (numpy.linalg.lstsq), a power law for
  kernels whose cost does not follow the loop nest (real caches, im2col).

No tree ensemble: on the emulator data the analytic forms meet the held-out
target (docs/analysis.md; the ``ref`` kernels within 1 %), trees would not
extrapolate past the measured shapes, and no data-dependent path that defeats
the analytic forms would be learnt by a tree from the shape either.

``expected_rel_error`` comes from leave-one-shape-out validation inside the
fit (k-fold over shapes when a model has many): a whole shape is held out,
never a random row of a shape that stays in the training set.

Stored as plain JSON (never pickle): coefficients, feature names, the clock
used for latency and where it came from, and the held-out figures.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from bench.errors import BenchError, ConfigError

from .features import (EXTRA_FEATURES, LOOP_FEATURES, LOOP_PLUS_FEATURES, POWER_FEATURES,  # noqa: F401
                       SHAPE_KEYS, _design, _features, extra_counts, loop_counts, nominal_macs)

FORMAT = "mcu-opbench-predictor"
FORMAT_VERSION = 1
PROVENANCE = "model-estimate"
MIN_SHAPES_LOOPS_PLUS = 10
MAX_LOO_SHAPES = 60   # above this, 10-fold over shapes instead of leave-one-out
FOLDS = 10


# -- fitting ------------------------------------------------------------------
def _fit(form: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    if form in ("loops", "loops+"):
        A = X / y[:, None]                       # relative-error weighting
        scale = np.abs(A).max(axis=0)
        scale[scale == 0] = 1.0
        coef, _ = nnls(A / scale, np.ones(len(y)))
        return coef / scale
    coef, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
    return coef


def _apply(form: str, coef: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.exp(X @ coef) if form == "power" else X @ coef


FEATURES = {"loops": LOOP_FEATURES, "loops+": LOOP_PLUS_FEATURES, "power": POWER_FEATURES}
FORMS = ("loops", "loops+", "power")


def _folds(n: int, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Index sets held out together: one shape (or one group of shapes) at a time, or 10
    folds of them when there are many."""
    keys = np.arange(n) if groups is None else groups
    uniq = list(dict.fromkeys(keys.tolist()))
    units = [np.flatnonzero(keys == u) for u in uniq] if groups is not None else [np.array([i]) for i in range(n)]
    if len(units) <= MAX_LOO_SHAPES:
        return units
    return [np.concatenate(units[i::FOLDS]) for i in range(FOLDS)]


# How shapes are held out: "shape" leaves one shape out at a time; "slot" leaves out every
# shape on the same input map (H, W, C_in, stride, padding) together, i.e. at least the
# whole layer slot (a slot's standard conv and the depthwise reference share its map).
GROUPINGS = {"shape": None, "slot": ["h", "w", "c_in", "stride", "padding"]}


def group_labels(shapes: pd.DataFrame, grouping: str) -> np.ndarray | None:
    if grouping not in GROUPINGS:
        raise BenchError(f"unknown hold-out grouping {grouping!r}; choose {', '.join(GROUPINGS)}")
    keys = GROUPINGS[grouping]
    return None if keys is None else shapes[keys].astype(str).agg("|".join, axis=1).to_numpy()


def held_out_errors(form: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Relative error (pred / measured - 1) of each shape when its fold is left out of the fit."""
    errors = np.full(len(y), np.nan)
    if len(y) < 3:
        return errors
    for held in _folds(len(y), groups):
        if len(held) > len(y) - 2:
            continue
        train = np.ones(len(y), bool)
        train[held] = False
        coef = _fit(form, X[train], y[train])
        errors[held] = _apply(form, coef, X[held]) / y[held] - 1.0
    return errors


def error_summary(errors: np.ndarray) -> dict:
    e = np.abs(errors[~np.isnan(errors)])
    if not len(e):
        return {"shapes": 0, "within_10pct": None, "within_5pct": None, "median_abs": None,
                "p95_abs": None, "max_abs": None}
    return {"shapes": int(len(e)), "within_10pct": float(np.mean(e <= 0.10)),
            "within_5pct": float(np.mean(e <= 0.05)), "median_abs": float(np.median(e)),
            "p95_abs": float(np.quantile(e, 0.95)), "max_abs": float(e.max())}


SIMPLEST_FIRST = ("loops", "power", "loops+")
ADEQUATE_WITHIN_10 = 0.95   # the held-out target
ADEQUATE_P95 = 0.05


def _adequate(errors: np.ndarray) -> bool:
    s = error_summary(errors)
    return bool(s["shapes"]) and s["within_10pct"] >= ADEQUATE_WITHIN_10 and s["p95_abs"] <= ADEQUATE_P95


COMPLEXITY = {"loops": 1.0, "power": 1.0, "loops+": 1.25}  # the many-feature form must win clearly


def _score(errors: np.ndarray, form: str = "loops") -> tuple:
    s = error_summary(errors)
    if not s["shapes"]:
        return (0.0, math.inf)
    return (-round(s["within_10pct"], 3), s["p95_abs"] * COMPLEXITY.get(form, 1.0))


def shapes_of(rows: pd.DataFrame, value: str) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per distinct shape (repeated measurements averaged), and its value."""
    rows = rows.dropna(subset=[value])
    rows = rows[rows[value] > 0]
    grouped = rows.groupby(SHAPE_KEYS, sort=True)[value].mean().reset_index()
    return grouped[SHAPE_KEYS], grouped[value].to_numpy(float)


@dataclass
class OpModel:
    board: str
    kernels: str
    op: str
    metric_unit: str
    inputs_provenance: str
    energy_provenance: str
    form: str
    features: list[str]
    metric_coef: list[float]
    energy_form: str | None
    energy_features: list[str]
    energy_coef: list[float] | None
    clock_hz: float | None
    cycles_per_unit: float | None
    latency_basis: str
    held_out: dict
    energy_held_out: dict
    candidates: dict
    ranges: dict
    runs: list[str] = field(default_factory=list)
    excluded_builds: list[str] = field(default_factory=list)
    # Cycles for latency when the metric is not cycles: the instruction-mix estimate
    # (bench/timing/cycle_model.py, model-estimate) fitted like the metric.
    cycles_form: str | None = None
    cycles_features: list[str] = field(default_factory=list)
    cycles_coef: list[float] | None = None
    cycles_held_out: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _clock_columns(rows: pd.DataFrame) -> tuple[float | None, float | None, str]:
    clock = _first(rows, "clock_hz")
    cpu = _first(rows, "cycles_per_unit")
    if clock is None:
        board_cfg = _board_yaml(str(rows["board"].iloc[0]))
        model = (board_cfg or {}).get("energy_model") or {}
        clock, cpu = model.get("clock_hz"), model.get("cycles_per_unit")
        source = "conf/board yaml energy_model"
    else:
        source = "run config energy_model"
    return (float(clock) if clock is not None else None,
            float(cpu) if cpu is not None else None, source)


def _first(rows: pd.DataFrame, column: str):
    if column not in rows:
        return None
    vals = rows[column].dropna()
    return vals.iloc[0] if len(vals) else None


def _board_yaml(board: str) -> dict | None:
    from omegaconf import OmegaConf

    from bench import paths
    path = paths.conf_dir() / "board" / f"{board}.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else None


def _fit_value(rows: pd.DataFrame, value: str, forms: Iterable[str], grouping: str = "shape"):
    shapes, y = shapes_of(rows, value)
    if not len(y):
        return None
    groups = group_labels(shapes, grouping)
    results = {}
    # The many-feature form needs enough shapes for its held-out error to mean something.
    forms = [f for f in forms if f != "loops+" or len(y) >= MIN_SHAPES_LOOPS_PLUS] or ["loops"]
    for form in forms:
        X = _design(form, shapes)
        errors = held_out_errors(form, X, y, groups)
        results[form] = (X, errors)
    # Occam: the first form (fewest features first) whose held-out error is already good
    # enough is kept; only when none is does the best held-out score decide. Choosing by
    # score alone let the many-feature form win by hundredths of a percent on 16 shapes and
    # then extrapolate worse to new shapes.
    adequate = [f for f in SIMPLEST_FIRST if f in results and _adequate(results[f][1])]
    best = adequate[0] if adequate else min(results, key=lambda f: _score(results[f][1], f))
    X, errors = results[best]
    coef = _fit(best, X, y)
    return best, coef, errors, shapes, y, {f: error_summary(e) for f, (_, e) in results.items()}


def fit_op_model(rows: pd.DataFrame, forms: Iterable[str] = FORMS, grouping: str = "shape") -> OpModel:
    """Fit one (board, kernels, op): rows must be usable measurements of that triple."""
    forms = tuple(forms)
    first = rows.iloc[0]
    units = rows["metric_unit"].dropna().unique()
    provs = rows["provenance"].dropna().unique()
    if len(units) > 1 or len(provs) > 1:
        raise BenchError(f"{first['board']}/{first['kernels']}/{first['op']}: results mix metric units "
                         f"{list(units)} / provenances {list(provs)}; fit them separately")
    fitted = _fit_value(rows, "metric", forms, grouping)
    if fitted is None:
        raise BenchError(f"{first['board']}/{first['kernels']}/{first['op']}: no measured metric to fit")
    form, coef, errors, shapes, _, candidates = fitted
    efit = _fit_value(rows, "energy_uj", forms, grouping) if "energy_uj" in rows else None
    clock, cpu, clock_source = _clock_columns(rows)
    unit = str(units[0])
    cfit = None
    if unit != "cycles" and "cycles_estimated" in rows:
        rows = rows.assign(cycles_estimated=pd.to_numeric(rows["cycles_estimated"], errors="coerce"))
        cfit = _fit_value(rows, "cycles_estimated", forms, grouping)
    if unit == "cycles":
        basis = f"cycles / clock_hz ({clock_source})"
    elif cfit is not None and clock is not None:
        basis = (f"estimated cycles (instruction-mix cycle model, model-estimate) / clock_hz {clock:g} "
                 f"({clock_source}): not a measured time")
    elif clock is not None:
        basis = (f"{unit} x cycles_per_unit {cpu:g} / clock_hz {clock:g} ({clock_source}): the board "
                 f"energy model's stated clock and CPI, not a measured time")
    else:
        basis = "no clock known for this board"
    ranges = {key: [int(shapes[key].min()), int(shapes[key].max())]
              for key in ["h", "w", "c_in", "c_out", "k", "stride", "groups"]}
    eprov = rows["energy_provenance"].dropna().unique() if "energy_provenance" in rows else []
    return OpModel(
        board=str(first["board"]), kernels=str(first["kernels"]), op=str(first["op"]), metric_unit=unit,
        inputs_provenance=str(provs[0]), energy_provenance=", ".join(map(str, eprov)) or "none",
        form=form, features=FEATURES[form],
        metric_coef=[float(c) for c in coef],
        energy_form=efit[0] if efit else None,
        energy_features=FEATURES[efit[0]] if efit else [],
        energy_coef=[float(c) for c in efit[1]] if efit else None,
        clock_hz=clock, cycles_per_unit=cpu, latency_basis=basis,
        held_out=error_summary(errors), energy_held_out=error_summary(efit[2]) if efit else {},
        candidates=candidates, ranges=ranges,
        runs=sorted(map(str, rows["run"].unique())) if "run" in rows else [],
        cycles_form=cfit[0] if cfit else None,
        cycles_features=FEATURES[cfit[0]] if cfit else [],
        cycles_coef=[float(c) for c in cfit[1]] if cfit else None,
        cycles_held_out=error_summary(cfit[2]) if cfit else {},
    )


def usable_rows(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"].copy()
    ok = ok.dropna(subset=["metric"])
    if "padding" not in ok:
        ok["padding"] = "same"
    return ok


class Predictor:
    """Per (board, kernels, op) cost models; see the module docstring."""

    def __init__(self, models: Iterable[OpModel | Mapping] = ()):
        self._models: dict[tuple[str, str, str], OpModel] = {}
        for m in models:
            m = m if isinstance(m, OpModel) else OpModel(**m)
            self._models[(m.board, m.kernels, m.op)] = m

    # -- queries ----------------------------------------------------------
    def boards(self) -> list[str]:
        return sorted({b for b, _, _ in self._models})

    def kernels(self, board: str) -> list[str]:
        return sorted({k for b, k, _ in self._models if b == board})

    def ops(self, board: str, kernels: str) -> list[str]:
        return sorted(o for b, k, o in self._models if b == board and k == kernels)

    def model(self, board: str, kernels: str, op: str) -> OpModel:
        try:
            return self._models[(board, kernels, op)]
        except KeyError:
            have = ", ".join("/".join(key) for key in sorted(self._models)) or "none"
            raise BenchError(f"no fitted model for board={board} kernels={kernels} op={op}; "
                             f"fitted: {have}") from None

    def predict(self, board: str, kernels: str, op: str, h: int, w: int, c_in: int, c_out: int, k: int,
                stride: int = 1, groups: int = 1) -> dict:
        """Predicted cost of one call with SAME padding (the sweeps' padding)."""
        m = self.model(board, kernels, op)
        notes = []
        if op == "depthwise" and groups != c_in:
            if groups != 1:
                raise ConfigError(f"depthwise has groups = c_in ({c_in}); got groups={groups}")
            groups = c_in  # depthwise is groups == c_in by definition; 1 is the call's default
            notes.append(f"depthwise: groups taken as c_in = {c_in}")
        if op == "pointwise" and k != 1:
            notes.append(f"pointwise is a 1x1 conv: k={k} ignored, k=1 used")
            k = 1
        if c_in % groups or c_out % groups:
            raise ConfigError(f"groups={groups} must divide c_in={c_in} and c_out={c_out}")
        shape = dict(h=h, w=w, c_in=c_in, c_out=c_out, k=k, stride=stride, groups=groups, padding="same")
        metric = float(_apply(m.form, np.array(m.metric_coef), _features(m.form, shape)[None, :])[0])
        energy = None
        if m.energy_coef is not None:
            energy = float(_apply(m.energy_form, np.array(m.energy_coef),
                                  _features(m.energy_form, shape)[None, :])[0])
        latency = None
        if m.clock_hz:
            if m.metric_unit == "cycles":
                cycles = metric
            elif m.cycles_coef is not None:
                cycles = float(_apply(m.cycles_form, np.array(m.cycles_coef),
                                      _features(m.cycles_form, shape)[None, :])[0])
            else:
                cycles = metric * (m.cycles_per_unit or 1.0)
            latency = cycles / m.clock_hz
        outside = [key for key, (lo, hi) in m.ranges.items() if not lo <= shape[key] <= hi]
        expected = m.held_out.get("p95_abs")
        return {
            "metric": metric, "metric_unit": m.metric_unit, "energy_uj": energy, "latency_s": latency,
            "provenance": PROVENANCE, "inputs_provenance": m.inputs_provenance,
            "energy_inputs_provenance": m.energy_provenance,
            "expected_rel_error": float(expected) if expected is not None else None,
            "expected_rel_error_energy": m.energy_held_out.get("p95_abs"),
            "expected_rel_error_basis": (f"95th percentile of |relative error| over {m.held_out.get('shapes')} "
                                         "shapes held out one at a time (leave-one-shape-out)"),
            "latency_basis": m.latency_basis, "macs": nominal_macs(**shape), "form": m.form,
            "extrapolating": outside, "notes": notes,
        }

    # -- storage ----------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION,
                "models": [m.to_json() for _, m in sorted(self._models.items())]}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Predictor":
        data = json.loads(Path(path).read_text())
        if data.get("format") != FORMAT:
            raise BenchError(f"{path} is not a predictor file (format {data.get('format')!r})")
        if data.get("version") != FORMAT_VERSION:
            raise BenchError(f"{path}: predictor format version {data.get('version')}, "
                             f"this code reads {FORMAT_VERSION}; refit with python -m bench predict --refit")
        return cls(data["models"])

    def held_out_table(self) -> pd.DataFrame:
        rows = []
        for (board, kernels, op), m in sorted(self._models.items()):
            rows.append({"board": board, "kernels": kernels, "op": op, "form": m.form,
                         "metric_unit": m.metric_unit, "provenance": m.inputs_provenance,
                         **{f"metric_{k}": v for k, v in m.held_out.items()},
                         "energy_within_10pct": m.energy_held_out.get("within_10pct"),
                         "energy_within_5pct": m.energy_held_out.get("within_5pct")})
        return pd.DataFrame(rows)


def fit_predictor(results: pd.DataFrame, forms: Iterable[str] = FORMS, *, grouping: str = "shape") -> Predictor:
    """One model per (board, kernels, op) from the rows with status == "ok"."""
    ok = usable_rows(results)
    if not len(ok):
        raise BenchError("no usable results (status ok with a metric) to fit a predictor on")
    models = []
    for _, rows in ok.groupby(["board", "kernels"], sort=True):
        rows, excluded = one_build(rows)
        for _, op_rows in rows.groupby("op", sort=True):
            model = fit_op_model(op_rows, forms, grouping)
            model.excluded_builds = excluded
            models.append(model)
    return Predictor(models)


# A different build, or energy computed on another basis (power monitor, estimated
# cycles, instructions x CPI), is a different cost function: fit one at a time.
BUILD_KEYS = ["cflags", "compiler", "kernels_version", "energy_basis"]


def one_build(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows of the firmware build (flags, compiler, library version) with the most cases;
    other builds of the same board and library are a different cost function."""
    keys = [k for k in BUILD_KEYS if k in rows]
    if not keys:
        return rows, []
    labels = rows[keys].astype(str).agg(" | ".join, axis=1)
    if labels.nunique() <= 1:
        return rows, []
    keep = labels.value_counts().index[0]
    return rows[labels == keep], sorted(set(labels) - {keep})
