"""NUCLEO-H743ZI specifics: tensors placed in ITCM load from flash (no board needed).

Plus the runner's adaptive repetitions that the real boards use, run in
QEMU. What every real board shares (images link, fit and boot from flash;
clock variants; the hardware smoke run) is in tests/test_nucleo_boards.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from elftools.elf.elffile import ELFFile

from bench import paths
from bench.commands import build as build_cmd

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
