import math

import numpy as np
import pytest

from bench.cases import quantize
from bench.cases.spec import case_for_slot
from bench.cases.generate import generate

from .int8_conv import conv_s8


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (0.25, (1 << 30, -1)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (0.0, (0, 0)),
])
def test_quantize_multiplier_exact_values(real, expected):
    assert quantize.quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_scale():
    rng = np.random.default_rng(0)
    for real in rng.uniform(1e-6, 0.99, 200):
        m, s = quantize.quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31)
        assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=1e-9)


def test_quantize_multiplier_rounds_up_to_next_power():
    # A mantissa that rounds to 2**31 must become 2**30 with shift + 1.
    m, s = quantize.quantize_multiplier(1.0 - 2.0 ** -40)
    assert (m, s) == (1 << 30, 1)


def test_rounding_divide_by_pot_rounds_half_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7, 4, -4])
    assert quantize.rounding_divide_by_pot(x, np.full(8, 1)).tolist() == [3, -3, 3, -3, 4, -4, 2, -2]


def test_srdhm_saturates_and_truncates():
    big = np.int64(-(1 << 31))
    assert quantize.saturating_rounding_doubling_high_mul(big, big) == (1 << 31) - 1
    # (3 * 2**29) * 2**30 / 2**31 = 3 * 2**28 exactly
    assert quantize.saturating_rounding_doubling_high_mul(3 << 29, 1 << 30) == 3 << 28
    # -1 * 2**30: (ab + nudge) = -2**31 + 1, and C's division truncates it to 0
    assert quantize.saturating_rounding_doubling_high_mul(-1, 1 << 30) == 0
    assert quantize.saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1


def test_activation_qparams_contains_zero_and_range():
    q = quantize.activation_qparams(0.5, 6.0)  # range widened to include 0
    assert q.zero_point == -128
    assert math.isclose(q.scale, 6.0 / 255, rel_tol=1e-6)
    q = quantize.activation_qparams(-1.0, 1.0)
    lo = (-128 - q.zero_point) * q.scale
    hi = (127 - q.zero_point) * q.scale
    assert lo <= -1.0 + q.scale and hi >= 1.0 - q.scale


def test_weights_per_channel_symmetric():
    w = np.array([[1.27, -0.5], [0.1, -2.54]], np.float32)
    q, scales = quantize.quantize_weights_per_channel(w, axis=0)
    assert q.dtype == np.int8
    assert q[0].tolist() == [127, -50]
    assert q[1].tolist() == [5, -127]
    assert scales.dtype == np.float32


@pytest.mark.parametrize("op", ["standard", "depthwise", "grouped", "pointwise"])
@pytest.mark.parametrize("slot", [
    {"hw": 7, "cin": 8, "cout": 16, "k": 3, "stride": 1},
    {"hw": 9, "cin": 12, "cout": 12, "k": 5, "stride": 2},
    {"h": 6, "w": 5, "cin": 4, "cout": 8, "k": 3, "stride": 2},
])
def test_integer_arithmetic_matches_interpreter(op, slot, tmp_path):
    """Our int8 arithmetic (the same as firmware/include/requantize.h) equals
    the TFLite reference interpreter's output on every generated case."""
    spec = case_for_slot(op, slot, groups=4, depth_multiplier=1, padding="same", seed=3)
    g = generate(spec, tmp_path)
    out = conv_s8(g.input, g.filter, g.bias, g.multiplier, g.shift, g.input_zero_point,
                  g.output_zero_point, spec.stride, spec.pad_h, spec.pad_w, spec.out_h, spec.out_w,
                  spec.groups, op == "depthwise")
    assert out.shape == g.golden.shape
    assert np.array_equal(out, g.golden)
    # The test data must exercise the arithmetic: outputs spread, few clipped.
    assert len(np.unique(g.golden)) > 20
