"""Turn a CaseSpec into a quantized single-operator benchmark.

torch builds the float layer (nn.Conv2d with seeded weights) and calibrates
the activation ranges on seeded inputs; bench.quantize makes it int8 the way
TFLite does; bench.tflite_model writes the .tflite; bench.golden runs it in
the reference interpreter on a seeded test input. Results are cached by the
case's content hash, so a warm run imports neither torch nor the interpreter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from bench.cases import golden
from bench.cases import quantize
from bench.cases.cache_files import savez_atomic, write_atomic
from bench.cases.generated import GeneratedCase
from bench.cases.spec import CaseSpec
from bench.cases.tflite_model import QuantizedConv, build_model

GENERATOR_VERSION = "1"
CALIBRATION_BATCHES = 4


def _seed(spec: CaseSpec) -> int:
    digest = hashlib.sha256(f"{spec.content_hash}:{spec.seed}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _float_layer(spec: CaseSpec):
    """Seeded float conv and calibration/test inputs (NCHW, torch)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(_seed(spec))
    conv = torch.nn.Conv2d(spec.c_in, spec.c_out, spec.k, stride=spec.stride,
                           groups=spec.groups, bias=True)
    with torch.no_grad():
        fan_in = spec.k * spec.k * spec.c_in // spec.groups
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen) * 0.1)
    # Inputs look like a post-ReLU6 feature map with a little negative slack.
    calib = torch.rand((CALIBRATION_BATCHES, spec.c_in, spec.h, spec.w), generator=gen) * 6.5 - 0.5
    test = torch.rand((1, spec.c_in, spec.h, spec.w), generator=gen) * 6.0

    # TFLite SAME padding puts the odd pixel after; pad explicitly, then VALID.
    pad_h_total = max((spec.out_h - 1) * spec.stride + spec.k - spec.h, 0) if spec.padding == "same" else 0
    pad_w_total = max((spec.out_w - 1) * spec.stride + spec.k - spec.w, 0) if spec.padding == "same" else 0
    pads = (spec.pad_w, pad_w_total - spec.pad_w, spec.pad_h, pad_h_total - spec.pad_h)

    def forward(x):
        with torch.no_grad():
            return conv(F.pad(x, pads))

    return conv, calib, test, forward


def quantize_case(spec: CaseSpec) -> tuple[QuantizedConv, np.ndarray]:
    """Quantized parameters and the int8 test input [1,H,W,C_in] for a case."""
    conv, calib, test, forward = _float_layer(spec)
    out = forward(calib)
    in_q = quantize.activation_qparams(float(calib.min()), float(calib.max()))
    out_q = quantize.activation_qparams(float(out.min()), float(out.max()))

    w = conv.weight.detach().numpy()  # [C_out, C_in/groups, K, K]
    if spec.op == "depthwise":
        w_layout = w.transpose(1, 2, 3, 0)  # [1, K, K, C_out]
        w_q, w_scales = quantize.quantize_weights_per_channel(w_layout, axis=3)
    else:
        w_layout = w.transpose(0, 2, 3, 1)  # OHWI
        w_q, w_scales = quantize.quantize_weights_per_channel(w_layout, axis=0)
    bias = quantize.quantize_bias(conv.bias.detach().numpy(), in_q.scale, w_scales)
    x = quantize.quantize_activations(test.numpy().transpose(0, 2, 3, 1), in_q)
    q = QuantizedConv(filter=w_q, filter_scales=w_scales, bias=bias,
                      input_scale=in_q.scale, input_zero_point=in_q.zero_point,
                      output_scale=out_q.scale, output_zero_point=out_q.zero_point)
    return q, x


def generate(spec: CaseSpec, cache: Path) -> GeneratedCase:
    """The case's data, from the cache when this exact case was made before."""
    if not spec.is_conv:
        from bench.cases import elementwise
        return elementwise.generate(spec, cache)
    folder = cache / "cases" / f"{spec.case_id}-{spec.content_hash}-v{GENERATOR_VERSION}"
    tables = folder / "tables.npz"
    model_path = folder / "model.tflite"
    if not tables.exists():
        q, x = quantize_case(spec)
        model = build_model(spec, q)
        out = golden.reference_output(model, x)
        multiplier, shift = quantize.channel_multipliers(q.input_scale, q.filter_scales, q.output_scale)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(model_path, model)
        write_atomic(folder / "quantization.json", json.dumps({
            "input_scale": q.input_scale, "input_zero_point": q.input_zero_point,
            "output_scale": q.output_scale, "output_zero_point": q.output_zero_point,
            "interpreter": golden.interpreter_name(), "resolver": "BUILTIN_REF",
        }, indent=2))
        savez_atomic(tables, input=x[0], filter=q.filter, bias=q.bias, multiplier=multiplier, shift=shift,
                     zero_points=np.array([q.input_zero_point, q.output_zero_point], np.int32),
                     golden=out[0])
    with np.load(tables) as data:
        return GeneratedCase(
            spec=spec, input=data["input"], filter=data["filter"], bias=data["bias"],
            multiplier=data["multiplier"], shift=data["shift"],
            input_zero_point=int(data["zero_points"][0]), output_zero_point=int(data["zero_points"][1]),
            golden=data["golden"], model_path=model_path,
        )
