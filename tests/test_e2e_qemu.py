"""End to end on QEMU: real generation, real compiler, real emulator, real serial.

Every test here builds firmware with arm-none-eabi-gcc and runs it in
qemu-system-arm; nothing is mocked.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.orchestrate import pipeline
from bench.errors import FirmwareTooLarge, ToolchainError

pytestmark = pytest.mark.qemu


def bench_run(tmp_path: Path, *overrides: str, check=True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={tmp_path}", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize("op", ["standard", "depthwise", "grouped", "pointwise"])
def test_each_op_runs_bit_exact_and_deterministic(op, tmp_path, have_qemu_toolchain, isolated_cache):
    first = tmp_path / "first"
    second = tmp_path / "second"
    bench_run(first, f"op={op}", "sweep=smoke")
    bench_run(second, f"op={op}", "sweep=smoke", "run.jobs=1")  # other image split, same counts
    a = pd.read_csv(first / "results.csv").sort_values("case_id").reset_index(drop=True)
    b = pd.read_csv(second / "results.csv").sort_values("case_id").reset_index(drop=True)
    assert (a["status"] == "ok").all() and a["output_ok"].all(), a[["case_id", "status", "detail"]]
    assert set(a["op"]) == {op, "standard"}
    assert (a["provenance"] == "emulator-count").all() and (a["metric_unit"] == "instructions").all()
    assert (a["energy_provenance"] == "model-estimate").all()
    # Instruction counts are deterministic under -icount: identical across runs.
    assert a["metric"].tolist() == b["metric"].tolist()
    assert (a["metric"] > a["macs"]).all()  # at least one instruction per MAC for these kernels
    eta = pd.read_csv(first / "eta_op.csv")
    subjects = eta[eta["op"] == op]
    assert subjects["eta_op"].notna().all()
    for name in ("report.md", "eta_op_overview.png", "energy_per_mac.png", "firmware_sizes.csv",
                 "config.resolved.yaml"):
        assert (first / name).exists(), name
    # Per-slot eta_op bars only where an operator is compared with the standard conv.
    assert (first / "eta_op_by_slot.png").exists() == (op != "standard")
    assert len(list((first / "models").glob("*.tflite"))) == len(a)


def test_multirun_writes_combined_report(tmp_path, have_qemu_toolchain, isolated_cache):
    cmd = [sys.executable, "-m", "bench", "run", "-m", "op=standard,depthwise", "sweep=smoke",
           f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.parent for p in tmp_path.rglob("results.csv"))
    assert len(jobs) == 2
    eta = pd.read_csv(tmp_path / "eta_op.csv")
    assert set(eta["op"]) == {"standard", "depthwise"}
    # The terminal gets the answer, not the internals (those are in each job's run.log).
    assert "does a MAC most cheaply" in proc.stdout and "combined report over all jobs" in proc.stdout
    assert "banner" not in proc.stdout + proc.stderr and "banner" in (jobs[0] / "run.log").read_text()


def test_counter_wrap_is_handled(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    """At icount shift 10 one instruction is 1024 ns, so the 32-bit timer wraps
    every ~168e6 instructions; a ~270e6-instruction case must still read the
    same count as at shift 7, where it does not wrap."""
    slot = "sweep.shapes=[{h: 64, c_in: 32, c_out: 32, k: 3, stride: 1}]"
    base = ("op=standard", slot, "run.report=false", "run.jobs=1")
    wrap = pipeline.run_benchmark(compose_cfg(*base, "board.target.icount_shift=10"), tmp_path / "wrap")
    ref = pipeline.run_benchmark(compose_cfg(*base), tmp_path / "ref")
    a = pd.read_csv(wrap.run_dir / "results.csv")
    b = pd.read_csv(ref.run_dir / "results.csv")
    assert a["status"].tolist() == ["ok"]
    assert a["metric"].iloc[0] > 168e6  # the timer wrapped during the case
    # +-1 per reading, plus the wrap interrupt itself (entry, handler, return:
    # a dozen instructions at most), which runs inside the timed window.
    assert abs(a["metric"].iloc[0] - b["metric"].iloc[0]) <= 2 + 12


def test_timeout_keeps_finished_cases(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache, monkeypatch):
    """A run killed by its timeout reports the hung case and keeps nothing it did not verify."""
    monkeypatch.setattr(pipeline, "TIMEOUT_INSTR_PER_S", 1e15)  # timeout = run.timeout_s only
    cfg = compose_cfg("op=standard", "sweep=smoke", "run.report=false", "run.jobs=1",
                      "run.timeout_s=0.3",
                      "sweep.shapes=[{h: 4, c_in: 4, c_out: 4, k: 1}, {h: 64, c_in: 64, c_out: 64, k: 5}]")
    summary = pipeline.run_benchmark(cfg, tmp_path)
    df = pd.read_csv(tmp_path / "results.csv").set_index("case_id")
    assert df.loc["std_4x4x4_o4_k1s1s", "status"] == "ok"
    big = df.loc["std_64x64x64_o64_k5s1s"]
    assert big["status"] == "timeout" and pd.isna(big["metric"]) and pd.isna(big["energy_uj"])
    assert summary.ok == 1 and len(summary.failed) == 1


def test_firmware_too_large_fails_before_building(compose_cfg, tmp_path, isolated_cache):
    cfg = compose_cfg("op=standard", "board.memory.FLASH.size_kb=128",
                      "sweep.shapes=[{h: 8, c_in: 256, c_out: 256, k: 3}]")
    with pytest.raises(FirmwareTooLarge, match=r"std_8x8x256_o256_k3s1s needs \d+ KiB in FLASH"):
        pipeline.run_benchmark(cfg, tmp_path)
    assert not (tmp_path / "results.csv").exists()


def test_missing_toolchain_is_a_clear_error(compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    from bench.build import images as build
    build.compiler_version.cache_clear()
    with pytest.raises(ToolchainError, match="apt-get install"):
        pipeline.run_benchmark(compose_cfg("sweep=smoke"), tmp_path / "run")
    build.compiler_version.cache_clear()


def test_cli_errors_are_one_line(tmp_path):
    bad_op = bench_run(tmp_path / "a", "op=dilated", check=False)
    assert bad_op.returncode != 0
    assert "Could not find 'op/dilated'" in bad_op.stderr and "depthwise" in bad_op.stderr
    bad_groups = bench_run(tmp_path / "b", "op=grouped", "op.groups=3", check=False)
    assert bad_groups.returncode != 0
    assert "groups=3 must divide" in bad_groups.stderr and "Traceback" not in bad_groups.stderr


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "report" in out.stdout


def test_parallel_qemu_sessions_never_cross_streams(compose_cfg, have_qemu_toolchain, isolated_cache):
    """Many QEMUs starting at once must each be read by their own client only.
    (Choosing a free port and letting QEMU bind it later let two runs share a
    port number, and one client read the other's banner.)"""
    from concurrent.futures import ThreadPoolExecutor

    from bench.build.images import build_image
    from bench.targets import make_target
    from bench.cases.generate import generate

    cfg = compose_cfg("op=standard", "sweep=smoke")
    settings = pipeline.build_settings(cfg)
    specs = pipeline.plan_cases(cfg)
    images = [build_image(f"img{i}", [generate(s, isolated_cache)], settings, isolated_cache)
              for i, s in enumerate(specs[:2])]
    target = make_target(cfg["board"])

    def run(image):
        records = []
        outcome = target.run(image.elf, records.append, timeout_s=60)
        return image, outcome, records

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(run, images * 4))
    for image, outcome, records in done:
        assert outcome.status == "ok" and not outcome.rejected_lines
        assert [r.tag for r in records] == ["B", "C", "R", "E"]
        assert records[0].fields["image"] == image.name
        assert records[2].fields["id"] == image.cases[0].spec.case_id


