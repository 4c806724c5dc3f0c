"""Pareto fronts on hand-made sets, ranking, design cost and the search over templates."""

import numpy as np
import pandas as pd
import pytest

from analysis.design.complexity import count
from analysis.design.cost import CostSource, design_cost, layer_costs
from analysis.design.blocks import InvertedResidual
from analysis.design.measure import decompose, predicted_vs_measured, sweep_files
from analysis.design.search import (Slot, baseline_designs, compare_rankings, evaluate, pareto_front, pareto_layers,
                                    rank, template_designs)


class StandInPredictor:
    """TEST STAND-IN with analysis.predictor.Predictor's interface (never used by the product):
    energy = nJ-per-MAC of the operator x MACs, a fixed 2 % expected error."""

    def __init__(self, nj_per_mac: dict[tuple[str, str], dict[str, float]]):
        self.table = nj_per_mac

    def boards(self):
        return sorted({b for b, _ in self.table})

    def kernels(self, board):
        return sorted({k for b, k in self.table if b == board})

    def ops(self, board, kernels):
        return sorted(self.table.get((board, kernels), {}))

    def predict(self, board, kernels, op, h, w, c_in, c_out, k, stride=1, groups=1):
        if op == "depthwise":
            groups = c_in
        macs = -(-h // stride) * -(-w // stride) * c_out * k * k * (c_in // groups)
        e = macs * self.table[(board, kernels)][op] * 1e-3
        return {"metric": macs * 10.0, "metric_unit": "instructions", "energy_uj": e, "latency_s": e * 1e-6 / 0.3,
                "provenance": "model-estimate", "inputs_provenance": "test-stand-in", "expected_rel_error": 0.02}

    def save(self, path):
        raise NotImplementedError

    @classmethod
    def load(cls, path):
        raise NotImplementedError


# per-MAC energies: board A makes depthwise dear per MAC, board B cheap
A = {"standard": 1.0, "pointwise": 1.0, "depthwise": 4.0, "grouped": 1.5}
B = {"standard": 1.0, "pointwise": 1.0, "depthwise": 0.5, "grouped": 3.0}
SOURCE = CostSource(StandInPredictor({("a", "lib"): A, ("b", "lib"): B}), None)


def test_pareto_front_hand_made():
    #                 cost  capacity
    pts = np.array([[1.0, 1.0],    # front (cheapest)
                    [2.0, 3.0],    # front
                    [2.0, 2.0],    # dominated by [2, 3]
                    [3.0, 3.0],    # dominated by [2, 3] (same capacity, dearer)
                    [4.0, 5.0],    # front
                    [5.0, 4.0]])   # dominated by [4, 5]
    assert list(pareto_front(pts[:, 0], pts[:, 1])) == [True, True, False, False, True, False]
    layers = pareto_layers(np.c_[pts[:, 0], -pts[:, 1]])
    assert list(layers) == [1, 1, 2, 2, 1, 2]


def test_pareto_duplicates_both_on_front():
    assert list(pareto_front([1, 1], [2, 2])) == [True, True]


def test_rank_puts_infeasible_last_and_orders_front_by_capacity_per_energy():
    df = pd.DataFrame({"design": list("abcd"), "energy_uj": [1.0, 2.0, 2.0, 0.5], "params": [10, 40, 20, 100],
                       "macs": [1, 1, 1, 1], "fits": [True, True, True, False]})
    df["params_per_uj"] = df["params"] / df["energy_uj"]
    out = rank(df).set_index("design")
    assert out.loc["b", "rank"] == 1 and out.loc["a", "rank"] == 2 and out.loc["c", "rank"] == 3
    assert np.isnan(out.loc["d", "rank"]) and not out.loc["d", "front_params"]
    assert out.loc["c", "pareto_layer"] == 2


def test_design_cost_sums_convs_and_reports_uncosted():
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    cost = design_cost(cx, SOURCE, "a", "lib")
    # MACs: pw 2048 + dw 2304 + pw 2048 at 1, 4, 1 nJ/MAC
    assert cost["energy_uj"] == pytest.approx((2048 + 4 * 2304 + 2048) * 1e-3)
    assert cost["uncosted_elem_ops"] == 128          # the residual add
    assert cost["expected_rel_error"] == pytest.approx(0.02)
    assert cost["inputs_provenance"] == "test-stand-in"
    t = layer_costs(cx, SOURCE, "a", "lib")
    assert list(t["source"]) == ["predictor"] * 3 + ["not costed: the predictor has no model for this operator"]


def test_missing_operator_model_is_flagged_not_zero():
    partial = CostSource(StandInPredictor({("a", "lib"): {"pointwise": 1.0}}), None)
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    cost = design_cost(cx, partial, "a", "lib")
    assert cost["uncosted_convs"] == 1


def test_search_ranking_changes_between_boards():
    slot = Slot(8, 16, 16, 1)
    designs = template_designs(slot, ["nwn", "wnw"], ["standard", "depthwise"], [3], {"nwn": [2, 4], "wnw": [2]},
                               ["pointwise"], 4) + baseline_designs(slot, ["mobilenetv2", "xinet"])
    a = evaluate(designs, slot, SOURCE, "a", "lib", 1e9, 1e9)
    b = evaluate(designs, slot, SOURCE, "b", "lib", 1e9, 1e9)
    assert a["fits"].all() and len(a) == 8
    # the same designs have the same counts on both boards; only energy differs
    assert a.set_index("design")["macs"].equals(b.set_index("design")["macs"].loc[a["design"]])
    table, tau = compare_rankings(a, b, "a", "b")
    assert tau < 1
    dw = table[table["design"] == "nwn-k3dw-r4-pw"].iloc[0]
    assert dw["rank b"] < dw["rank a"]     # depthwise is cheap on b, dear on a


def test_limits_exclude_designs():
    slot = Slot(8, 16, 16, 1)
    designs = template_designs(slot, ["nwn"], ["depthwise"], [3], {"nwn": [2, 6]}, ["pointwise"], 4)
    # nwn r6: 96 x 8 x 8 = 6144 B tensors; the input plus two of them exceed 12 KB
    df = evaluate(designs, slot, SOURCE, "a", "lib", flash_bytes=1e9, ram_bytes=12 * 1024).set_index("design")
    assert df.loc["nwn-k3dw-r2-pw", "fits"] and not df.loc["nwn-k3dw-r6-pw", "fits"]
    assert "RAM" in df.loc["nwn-k3dw-r6-pw", "why_not"]


def test_decompose_and_sweeps(tmp_path):
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    parts = decompose(cx)
    assert list(parts["benchmarkable"]) == [True, True, True, True]
    assert list(parts["case_id"]) == ["pw_4x4x8_o16_k1s1s_r1", "dw_4x4x16_o16_k3s1s", "pw_4x4x16_o8_k1s1s_r1",
                                      "add_1x1x128"]  # the residual add: 8 x 4 x 4 elements
    written = sweep_files(cx, tmp_path, "blk")
    assert [p.name for p, _ in written] == ["blk_depthwise.yaml", "blk_pointwise.yaml", "blk_add.yaml"]
    assert "op=depthwise op.depth_multiplier=1 sweep=blk_depthwise" in written[0][1]
    assert "op=elementwise 'op.names=[add]' sweep=blk_add" in written[2][1]


def test_pooling_and_activation_layers_become_cases():
    from analysis.design.complexity import Layer
    from analysis.design.measure import case_for

    gap = case_for(Layer("avgpool", "pooling", h=7, w=7, c_in=16, c_out=16, k=7, out_h=1, out_w=1))
    assert (gap.op, gap.k, gap.padding, gap.out_h) == ("avgpool", 7, "valid", 1)
    mp = case_for(Layer("maxpool", "pooling", h=8, w=8, c_in=4, c_out=4, k=2, out_h=4, out_w=4))
    assert (mp.op, mp.k, mp.stride, mp.out_h) == ("maxpool", 2, 2, 4)
    relu = case_for(Layer("act", "activation", elem_ops=64, detail="ReLU"))
    assert relu.op == "relu6" and relu.macs == 64
    assert case_for(Layer("act", "activation", elem_ops=64, detail="Hardswish")) is None


def test_predicted_vs_measured_matches_by_shape():
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    case = decompose(cx)["case"].iloc[1]      # the depthwise conv
    results = pd.DataFrame([{**case.row(), "board": "a", "kernels": "lib", "status": "ok", "energy_uj": 10.0,
                             "metric": 20000.0, "metric_unit": "instructions", "energy_provenance": "test"}])
    table, summary = predicted_vs_measured(cx, results, SOURCE, "a", "lib", fit_results=results.iloc[:0])
    assert summary["measured_conv_layers"] == 1 and summary["conv_layers"] == 3
    assert summary["predicted_uj"] == pytest.approx(4 * 2304 * 1e-3) and summary["measured_uj"] == 10.0
    assert summary["out_of_sample"] and summary["not_benchmarkable"] == ""
    assert summary["elementwise_layers"] == 1 and summary["measured_elementwise_layers"] == 0
    assert summary["metric_rel_error"] == pytest.approx(23040 / 20000 - 1)


def _measured(board, kernels, case, energy_per_mac_nj):
    return {**case.row(), "board": board, "kernels": kernels, "cflags": "-O2", "status": "ok",
            "energy_uj": case.macs * energy_per_mac_nj * 1e-3, "metric": case.macs * 10.0,
            "metric_unit": "instructions", "provenance": "test", "energy_provenance": "test"}


def test_eta_scaled_cost_where_the_predictor_has_no_model_for_the_op():
    """E_op = E_S / eta_op per MAC, with eta_op from a (hand-made, test-only) measured table."""
    from bench.cases.spec import CaseSpec

    from analysis.design.cost import EtaTableCost

    std = CaseSpec("standard", 8, 8, 16, 16, 3, ref_k=3)
    dw = CaseSpec("depthwise", 8, 8, 16, 16, 3, groups=16, ref_k=3)
    results = pd.DataFrame([_measured("a", "lib", std, 1.0), _measured("a", "lib", dw, 4.0)])
    table = EtaTableCost(results)
    assert table.eta("a", "lib", "depthwise")[0] == pytest.approx(0.25)
    only_std = CostSource(StandInPredictor({("a", "lib"): {"standard": 1.0, "pointwise": 1.0}}), table)
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    t = layer_costs(cx, only_std, "a", "lib").set_index("name")
    assert t.loc["dw.0", "source"] == "predicted standard / eta_op"
    assert t.loc["dw.0", "energy_uj"] == pytest.approx(2304 * 4.0 * 1e-3)     # dw MACs x 1 nJ / 0.25
    cost = design_cost(cx, only_std, "a", "lib")
    assert cost["uncosted_convs"] == 0 and cost["error_known_share"] < 1
    # without a standard-conv model: the measured per-MAC median of the op itself
    table_only = CostSource(None, table)
    t = layer_costs(cx, table_only, "a", "lib").set_index("name")
    assert t.loc["dw.0", "source"] == "per-MAC table"
    assert t.loc["dw.0", "energy_uj"] == pytest.approx(2304 * 4.0 * 1e-3)
    assert t.loc["expand.0", "source"].startswith("no model")


def _runs(tmp_path):
    """An older 9-case smoke run with cycle estimates, a newer 70-case run without (instruction-based)."""
    rows = []
    for name, cases, cycles in (("2026-11-01/smoke", 9, 100.0), ("2026-11-20/default", 70, np.nan)):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "results.csv").write_text("case_id\n")
        rows += [{"run": str(folder), "board": "a", "kernels": "lib", "status": "ok", "energy_uj": 1.0,
                  "cycles_estimated": cycles, "case_id": f"c{i}"} for i in range(cases)]
    rows.append({"run": str(tmp_path / "runs" / "2026-11-20/default"), "board": "a", "kernels": "other",
                 "status": "ok", "energy_uj": 1.0, "cycles_estimated": np.nan, "case_id": "x"})
    return pd.DataFrame(rows), tmp_path / "runs"


