"""A model's operators as single-operator cases with the model's own data.

Every operator becomes a ``Layer``: a benchmark case (``LayerSpec`` plus a
``GeneratedCase`` whose input is the activation the layer sees in the
whole-model run and whose golden output is the interpreter's output of that
layer), a zero-compute entry (RESHAPE and other view changes), or an
unsupported entry that says why. Nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.cases.spec import CaseSpec
from bench.cases.generated import GeneratedCase
from bench.cases.quantize import channel_multipliers
from bench.cases.tflite_model import TensorQ
from bench.profile import params
from bench.profile.layer_spec import LayerSpec
from bench.profile.model_reader import ModelGraph, OperatorInfo, TensorInfo

# Operators that only change how a buffer is viewed: no arithmetic, no copy in TFLite Micro.
ZERO_COMPUTE = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


@dataclass
class Layer:
    index: int
    op_name: str                       # the TFLite operator
    status: str                        # "case", "zero-compute" or "unsupported"
    input_shapes: list[tuple[int, ...]]
    output_shapes: list[tuple[int, ...]]
    case: GeneratedCase | None = None
    reason: str = ""                   # why a layer is unsupported
    activation: str = "NONE"
    weight_bytes: int = 0
    activation_bytes: int = 0          # int8 inputs + output live during the call

    @property
    def spec(self) -> LayerSpec | None:
        return self.case.spec if self.case else None

    @property
    def macs(self) -> int:
        return self.spec.macs if self.case else 0


@dataclass
class ModelLayers:
    layers: list[Layer]
    # (depthwise layer index, pointwise layer index) for each depthwise-separable pair
    separable_pairs: list[tuple[int, int]] = field(default_factory=list)

    def cases(self) -> list[GeneratedCase]:
        return [layer.case for layer in self.layers if layer.case is not None]


class Unsupported(Exception):
    """This operator cannot be a case here; the message says why."""


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(H, W, C) of a batch-1 activation of rank 1 to 4."""
    if len(shape) == 4:
        if shape[0] != 1:
            raise Unsupported(f"batch {shape[0]} (only batch 1)")
        return shape[1], shape[2], shape[3]
    if len(shape) == 0:
        return 1, 1, 1
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    return 1, rows, shape[-1]


def _int8(t: TensorInfo, what: str) -> None:
    if t.dtype is not np.int8:
        raise Unsupported(f"{what} {t.name} is {np.dtype(t.dtype).name}, not int8")
    if t.scales.size != 1:
        raise Unsupported(f"{what} {t.name} is not per-tensor quantized")


