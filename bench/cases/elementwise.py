"""Element-wise (ADD, MUL, RELU6) and pooling (AVERAGE_POOL_2D, MAX_POOL_2D) cases.

int8 with per-tensor quantization, TFLite semantics. The integer parameters
are computed here exactly as the interpreter's kernels Prepare them (TFLite
``kernels/add.cc``, ``mul.cc``, ``activations.cc``, ``pooling.cc``; facts and
formulas, no code taken):

- ADD: left_shift = 20; twice_max = 2 * max(s1, s2); input i multiplier =
  s_i / twice_max, output multiplier = twice_max / (2**20 * s_out), each
  through QuantizeMultiplierSmallerThanOneExp (QuantizeMultiplier; the shift is
  <= 0). Per element: x_i = (q_i - zp_i) << 20, scaled by MultiplyByQuantized-
  MultiplierSmallerThanOneExp, summed, scaled by the output multiplier, + zp_out,
  clamped (reference_integer_ops/add.h).
- MUL: one multiplier s1 * s2 / s_out (QuantizeMultiplier, computed in double
  from the float32 scales); per element (q1 - zp1) * (q2 - zp2) requantized,
  + zp_out, clamped (reference_integer_ops/mul.h).
- RELU6: multiplier s_in / s_out (divided in float32, then QuantizeMultiplier); clamp range
  [max(-128, zp_out + round(0 / s_out)), min(127, zp_out + round(6 / s_out))]
  with the division and round in float32; per element zp_out +
  MultiplyByQuantizedMultiplier(q - zp_in) clamped (TFLite's quantized ReluX).
- AVERAGE_POOL_2D: sum of the window's in-bounds taps, divided by their
  count rounding half away from zero, clamped; MAX_POOL_2D: the window's
  maximum. Input and output share scale and zero point; padding is TFLite's
  (SAME: the odd pixel after), taps in the padding are skipped
  (reference_integer_ops/pooling.h).

Test inputs are uniform int8 over the full range; the float ranges behind the
quantization parameters depend on the seed (``seed % 4``): mixed signs, all
positive (zero point -128), all negative (zero point 127), or narrow and
off-centre, so the zero points reach both extremes.
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
from bench.cases.spec import ELEMENTWISE_OPS, EXTRA_OPS, POOL_OPS, CaseSpec
from bench.errors import ConfigError
from bench.cases.tflite_model import TensorQ, build_elementwise_model

GENERATOR_VERSION = "1"
INT8_MIN, INT8_MAX = -128, 127

# The order of the int32 parameter vector, as the C structs in kernels.h lay it out.
EW_FIELDS = ("input1_offset", "input2_offset", "output_offset", "left_shift",
             "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
             "output_multiplier", "output_shift", "act_min", "act_max")
POOL_FIELDS = ("stride_h", "stride_w", "pad_h", "pad_w", "filter_h", "filter_w", "act_min", "act_max")
SOFTMAX_FIELDS = ("input_multiplier", "input_left_shift", "diff_min")  # model layers (bench/profile)

# Float ranges of the inputs per recipe (seed % 4): (lo, hi) for input 1 and input 2.
RECIPES = (
    ((-2.0, 3.0), (-0.5, 1.5)),   # mixed signs, different scales
    ((0.0, 6.0), (0.0, 2.0)),     # all positive: zero point -128
    ((-4.0, 0.0), (-1.0, 0.0)),   # all negative: zero point 127
    ((-0.3, 5.0), (-7.0, 0.2)),   # one near each extreme
)


def _seed(spec: CaseSpec) -> int:
    digest = hashlib.sha256(f"{spec.content_hash}:{spec.seed}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _tq(lo: float, hi: float) -> TensorQ:
    q = quantize.activation_qparams(lo, hi)
    return TensorQ(scale=q.scale, zero_point=q.zero_point)


def tensor_quant(spec: CaseSpec) -> tuple[list[TensorQ], TensorQ]:
    """The inputs' and the output's quantization for a case (deterministic in the seed)."""
    (a_lo, a_hi), (b_lo, b_hi) = RECIPES[spec.seed % len(RECIPES)]
    q1, q2 = _tq(a_lo, a_hi), _tq(b_lo, b_hi)
    if spec.op == "add":
        return [q1, q2], _tq(a_lo + b_lo, a_hi + b_hi)
    if spec.op == "mul":
        ends = [x * y for x in (a_lo, a_hi) for y in (b_lo, b_hi)]
        return [q1, q2], _tq(min(ends), max(ends))
    if spec.op == "relu6":
        # A wider input than [0, 6] so both clamps bite; recipe 3 gives the output
        # a zero point away from -128 (the act_min then sits above the int8 minimum).
        out = _tq(-1.0, 7.0) if spec.seed % len(RECIPES) == 3 else _tq(0.0, 6.0)
        return [_tq(min(a_lo, -1.0) * 2, a_hi + 3.0)], out
    if spec.op in POOL_OPS:
        return [q1], q1
    raise ConfigError(f"not an element-wise or pooling op: {spec.op!r}")


def _smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: QuantizeMultiplier, the shift must be <= 0."""
    if not 0.0 < real < 1.0:
        raise ConfigError(f"multiplier {real} is not in (0, 1)")
    m, s = quantize.quantize_multiplier(real)
    if s > 0:
        raise ConfigError(f"multiplier {real} has a positive shift {s}")
    return m, s


