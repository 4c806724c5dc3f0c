"""Kernel libraries built for the host (x86 gcc) with AddressSanitizer and UBSan.

Fast randomized checks, no emulator: random shapes, weights, scales and zero
points become single-operator .tflite models whose golden output comes from
the TFLite reference interpreter (bench.golden); the portable ref kernels
must match it bit for bit, and so must opt compiled through its portable C
paths (the ACLE/assembly paths are checked on QEMU by test_kernels_opt.py).
Every tensor is malloc'ed at its exact size, so an out-of-bounds read or a
signed overflow in a kernel fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench import paths
from bench.cases import golden
from bench.cases import quantize
from bench.build.images import SHARED_REF_SOURCES
from bench.cases.spec import OP_CODES, CaseSpec, validate
from bench.cases.tflite_model import QuantizedConv, build_model

HOST_DIR = Path(__file__).parent / "host"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def _compile(out: Path, sources: list[Path], includes: list[Path], flags: tuple[str, ...] = ()) -> Path:
    cmd = ["gcc", "-O1", "-g", "-std=c11", "-Wall", "-Wextra", "-Werror", *SANITIZE, *flags,
           *(f"-I{i}" for i in includes), *map(str, sources), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def host_libs(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    fw = paths.firmware_dir()
    out = tmp_path_factory.mktemp("host-kernels")
    probe = out / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    if subprocess.run(["gcc", *SANITIZE, str(probe), "-o", str(out / "probe")],
                      capture_output=True).returncode != 0:
        pytest.skip("host gcc cannot link the address/undefined sanitizers")
    libs = {}
    # opt_scalar: the opt kernels of cores without the DSP extension (M0+, M3)
    for lib_name, lib, flags in (("ref", "ref", ()), ("opt", "opt", ()), ("opt_scalar", "opt", ("-DOPT_FORCE_SCALAR=1",))):
        sources = [HOST_DIR / "harness.c", *sorted((fw / "kernels" / lib).glob("*.c"))]
        if lib != "ref":  # as bench/build/images.py links them: the shared reference element-wise kernels
            sources += [fw / "kernels" / "ref" / name for name in SHARED_REF_SOURCES]
        libs[lib_name] = _compile(out / f"host_{lib_name}", sources, [fw / "include", fw / "kernels" / lib], flags)
    return libs


def test_opt_requantization_matches_requantize_h(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    fw = paths.firmware_dir()
    exe = _compile(tmp_path / "requant_check",
                   [HOST_DIR / "requant_check.c", fw / "kernels" / "opt" / "requant_table.c"],
                   [fw / "include", fw / "kernels" / "opt"])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 disagreements" in proc.stdout


# -- random cases ------------------------------------------------------------


def _random_spec(rng: np.random.Generator) -> CaseSpec:
    while True:
        op = str(rng.choice(["standard", "depthwise", "grouped", "pointwise"]))
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        k = 1 if op == "pointwise" else int(rng.choice([1, 3, 5]))
        stride = int(rng.integers(1, 3))
        padding = str(rng.choice(["same", "valid"]))
        if op == "grouped":
            groups = int(rng.choice([2, 3, 4]))
            c_in = groups * int(rng.integers(1, 6))
            c_out = groups * int(rng.integers(1, 5))
        elif op == "depthwise":
            c_in = int(rng.integers(1, 14))
            groups, c_out = c_in, c_in * int(rng.choice([1, 1, 2]))
        else:
            groups, c_in, c_out = 1, int(rng.integers(1, 20)), int(rng.integers(1, 12))
        spec = CaseSpec(op=op, h=h, w=w, c_in=c_in, c_out=c_out, k=k, stride=stride,
                        groups=groups, padding=padding, ref_k=k)
        if not validate(spec):
            return spec


def _random_quantization(spec: CaseSpec, rng: np.random.Generator) -> QuantizedConv:
    if spec.op == "depthwise":
        shape = (1, spec.k, spec.k, spec.c_out)
    else:
        shape = (spec.c_out, spec.k, spec.k, spec.c_in // spec.groups)
    filt = rng.integers(-127, 128, size=shape, dtype=np.int8)
    w_scales = rng.uniform(0.002, 0.05, size=spec.c_out).astype(np.float32)
    in_scale = float(rng.uniform(0.005, 0.1))
    terms = spec.k * spec.k * (spec.c_in // spec.groups)
    # Output scale so that a typical accumulator lands inside int8, with spread.
    out_scale = float(in_scale * np.median(w_scales) * np.sqrt(terms) * 80 * rng.uniform(0.3, 3))
    zp_in = int(rng.choice([0, -128, 127, int(rng.integers(-128, 128))]))
    return QuantizedConv(filter=filt, filter_scales=w_scales,
                         bias=rng.integers(-20000, 20000, size=spec.c_out, dtype=np.int32),
                         input_scale=in_scale, input_zero_point=zp_in,
                         output_scale=out_scale, output_zero_point=int(rng.integers(-128, 128)))


def _case_bytes(spec: CaseSpec, q: QuantizedConv, x: np.ndarray, act=(-128, 127)) -> bytes:
    mult, shift = quantize.channel_multipliers(q.input_scale, q.filter_scales, q.output_scale)
    filter_c = spec.c_out if spec.op == "depthwise" else spec.c_in // spec.groups
    header = np.array([OP_CODES[spec.op], spec.h, spec.w, spec.c_in, spec.k, spec.k, filter_c,
                       spec.out_h, spec.out_w, spec.c_out, -q.input_zero_point, q.output_zero_point,
                       spec.stride, spec.stride, spec.pad_h, spec.pad_w, act[0], act[1], 0], np.int32)
    return b"".join(a.tobytes() for a in (header, x, q.filter, q.bias.astype(np.int32),
                                           mult.astype(np.int32), shift.astype(np.int32)))


def _run_host(exe: Path, data: bytes, n_out: int) -> np.ndarray:
    proc = subprocess.run([str(exe)], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    assert len(proc.stdout) == n_out
    return np.frombuffer(proc.stdout, np.int8)


@pytest.mark.parametrize("block", range(4))
def test_random_cases_match_golden(block, host_libs):
    rng = np.random.default_rng(1000 + block)
    for _ in range(20):
        spec = _random_spec(rng)
        q = _random_quantization(spec, rng)
        x = rng.integers(-128, 128, size=(1, spec.h, spec.w, spec.c_in), dtype=np.int8)
        want = golden.reference_output(build_model(spec, q), x).reshape(-1)
        data = _case_bytes(spec, q, x[0])
        for lib, exe in host_libs.items():
            got = _run_host(exe, data, want.size)
            bad = np.flatnonzero(got != want)
            assert bad.size == 0, (f"{lib} {spec.case_id} zp_in={q.input_zero_point}: {bad.size} of "
                                   f"{want.size} outputs differ, first at {bad[0]}")


def test_opt_matches_ref_with_narrow_activation_range(host_libs):
    """Fused activations (the golden models have none): opt's general mode against ref."""
    rng = np.random.default_rng(7)
    for _ in range(12):
        spec = _random_spec(rng)
        q = _random_quantization(spec, rng)
        x = rng.integers(-128, 128, size=(spec.h, spec.w, spec.c_in), dtype=np.int8)
        act = (int(rng.integers(-128, 0)), int(rng.integers(0, 128)))
        data = _case_bytes(spec, q, x, act)
        n = spec.out_h * spec.out_w * spec.c_out
        ref = _run_host(host_libs["ref"], data, n)
        for lib in ("opt", "opt_scalar"):
            assert np.array_equal(ref, _run_host(host_libs[lib], data, n)), (lib, spec.case_id)
        assert ref.min() >= act[0] and ref.max() <= act[1]
