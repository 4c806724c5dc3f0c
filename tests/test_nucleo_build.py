"""The NUCLEO-H743ZI board layer compiles and links, and its images fit (no board needed).

Plus the runner's adaptive repetitions that the board uses, run in QEMU,
and a hardware test that runs only with ``pytest --hardware nucleo_h743``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from elftools.elf.elffile import ELFFile

from bench import paths
from bench.commands import build as build_cmd
from bench.errors import BuildError

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (run ./setup.sh)")

BOARD = yaml.safe_load((paths.conf_dir() / "board" / "nucleo_h743.yaml").read_text())
MEM = {name: (int(r["origin"]), int(r["origin"]) + int(r["size_kb"]) * 1024) for name, r in BOARD["memory"].items()}


def region_of(addr: int) -> str | None:
    return next((name for name, (lo, hi) in MEM.items() if lo <= addr < hi), None)


def build(*overrides: str) -> list[dict]:
    cfg = build_cmd.compose(["op=depthwise", "board=nucleo_h743", "sweep=smoke", *overrides])
    return build_cmd.build_all(cfg, out=lambda line: None)


@needs_gcc
def test_images_fit_and_boot_from_flash(isolated_cache):
    rows = build()
    assert rows
    for row in rows:
        for region in BOARD["memory"]:
            assert row[f"{region}_used"] <= row[f"{region}_size"], (row["image"], region)
        with open(row["elf"], "rb") as f:
            elf = ELFFile(f)
            symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
            text = elf.get_section_by_name(".text")
            assert text["sh_addr"] == 0x08000000  # the boot address
            sp, reset = struct.unpack("<II", text.data()[:8])
            vectors = struct.unpack("<16I", text.data()[:64])
        assert region_of(sp - 4) == "DTCM"                       # stack in DTCM (placement.ram)
        assert reset & 1 and region_of(reset & ~1) == "FLASH"     # Thumb reset handler in flash
        assert vectors[15] == symbols["systick_handler"] | 1      # SysTick extends the cycle counter
        assert region_of(symbols["bench_output"]) == "AXI_SRAM"   # placement.activations
        for name in ("board_counter_read", "board_window_begin", "board_window_end"):
            assert region_of(symbols[name] & ~1) == "FLASH"


@needs_gcc
def test_placement_moves_weights_to_itcm_loaded_from_flash(isolated_cache):
    rows = build("board.placement.weights=ITCM", "board.placement.activations=DTCM", "run.jobs=1")
    with open(rows[0]["elf"], "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".bench_weights")
        load = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"
                and s["p_vaddr"] <= sec["sh_addr"] < s["p_vaddr"] + s["p_memsz"]][0]
        out = elf.get_section_by_name(".bench_activations")
        assert region_of(sec["sh_addr"]) == "ITCM" and sec["sh_addr"] != 0   # never at the NULL address
        assert region_of(load["p_paddr"]) == "FLASH"  # programmed in flash, copied at reset
        assert region_of(out["sh_addr"]) == "DTCM"
    assert rows[0]["ITCM_used"] > 0


@needs_gcc
def test_clock_and_cache_variants_compile(isolated_cache):
    defines = "['-DBOARD_CORE_HZ=64000000u','-DBOARD_HSE_HZ=0u','-DBOARD_ICACHE=0','-DBOARD_DCACHE=0']"
    assert build(f"board.defines={defines}", "run.jobs=1")


@needs_gcc
def test_clock_above_the_rating_does_not_build(isolated_cache):
    with pytest.raises(BuildError, match="above 480 MHz"):
        build("board.defines=['-DBOARD_CORE_HZ=500000000u']", "run.jobs=1")


# -- the runner's adaptive repetitions, exercised in QEMU ----------------------

def qemu_records(*defines: str, reps: int) -> list:
    from bench.targets.qemu import QemuTarget

    quoted = ",".join(f"'{d}'" for d in defines)
    cfg = build_cmd.compose(["op=depthwise", "board=qemu_m7", "sweep=smoke", "run.jobs=1",
                             f"board.defines=[{quoted}]", f"board.reps={reps}"])
    rows = build_cmd.build_all(cfg, out=lambda line: None)
    records = []
    outcome = QemuTarget(cfg["board"]).run(Path(rows[0]["elf"]), records.append, 60)
    assert outcome.status == "ok", outcome
    return records


def test_adaptive_reps_stop_at_the_minimum_when_counts_do_not_vary(have_qemu_toolchain, isolated_cache):
    records = qemu_records("-DBENCH_RSE_PPM=1000", "-DBENCH_MAX_REPS=20", reps=3)
    banner = records[0].fields
    assert (banner["reps"], banner["max_reps"], banner["rse_target_ppm"]) == ("3", "20", "1000")
    results = [r.fields for r in records if r.tag == "R"]
    assert results and all(r["ok"] == "1" for r in results)
    for r in results:
        # QEMU counts (almost) the same every call: the error target is met at the minimum.
        assert r["reps"] == "3"
        assert int(r["min"]) <= int(r["med"]) <= int(r["max"])
        assert int(r["rse_ppm"]) <= 1000


def test_min_window_continues_past_max_reps(have_qemu_toolchain, isolated_cache):
    # 25 MHz counter: 400 ms is 10 M ticks, far more than 4 calls of these cases.
    records = qemu_records("-DBENCH_RSE_PPM=1000", "-DBENCH_MAX_REPS=4", "-DBENCH_MIN_WINDOW_MS=400", reps=2)
    for r in (rec.fields for rec in records if rec.tag == "R"):
        assert int(r["reps"]) > 4 and int(r["sum"]) >= 10_000_000
        assert int(r["min"]) <= int(r["med"]) <= int(r["max"])


# -- on a real board ----------------------------------------------------------------

@pytest.mark.hardware("nucleo_h743")
def test_smoke_run_on_the_board(tmp_path):
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={tmp_path}", "op=depthwise",
           "board=nucleo_h743", "sweep=smoke"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "results.csv")
    assert (rows["status"] == "ok").all() and rows["output_ok"].all()
    assert (rows["metric_unit"] == "cycles").all() and (rows["provenance"] == "hardware-measured").all()
    assert (rows["metric"] > 0).all() and (rows["metric_min"] <= rows["metric_median"]).all()
    assert (rows["metric_median"] <= rows["metric_max"]).all()