def test_reader_behind_qemu_exit_loses_nothing(compose_cfg, have_qemu_toolchain, isolated_cache, monkeypatch):
    """QEMU may finish and close the UART before the host has read a byte (a
    loaded machine). Everything it sent must still be read: pyserial's socket
    read() drops a partial buffer at end of stream, so a large 'drain' read lost
    whole images (seen in CI as 'the firmware printed no result')."""
    import time as _time

    import serial

    from bench.build.images import build_image
    from bench.targets import make_target
    from bench.cases.generate import generate

    cfg = compose_cfg("op=standard", "sweep=smoke")
    settings = pipeline.build_settings(cfg)
    specs = pipeline.plan_cases(cfg)
    image = build_image("img0", [generate(s, isolated_cache) for s in specs], settings, isolated_cache)
    real = serial.serial_for_url

    class LateReader:
        def __init__(self, port):
            self._port, self._first = port, True

        def read(self, n=1):
            if self._first:
                # A read that times out empty while QEMU is still starting (as
                # under load); QEMU then prints everything and exits meanwhile.
                self._first = False
                _time.sleep(1.5)
                return b""
            return self._port.read(n)

        def __getattr__(self, name):
            return getattr(self._port, name)

    monkeypatch.setattr(serial, "serial_for_url", lambda *a, **k: LateReader(real(*a, **k)))
    records = []
    outcome = make_target(cfg["board"]).run(image.elf, records.append, timeout_s=60)
    assert outcome.status == "ok" and outcome.exit_code == 0
    assert [r.tag for r in records] == ["B", "C"] + ["R"] * len(specs) + ["E"]