def test_select_runs_takes_the_run_with_most_cases_and_says_so(tmp_path):
    from analysis.design.cli import select_runs
    results, root = _runs(tmp_path)
    fit, lines = select_runs(results, [str(root)], [("a", "lib")])
    assert set(fit["run"]) == {str(root / "2026-11-20/default")} and len(fit) == 71
    assert len(lines) == 1 and "70 measured cases" in lines[0] and "instruction-based" in lines[0]
    assert "1 other run(s) left out" in lines[0]


def test_select_runs_uses_named_runs_and_refuses_a_mix(tmp_path):
    from analysis.design.cli import select_runs
    from bench.errors import BenchError, ConfigError
    results, root = _runs(tmp_path)
    smoke = str(root / "2026-11-01/smoke")
    fit, lines = select_runs(results, [smoke], [("a", "lib")])
    assert set(fit["run"]) == {smoke} and "named" in lines[0] and "cycle-estimate" in lines[0]
    with pytest.raises(ConfigError, match="mix two emulated-energy models"):
        select_runs(results, [smoke, str(root / "2026-11-20/default")], [("a", "lib")])
    with pytest.raises(BenchError, match="no measured results for board=a kernels=nope.*have kernels lib, other"):
        select_runs(results, [str(root)], [("a", "nope")])


