"""Single-operator int8 .tflite models, written with the ``tflite`` schema package.

CONV_2D serves standard, grouped and pointwise convolutions (TFLite treats a
filter whose input channels divide the input's as a grouped conv);
DEPTHWISE_CONV_2D serves depthwise. Tensors: 0 input [1,H,W,C_in],
1 filter, 2 bias, 3 output [1,H_out,W_out,C_out].
"""

from __future__ import annotations

from dataclasses import dataclass

from importlib import import_module

import flatbuffers
import numpy as np
from tflite import BuiltinOperator, BuiltinOptions, Padding, TensorType

from bench.cases.spec import CaseSpec

# The tflite package re-exports each table's class under the module's name;
# the builder functions (Start, Add..., End) live in the modules themselves.
Buffer, Conv2DOptions, DepthwiseConv2DOptions, Model, Operator, OperatorCode, \
    QuantizationParameters, SubGraph, Tensor = (
        import_module(f"tflite.{name}") for name in (
            "Buffer", "Conv2DOptions", "DepthwiseConv2DOptions", "Model", "Operator",
            "OperatorCode", "QuantizationParameters", "SubGraph", "Tensor"))

SCHEMA_VERSION = 3
# Op versions that declare per-channel int8 (3) and grouped convolution (6).
CONV_VERSION = 6
DEPTHWISE_VERSION = 3


@dataclass(frozen=True)
class QuantizedConv:
    """Everything a case needs on either side: the model and the firmware tables."""

    filter: np.ndarray        # int8, OHWI (conv) or 1HWC (depthwise)
    filter_scales: np.ndarray  # float32 per output channel
    bias: np.ndarray          # int32 per output channel
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int


