"""int8 quantization as TFLite does it.

Weights: per-channel symmetric int8 (zero point 0, range [-127, 127]).
Activations: per-tensor asymmetric int8 from a calibrated [min, max] that
always contains 0. Bias: int32 at scale input_scale * weight_scale[c].
Requantization: TFLite's QuantizeMultiplier, i.e. frexp of the effective
scale into a Q31 multiplier and a power-of-two shift, computed in double from
the float32 scales stored in the model, exactly as the interpreter does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorQuant:
    scale: float  # float32 value, stored as a Python float
    zero_point: int


def activation_qparams(lo: float, hi: float) -> TensorQuant:
    """Asymmetric int8 parameters for a tensor observed in [lo, hi]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return TensorQuant(scale=1.0, zero_point=0)
    scale = float(np.float32((hi - lo) / 255.0))
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    return TensorQuant(scale=scale, zero_point=zero_point)


def quantize_activations(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    return np.clip(np.round(x / q.scale) + q.zero_point, -128, 127).astype(np.int8)


def quantize_weights_per_channel(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per channel along ``axis``; returns (int8 weights, float32 scales)."""
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    max_abs = np.max(np.abs(w), axis=reduce_axes)
    scales = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def quantize_bias(b: np.ndarray, input_scale: float, weight_scales: np.ndarray) -> np.ndarray:
    bias_scales = np.float64(np.float32(input_scale)) * weight_scales.astype(np.float64)
    return np.round(b.astype(np.float64) / bias_scales).astype(np.int32)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = multiplier * 2**(shift - 31)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    q = _round_half_away(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return int(q), int(shift)


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def channel_multipliers(input_scale: float, weight_scales: np.ndarray,
                        output_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) as the interpreter computes them."""
    pairs = [
        quantize_multiplier(float(np.float32(input_scale)) * float(ws) / float(np.float32(output_scale)))
        for ws in weight_scales.astype(np.float32)
    ]
    return (np.array([m for m, _ in pairs], dtype=np.int32),
            np.array([s for _, s in pairs], dtype=np.int32))


# -- integer arithmetic of the requantization, for checking the firmware's -------


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a64 * b64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    # Truncating division, as C's '/' does.
    total = ab + nudge
    result = np.where(total >= 0, total // (1 << 31), -((-total) // (1 << 31)))
    overflow = (a64 == -(1 << 31)) & (b64 == -(1 << 31))
    return np.where(overflow, (1 << 31) - 1, result).astype(np.int64)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """MultiplyByQuantizedMultiplier, broadcasting over the last axis (channels)."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    scaled = (np.asarray(acc, np.int64) * (np.int64(1) << left)).astype(np.int32)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier), right)
