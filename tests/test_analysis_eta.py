"""eta_op tables on hand-made results whose eta_op is known by construction."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.eta import eta_table, operator_summary, summarize, trends
from bench.cases.spec import CaseSpec

CLOCK_HZ = 100e6


def row(spec: CaseSpec, energy_per_mac_nj: float, instr_per_mac: float, *, status="ok",
        board="b1", kernels="ref", energy_provenance="model-estimate", unit="instructions",
        provenance="emulator-count") -> dict:
    r = spec.row()
    metric = instr_per_mac * spec.macs
    r.update(board=board, kernels=kernels, cflags="-O2", compiler="gcc", kernels_version="1",
             status=status, metric=metric if status == "ok" else np.nan, metric_unit=unit,
             provenance=provenance, energy_uj=energy_per_mac_nj * spec.macs * 1e-3 if status == "ok" else np.nan,
             energy_provenance=energy_provenance, detail="", run="r", clock_hz=CLOCK_HZ, cycles_per_unit=1.0)
    return r


def slot_cases(hw, cin, cout, k):
    std = CaseSpec("standard", hw, hw, cin, cout, k, ref_k=k)
    dw = CaseSpec("depthwise", hw, hw, cin, cin, k, groups=cin, ref_k=k)
    dw_ref = dw.reference()
    pw = CaseSpec("pointwise", hw, hw, cin, cout, 1, ref_k=k)
    return std, dw, dw_ref, pw


def test_eta_known_by_construction():
    std, dw, dw_ref, pw = slot_cases(8, 16, 32, 3)
    rows = [row(std, 4.0, 8.0), row(dw_ref, 5.0, 10.0), row(dw, 20.0, 40.0), row(pw, 2.0, 4.0)]
    table = eta_table(pd.DataFrame(rows)).set_index("case_id")
    # eta_op = E_S per MAC / E_op per MAC, against the matched standard conv.
    assert table.loc[dw.case_id, "eta_op"] == pytest.approx(5.0 / 20.0)
    assert table.loc[dw.case_id, "ref_case_id"] == dw_ref.case_id
    assert table.loc[pw.case_id, "eta_op"] == pytest.approx(4.0 / 2.0)
    assert table.loc[pw.case_id, "ref_case_id"] == std.case_id
    assert table.loc[std.case_id, "eta_op"] == pytest.approx(1.0)
    assert table.loc[dw.case_id, "eta_metric"] == pytest.approx(10.0 / 40.0)
    # Latency per MAC from instructions x CPI / stated clock; MACs per instruction.
    assert table.loc[dw.case_id, "latency_per_mac_ns"] == pytest.approx(40.0 / CLOCK_HZ * 1e9)
    assert table.loc[dw.case_id, "macs_per_instruction"] == pytest.approx(1 / 40.0)
    assert math.isnan(table.loc[dw.case_id, "macs_per_cycle"])
    assert table.loc[pw.case_id, "peak_activation_bytes"] == 8 * 8 * 16 + 8 * 8 * 32


def test_failed_cases_and_mixed_provenance_are_excluded():
    std, dw, dw_ref, pw = slot_cases(8, 16, 32, 3)
    rows = [row(std, 4.0, 8.0), row(dw_ref, 5.0, 10.0, status="mismatch"), row(dw, 20.0, 40.0),
            # a hardware-measured pointwise must not be divided by a model-estimate standard conv
            row(pw, 2.0, 4.0, energy_provenance="hardware-measured")]
    table = eta_table(pd.DataFrame(rows)).set_index("case_id")
    assert dw_ref.case_id not in table.index
    assert math.isnan(table.loc[dw.case_id, "eta_op"])
    assert math.isnan(table.loc[pw.case_id, "eta_op"])


def test_summary_geomean_min_max_and_trend_slope():
    rows = []
    etas = {}
    for n, cin in enumerate([8, 16, 32, 64]):
        std, dw, dw_ref, _ = slot_cases(8, cin, cin, 3)
        eta = 0.1 * (cin / 8) ** 0.5    # eta grows as sqrt(C_in): slope +0.5 by construction
        etas[cin] = eta
        rows += [row(dw_ref, 4.0, 8.0), row(dw, 4.0 / eta, 8.0 / eta)]
    table = eta_table(pd.DataFrame(rows))
    s = operator_summary(table).set_index("op").loc["depthwise"]
    assert s["eta_geomean"] == pytest.approx(float(np.exp(np.mean(np.log(list(etas.values()))))))
    assert s["eta_min"] == pytest.approx(min(etas.values()))
    assert s["eta_max"] == pytest.approx(max(etas.values()))
    assert s["eta_slope_channels"] == pytest.approx(0.5)
    assert summarize(table).set_index("op").loc["depthwise", "cases"] == 4
    tr = trends(table)
    by_cin = tr[(tr["axis"] == "c_in") & (tr["op"] == "depthwise")].set_index("value")["eta_geomean"]
    assert by_cin.loc[32] == pytest.approx(etas[32])


def test_empty_run_is_skipped_not_fatal(tmp_path):
    """A run stopped before its first case leaves a header-only results.csv:
    loading it beside real runs must ignore it; alone, it is a clear error."""
    from analysis.load import load_results
    from bench.errors import BenchError
    from bench.collect.results import COLUMNS

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "results.csv").write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(BenchError, match="no measured cases"):
        load_results([empty])
    full = tmp_path / "full"
    full.mkdir()
    row = dict.fromkeys(COLUMNS, "")
    row.update(op="standard", case_id="std", macs=10, metric=20, status="ok")
    (full / "results.csv").write_text(",".join(COLUMNS) + "\n" + ",".join(str(row[c]) for c in COLUMNS) + "\n")
    df = load_results([empty, full])
    assert len(df) == 1 and df["macs"].dtype.kind in "if"


def test_eta_never_divides_energies_of_different_bases():
    """A standard conv whose energy came from estimated cycles is no reference for a
    depthwise conv whose energy came from instructions x CPI: no eta_op is taken."""
    base = dict(board="b", kernels="ref", cflags="-O2", h=8, w=8, c_in=8, c_out=8, stride=1,
                padding="same", ref_k=3, k=3, status="ok", metric_unit="instructions",
                provenance="emulator-count", energy_provenance="model-estimate", macs=100, metric=1000,
                out_h=8, out_w=8, groups=1, params=100, weight_bytes=100, activation_bytes=1024)
    rows = [
        {**base, "op": "standard", "case_id": "s", "energy_uj": 1.0, "energy_basis": "estimated cycles (cortex-m7)"},
        {**base, "op": "depthwise", "case_id": "d", "energy_uj": 1.0, "energy_basis": "instructions x 1.0 cycles/instruction"},
        {**base, "op": "grouped", "case_id": "g", "energy_uj": 2.0, "energy_basis": "estimated cycles (cortex-m7)"},
    ]
    table = eta_table(pd.DataFrame(rows)).set_index("case_id")
    assert math.isnan(table.loc["d", "eta_op"])
    assert table.loc["g", "eta_op"] == pytest.approx(0.5)


def test_instruction_mix_auto_decides_for_the_whole_run():
    from bench.cases.spec import case_for_slot
    from bench.collect.run_decisions import instruction_mix

    small = case_for_slot("standard", {"hw": 8, "cin": 8, "cout": 8, "k": 3}, groups=1,
                          depth_multiplier=1, padding="same", seed=0)
    cfg = {"run": {"instruction_mix": "auto", "instruction_mix_max_macs": 2 * small.macs}}
    assert instruction_mix(cfg, small.macs) is True
    assert instruction_mix(cfg, 3 * small.macs) is False
    forced = {"run": {"instruction_mix": True, "instruction_mix_max_macs": 1}}
    assert instruction_mix(forced, 3 * small.macs) is True
    with pytest.raises(Exception, match="use auto, true or false"):
        instruction_mix({"run": {"instruction_mix": "sometimes"}}, small.macs)
