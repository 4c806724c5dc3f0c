import numpy as np
import pytest
import tflite

from bench.cases.spec import case_for_slot
from bench.cases.generate import generate, quantize_case
from bench.cases.tflite_model import build_model

SLOT = {"hw": 6, "cin": 8, "cout": 8, "k": 3, "stride": 1}


@pytest.mark.parametrize("op, code, filter_shape, qdim", [
    ("standard", tflite.BuiltinOperator.CONV_2D, [8, 3, 3, 8], 0),
    ("grouped", tflite.BuiltinOperator.CONV_2D, [8, 3, 3, 2], 0),
    ("pointwise", tflite.BuiltinOperator.CONV_2D, [8, 1, 1, 8], 0),
    ("depthwise", tflite.BuiltinOperator.DEPTHWISE_CONV_2D, [1, 3, 3, 8], 3),
])
def test_model_structure(op, code, filter_shape, qdim):
    spec = case_for_slot(op, SLOT, groups=4, depth_multiplier=1, padding="same", seed=0)
    q, _ = quantize_case(spec)
    model = tflite.Model.GetRootAsModel(build_model(spec, q), 0)
    assert model.OperatorCodes(0).BuiltinCode() == code
    graph = model.Subgraphs(0)
    tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
    assert [t.Name().decode() for t in tensors] == ["input", "filter", "bias", "output"]
    assert tensors[0].ShapeAsNumpy().tolist() == [1, 6, 6, 8]
    assert tensors[1].ShapeAsNumpy().tolist() == filter_shape
    assert tensors[1].Type() == tflite.TensorType.INT8
    assert tensors[2].Type() == tflite.TensorType.INT32
    fq = tensors[1].Quantization()
    assert fq.ScaleLength() == 8 and fq.QuantizedDimension() == qdim
    assert fq.ZeroPointAsNumpy().tolist() == [0] * 8


def test_tflite_micro_agrees_with_reference_interpreter(tmp_path):
    """A second, independent golden: TFLite Micro's host build (the MCU semantics)."""
    tflm = pytest.importorskip("tflite_micro")
    for op in ("standard", "depthwise", "grouped", "pointwise"):
        spec = case_for_slot(op, {"hw": 9, "cin": 12, "cout": 12, "k": 5, "stride": 2},
                             groups=4, depth_multiplier=1, padding="same", seed=1)
        g = generate(spec, tmp_path)
        runner = tflm.runtime.Interpreter.from_file(str(g.model_path))
        runner.set_input(g.input[None], 0)
        runner.invoke()
        assert np.array_equal(runner.get_output(0)[0], g.golden), op


def test_generation_is_cached_and_deterministic(tmp_path):
    spec = case_for_slot("depthwise", SLOT, groups=4, depth_multiplier=1, padding="same", seed=0)
    a = generate(spec, tmp_path / "a")
    b = generate(spec, tmp_path / "b")
    assert np.array_equal(a.golden, b.golden) and np.array_equal(a.filter, b.filter)
    assert a.model_path.read_bytes() == b.model_path.read_bytes()
    again = generate(spec, tmp_path / "a")
    assert np.array_equal(again.input, a.input)
