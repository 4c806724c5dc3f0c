"""Read a TFLite flatbuffer into plain data: tensors, operators and their options.

Uses the ``tflite`` schema package. Only the first subgraph is read (the
converter writes one for these models; control flow is not benchmarked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import ConfigError

# TensorType values of the schema (tflite.TensorType) and their numpy types.
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16,
           9: np.int8, 6: np.bool_}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_PADDINGS = {0: "same", 1: "valid"}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scales: np.ndarray          # float32, empty when not quantized
    zero_points: np.ndarray     # int64
    quantized_dimension: int
    data: np.ndarray | None     # constant tensors (weights, bias, shapes); None for activations

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def scale(self) -> float:
        return float(self.scales[0]) if self.scales.size else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0


@dataclass(frozen=True)
class OperatorInfo:
    index: int
    name: str                    # builtin operator name, e.g. CONV_2D
    inputs: tuple[int, ...]      # tensor indices, -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelGraph:
    path: Path
    tensors: list[TensorInfo]
    operators: list[OperatorInfo]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator
    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options(op, name: str) -> dict:
    """The options this harness uses, as a dict (padding, strides, dilation, activation...)."""
    import tflite

    table = op.BuiltinOptions()
    if table is None:
        return {}
    kinds = {
        "CONV_2D": tflite.Conv2DOptions, "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
        "AVERAGE_POOL_2D": tflite.Pool2DOptions, "MAX_POOL_2D": tflite.Pool2DOptions,
        "FULLY_CONNECTED": tflite.FullyConnectedOptions, "ADD": tflite.AddOptions,
        "MUL": tflite.MulOptions, "SOFTMAX": tflite.SoftmaxOptions,
    }
    if name not in kinds:
        return {}
    o = kinds[name]()
    o.Init(table.Bytes, table.Pos)
    out: dict = {}
    if hasattr(o, "FusedActivationFunction"):
        out["activation"] = _ACTIVATIONS.get(o.FusedActivationFunction(), str(o.FusedActivationFunction()))
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        out.update(padding=_PADDINGS[o.Padding()], stride_h=o.StrideH(), stride_w=o.StrideW())
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        out.update(dilation_h=o.DilationHFactor() or 1, dilation_w=o.DilationWFactor() or 1)
    if name == "DEPTHWISE_CONV_2D":
        out["depth_multiplier"] = o.DepthMultiplier()
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        out.update(filter_h=o.FilterHeight(), filter_w=o.FilterWidth())
    if name == "FULLY_CONNECTED":
        out.update(keep_num_dims=bool(o.KeepNumDims()), weights_format=o.WeightsFormat())
    if name == "SOFTMAX":
        out["beta"] = float(o.Beta())
    return out


def _tensor(model, graph, i: int) -> TensorInfo:
    t = graph.Tensors(i)
    q = t.Quantization()
    scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
    zps = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
    dtype = _DTYPES.get(t.Type())
    data = None
    buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    if buf is not None and buf.DataLength() and dtype is not None:
        data = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype)
        if t.ShapeLength():
            data = data.reshape(tuple(int(d) for d in t.ShapeAsNumpy()))
    name = t.Name().decode() if t.Name() else f"t{i}"
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    return TensorInfo(index=i, name=name, shape=shape, dtype=dtype or object,
                      scales=np.asarray(scales, np.float32), zero_points=np.asarray(zps, np.int64),
                      quantized_dimension=int(q.QuantizedDimension()) if q is not None else 0,
                      data=data)


def read_model(path: Path | str) -> ModelGraph:
    """The model's first subgraph as plain data; ConfigError when the file is not a .tflite."""
    import tflite

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no model file at {path}")
    raw = path.read_bytes()
    # A flatbuffer's file identifier sits at bytes 4..8: "TFL3" for TFLite models.
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ConfigError(f"{path} is not a TFLite flatbuffer (no TFL3 identifier)")
    model = tflite.Model.GetRootAsModel(raw, 0)
    if model.SubgraphsLength() < 1:
        raise ConfigError(f"{path} has no subgraph")
    graph = model.Subgraphs(0)
    names = _builtin_names()
    tensors = [_tensor(model, graph, i) for i in range(graph.TensorsLength())]
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        # Builtin codes above 127 live in BuiltinCode; older files use the deprecated byte.
        num = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(num, f"BUILTIN_{num}")
        if name == "CUSTOM":
            name = f"CUSTOM:{code.CustomCode().decode() if code.CustomCode() else '?'}"
        ops.append(OperatorInfo(
            index=i, name=name,
            inputs=tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else (),
            outputs=tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else (),
            options=_options(op, name)))
    return ModelGraph(path=path, tensors=tensors, operators=ops,
                      inputs=tuple(int(x) for x in graph.InputsAsNumpy()),
                      outputs=tuple(int(x) for x in graph.OutputsAsNumpy()),
                      subgraphs=model.SubgraphsLength())
