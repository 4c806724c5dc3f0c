"""Integer parameters of a model layer, computed as the interpreter's Prepare does.

TFLite facts (kernels/kernel_util.cc, quantization_util.cc, activations.cc;
formulas, no code taken):

- Fused activation clamp: quantize(f) = zero_point + round(f / scale), the
  division in float32; RELU [max(-128, q(0)), 127], RELU6 adds min(127, q(6)),
  RELU_N1_TO_1 [q(-1), q(1)], NONE [-128, 127].
- Softmax (reference kernel, int8): real = min(beta * input_scale * 2^26,
  2^31 - 1) in double, QuantizeMultiplier of it (shift >= 0); diff_min =
  -floor(31 * 2^26 / 2^shift).
- Padding: effective kernel (k - 1) * dilation + 1; SAME pads
  max((out - 1) * stride + effective - in, 0) // 2 before (the odd one after).
"""

from __future__ import annotations

import math

import numpy as np

from bench.errors import ConfigError
from bench.cases.quantize import quantize_multiplier

INT8_MIN, INT8_MAX = -128, 127


def _quantize_f32(value: float, scale: float, zero_point: int) -> int:
    q = np.float32(value) / np.float32(scale)
    return zero_point + int(np.sign(q) * np.floor(np.abs(q) + np.float32(0.5)))  # round half away


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    if activation in ("NONE", None):
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, _quantize_f32(0.0, scale, zero_point)), INT8_MAX
    if activation == "RELU6":
        return (max(INT8_MIN, _quantize_f32(0.0, scale, zero_point)),
                min(INT8_MAX, _quantize_f32(6.0, scale, zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(INT8_MIN, _quantize_f32(-1.0, scale, zero_point)),
                min(INT8_MAX, _quantize_f32(1.0, scale, zero_point)))
    raise ConfigError(f"fused activation {activation} is not supported")


def softmax_params(beta: float, input_scale: float) -> np.ndarray:
    """[input_multiplier, input_left_shift, diff_min] (SOFTMAX_FIELDS order)."""
    integer_bits = 5
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - integer_bits)),
               (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    if shift < 0:
        raise ConfigError(f"softmax input scale {input_scale} with beta {beta} is too small for the "
                          "fixed-point kernel (multiplier below one)")
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << shift))
    return np.array([multiplier, shift, -radius], np.int32)


def same_padding(size: int, kernel: int, stride: int, dilation: int, out: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return max((out - 1) * stride + effective - size, 0) // 2