class _Builder:
    def __init__(self, graph: ModelGraph, acts: dict[int, np.ndarray], data_hash: str):
        self.graph, self.acts, self.data_hash = graph, acts, data_hash
        self.producer = {t: op for op in graph.operators for t in op.outputs}

    def t(self, i: int) -> TensorInfo:
        return self.graph.tensors[i]

    def act(self, i: int) -> np.ndarray:
        if i not in self.acts:
            raise Unsupported(f"the interpreter kept no value for tensor {self.t(i).name}")
        return self.acts[i]

    def base(self, op: OperatorInfo, **fields) -> dict:
        return dict(layer=op.index, data_hash=self.data_hash, seed=0, **fields)

    # -- convolutions and fully connected -----------------------------------
    def conv(self, op: OperatorInfo) -> GeneratedCase:
        x, w, out = self.t(op.inputs[0]), self.t(op.inputs[1]), self.t(op.outputs[0])
        _int8(x, "input")
        _int8(out, "output")
        if w.dtype is not np.int8 or w.data is None:
            raise Unsupported(f"filter {w.name} is not constant int8")
        if np.any(w.zero_points != 0):
            raise Unsupported("filter zero points are not 0 (asymmetric int8 weights)")
        o = op.options
        h, wd, c_in = _nhwc(x.shape)
        _, oh, ow_, c_out = out.shape if len(out.shape) == 4 else (1, *_nhwc(out.shape))
        depthwise = op.name == "DEPTHWISE_CONV_2D"
        kh, kw = w.shape[1], w.shape[2]
        groups = c_in if depthwise else c_in // w.shape[3]
        if depthwise:
            kind = "depthwise"
        elif groups > 1:
            kind = "grouped"
        else:
            kind = "pointwise" if kh == kw == 1 else "standard"
        sh, sw, dh, dw = o["stride_h"], o["stride_w"], o["dilation_h"], o["dilation_w"]
        same = o["padding"] == "same"
        ph = params.same_padding(h, kh, sh, dh, oh) if same else 0
        pw = params.same_padding(wd, kw, sw, dw, ow_) if same else 0
        spec = LayerSpec(op=kind, h=h, w=wd, c_in=c_in, c_out=c_out, k=kh, stride=sh, groups=groups,
                         padding=o["padding"], ref_k=self.ref_k(op, kind, kh), kh=kh, kw=kw, sh=sh, sw=sw,
                         dh=dh, dw=dw, ph=ph, pw=pw, oh=oh, ow=ow_, **self.base(op))
        return self.weighted_case(op, spec, x, w, out, w.data)

    def fully_connected(self, op: OperatorInfo) -> GeneratedCase:
        x, w, out = self.t(op.inputs[0]), self.t(op.inputs[1]), self.t(op.outputs[0])
        _int8(x, "input")
        _int8(out, "output")
        if w.dtype is not np.int8 or w.data is None or w.data.ndim != 2:
            raise Unsupported(f"weights {w.name} are not a constant int8 [C_out, C_in] matrix")
        if op.options.get("weights_format", 0) != 0:
            raise Unsupported("shuffled weights format")
        if np.any(w.zero_points != 0):
            raise Unsupported("weight zero points are not 0")
        c_out, depth = w.data.shape
        batches = x.elements // depth
        spec = LayerSpec(op="fully_connected", h=1, w=batches, c_in=depth, c_out=c_out, k=1, stride=1,
                         padding="valid", oh=1, ow=batches, **self.base(op))
        return self.weighted_case(op, spec, x, w, out, w.data)

    def weighted_case(self, op, spec: LayerSpec, x, w, out, filt: np.ndarray) -> GeneratedCase:
        c_out = spec.c_out
        scales = w.scales if w.scales.size == c_out else np.full(c_out, w.scales[0], np.float32)
        bias_i = op.inputs[2] if len(op.inputs) > 2 else -1
        bias = self.t(bias_i).data.astype(np.int32) if bias_i >= 0 else np.zeros(c_out, np.int32)
        mult, shift = channel_multipliers(x.scale, scales, out.scale)
        return GeneratedCase(
            spec=spec, input=self.act(x.index).reshape(-1), filter=np.ascontiguousarray(filt),
            bias=bias.reshape(-1), multiplier=mult, shift=shift,
            input_zero_point=x.zero_point, output_zero_point=out.zero_point,
            golden=self.act(out.index).reshape(-1), model_path=self.graph.path,
            act_range=params.activation_range(op.options.get("activation", "NONE"), out.scale, out.zero_point))

    def ref_k(self, op: OperatorInfo, kind: str, k: int) -> int:
        """Kernel of the matched standard conv: a pointwise layer takes its depthwise partner's."""
        if kind != "pointwise":
            return k
        prev = self.producer.get(op.inputs[0])
        if prev is not None and prev.name == "DEPTHWISE_CONV_2D":
            return self.t(prev.inputs[1]).shape[1]
        return 3

    # -- element-wise, pooling, softmax ------------------------------------
    def elementwise(self, op: OperatorInfo) -> GeneratedCase:
        from bench.cases.elementwise import EW_FIELDS, op_params

        a, b, out = self.t(op.inputs[0]), self.t(op.inputs[1]), self.t(op.outputs[0])
        for t, what in ((a, "input 1"), (b, "input 2"), (out, "output")):
            _int8(t, what)
        if a.shape != b.shape or a.shape != out.shape:
            raise Unsupported(f"broadcast {list(a.shape)} with {list(b.shape)} (same shapes only)")
        h, w, c = _nhwc(a.shape)
        kind = op.name.lower()
        spec = LayerSpec(op=kind, h=h, w=w, c_in=c, c_out=c, k=1, stride=1, oh=h, ow=w, **self.base(op))
        p = op_params(spec, [TensorQ(a.scale, a.zero_point), TensorQ(b.scale, b.zero_point)],
                      TensorQ(out.scale, out.zero_point))
        lo, hi = params.activation_range(op.options.get("activation", "NONE"), out.scale, out.zero_point)
        p[EW_FIELDS.index("act_min")], p[EW_FIELDS.index("act_max")] = lo, hi
        return self.extra_case(spec, a, out, p, second=self.act(b.index).reshape(-1))

    def pool(self, op: OperatorInfo) -> GeneratedCase:
        x, out = self.t(op.inputs[0]), self.t(op.outputs[0])
        _int8(x, "input")
        _int8(out, "output")
        o = op.options
        h, w, c = _nhwc(x.shape)
        oh, ow = out.shape[1], out.shape[2]
        same = o["padding"] == "same"
        ph = params.same_padding(h, o["filter_h"], o["stride_h"], 1, oh) if same else 0
        pw = params.same_padding(w, o["filter_w"], o["stride_w"], 1, ow) if same else 0
        kind = "avgpool" if op.name == "AVERAGE_POOL_2D" else "maxpool"
        spec = LayerSpec(op=kind, h=h, w=w, c_in=c, c_out=c, k=o["filter_h"], stride=o["stride_h"],
                         padding=o["padding"], kh=o["filter_h"], kw=o["filter_w"], sh=o["stride_h"],
                         sw=o["stride_w"], ph=ph, pw=pw, oh=oh, ow=ow, **self.base(op))
        lo, hi = params.activation_range(o.get("activation", "NONE"), out.scale, out.zero_point)
        p = np.array([spec.sh, spec.sw, ph, pw, spec.kh, spec.kw, lo, hi], np.int32)
        return self.extra_case(spec, x, out, p)

    def softmax(self, op: OperatorInfo) -> GeneratedCase:
        x, out = self.t(op.inputs[0]), self.t(op.outputs[0])
        _int8(x, "input")
        _int8(out, "output")
        if out.zero_point != -128 or abs(out.scale - 1 / 256) > 1e-3 / 256:
            raise Unsupported("int8 softmax output must have scale 1/256 and zero point -128")
        depth = x.shape[-1] if x.shape else 1
        rows = x.elements // depth  # softmax runs over the last axis; every other axis is rows
        spec = LayerSpec(op="softmax", h=1, w=rows, c_in=depth, c_out=depth, k=1, stride=1,
                         oh=1, ow=rows, **self.base(op))
        return self.extra_case(spec, x, out, params.softmax_params(op.options.get("beta", 1.0), x.scale))

    def extra_case(self, spec, x, out, p: np.ndarray, second=None) -> GeneratedCase:
        empty = np.zeros(0, np.int32)
        return GeneratedCase(
            spec=spec, input=self.act(x.index).reshape(-1),
            filter=second if second is not None else np.zeros(0, np.int8), bias=empty,
            multiplier=empty, shift=empty, input_zero_point=x.zero_point, output_zero_point=out.zero_point,
            golden=self.act(out.index).reshape(-1), model_path=self.graph.path, op_params=p)