def build_model(case: CaseSpec, q: QuantizedConv, dilation: int = 1) -> bytes:
    """``dilation`` > 1 writes a dilated conv (tests of model layers; sweeps use 1)."""
    b = flatbuffers.Builder(1024 + q.filter.size + 4 * q.bias.size)
    depthwise = case.op == "depthwise"

    buffers = [_buffer(b, None), _buffer(b, q.filter.tobytes()), _buffer(b, q.bias.astype("<i4").tobytes())]
    tensors = [
        _tensor(b, "input", [1, case.h, case.w, case.c_in], TensorType.INT8, 0,
                [q.input_scale], [q.input_zero_point], 0),
        _tensor(b, "filter", list(q.filter.shape), TensorType.INT8, 1,
                q.filter_scales, [0] * len(q.filter_scales), 3 if depthwise else 0),
        _tensor(b, "bias", [case.c_out], TensorType.INT32, 2,
                q.filter_scales.astype(np.float64) * np.float64(np.float32(q.input_scale)),
                [0] * case.c_out, 0),
        _tensor(b, "output", [1, case.out_h, case.out_w, case.c_out], TensorType.INT8, 0,
                [q.output_scale], [q.output_zero_point], 0),
    ]

    padding = Padding.SAME if case.padding == "same" else Padding.VALID
    if depthwise:
        DepthwiseConv2DOptions.Start(b)
        DepthwiseConv2DOptions.AddPadding(b, padding)
        DepthwiseConv2DOptions.AddStrideW(b, case.stride)
        DepthwiseConv2DOptions.AddStrideH(b, case.stride)
        DepthwiseConv2DOptions.AddDepthMultiplier(b, case.c_out // case.c_in)
        DepthwiseConv2DOptions.AddDilationWFactor(b, dilation)
        DepthwiseConv2DOptions.AddDilationHFactor(b, dilation)
        options = DepthwiseConv2DOptions.End(b)
        options_type = BuiltinOptions.DepthwiseConv2DOptions
        code, version = BuiltinOperator.DEPTHWISE_CONV_2D, DEPTHWISE_VERSION
    else:
        Conv2DOptions.Start(b)
        Conv2DOptions.AddPadding(b, padding)
        Conv2DOptions.AddStrideW(b, case.stride)
        Conv2DOptions.AddStrideH(b, case.stride)
        Conv2DOptions.AddDilationWFactor(b, dilation)
        Conv2DOptions.AddDilationHFactor(b, dilation)
        options = Conv2DOptions.End(b)
        options_type = BuiltinOptions.Conv2DOptions
        code, version = BuiltinOperator.CONV_2D, CONV_VERSION

    return _single_op_model(b, case.case_id, tensors, buffers, inputs=[0, 1, 2], graph_inputs=[0],
                            output=3, code=code, version=version, options=options, options_type=options_type)


def _single_op_model(b: flatbuffers.Builder, name: str, tensors: list[int], buffers: list[int], *,
                     inputs: list[int], graph_inputs: list[int], output: int, code: int, version: int,
                     options: int | None, options_type: int) -> bytes:
    """Finish a one-operator model: operator, its code, the subgraph, the model."""
    op_inputs = b.CreateNumpyVector(np.array(inputs, np.int32))
    op_outputs = b.CreateNumpyVector(np.array([output], np.int32))
    Operator.Start(b)
    Operator.AddOpcodeIndex(b, 0)
    Operator.AddInputs(b, op_inputs)
    Operator.AddOutputs(b, op_outputs)
    if options is not None:
        Operator.AddBuiltinOptionsType(b, options_type)
        Operator.AddBuiltinOptions(b, options)
    operator = Operator.End(b)

    OperatorCode.Start(b)
    OperatorCode.AddDeprecatedBuiltinCode(b, code)
    OperatorCode.AddBuiltinCode(b, code)
    OperatorCode.AddVersion(b, version)
    opcode = OperatorCode.End(b)

    name_off = b.CreateString(name)
    sg_tensors = _vector(b, SubGraph.StartTensorsVector, tensors)
    sg_inputs = b.CreateNumpyVector(np.array(graph_inputs, np.int32))
    sg_outputs = b.CreateNumpyVector(np.array([output], np.int32))
    sg_ops = _vector(b, SubGraph.StartOperatorsVector, [operator])
    SubGraph.Start(b)
    SubGraph.AddTensors(b, sg_tensors)
    SubGraph.AddInputs(b, sg_inputs)
    SubGraph.AddOutputs(b, sg_outputs)
    SubGraph.AddOperators(b, sg_ops)
    SubGraph.AddName(b, name_off)
    subgraph = SubGraph.End(b)

    description = b.CreateString("mcu-opbench single-operator microbenchmark")
    codes = _vector(b, Model.StartOperatorCodesVector, [opcode])
    subgraphs = _vector(b, Model.StartSubgraphsVector, [subgraph])
    buffer_vec = _vector(b, Model.StartBuffersVector, buffers)
    Model.Start(b)
    Model.AddVersion(b, SCHEMA_VERSION)
    Model.AddOperatorCodes(b, codes)
    Model.AddSubgraphs(b, subgraphs)
    Model.AddDescription(b, description)
    Model.AddBuffers(b, buffer_vec)
    b.Finish(Model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _vector(b: flatbuffers.Builder, start, offsets: list[int]) -> int:
    start(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _buffer(b: flatbuffers.Builder, data: bytes | None) -> int:
    vec = None
    if data:
        b.StartVector(1, len(data), 16)  # 16-byte alignment for the int32 bias
        b.head = b.head - len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        vec = b.EndVector()
    Buffer.Start(b)
    if vec is not None:
        Buffer.AddData(b, vec)
    return Buffer.End(b)


def _tensor(b: flatbuffers.Builder, name: str, shape: list[int], dtype: int, buffer: int,
            scales, zero_points, quantized_dimension: int) -> int:
    name_off = b.CreateString(name)
    shape_off = b.CreateNumpyVector(np.array(shape, np.int32))
    scale_off = b.CreateNumpyVector(np.asarray(scales, np.float32))
    zp_off = b.CreateNumpyVector(np.asarray(zero_points, np.int64))
    QuantizationParameters.Start(b)
    QuantizationParameters.AddScale(b, scale_off)
    QuantizationParameters.AddZeroPoint(b, zp_off)
    QuantizationParameters.AddQuantizedDimension(b, quantized_dimension)
    quant = QuantizationParameters.End(b)
    Tensor.Start(b)
    Tensor.AddShape(b, shape_off)
    Tensor.AddType(b, dtype)
    Tensor.AddBuffer(b, buffer)
    Tensor.AddName(b, name_off)
    Tensor.AddQuantization(b, quant)
    return Tensor.End(b)


# -- element-wise and pooling operators ---------------------------------------

# Op versions that declare int8 for each builtin.
ELEMENTWISE_VERSIONS = {"add": 2, "mul": 2, "relu6": 2, "avgpool": 2, "maxpool": 2}


@dataclass(frozen=True)
class TensorQ:
    """Per-tensor int8 quantization as stored in the model (scale is a float32 value)."""

    scale: float
    zero_point: int


def build_elementwise_model(case: CaseSpec, inputs: list[TensorQ], output: TensorQ) -> bytes:
    """A single ADD, MUL, RELU6, AVERAGE_POOL_2D or MAX_POOL_2D with int8 tensors.

    Tensors: 0 (and 1 for ADD/MUL) the inputs [1,H,W,C], then the output
    [1,H_out,W_out,C]. No fused activation; no constant buffers.
    """
    AddOptions, MulOptions, Pool2DOptions = (
        import_module(f"tflite.{n}") for n in ("AddOptions", "MulOptions", "Pool2DOptions"))
    if len(inputs) != case.n_inputs:
        raise ValueError(f"{case.op} takes {case.n_inputs} input(s), got {len(inputs)}")
    b = flatbuffers.Builder(1024)
    buffers = [_buffer(b, None)]
    tensors = [_tensor(b, f"input{i + 1}", [1, case.h, case.w, case.c_in], TensorType.INT8, 0,
                       [q.scale], [q.zero_point], 0) for i, q in enumerate(inputs)]
    out_index = len(tensors)
    tensors.append(_tensor(b, "output", [1, case.out_h, case.out_w, case.c_out], TensorType.INT8, 0,
                           [output.scale], [output.zero_point], 0))

    options, options_type = None, BuiltinOptions.NONE
    if case.op == "add":
        AddOptions.Start(b)
        AddOptions.AddFusedActivationFunction(b, 0)
        options, options_type, code = AddOptions.End(b), BuiltinOptions.AddOptions, BuiltinOperator.ADD
    elif case.op == "mul":
        MulOptions.Start(b)
        MulOptions.AddFusedActivationFunction(b, 0)
        options, options_type, code = MulOptions.End(b), BuiltinOptions.MulOptions, BuiltinOperator.MUL
    elif case.op == "relu6":
        code = BuiltinOperator.RELU6
    elif case.op in ("avgpool", "maxpool"):
        Pool2DOptions.Start(b)
        Pool2DOptions.AddPadding(b, Padding.SAME if case.padding == "same" else Padding.VALID)
        Pool2DOptions.AddStrideW(b, case.stride)
        Pool2DOptions.AddStrideH(b, case.stride)
        Pool2DOptions.AddFilterWidth(b, case.k)
        Pool2DOptions.AddFilterHeight(b, case.k)
        Pool2DOptions.AddFusedActivationFunction(b, 0)
        options, options_type = Pool2DOptions.End(b), BuiltinOptions.Pool2DOptions
        code = BuiltinOperator.AVERAGE_POOL_2D if case.op == "avgpool" else BuiltinOperator.MAX_POOL_2D
    else:
        raise ValueError(f"not an element-wise or pooling op: {case.op!r}")

    indices = list(range(out_index))
    return _single_op_model(b, case.case_id, tensors, buffers, inputs=indices, graph_inputs=indices,
                            output=out_index, code=code, version=ELEMENTWISE_VERSIONS[case.op],
                            options=options, options_type=options_type)
