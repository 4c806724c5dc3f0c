"""Element-wise and pooling cases: counts, model construction, parameters, golden outputs."""

import numpy as np
import pytest
import tflite

from bench.cases import elementwise as E
from bench.cases import golden
from bench.cases.spec import CaseSpec, case_for_slot, expand_sweep, validate
from bench.errors import ConfigError
from bench.cases.tflite_model import build_elementwise_model

SHAPES = [(5, 7, 3, 3, 2, "same"), (8, 8, 16, 2, 2, "valid"), (9, 6, 5, 3, 1, "same"), (4, 4, 1, 4, 3, "same")]


def spec_for(op, h, w, c, k, s, pad, seed):
    if op in ("add", "mul", "relu6"):
        k, s, pad = 1, 1, "same"
    return CaseSpec(op=op, h=h, w=w, c_in=c, c_out=c, k=k, stride=s, padding=pad, seed=seed)


def test_work_counts_and_bytes():
    add = CaseSpec(op="add", h=4, w=5, c_in=6, c_out=6, k=1)
    assert add.macs == 4 * 5 * 6  # one per output element
    assert add.input_bytes == 2 * 120 and add.output_bytes == 120
    assert add.weight_bytes == 0 and add.params == 0 and add.quant_bytes == 0
    assert add.case_id == "add_4x5x6" and add.reference() is add
    pool = CaseSpec(op="avgpool", h=7, w=7, c_in=3, c_out=3, k=3, stride=2, padding="same")
    assert (pool.out_h, pool.out_w) == (4, 4)
    assert pool.macs == 4 * 4 * 3 * 9  # taps, padding taps included
    assert pool.case_id == "avgpool_7x7x3_k3s2s"
    valid = CaseSpec(op="maxpool", h=7, w=7, c_in=3, c_out=3, k=3, stride=2, padding="valid")
    assert (valid.out_h, valid.out_w) == (3, 3)


def test_slots_and_validation():
    slot = {"hw": 8, "cin": 4, "cout": 16, "k": 3, "stride": 2}
    add = case_for_slot("add", slot, groups=1, depth_multiplier=1, padding="valid", seed=0)
    assert (add.c_out, add.k, add.stride, add.padding) == (4, 1, 1, "same")
    pool = case_for_slot("maxpool", slot, groups=1, depth_multiplier=1, padding="valid", seed=0)
    assert (pool.c_out, pool.k, pool.stride, pool.padding) == (4, 3, 2, "valid")
    assert validate(CaseSpec(op="add", h=4, w=4, c_in=2, c_out=3, k=1))
    assert validate(CaseSpec(op="relu6", h=4, w=4, c_in=2, c_out=2, k=3))
    assert validate(CaseSpec(op="avgpool", h=2, w=2, c_in=2, c_out=2, k=3, padding="valid"))
    cases = expand_sweep(["add", "avgpool"], [slot], groups=1, depth_multiplier=1, padding="same", seed=0)
    assert [c.op for c in cases] == ["add", "avgpool"]  # no standard-conv references
    with pytest.raises(ConfigError, match="valid ops"):
        expand_sweep(["softmax"], [slot], groups=1, depth_multiplier=1, padding="same", seed=0)


def test_recipes_reach_both_zero_point_extremes():
    zps = {E.tensor_quant(spec_for("add", 2, 2, 1, 1, 1, "same", seed))[0][0].zero_point for seed in range(4)}
    assert -128 in zps and 127 in zps


