"""Cost predictor on tables whose cost law is known by construction (fast, no emulator)."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.predictor import LOOP_FEATURES, Predictor, fit_predictor, loop_counts
from bench.cases.spec import CaseSpec
from bench.errors import BenchError

TRUE_COEF = dict(call=900.0, out_rows=30.0, out_pixels=12.0, outputs=140.0, kernel_rows=6.0,
                 kernel_cols=5.0, valid_taps=9.0, valid_macs=4.0)
SLOTS = [(6, 8, 8, 3, 1), (8, 16, 32, 5, 1), (8, 32, 32, 3, 2), (12, 24, 48, 3, 1), (12, 8, 16, 7, 1),
         (16, 16, 16, 3, 1), (16, 32, 64, 1, 1), (20, 12, 24, 5, 2), (24, 8, 8, 3, 1), (32, 4, 8, 3, 2),
         (10, 40, 40, 3, 1), (14, 28, 56, 5, 1)]


def results_from_law(op="standard", board="sim", law=None, slots=SLOTS, unit="instructions",
                     provenance="emulator-count"):
    rows = []
    for hw, cin, cout, k, s in slots:
        spec = {"standard": CaseSpec("standard", hw, hw, cin, cout, k, stride=s, ref_k=k),
                "depthwise": CaseSpec("depthwise", hw, hw, cin, cin, k, stride=s, groups=cin, ref_k=k),
                "grouped": CaseSpec("grouped", hw, hw, cin, cout, k, stride=s, groups=4, ref_k=k)}[op]
        counts = loop_counts(spec.h, spec.w, spec.c_in, spec.c_out, spec.k, spec.stride, spec.groups)
        metric = law(spec, counts) if law else sum(TRUE_COEF[f] * counts[f] for f in LOOP_FEATURES)
        rows.append({**spec.row(), "board": board, "kernels": "ref", "cflags": "-O2", "compiler": "gcc",
                     "kernels_version": "1", "status": "ok", "metric": metric, "metric_unit": unit,
                     "provenance": provenance, "energy_uj": metric * 1e-3, "energy_provenance": "model-estimate",
                     "run": "r", "clock_hz": 480e6, "cycles_per_unit": 1.0})
    return pd.DataFrame(rows)


def test_loop_counts_of_a_padded_conv():
    # 3x3 SAME on 4x4: corner outputs see 2x2 taps, edges 2x3, centre 3x3 -> 36 taps per plane... per axis 10.
    c = loop_counts(4, 4, 2, 3, 3)
    assert c["valid_taps"] == 10 * 10 * 3
    assert c["valid_macs"] == 10 * 10 * 3 * 2
    assert c["outputs"] == 16 * 3
    assert loop_counts(5, 5, 1, 1, 1, stride=2)["valid_taps"] == 9


def test_loop_law_is_recovered_and_held_out_error_is_tiny():
    pred = fit_predictor(results_from_law())
    m = pred.model("sim", "ref", "standard")
    assert m.form == "loops"
    assert m.held_out["within_10pct"] == 1.0 and m.held_out["max_abs"] < 1e-6
    spec = CaseSpec("standard", 40, 40, 20, 40, 3, ref_k=3)  # not in the training slots
    counts = loop_counts(40, 40, 20, 40, 3)
    truth = sum(TRUE_COEF[f] * counts[f] for f in LOOP_FEATURES)
    out = pred.predict("sim", "ref", "standard", 40, 40, 20, 40, 3)
    assert out["metric"] == pytest.approx(truth, rel=1e-6)
    assert out["energy_uj"] == pytest.approx(truth * 1e-3, rel=1e-6)
    assert out["latency_s"] == pytest.approx(truth / 480e6, rel=1e-6)
    assert out["macs"] == spec.macs


def test_power_law_data_picks_the_power_form():
    law = lambda spec, counts: 50.0 * spec.macs ** 0.8 * spec.k ** 0.3  # noqa: E731
    pred = fit_predictor(results_from_law(law=law))
    m = pred.model("sim", "ref", "standard")
    assert m.form == "power"
    assert m.held_out["max_abs"] < 1e-6


def test_interface_keys_provenance_and_json_roundtrip(tmp_path):
    results = pd.concat([results_from_law("standard"), results_from_law("depthwise"),
                         results_from_law("grouped", board="sim2", unit="cycles", provenance="hardware-measured")])
    results.loc[results.index[0], "status"] = "mismatch"  # excluded from the fit
    pred = fit_predictor(results)
    assert pred.boards() == ["sim", "sim2"]
    assert pred.ops("sim", "ref") == ["depthwise", "standard"]
    out = pred.predict("sim", "ref", "depthwise", h=16, w=16, c_in=32, c_out=32, k=3, stride=1)
    for key in ("metric", "metric_unit", "energy_uj", "latency_s", "provenance", "inputs_provenance",
                "expected_rel_error"):
        assert key in out
    assert out["provenance"] == "model-estimate"
    assert out["inputs_provenance"] == "emulator-count"
    assert out["expected_rel_error"] < 0.01
    assert pred.model("sim", "ref", "standard").held_out["shapes"] == len(SLOTS) - 1
    hw = pred.predict("sim2", "ref", "grouped", 16, 16, 32, 32, 3, groups=4)
    assert hw["inputs_provenance"] == "hardware-measured" and hw["metric_unit"] == "cycles"
    assert hw["latency_s"] == pytest.approx(hw["metric"] / 480e6)
    path = pred.save(tmp_path / "p.json")
    json.loads(path.read_text())  # plain JSON
    again = Predictor.load(path)
    assert again.predict("sim", "ref", "depthwise", 16, 16, 32, 32, 3) == out
    with pytest.raises(BenchError):
        again.predict("nope", "ref", "standard", 8, 8, 8, 8, 3)


def test_fits_only_one_firmware_build():
    a = results_from_law()
    b = results_from_law(law=lambda spec, counts: 3.0 * spec.macs).iloc[:3].assign(cflags="-Os")
    pred = fit_predictor(pd.concat([a, b]))
    m = pred.model("sim", "ref", "standard")
    assert m.held_out["shapes"] == len(SLOTS)
    assert m.excluded_builds and "-Os" in m.excluded_builds[0]


def test_slot_grouping_holds_out_a_whole_input_map_together():
    from analysis.predictor import _folds, group_labels

    folds = _folds(5, np.array(["a", "a", "b", "c", "c"]))
    assert [f.tolist() for f in folds] == [[0, 1], [2], [3, 4]]
    shapes = pd.DataFrame({"h": [8, 8, 16], "w": [8, 8, 16], "c_in": [4, 4, 4], "c_out": [8, 4, 8],
                           "k": [3, 3, 3], "stride": [1, 1, 1], "groups": [1, 1, 1], "padding": ["same"] * 3})
    labels = group_labels(shapes, "slot")
    assert labels[0] == labels[1] != labels[2]
    assert group_labels(shapes, "shape") is None
    pred = fit_predictor(results_from_law(), grouping="slot")
    assert pred.model("sim", "ref", "standard").held_out["within_10pct"] == 1.0
