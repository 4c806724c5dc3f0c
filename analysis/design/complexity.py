"""Exact complexity of a torch model as it would be deployed int8 on an MCU.

``count(model, (C, H, W))`` traces the model with torch.fx, propagates shapes
(batch 1) and returns one row per deployed operator plus totals:

- operator class: convolutions are ``standard``, ``depthwise`` (groups == C_in,
  C_out a multiple of C_in), ``grouped`` or ``pointwise`` (1x1, groups 1), the
  same names as ``bench.cases``; ``linear``; element-wise ``add``, ``mul``,
  ``activation``; ``pooling``; ``concat``;
- MACs (nominal, padding taps included, as ``CaseSpec.macs``), parameters and
  flash bytes at int8: int8 weights, an int32 bias per output channel (BatchNorm
  folds into it, so every conv has one) and per-channel requantization
  parameters (int32 multiplier and shift: 8 bytes per output channel, as
  ``CaseSpec.quant_bytes``); a linear layer is quantized per tensor (8 bytes);
- element-wise operations (one per output element; a pooling window counts its
  taps);
- peak activation RAM from tensor liveness over the graph's topological order.

Deployment rules, chosen to match what TFLite does with an int8 model:
BatchNorm after a conv folds into it; ReLU and ReLU6 fuse into the conv or add
that produces their input when nothing else reads that input; views
(flatten, reshape) alias their input. Every other operator writes a new int8
tensor. A tensor is live from the operator that writes it to the last operator
that reads it (the network's input from the start, its output to the end); the
peak is the largest sum of live tensor bytes while one operator runs (its
inputs and output both live). Kernel scratch buffers (im2col) and arena
fragmentation are not included: the figure is the tensor-liveness lower bound
every memory planner starts from.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.fx import GraphModule, Node, Tracer
from torch.fx.passes.shape_prop import ShapeProp

CONV_CLASSES = ("standard", "depthwise", "grouped", "pointwise")
ELEMENTWISE = ("add", "mul", "activation")

_FOLD_MODULES = (nn.BatchNorm2d, nn.BatchNorm1d)
_FUSE_ACT_MODULES = (nn.ReLU, nn.ReLU6)
_IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten)
# zero padding folds into the conv that reads it (TFLite convs pad internally: SAME or explicit)
_PAD_MODULES = (nn.ZeroPad2d,)
_ACT_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.SiLU, nn.Tanh,
                nn.GELU, nn.LeakyReLU, nn.Hardtanh)
_POOL_MODULES = (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)

_FUSE_ACT_FUNCS = {F.relu, torch.relu, F.relu6}
_CLAMP_FUNCS = {torch.clamp, torch.clip}
_ACT_FUNCS = {F.relu, torch.relu, F.relu6, F.hardswish, F.hardsigmoid, torch.sigmoid, F.sigmoid,
              F.silu, torch.tanh, F.gelu, F.hardtanh, F.leaky_relu}
_ADD_FUNCS = {operator.add, torch.add, operator.iadd}
_MUL_FUNCS = {operator.mul, torch.mul, operator.imul}
_POOL_FUNCS = {F.adaptive_avg_pool2d, F.avg_pool2d, F.max_pool2d, F.adaptive_max_pool2d}
_VIEW_FUNCS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_VIEW_METHODS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous"}
_ACT_METHODS = {"relu", "sigmoid", "tanh"}
_REDUCE_METHODS = {"mean"}


@dataclass
class Layer:
    """One deployed operator (fused BatchNorm/ReLU listed in ``fused``)."""

    name: str
    op: str                      # operator class, see module docstring
    h: int = 0                   # input map of a conv / pooling layer
    w: int = 0
    c_in: int = 0
    c_out: int = 0
    k: int = 0
    stride: int = 1
    groups: int = 1
    out_h: int = 0
    out_w: int = 0
    macs: int = 0
    params: int = 0
    weight_bytes: int = 0        # int8 weights
    bias_bytes: int = 0          # int32 bias
    quant_bytes: int = 0         # requantization multiplier and shift
    elem_ops: int = 0
    out_bytes: int = 0           # int8 output tensor
    live_bytes: int = 0          # all tensors live while this operator runs
    fused: list[str] = field(default_factory=list)
    detail: str = ""             # which activation, for element-wise layers

    @property
    def flash_bytes(self) -> int:
        return self.weight_bytes + self.bias_bytes + self.quant_bytes

    @property
    def is_conv(self) -> bool:
        return self.op in CONV_CLASSES


@dataclass
class Complexity:
    layers: list[Layer]
    input_shape: tuple[int, int, int]
    peak_ram_bytes: int
    peak_layer: str
    peak_tensors: list[str]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def flash_bytes(self) -> int:
        return sum(layer.flash_bytes for layer in self.layers)

    @property
    def elem_ops(self) -> int:
        return sum(layer.elem_ops for layer in self.layers)

    def convs(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.is_conv]

    def table(self) -> pd.DataFrame:
        rows = []
        for layer in self.layers:
            row = asdict(layer)
            row["fused"] = "+".join(layer.fused)
            row["flash_bytes"] = layer.flash_bytes
            rows.append(row)
        return pd.DataFrame(rows)

    def totals(self) -> dict:
        return {"macs": self.macs, "params": self.params, "flash_bytes": self.flash_bytes,
                "peak_ram_bytes": self.peak_ram_bytes, "elem_ops": self.elem_ops,
                "layers": len(self.layers), "convs": len(self.convs())}


def conv_class(c_in: int, c_out: int, k: int, groups: int) -> str:
    """The bench operator name of a convolution."""
    if groups == 1:
        return "pointwise" if k == 1 else "standard"
    if groups == c_in and c_out % c_in == 0:
        return "depthwise"
    return "grouped"


def _numel(node: Node) -> int:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return 0
    return int(math.prod(meta.shape))


def _shape(node: Node) -> tuple[int, ...]:
    return tuple(node.meta["tensor_meta"].shape)


def _tensor_args(node: Node) -> list[Node]:
    return [a for a in node.all_input_nodes if "tensor_meta" in a.meta and hasattr(a.meta["tensor_meta"], "shape")]


def count(model: nn.Module, input_chw: tuple[int, int, int]) -> Complexity:
    """Trace ``model`` and count it exactly for an input of shape (C, H, W), batch 1."""
    was_training = model.training
    model.eval()              # BatchNorm in inference form while shapes propagate; restored below
    try:
        gm = GraphModule(model, _LeafTracer().trace(model))
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros((1, *input_chw), device=device))
    finally:
        model.train(was_training)
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)
    users = {n: list(n.users) for n in nodes}

    alias: dict[Node, Node] = {}         # node -> node whose tensor it shares
    layer_of: dict[Node, Layer] = {}     # producing node -> its Layer

    def root(n: Node) -> Node:
        while n in alias:
            n = alias[n]
        return n

    layers: list[Layer] = []
    for node in nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        mod = modules.get(node.target) if node.op == "call_module" else None
        args = _tensor_args(node)
        src = args[0] if args else None
        src_root = root(src) if src is not None else None
        sole_reader = src is not None and len(users[src]) == 1

        # -- aliases: folded, fused or views ---------------------------------
        if mod is not None and isinstance(mod, _IDENTITY_MODULES + _PAD_MODULES) or (
                node.op == "call_function" and node.target in _VIEW_FUNCS) or (
                node.op == "call_method" and node.target in _VIEW_METHODS):
            alias[node] = src
            continue
        if mod is not None and isinstance(mod, _FOLD_MODULES) and src_root in layer_of \
                and (layer_of[src_root].is_conv or layer_of[src_root].op == "linear") and sole_reader:
            alias[node] = src
            layer_of[src_root].fused.append(type(mod).__name__)
            continue
        fusable_act = (mod is not None and isinstance(mod, _FUSE_ACT_MODULES)) or (
            node.op == "call_function" and node.target in _FUSE_ACT_FUNCS) or _relu_clamp(node)
        if fusable_act and src_root in layer_of and sole_reader and \
                layer_of[src_root].op in CONV_CLASSES + ("linear", "add"):
            alias[node] = src
            layer_of[src_root].fused.append(type(mod).__name__ if mod is not None else node.target.__name__)
            continue

        # a conv or pooling layer reads the tensor under any folded padding
        layer = _layer_for(node, mod, [root(a) for a in args])
        layer.out_bytes = _numel(node)
        layers.append(layer)
        layer_of[node] = layer

    # -- liveness ---------------------------------------------------------------
    index = {n: i for i, n in enumerate(nodes)}
    birth: dict[Node, int] = {}
    death: dict[Node, int] = {}
    for node in nodes:
        if node.op == "placeholder" or node in layer_of:
            birth[node] = index[node]
            death[node] = index[node]
    for node in nodes:
        for a in node.all_input_nodes:
            r = root(a)
            if r in birth:
                death[r] = max(death[r], len(nodes) if node.op == "output" else index[node])
    peak, peak_layer, peak_tensors = 0, "", []
    for node, layer in layer_of.items():
        i = index[node]
        live = [t for t in birth if birth[t] <= i <= death[t]]
        layer.live_bytes = sum(_numel(t) for t in live)
        if layer.live_bytes > peak:
            peak, peak_layer, peak_tensors = layer.live_bytes, layer.name, [t.name for t in live]
    return Complexity(layers, tuple(input_chw), peak, peak_layer, peak_tensors)


class _LeafTracer(Tracer):
    """Keeps subclasses of the counted module types whole (micromind's DepthwiseConv2d is a Conv2d)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        counted = (nn.Conv2d, nn.Linear) + _FOLD_MODULES + _ACT_MODULES + _POOL_MODULES + _IDENTITY_MODULES
        return isinstance(m, counted) or super().is_leaf_module(m, qualname)


def _relu_clamp(node: Node) -> bool:
    """clamp(x, 0, 6) or clamp(x, min=0): a ReLU6 / ReLU that fuses like one (micromind's ReLUMax)."""
    if node.op != "call_function" or node.target not in _CLAMP_FUNCS:
        return False
    lo = node.kwargs.get("min", node.args[1] if len(node.args) > 1 else None)
    hi = node.kwargs.get("max", node.args[2] if len(node.args) > 2 else None)
    return lo == 0 and hi in (None, 6)


def _layer_for(node: Node, mod: nn.Module | None, args: list[Node]) -> Layer:
    name = str(node.target) if node.op == "call_module" else node.name
    out = _numel(node)
    if isinstance(mod, nn.Conv2d):
        _, c_in, h, w = _shape(args[0])
        _, c_out, out_h, out_w = _shape(node)
        kh, kw = mod.kernel_size
        if kh != kw or mod.stride[0] != mod.stride[1]:
            raise ValueError(f"{name}: only square kernels and strides are counted ({mod})")
        g = mod.groups
        weights = c_out * kh * kw * (c_in // g)
        return Layer(name, conv_class(c_in, c_out, kh, g), h=h, w=w, c_in=c_in, c_out=c_out, k=kh,
                     stride=mod.stride[0], groups=g, out_h=out_h, out_w=out_w,
                     macs=out_h * out_w * weights, params=weights + c_out, weight_bytes=weights,
                     bias_bytes=4 * c_out, quant_bytes=8 * c_out)
    if isinstance(mod, nn.Linear):
        weights = mod.in_features * mod.out_features
        return Layer(name, "linear", h=1, w=1, c_in=mod.in_features, c_out=mod.out_features, k=1,
                     out_h=1, out_w=1, macs=weights * (out // mod.out_features),
                     params=weights + mod.out_features, weight_bytes=weights,
                     bias_bytes=4 * mod.out_features, quant_bytes=8)
    if isinstance(mod, _POOL_MODULES) or (node.op == "call_function" and node.target in _POOL_FUNCS) or (
            node.op == "call_method" and node.target in _REDUCE_METHODS):
        _, c, h, w = _shape(args[0])
        out_shape = _shape(node)
        out_h, out_w = (out_shape[2], out_shape[3]) if len(out_shape) == 4 else (1, 1)
        if isinstance(mod, (nn.AvgPool2d, nn.MaxPool2d)):
            ks = mod.kernel_size if isinstance(mod.kernel_size, tuple) else (mod.kernel_size, mod.kernel_size)
            taps = ks[0] * ks[1]
        else:   # global / adaptive pooling and mean: the window covers the map (integer ratio)
            taps = max(1, (h * w) // max(1, out_h * out_w))
        return Layer(name, "pooling", h=h, w=w, c_in=c, c_out=c, k=int(round(math.sqrt(taps))),
                     out_h=out_h, out_w=out_w, elem_ops=out * taps)
    if isinstance(mod, _ACT_MODULES) or (node.op == "call_function" and node.target in _ACT_FUNCS | _CLAMP_FUNCS) or (
            node.op == "call_method" and node.target in _ACT_METHODS):
        kind = type(mod).__name__ if mod is not None else getattr(node.target, "__name__", str(node.target))
        return Layer(name, "activation", elem_ops=out, detail=kind)
    if node.op == "call_function" and node.target in _ADD_FUNCS:
        return Layer(name, "add", elem_ops=out)
    if node.op == "call_function" and node.target in _MUL_FUNCS:
        return Layer(name, "mul", elem_ops=out)
    if node.op == "call_function" and node.target is torch.cat:
        return Layer(name, "concat")
    raise ValueError(f"cannot count operator {node.op} {node.target!r} ({type(mod).__name__ if mod else ''}); "
                     "add it to analysis/design/complexity.py")