def test_nothing_fits_says_what_the_smallest_design_needs(tmp_path):
    from analysis.design import plots
    from analysis.design.search import smallest_design

    slot = Slot(8, 16, 16, 1)
    designs = template_designs(slot, ["nwn", "wnw"], ["depthwise"], [3], {"nwn": [2], "wnw": [2]}, ["pointwise"], 4)
    df = evaluate(designs, slot, SOURCE, "a", "lib", flash_bytes=100, ram_bytes=100)
    assert not df["fits"].any() and df["rank"].isna().all()
    text = smallest_design(df, {"flash_bytes": 100, "peak_ram_bytes": 100, "macs": None})
    smallest = df.loc[np.maximum(df["flash_bytes"], df["peak_ram_bytes"]).idxmin(), "design"]
    assert f"The smallest design, {smallest}, needs flash KB" in text and "RAM KB" in text
    png = plots.pareto({"a/lib": df}, tmp_path / "p.png", "none fits")       # was: NaN to integer
    assert png.exists()


def test_a_conv_without_same_padding_is_not_given_a_wrong_case():
    """micromind's strided 5x5 depthwise pads by 1: 28x28 -> 13x13, where a SAME case would give 14x14."""
    from analysis.design import phinet

    cx = phinet.complexity(phinet.plan(0.5, 1.0, 4, 7, resolution=224, conv5_percent=0.3))
    parts = decompose(cx).set_index("name")
    dw5 = next(layer for layer in cx.layers if layer.name == "b5.dw")
    assert (dw5.k, dw5.stride, dw5.h, dw5.out_h) == (5, 2, 28, 13)
    assert not parts.loc["b5.dw", "benchmarkable"] and "not SAME" in parts.loc["b5.dw", "why_not"]
    assert parts.loc["b6.dw", "benchmarkable"]                        # 5x5 at stride 1 is SAME
