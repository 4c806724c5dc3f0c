"""Calibration: NNLS recovers known class costs from synthetic noisy data, and
the fitted model is plain yaml that the cycle model loads back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.timing import calibrate
from bench.timing import cycle_model
from bench.errors import BenchError
from bench.timing.instruction_classes import CLASSES, EXTRAS

FEATURES = calibrate.FEATURES
# Classes a convolution kernel exercises, with "true" costs to recover.
TRUE = {"load_byte": 1.3, "load_word": 1.1, "load_double": 1.6, "store_byte": 1.0, "store_word": 0.9,
        "alu": 0.55, "mul": 1.0, "mac": 1.2, "mul_long": 2.0, "dsp_simd": 1.05, "divide": 9.0,
        "branch_taken": 2.4, "branch_not_taken": 0.8, "it": 0.4}


def synthetic(n=100, noise=0.001, seed=1):
    """Counts per class over n cases; cycles = counts . TRUE with multiplicative noise
    (0.1 %: the order of DWT repeatability on a cached Cortex-M7)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(FEATURES)))
    for name in TRUE:
        j = FEATURES.index(name)
        scale = 10 ** rng.uniform(4, 5)                  # common and less common classes
        X[:, j] = np.round(scale * rng.lognormal(0, 0.8, n))
    X[:, FEATURES.index("load_multiple")] = 1            # constant: not identifiable
    truth = np.array([TRUE.get(f, 0.0) for f in FEATURES])
    truth[FEATURES.index("load_multiple")] = 1.0
    y = X @ truth * (1 + rng.normal(0, noise, n))
    return X, y, truth


def prior():
    return calibrate.prior_vector(cycle_model.load_model(cycle_model.cores_dir() / "cortex-m7.yaml"))


def test_nnls_recovers_known_costs_with_noise():
    X, y, truth = synthetic()
    fit = calibrate.fit_costs(X, y, prior(), holdout=0.25, seed=0)
    for name, cost in TRUE.items():
        assert fit.costs[name] == pytest.approx(cost, rel=0.05), name
    assert fit.holdout_mape < 0.005 and fit.n_holdout == 25
    # a class constant across cases cannot be told from the others: it keeps the prior
    assert "load_multiple" not in fit.fitted
    assert fit.costs["load_multiple"] == prior()[FEATURES.index("load_multiple")]
    # classes never executed are not fitted either (all-zero column)
    assert "fpu_div_sqrt" not in fit.fitted


def test_noisier_data_still_predicts_held_out_cases():
    X, y, truth = synthetic(n=200, noise=0.01, seed=3)
    fit = calibrate.fit_costs(X, y, prior(), holdout=0.25, seed=0)
    assert fit.holdout_mape < 0.015              # about the noise level
    for name, cost in TRUE.items():
        assert fit.costs[name] == pytest.approx(cost, rel=0.35), name


def test_exact_data_is_recovered_exactly():
    X, y, truth = synthetic(noise=0.0)
    fit = calibrate.fit_costs(X, y, prior(), holdout=0.0)
    for name, cost in TRUE.items():
        assert fit.costs[name] == pytest.approx(cost, rel=1e-6), name
    assert fit.holdout_mape is None and fit.train_mape < 1e-9


def test_costs_are_never_negative():
    X, y, _ = synthetic()
    y = y - 0.9 * X[:, FEATURES.index("alu")] * 0.55   # data that a negative alu cost would fit better
    fit = calibrate.fit_costs(X, y, prior(), holdout=0.0)
    assert min(fit.costs.values()) >= 0


def test_too_few_cases():
    X, y, _ = synthetic(n=2)
    with pytest.raises(BenchError, match="at least 3"):
        calibrate.fit_costs(X, y, prior())


def _fake_run(folder, X, y, board="nucleo_h743", compiler="arm-none-eabi-gcc (15:12.2.rel1-1) 12.2.1 20221205"):
    folder.mkdir(parents=True)
    ids = [f"{folder.name}_case{i}" for i in range(len(y))]
    pd.DataFrame({"case_id": ids, "board": board, "compiler": compiler, "status": "ok",
                  "metric_unit": "cycles", "metric": y}).to_csv(folder / "results.csv", index=False)
    mix = pd.DataFrame(X, columns=list(FEATURES))
    mix.insert(0, "case_id", ids)
    mix["check"] = "ok"
    mix.to_csv(folder / "instruction_mix.csv", index=False)


def test_calibrate_writes_plain_yaml_the_cycle_model_loads(tmp_path):
    X, y, truth = synthetic()
    _fake_run(tmp_path / "run1", X[:30], y[:30])
    _fake_run(tmp_path / "run2", X[30:], y[30:])
    out, doc = calibrate.calibrate([tmp_path / "run1", tmp_path / "run2"], out=tmp_path / "fit.yaml")
    text = out.read_text()
    assert "!!python" not in text            # plain data, no pickled objects
    data = yaml.safe_load(text)
    assert data["board"] == "nucleo_h743" and data["toolchain"].endswith("12.2.1 20221205")
    assert data["classes"]["mac"]["basis"] == "fitted"
    assert data["classes"]["mac"]["cycles"] == pytest.approx(TRUE["mac"], rel=0.05)
    assert data["error"]["holdout_mean_abs_pct"] < 1.0
    model = cycle_model.load_model(out)      # validates every class is present
    mix = {"classes": dict(zip(CLASSES, X[0][:len(CLASSES)])), "extras": dict(zip(EXTRAS, X[0][len(CLASSES):])),
           "instructions": float(X[0][:len(CLASSES)].sum())}
    assert cycle_model.estimate_cycles(mix, model) == pytest.approx(y[0], rel=0.03)
    # the default path names board and toolchain
    assert calibrate.toolchain_tag(data["toolchain"]) == "gcc-12.2.1"


def test_calibrate_refuses_mixed_boards(tmp_path):
    X, y, _ = synthetic()
    _fake_run(tmp_path / "a", X[:30], y[:30], board="nucleo_h743")
    _fake_run(tmp_path / "b", X[30:], y[30:], board="other")
    with pytest.raises(BenchError, match="one board and toolchain"):
        calibrate.calibrate([tmp_path / "a", tmp_path / "b"], out=tmp_path / "x.yaml")