def op_params(spec: CaseSpec, inputs: list[TensorQ], output: TensorQ) -> np.ndarray:
    """The int32 parameter vector the kernel gets (EW_FIELDS or POOL_FIELDS order)."""
    f32 = np.float32
    if spec.op in POOL_OPS:
        return np.array([spec.stride, spec.stride, spec.pad_h, spec.pad_w, spec.k, spec.k,
                         INT8_MIN, INT8_MAX], np.int32)
    p = dict.fromkeys(EW_FIELDS, 0)
    p.update(input1_offset=-inputs[0].zero_point, output_offset=output.zero_point,
             act_min=INT8_MIN, act_max=INT8_MAX)
    if spec.op == "add":
        s1, s2, so = (float(f32(q.scale)) for q in (*inputs, output))
        p["input2_offset"] = -inputs[1].zero_point
        p["left_shift"] = 20
        twice_max = 2.0 * max(s1, s2)
        p["input1_multiplier"], p["input1_shift"] = _smaller_than_one_exp(s1 / twice_max)
        p["input2_multiplier"], p["input2_shift"] = _smaller_than_one_exp(s2 / twice_max)
        p["output_multiplier"], p["output_shift"] = _smaller_than_one_exp(twice_max / ((1 << 20) * so))
    elif spec.op == "mul":
        s1, s2, so = (float(f32(q.scale)) for q in (*inputs, output))
        p["input2_offset"] = -inputs[1].zero_point
        p["output_multiplier"], p["output_shift"] = quantize.quantize_multiplier(s1 * s2 / so)
    elif spec.op == "relu6":
        si, so = f32(inputs[0].scale), f32(output.scale)
        # The interpreter divides the float32 scales in float32 (checked: in double
        # the multiplier of recipe 3 is 1 ulp-of-float smaller and exact halves round down).
        p["output_multiplier"], p["output_shift"] = quantize.quantize_multiplier(float(si / so))
        zp = output.zero_point
        p["act_min"] = max(INT8_MIN, zp + int(_round_half_away_f32(f32(0.0) / so)))
        p["act_max"] = min(INT8_MAX, zp + int(_round_half_away_f32(f32(6.0) / so)))
    else:
        raise ConfigError(f"not an element-wise or pooling op: {spec.op!r}")
    return np.array([p[k] for k in EW_FIELDS], np.int32)


def _round_half_away_f32(x) -> float:
    """std::round on a float32 value."""
    x = np.float32(x)
    return float(np.sign(x) * np.floor(np.abs(x) + np.float32(0.5)))


# -- an independent numpy model of the integer arithmetic (for the tests) -------

