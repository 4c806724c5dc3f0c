"""Per-core cycle models: plain data, complete, cited; the estimate is the stated sum."""

from __future__ import annotations

import pytest

from bench.timing import cycle_model
from bench.power import energy
from bench.errors import ConfigError
from bench.timing.instruction_classes import CLASSES, EXTRAS


@pytest.mark.parametrize("core", ["cortex-m7", "cortex-m4"])
def test_core_models_are_complete_and_say_where_each_cost_comes_from(core):
    model = cycle_model.load_model(cycle_model.cores_dir() / f"{core}.yaml")
    assert model["core"] == core and model["reference"]
    for name in CLASSES:
        entry = model["classes"][name]
        assert entry["basis"] in ("trm", "assumption") and entry["note"], name
    for name in EXTRAS:
        assert name in model["extras"]


def test_m4_costs_follow_its_trm_table():
    m4 = cycle_model.load_model(cycle_model.cores_dir() / "cortex-m4.yaml")["classes"]
    assert m4["load_word"]["cycles"] == 2 and m4["mac"]["cycles"] == 1 and m4["fpu_div_sqrt"]["cycles"] == 14
    assert m4["branch_not_taken"]["cycles"] == 1 and m4["branch_taken"]["basis"] == "assumption"


def test_m7_costs_are_all_marked_as_assumptions():
    m7 = cycle_model.load_model(cycle_model.cores_dir() / "cortex-m7.yaml")["classes"]
    assert {e["basis"] for e in m7.values()} == {"assumption"}


def mix(**counts):
    classes = {c: counts.get(c, 0) for c in CLASSES}
    extras = {e: counts.get(e, 0) for e in EXTRAS}
    return {"classes": classes, "extras": extras, "instructions": sum(classes.values())}


def test_estimate_is_the_weighted_sum_plus_wait_states():
    model = cycle_model.load_model(cycle_model.cores_dir() / "cortex-m4.yaml")
    m = mix(load_word=10, alu=100, branch_taken=5, load_multiple=1, load_multiple_regs=4)
    assert cycle_model.estimate_cycles(m, model) == 10 * 2 + 100 + 5 * 3 + 1 + 4
    board = {"cycle_model": {"code_wait_cycles_per_instruction": 0.5}}
    assert cycle_model.estimate_cycles(m, model, board) == 140 + 0.5 * 116


def test_board_chooses_core_or_fitted_model(tmp_path):
    assert cycle_model.model_for_board({"core": "cortex-m4"})["core"] == "cortex-m4"
    assert cycle_model.model_for_board({"core": "cortex-m0"}) is None     # no data: no estimate
    fitted = tmp_path / "fit.yaml"
    fitted.write_text((cycle_model.cores_dir() / "cortex-m7.yaml").read_text().replace(
        "core: cortex-m7", "core: cortex-m7\nname: fitted-test"))
    board = {"core": "cortex-m7", "cycle_model": {"fitted": str(fitted)}}
    assert cycle_model.model_for_board(board)["name"] == "fitted-test"


def test_incomplete_model_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("core: x\nclasses: {alu: {cycles: 1}}\n")
    with pytest.raises(ConfigError, match="no cost for"):
        cycle_model.load_model(bad)


def test_row_fields_and_energy_from_estimated_cycles():
    board = {"name": "t", "core": "cortex-m4", "energy_model": {"clock_hz": 100e6, "cycles_per_unit": 1.0,
                                                               "active_power_mw": 100}}
    m = mix(alu=1000, load_word=500)
    fields = cycle_model.row_fields(1500.4, "instructions", board, m)
    assert fields == {"instructions": 1500, "cycles_estimated": 2000,
                      "cycles_estimated_provenance": "model-estimate", "cycles_model": "cortex-m4"}
    # 2000 cycles at 100 MHz and 100 mW = 2 uJ, not the 1.5 uJ one cycle per instruction would give
    assert energy.energy_uj(1500.4, board["energy_model"], fields["cycles_estimated"]) == pytest.approx(2.0)
    hw = cycle_model.row_fields(2100.0, "cycles", board, m)
    assert hw["cycles_measured"] == 2100.0 and hw["instructions"] == 1500 and hw["cycles_estimated"] == 2000
    assert cycle_model.row_fields(5.0, "instructions", board, None) == {"instructions": 5}
