"""The opt kernel library on QEMU: bit-exact with the TFLite reference across edge cases.

Every case is generated for real (torch, TFLite quantization, the reference
interpreter's golden output), built with arm-none-eabi-gcc for kernels=opt
and checked on the emulated Cortex-M7 by the runner's golden comparison.

The shapes hit what the optimised paths special-case: channel counts that are
odd or not a multiple of 4 (SIMD tails, an odd output channel, SMLAD blocks
that straddle taps), padding on every side, stride 2, 1x1 maps, 5x5 kernels
larger than the map, an odd number of output pixels (the lone last pixel of
the two-pixel tile), K with and without a remainder mod 8, depth multiplier 2.

The quantization variants change the generated model (and so its golden
output) to reach the other arithmetic paths: input zero points 0, -128 and
127 (offsets 0, +128, -127), per-channel multipliers around 1.0 (no right
shift or a left shift: the general requantization mode; most outputs
saturate) and multipliers near 2^-22 (right shifts above 20: the exact
fallback; the outputs are nearly constant, so this checks the dispatch more
than the arithmetic, which tests/host covers on random values).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cases import generate as generate_mod
from bench.cases import golden
from bench.orchestrate import pipeline
from bench.cases import quantize
from bench.cases.generated import GeneratedCase
from bench.cases.tflite_model import build_model

pytestmark = pytest.mark.qemu

EDGE_SLOTS = [
    {"hw": 1, "cin": 5, "cout": 7, "k": 3, "stride": 1},     # 1x1 map, padding on every side
    {"h": 7, "w": 6, "cin": 6, "cout": 10, "k": 5, "stride": 2},  # 5x5, stride 2, C % 4 == 2
    {"h": 5, "w": 9, "cin": 12, "cout": 9, "k": 3, "stride": 2},  # odd C_out, stride 2
    {"hw": 6, "cin": 3, "cout": 8, "k": 3, "stride": 1},     # C_in 3: blocks straddle taps
    {"hw": 5, "cin": 16, "cout": 16, "k": 3, "stride": 1},   # K % 8 == 0, 25 pixels (lone last)
    {"hw": 4, "cin": 40, "cout": 33, "k": 1, "stride": 1},   # 1x1 slot, odd C_out
    {"hw": 3, "cin": 7, "cout": 5, "k": 5, "stride": 1},     # kernel larger than the map
]
GROUPED_SLOTS = [  # groups = 3
    {"hw": 5, "cin": 9, "cout": 6, "k": 3, "stride": 1},     # 3 channels per group
    {"hw": 4, "cin": 3, "cout": 6, "k": 3, "stride": 1},     # 1 channel per group (tap_c == C_in)
    {"h": 6, "w": 7, "cin": 24, "cout": 12, "k": 3, "stride": 2},  # 8 per group
    {"hw": 4, "cin": 12, "cout": 15, "k": 5, "stride": 1},   # 4 per group, 5 outputs per group
]
MERGED_GROUP_SLOTS = [  # groups = 4, 1 or 2 channels per group: merged into 4-channel groups
    {"hw": 5, "cin": 8, "cout": 12, "k": 3, "stride": 1},    # 2 per group, 3 outputs per group
    {"hw": 4, "cin": 4, "cout": 8, "k": 3, "stride": 2},     # 1 per group: one merged group
    {"h": 5, "w": 6, "cin": 8, "cout": 4, "k": 1, "stride": 1},  # 1x1, 1 output per group
]
VARIANT_SLOTS = [EDGE_SLOTS[1], EDGE_SLOTS[4], EDGE_SLOTS[5]]


def _input_zp(zp):
    return lambda q: {"input_zero_point": zp}


def _real_multiplier(target):
    """Output scale that puts the median per-channel multiplier at `target`."""
    def change(q):
        median_w = float(np.median(q.filter_scales))
        return {"output_scale": float(q.input_scale * median_w / target)}
    return change


# sweep seed -> how the generated model is changed (seed 0: as generated)
VARIANTS = {
    1: _input_zp(0),
    2: _input_zp(-128),
    3: _input_zp(127),
    4: _real_multiplier(1.0),      # shift 0 or +1 by channel: general mode
    5: _real_multiplier(2.0**-22),  # right shifts above 20: exact fallback
}


def _generate_variant(spec, cache: Path) -> GeneratedCase:
    """generate(), but with the seed's quantization variant applied to the model."""
    if spec.seed not in VARIANTS:
        return generate_mod.generate(spec, cache)
    q, x = generate_mod.quantize_case(spec)
    q = dataclasses.replace(q, **VARIANTS[spec.seed](q))
    model = build_model(spec, q)
    out = golden.reference_output(model, x)
    multiplier, shift = quantize.channel_multipliers(q.input_scale, q.filter_scales, q.output_scale)
    folder = cache / "kernel-variants" / f"{spec.case_id}-{spec.content_hash}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(model)
    return GeneratedCase(spec=spec, input=x[0], filter=q.filter, bias=q.bias, multiplier=multiplier,
                         shift=shift, input_zero_point=q.input_zero_point,
                         output_zero_point=q.output_zero_point, golden=out[0],
                         model_path=folder / "model.tflite")