def reference_model(spec: CaseSpec, params: np.ndarray, x1: np.ndarray,
                    x2: np.ndarray | None = None) -> np.ndarray:
    """int8 output [H_out, W_out, C] from int8 inputs [H, W, C], in numpy."""
    a = x1.astype(np.int64)
    if spec.op in ELEMENTWISE_OPS:
        p = dict(zip(EW_FIELDS, (int(v) for v in params)))
        if spec.op == "add":
            b = x2.astype(np.int64)
            s1 = quantize.requantize((a + p["input1_offset"]) * (1 << p["left_shift"]),
                                     np.int64(p["input1_multiplier"]), np.int64(p["input1_shift"]))
            s2 = quantize.requantize((b + p["input2_offset"]) * (1 << p["left_shift"]),
                                     np.int64(p["input2_multiplier"]), np.int64(p["input2_shift"]))
            raw = quantize.requantize(s1 + s2, np.int64(p["output_multiplier"]), np.int64(p["output_shift"]))
        elif spec.op == "mul":
            b = x2.astype(np.int64)
            raw = quantize.requantize((a + p["input1_offset"]) * (b + p["input2_offset"]),
                                      np.int64(p["output_multiplier"]), np.int64(p["output_shift"]))
        else:
            raw = quantize.requantize(a + p["input1_offset"], np.int64(p["output_multiplier"]),
                                      np.int64(p["output_shift"]))
        return np.clip(raw + p["output_offset"], p["act_min"], p["act_max"]).astype(np.int8)
    p = dict(zip(POOL_FIELDS, (int(v) for v in params)))
    out = np.zeros((spec.out_h, spec.out_w, spec.c_in), np.int64)
    for oy in range(spec.out_h):
        y0 = oy * p["stride_h"] - p["pad_h"]
        ys = slice(max(y0, 0), min(y0 + p["filter_h"], spec.h))
        for ox in range(spec.out_w):
            x0 = ox * p["stride_w"] - p["pad_w"]
            win = a[ys, max(x0, 0):min(x0 + p["filter_w"], spec.w), :].reshape(-1, spec.c_in)
            if spec.op == "maxpool":
                out[oy, ox] = win.max(axis=0)
            else:
                n, acc = len(win), win.sum(axis=0)
                out[oy, ox] = np.where(acc > 0, (acc + n // 2) // n, -((-acc + n // 2) // n))
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


# -- the cached case -----------------------------------------------------------

def build(spec: CaseSpec) -> dict:
    """Model, inputs, parameters and golden output of a case (not cached)."""
    if spec.op not in EXTRA_OPS:
        raise ConfigError(f"not an element-wise or pooling op: {spec.op!r}")
    inputs, output = tensor_quant(spec)
    rng = np.random.default_rng(_seed(spec))
    xs = [rng.integers(INT8_MIN, INT8_MAX + 1, size=(1, spec.h, spec.w, spec.c_in), dtype=np.int8)
          for _ in inputs]
    model = build_elementwise_model(spec, inputs, output)
    out = golden.reference_output(model, xs)
    return {"model": model, "inputs": [x[0] for x in xs], "params": op_params(spec, inputs, output),
            "golden": out[0], "input_q": inputs, "output_q": output}


def generate(spec: CaseSpec, cache: Path):
    """The case's data as a GeneratedCase, from the cache when made before."""

    folder = cache / "cases" / f"{spec.case_id}-{spec.content_hash}-ew{GENERATOR_VERSION}"
    tables = folder / "tables.npz"
    model_path = folder / "model.tflite"
    if not tables.exists():
        made = build(spec)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(model_path, made["model"])
        write_atomic(folder / "quantization.json", json.dumps({
            "inputs": [{"scale": q.scale, "zero_point": q.zero_point} for q in made["input_q"]],
            "output": {"scale": made["output_q"].scale, "zero_point": made["output_q"].zero_point},
            "interpreter": golden.interpreter_name(), "resolver": "BUILTIN_REF",
        }, indent=2))
        second = made["inputs"][1] if len(made["inputs"]) > 1 else np.zeros(0, np.int8)
        savez_atomic(tables, input=made["inputs"][0], input2=second, params=made["params"],
                     zero_points=np.array([made["input_q"][0].zero_point, made["output_q"].zero_point], np.int32),
                     golden=made["golden"])
    with np.load(tables) as data:
        empty32 = np.zeros(0, np.int32)
        return GeneratedCase(
            spec=spec, input=data["input"], filter=data["input2"], bias=empty32,
            multiplier=empty32, shift=empty32,
            input_zero_point=int(data["zero_points"][0]), output_zero_point=int(data["zero_points"][1]),
            golden=data["golden"], model_path=model_path, op_params=data["params"],
        )