@pytest.mark.parametrize("op, code, n_in", [
    ("add", tflite.BuiltinOperator.ADD, 2), ("mul", tflite.BuiltinOperator.MUL, 2),
    ("relu6", tflite.BuiltinOperator.RELU6, 1), ("avgpool", tflite.BuiltinOperator.AVERAGE_POOL_2D, 1),
    ("maxpool", tflite.BuiltinOperator.MAX_POOL_2D, 1),
])
def test_model_structure(op, code, n_in):
    spec = spec_for(op, 7, 7, 3, 3, 2, "same", 1)
    ins, out = E.tensor_quant(spec)
    model = tflite.Model.GetRootAsModel(build_elementwise_model(spec, ins, out), 0)
    assert model.OperatorCodes(0).BuiltinCode() == code
    graph = model.Subgraphs(0)
    assert graph.InputsLength() == n_in
    tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
    assert all(t.Type() == tflite.TensorType.INT8 for t in tensors)
    assert tensors[-1].ShapeAsNumpy().tolist() == [1, spec.out_h, spec.out_w, 3]
    assert tensors[0].Quantization().ZeroPointAsNumpy().tolist() == [ins[0].zero_point]


def test_add_parameters_follow_tflite_prepare():
    spec = spec_for("add", 2, 2, 1, 1, 1, "same", 0)
    ins, out = E.tensor_quant(spec)
    p = dict(zip(E.EW_FIELDS, E.op_params(spec, ins, out).tolist()))
    assert p["left_shift"] == 20
    assert p["input1_offset"] == -ins[0].zero_point and p["output_offset"] == out.zero_point
    # The larger input scale maps to exactly 1/2: multiplier 2**30, shift 0.
    big = 1 if ins[0].scale >= ins[1].scale else 2
    assert (p[f"input{big}_multiplier"], p[f"input{big}_shift"]) == (1 << 30, 0)
    assert all(p[k] <= 0 for k in ("input1_shift", "input2_shift", "output_shift"))


@pytest.mark.parametrize("op", ["add", "mul", "relu6", "avgpool", "maxpool"])
def test_numpy_model_matches_reference_interpreter(op):
    for seed in range(4):
        for shape in SHAPES:
            spec = spec_for(op, *shape, seed)
            made = E.build(spec)
            model = E.reference_model(spec, made["params"], *made["inputs"])
            assert np.array_equal(model, made["golden"]), (spec.case_id, seed)


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("seed", range(4))
def test_binary_ops_exact_on_every_input_pair(op, seed):
    """All 65536 (a, b) int8 pairs, per recipe: the parameters are right, not just lucky."""
    spec = CaseSpec(op=op, h=256, w=256, c_in=1, c_out=1, k=1, seed=seed)
    ins, out = E.tensor_quant(spec)
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    x1, x2 = (v.astype(np.int8).reshape(1, 256, 256, 1) for v in (a, b))
    want = golden.reference_output(build_elementwise_model(spec, ins, out), [x1, x2])[0]
    assert np.array_equal(E.reference_model(spec, E.op_params(spec, ins, out), x1[0], x2[0]), want)


def test_relu6_exact_on_every_input():
    for seed in range(4):
        spec = CaseSpec(op="relu6", h=16, w=16, c_in=1, c_out=1, k=1, seed=seed)
        ins, out = E.tensor_quant(spec)
        x = np.arange(-128, 128).astype(np.int8).reshape(1, 16, 16, 1)
        want = golden.reference_output(build_elementwise_model(spec, ins, out), x)[0]
        assert np.array_equal(E.reference_model(spec, E.op_params(spec, ins, out), x[0]), want), seed


def test_generate_caches_and_carries_second_input(tmp_path):
    from bench.cases.generate import generate
    spec = spec_for("add", 4, 4, 2, 1, 1, "same", 2)
    g = generate(spec, tmp_path)
    assert g.input.shape == (4, 4, 2) and g.filter.shape == (4, 4, 2) and g.golden.shape == (4, 4, 2)
    assert g.op_params is not None and len(g.op_params) == len(E.EW_FIELDS)
    again = generate(spec, tmp_path)
    assert np.array_equal(again.golden, g.golden) and g.model_path.exists()
    pool = generate(spec_for("maxpool", 5, 5, 2, 3, 2, "same", 0), tmp_path)
    assert pool.filter.size == 0 and len(pool.op_params) == len(E.POOL_FIELDS)