def _run(compose_cfg, run_dir: Path, names, slots, *, groups=4, depth_multiplier=1, seed=0,
         padding="same", kernels="opt") -> pd.DataFrame:
    cfg = compose_cfg("board=qemu_m7", f"kernels={kernels}", "run.report=false")
    cfg["op"] = {"name": "edge", "names": list(names), "groups": groups,
                 "depth_multiplier": depth_multiplier}
    cfg["sweep"] = {"name": "edge", "padding": padding, "seed": seed, "shapes": slots}
    summary = pipeline.run_benchmark(cfg, run_dir)
    results = pd.read_csv(run_dir / "results.csv")
    assert summary.cases == len(results)
    return results


def _assert_bit_exact(results: pd.DataFrame, kernels="opt") -> None:
    bad = results[(results["status"] != "ok") | ~results["output_ok"].astype(bool)]
    assert bad.empty, bad[["case_id", "status", "mismatches", "detail"]].to_string()
    assert (results["kernels"] == kernels).all()
    assert results["kernels_version"].notna().all()


@pytest.fixture()
def variant_generation(monkeypatch):
    monkeypatch.setattr(pipeline, "generate", _generate_variant)


def test_opt_bit_exact_on_edge_shapes(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    results = _run(compose_cfg, tmp_path / "same", ["standard", "depthwise", "pointwise"], EDGE_SLOTS)
    _assert_bit_exact(results)
    assert set(results["op"]) == {"standard", "depthwise", "pointwise"}
    valid = _run(compose_cfg, tmp_path / "valid", ["standard", "depthwise"],
                 [s for s in EDGE_SLOTS if min(s.get("hw", 99), s.get("h", 99), s.get("w", 99)) >= s["k"]],
                 padding="valid")
    _assert_bit_exact(valid)


def test_opt_grouped_and_depth_multiplier(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    grouped = _run(compose_cfg, tmp_path / "grouped", ["grouped"], GROUPED_SLOTS, groups=3)
    _assert_bit_exact(grouped)
    assert (grouped[grouped["op"] == "grouped"]["groups"] == 3).all()
    merged = _run(compose_cfg, tmp_path / "merged", ["grouped"], MERGED_GROUP_SLOTS, groups=4)
    _assert_bit_exact(merged)
    multiplier = _run(compose_cfg, tmp_path / "dm2", ["depthwise"], EDGE_SLOTS[1:3], depth_multiplier=2)
    _assert_bit_exact(multiplier)
    dw = multiplier[multiplier["op"] == "depthwise"]
    assert (dw["c_out"] == 2 * dw["c_in"]).all()


@pytest.mark.parametrize("seed", sorted(VARIANTS))
def test_opt_bit_exact_under_quantization_variants(seed, compose_cfg, tmp_path, have_qemu_toolchain,
                                                   isolated_cache, variant_generation):
    results = _run(compose_cfg, tmp_path, ["standard", "depthwise", "pointwise"], VARIANT_SLOTS,
                   seed=seed)
    _assert_bit_exact(results)
    grouped = _run(compose_cfg, tmp_path / "grouped", ["grouped"], GROUPED_SLOTS[2:3], groups=3, seed=seed)
    _assert_bit_exact(grouped)