BUILDERS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "FULLY_CONNECTED": "fully_connected",
            "ADD": "elementwise", "MUL": "elementwise", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool",
            "SOFTMAX": "softmax"}


def extract_layers(graph: ModelGraph, acts: dict[int, np.ndarray], data_hash: str) -> ModelLayers:
    builder = _Builder(graph, acts, data_hash)
    layers = []
    for op in graph.operators:
        ins = [graph.tensors[i].shape for i in op.inputs if i >= 0 and graph.tensors[i].data is None]
        outs = [graph.tensors[i].shape for i in op.outputs]
        layer = Layer(index=op.index, op_name=op.name, status="unsupported", input_shapes=ins,
                      output_shapes=outs, activation=op.options.get("activation", "NONE"))
        if op.name in ZERO_COMPUTE:
            layer.status = "zero-compute"
        elif op.name in BUILDERS:
            try:
                layer.case = getattr(builder, BUILDERS[op.name])(op)
                layer.status = "case"
                layer.weight_bytes = layer.spec.weight_bytes
                layer.activation_bytes = layer.spec.activation_bytes
            except Unsupported as why:
                layer.reason = str(why)
        else:
            layer.reason = "no firmware kernel for this operator"
        if layer.status != "case":
            layer.activation_bytes = sum(int(np.prod(s)) for s in ins + outs)
        layers.append(layer)
    return ModelLayers(layers, _separable_pairs(graph, layers))


def _separable_pairs(graph: ModelGraph, layers: list[Layer]) -> list[tuple[int, int]]:
    """A depthwise layer whose output only feeds a pointwise layer forms a pair."""
    by_index = {layer.index: layer for layer in layers}
    consumers: dict[int, list[OperatorInfo]] = {}
    for op in graph.operators:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op)
    pairs = []
    for layer in layers:
        if layer.spec is None or layer.spec.op != "depthwise":
            continue
        users = consumers.get(graph.operators[layer.index].outputs[0], [])
        if len(users) == 1 and by_index[users[0].index].spec is not None \
                and by_index[users[0].index].spec.op == "pointwise":
            pairs.append((layer.index, users[0].index))
    return pairs


def what_if_standard(dw: LayerSpec, pw: LayerSpec) -> CaseSpec | None:
    """A standard conv doing the pair's job: the depthwise input, the pointwise output, the depthwise window."""
    if not dw.square:
        return None
    return CaseSpec(op="standard", h=dw.h, w=dw.w, c_in=dw.c_in, c_out=pw.c_out, k=dw.kh, stride=dw.sh,
                    groups=1, padding=dw.padding, ref_k=dw.kh, seed=0)

