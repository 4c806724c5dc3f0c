"""Kernel code placement: the kernel library's code can be moved out of flash
(ITCM on the STM32H743, SRAM on mps2-an500), copied at reset and run there."""

import pandas as pd
import pytest
from elftools.elf.elffile import ELFFile

from bench.orchestrate import pipeline
from bench.build.images import build_image
from bench.cases.generate import generate


def symbol_address(elf, name):
    with open(elf, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name:
                return sym["st_value"] & ~1
    raise KeyError(name)


@pytest.mark.qemu
def test_kernel_code_runs_from_sram_on_qemu(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    cfg = compose_cfg("op=depthwise", "sweep=smoke", "board.placement.kernel_code=SRAM",
                      "run.report=false", "run.instruction_mix=false")
    pipeline.run_benchmark(cfg, tmp_path)
    df = pd.read_csv(tmp_path / "results.csv")
    assert (df["status"] == "ok").all()
    elf = isolated_cache / "images" / df["firmware_hash"].iloc[0] / "image.elf"
    assert 0x20000000 <= symbol_address(elf, "ref_depthwise_conv_s8") < 0x20400000
    assert symbol_address(elf, "main") < 0x00400000  # the rest stays in SSRAM1


def test_nucleo_kernel_code_in_itcm_links(compose_cfg, have_qemu_toolchain, isolated_cache):
    cfg = compose_cfg("board=nucleo_h743", "op=standard", "sweep=smoke",
                      "board.placement.kernel_code=ITCM")
    settings = pipeline.build_settings(cfg)
    spec = pipeline.plan_cases(cfg)[0]
    image = build_image("img0", [generate(spec, isolated_cache)], settings, isolated_cache)
    assert 0x400 <= symbol_address(image.elf, "ref_conv_s8") < 0x10000
    assert 0x08000000 <= symbol_address(image.elf, "main") < 0x08200000
    assert image.sizes["ITCM_used"] > 0
