"""Every real-board layer builds, links and fits, with no board attached.

NUCLEO-H743ZI, NUCLEO-L4R5ZI, NUCLEO-F446RE and NUCLEO-U575ZI-Q: the smoke
sweep of every operator is compiled and linked with arm-none-eabi-gcc and
each ELF is checked against the board yaml (boot from flash, stack and
activations where the placement says, SysTick extending the DWT counter,
hard-float ABI); every case of the default sweep is planned into images
that fit the board's memories (the one case the F446's 512 KB flash cannot
hold is refused with a clear error); clock and cache variants compile, and
a clock above the part's rating is refused at compile time. A smoke run on
each board is a hardware test (``pytest --hardware nucleo_l4r5`` ...).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from elftools.elf.elffile import ELFFile

from bench import paths
from bench.build.images import plan_images
from bench.build.settings import build_settings
from bench.cases.plan import plan_cases
from bench.commands import build as build_cmd
from bench.errors import BuildError, FirmwareTooLarge

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (run ./setup.sh)")

# board -> (highest rated core clock in MHz, defines for a slow, HSI-only, cache-off variant)
BOARDS = {
    "nucleo_h743": (480, ["-DBOARD_CORE_HZ=64000000u", "-DBOARD_HSE_HZ=0u", "-DBOARD_ICACHE=0", "-DBOARD_DCACHE=0"]),
    "nucleo_l4r5": (120, ["-DBOARD_CORE_HZ=48000000u", "-DBOARD_HSE_HZ=0u", "-DBOARD_ART=0"]),
    "nucleo_f446": (180, ["-DBOARD_CORE_HZ=84000000u", "-DBOARD_HSE_HZ=0u", "-DBOARD_ART=0"]),
    "nucleo_u575": (160, ["-DBOARD_CORE_HZ=48000000u", "-DBOARD_HSE_HZ=0u", "-DBOARD_ICACHE=0"]),
}
OPS = ("standard", "depthwise", "grouped", "pointwise", "elementwise")
EF_ARM_ABI_FLOAT_HARD = 0x400


def board_yaml(board: str) -> dict:
    return yaml.safe_load((paths.conf_dir() / "board" / f"{board}.yaml").read_text())


def regions(board: str) -> dict[str, tuple[int, int]]:
    return {name: (int(r["origin"]), int(r["origin"]) + int(r["size_kb"]) * 1024)
            for name, r in board_yaml(board)["memory"].items()}


def region_of(board: str, addr: int) -> str | None:
    return next((name for name, (lo, hi) in regions(board).items() if lo <= addr < hi), None)


def build(board: str, *overrides: str) -> list[dict]:
    cfg = build_cmd.compose([f"board={board}", "sweep=smoke", "run.jobs=1", *overrides])
    return build_cmd.build_all(cfg, out=lambda line: None)


# Every operator in one run: the four convolutions and the element-wise/pooling ones.
ALL_OPS = "op.names=[standard,depthwise,grouped,pointwise,add,mul,relu6,avgpool,maxpool]"


@needs_gcc
@pytest.mark.parametrize("board", list(BOARDS))
def test_smoke_images_link_fit_and_boot_from_flash(board, isolated_cache):
    spec = board_yaml(board)
    placement = spec["placement"]
    rows = build(board, "op=all", ALL_OPS)
    assert rows
    for row in rows:
        for region in spec["memory"]:
            assert row[f"{region}_used"] <= row[f"{region}_size"], (row["image"], region)
        with open(row["elf"], "rb") as f:
            elf = ELFFile(f)
            assert elf["e_flags"] & EF_ARM_ABI_FLOAT_HARD  # cpu_flags: -mfloat-abi=hard
            symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
            text = elf.get_section_by_name(".text")
            assert text["sh_addr"] == 0x08000000  # the boot address of every STM32 here
            sp, reset = struct.unpack("<II", text.data()[:8])
            vectors = struct.unpack("<16I", text.data()[:64])
        assert region_of(board, sp - 4) == placement["ram"]
        assert reset & 1 and region_of(board, reset & ~1) == "FLASH"
        assert vectors[15] == symbols["dwt_systick_handler"] | 1  # SysTick extends CYCCNT to 64 bits
        assert all(v & 1 and region_of(board, v & ~1) == "FLASH" for v in vectors[2:7])  # faults end the run
        assert region_of(board, symbols["bench_output"]) == placement["activations"]


@pytest.mark.parametrize("board", list(BOARDS))
def test_every_default_sweep_case_fits_the_board(board):
    """Planning only (no compile): every operator's default-sweep cases fit images of the board."""
    for op in OPS:
        cfg = build_cmd.compose([f"op={op}", f"board={board}", "sweep=default"])
        specs, settings = plan_cases(cfg), build_settings(cfg)
        if board == "nucleo_f446" and op != "elementwise":
            # The standard reference of the 8x8, 256->256, 3x3 slot has 576 KiB of
            # weights: more than the F446's whole 512 KiB of flash ...
            with pytest.raises(FirmwareTooLarge, match="std_8x8x256_o256_k3s1s needs 611 KiB in FLASH"):
                plan_images(specs, settings)
            # ... so the board has the default sweep without that slot.
            cfg = build_cmd.compose([f"op={op}", f"board={board}", "sweep=default_512k"])
            specs = plan_cases(cfg)
            assert len(specs) == len(plan_cases(build_cmd.compose([f"op={op}", "sweep=default"]))) - (
                1 if op == "standard" else 2)
        images = plan_images(specs, settings)
        assert sum(len(i) for i in images) == len(specs)


@needs_gcc
@pytest.mark.parametrize("board", list(BOARDS))
def test_slow_hsi_and_cache_off_variant_compiles(board, isolated_cache):
    defines = ",".join(f"'{d}'" for d in BOARDS[board][1])
    assert build(board, "op=depthwise", f"board.defines=[{defines}]")


@needs_gcc
@pytest.mark.parametrize("board", list(BOARDS))
def test_clock_above_the_rating_does_not_build(board, isolated_cache):
    mhz = BOARDS[board][0]
    with pytest.raises(BuildError, match=f"above {mhz} MHz"):
        build(board, "op=depthwise", f"board.defines=['-DBOARD_CORE_HZ={(mhz + 1) * 1000000}u']")


# -- on a real board ----------------------------------------------------------------

@pytest.mark.parametrize("board", [pytest.param(b, marks=pytest.mark.hardware(b)) for b in BOARDS])
def test_smoke_run_on_the_board(board, tmp_path):
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={tmp_path}", "op=depthwise",
           f"board={board}", "sweep=smoke"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "results.csv")
    assert (rows["status"] == "ok").all() and rows["output_ok"].all()
    assert (rows["metric_unit"] == "cycles").all() and (rows["provenance"] == "hardware-measured").all()
    assert (rows["metric"] > 0).all() and (rows["metric_min"] <= rows["metric_median"]).all()
    assert (rows["metric_median"] <= rows["metric_max"]).all()
    log = (tmp_path / "run.log").read_text()
    assert f"sysclk={board_yaml(board)['energy_model']['clock_hz']}" in log  # the clock the yaml assumes
    assert "dwt=ok" in log
