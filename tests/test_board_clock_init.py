"""The real boards' clock, flash, power and UART set-up, run in a register-level simulator.

Each board's compiled ``board_init`` runs on Unicorn's Cortex-M core
against tests/board_regsim.py, a model of the registers that answers what
the firmware waits for (documented ready flags, not measurements). From the
logged register writes the tests decode the clock tree themselves and check
what the reference manuals require at the moment SYSCLK switches to the
PLL: the PLL's input and VCO within range, the flash wait states for the
final HCLK (RM0390 / RM0432 / RM0456 / RM0433 tables, restated below),
voltage scale and over-drive / boost mode, bus prescalers within limits,
the AHB /2 step where the manual asks for it; and afterwards the UART's
baud-rate divider and the start-up line the host logs. With the HSE
"absent" the firmware must fall back to the HSI and still reach full speed.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from bench.commands import build as build_cmd

from .board_regsim import FAMILIES, RegSim

pytest.importorskip("unicorn")
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (run ./setup.sh)")
BAUD = 115200
# The same image tests/test_nucleo_boards.py builds (shared through the session's cache).
ALL_OPS = "op.names=[standard,depthwise,grouped,pointwise,add,mul,relu6,avgpool,maxpool]"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """One smoke image per board, in the session's test cache (conftest.isolated_cache)."""
    cache = tmp_path_factory.getbasetemp() / "bench-cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE_DIR", str(cache))
    out = {}
    try:
        for board in FAMILIES:
            cfg = build_cmd.compose([f"board={board}", "op=all", ALL_OPS, "sweep=smoke", "run.jobs=1"])
            out[board] = (Path(build_cmd.build_all(cfg, out=lambda line: None)[0]["elf"]), cfg["board"])
    finally:
        mp.undo()
    return out


def run(images, board: str, hse: bool) -> tuple[RegSim, str]:
    elf, spec = images[board]
    sim = RegSim(elf, FAMILIES[board], hse_present=hse)
    banner = sim.run_board_init(spec["memory"])
    assert f"sysclk={spec['energy_model']['clock_hz']}" in banner  # the clock the energy model assumes
    assert "dwt=ok" in banner
    return sim, banner


def switch_to_pll(sim: RegSim, cfgr: int, sw_mask: int, pll_sw: int) -> dict:
    """Registers just after the write that selects the PLL as SYSCLK."""
    i = sim.write_index(cfgr, lambda v: v & sw_mask == pll_sw)
    assert i >= 0, "SYSCLK was never switched to the PLL"
    return sim.writes[i].regs


def bits(value: int, lo: int, width: int) -> int:
    return value >> lo & ((1 << width) - 1)


def wait_states(hclk: float, mhz_per_ws: float) -> int:
    return math.ceil(hclk / (mhz_per_ws * 1e6)) - 1


@needs_gcc
@pytest.mark.parametrize("hse", [True, False], ids=["hse-mco", "hse-absent"])
def test_f446_180mhz_overdrive_five_wait_states(images, hse):
    sim, banner = run(images, "nucleo_f446", hse)
    assert ("src=hse-bypass" if hse else "src=hsi(hse-bypass-failed)") in banner
    r = switch_to_pll(sim, 0x40023808, 3, 2)            # RCC_CFGR SW = 10: PLL_P
    pll = r[0x40023804]
    src = 8e6 if pll >> 22 & 1 else 16e6
    assert (pll >> 22 & 1) == hse
    m, n, p = bits(pll, 0, 6), bits(pll, 6, 9), 2 * (bits(pll, 16, 2) + 1)
    assert 1e6 <= src / m <= 2e6 and 100e6 <= src / m * n <= 432e6
    f = src / m * n / p
    assert f == 180e6 and r[0x40023800] >> 25 & 1          # PLLRDY before the switch
    acr = r[0x40023C00]
    assert bits(acr, 0, 4) >= wait_states(f, 30) == 5      # RM0390: 30 MHz per wait state at 2.7-3.6 V
    assert acr & 0x700 == 0x700                            # ART: prefetch, I-cache, D-cache
    pwr = r[0x40007000]
    assert bits(pwr, 14, 2) == 3 and pwr >> 16 & 3 == 3    # scale 1, ODEN + ODSWEN (over-drive above 168 MHz)
    cfgr = r[0x40023808]
    div = {0: 1, 4: 2, 5: 4, 6: 8, 7: 16}
    apb1, apb2 = f / div[bits(cfgr, 10, 3)], f / div[bits(cfgr, 13, 3)]
    assert bits(cfgr, 4, 4) == 0 and apb1 <= 45e6 and apb2 <= 90e6
    assert sim.regs[0x40004408] == round(apb1 / BAUD)     # USART2 on PCLK1, 16x oversampling


@needs_gcc
@pytest.mark.parametrize("hse", [True, False], ids=["hse-mco", "hse-absent"])
def test_l4r5_120mhz_boost_mode_five_wait_states(images, hse):
    sim, banner = run(images, "nucleo_l4r5", hse)
    assert ("src=hse-bypass" if hse else "src=hsi16(hse-bypass-failed)") in banner
    r = switch_to_pll(sim, 0x40021008, 3, 3)
    pll = r[0x4002100C]
    src = {2: 16e6, 3: 8e6}[bits(pll, 0, 2)]
    assert (bits(pll, 0, 2) == 3) == hse
    m, n, rdiv = bits(pll, 4, 4) + 1, bits(pll, 8, 7), 2 * (bits(pll, 25, 2) + 1)
    assert pll >> 24 & 1 and 2.66e6 <= src / m <= 16e6 and 64e6 <= src / m * n <= 344e6
    f = src / m * n / rdiv
    assert f == 120e6
    acr = r[0x40022000]
    assert bits(acr, 0, 4) >= wait_states(f, 20) == 5      # RM0432, range 1: 20 MHz per wait state
    assert acr & 0x700 == 0x700
    assert bits(r[0x40007000], 9, 2) == 1                  # range 1
    assert not r[0x40007080] >> 8 & 1                       # PWR_CR5 R1MODE = 0: boost (above 80 MHz)
    assert bits(r[0x40021008], 4, 4) == 8                   # HPRE /2 across the switch ...
    assert bits(sim.regs[0x40021008], 4, 4) == 0           # ... and back to /1 afterwards
    # Port G (LPUART1 on PG7/PG8) is only configured once VDDIO2 is declared valid.
    iosv = sim.write_index(0x40007004, lambda v: v >> 9 & 1)
    gpiog = sim.write_index(0x48001800, lambda v: True)
    assert 0 <= iosv < gpiog
    assert bits(sim.regs[0x48001800], 14, 4) == 0xA         # PG7, PG8: alternate function
    assert bits(sim.regs[0x48001800 + 0x20], 28, 4) == 8 and bits(sim.regs[0x48001800 + 0x24], 0, 4) == 8
    assert bits(sim.regs[0x40021088], 10, 2) == 2           # LPUART1SEL = HSI16
    assert sim.regs[0x4000800C] == round(256 * 16e6 / BAUD)  # LPUART: BRR = 256 f / baud


@needs_gcc
@pytest.mark.parametrize("hse", [True, False], ids=["hse-try", "hse-absent"])
def test_u575_160mhz_booster_four_wait_states(images, hse):
    sim, banner = run(images, "nucleo_u575", hse)
    assert "tzen=0" in banner and "src=hsi16" in banner     # the yaml runs PLL1 from HSI16
    r = switch_to_pll(sim, 0x46020C1C, 3, 3)               # RCC_CFGR1 SW = 11: PLL1
    cfg, div = r[0x46020C28], r[0x46020C34]
    src = {2: 16e6, 3: 8e6}[bits(cfg, 0, 2)]
    m, n, rdiv = bits(cfg, 8, 4) + 1, bits(div, 0, 9) + 1, bits(div, 24, 7) + 1
    ref = src / m
    assert cfg >> 18 & 1 and 4e6 <= ref <= 16e6 and bits(cfg, 2, 2) == (3 if ref > 8e6 else 0)
    assert 128e6 <= ref * n <= 544e6
    f = ref * n / rdiv
    assert f == 160e6
    acr = r[0x40022000]
    assert bits(acr, 0, 4) >= wait_states(f, 32) == 4      # RM0456, range 1: 32 MHz per wait state
    vosr = r[0x4602080C]
    assert bits(vosr, 16, 2) == 3 and vosr >> 18 & 1 and vosr >> 14 & 1   # range 1, BOOSTEN, BOOSTRDY
    assert bits(r[0x46020C20], 0, 4) == 8 and bits(sim.regs[0x46020C20], 0, 4) == 0  # AHB /2 step
    assert sim.regs[0x40030400] & 1                          # ICACHE enabled
    assert bits(sim.regs[0x46020CE0], 0, 2) == 2            # USART1SEL = HSI16
    assert sim.regs[0x4001380C] == round(16e6 / BAUD)
    assert bits(sim.regs[0x42020000], 18, 4) == 0xA and bits(sim.regs[0x42020024], 4, 8) == 0x77  # PA9/PA10 AF7


@needs_gcc
def test_h743_480mhz_vos0_four_wait_states(images):
    sim, banner = run(images, "nucleo_h743", True)
    assert "vos=0" in banner and "src=hse-bypass" in banner
    r = switch_to_pll(sim, 0x58024410, 7, 3)               # RCC_CFGR SW = 011: PLL1
    sel, div = r[0x58024428], r[0x58024430]
    src = {0: 64e6, 2: 8e6}[bits(sel, 0, 2)]
    m, n, p = bits(sel, 4, 6), bits(div, 0, 9) + 1, bits(div, 9, 7) + 1
    f = src / m * n / p
    assert f == 480e6
    hclk = f / (2 if bits(r[0x58024418], 0, 4) == 8 else 1)  # D1CFGR HPRE
    assert hclk == 240e6
    acr = r[0x52002000]
    assert bits(acr, 0, 4) == 4 and bits(acr, 4, 2) == 2    # RM0433 Table 17 at 240 MHz AXI: 4 WS, WRHIGHFREQ 2
    assert r[0x5800042C] & 1                                 # SYSCFG_PWRCR ODEN: VOS0 before 480 MHz


def test_the_model_refuses_a_booster_without_its_clock():
    """The U5 model is strict where the manual is: no booster clock, no BOOSTRDY."""
    from .board_regsim import U575, U5_PWR

    sim = RegSim(Path("unused.elf"), U575)
    sim.regs[U5_PWR + 0x0C] = 1 << 18                        # BOOSTEN with no PLL1 source selected
    U575.react(sim, U5_PWR + 0x0C, sim.regs[U5_PWR + 0x0C])
    assert not sim.bit(U5_PWR + 0x0C, 14)


# -- the whole image, every operator, in the same simulator ----------------------------


@needs_gcc
@pytest.mark.parametrize("kernels", ["ref", "opt"])
@pytest.mark.parametrize("board", ["nucleo_l4r5", "nucleo_f446", "nucleo_u575"])
def test_whole_image_computes_every_case_bit_exact(board, kernels, isolated_cache):
    """Reset to board_exit: the runner and kernels as compiled for the board (M4 / M33,
    hard float) produce every case's output equal to the golden one, as the firmware
    itself checks. The cycle figures in the lines are the model's counter: meaningless.
    (The H743 image cannot run here: Unicorn's Cortex-M7 has no double-precision FPU.)"""
    from bench.collect.protocol import LineSplitter

    cfg = build_cmd.compose([f"board={board}", "op=all", ALL_OPS, "sweep=smoke", "run.jobs=1",
                             f"kernels={kernels}"])
    rows = build_cmd.build_all(cfg, out=lambda line: None)
    assert len(rows) == 1
    text = RegSim(Path(rows[0]["elf"]), FAMILIES[board]).run_program(cfg["board"]["memory"])
    splitter = LineSplitter()
    records = list(splitter.feed(text.encode()))
    results = [r.fields for r in records if r.tag == "R"]
    assert not splitter.rejected and records[0].tag == "B" and records[-1].tag == "E"
    assert len(results) == rows[0]["cases"] and all(r["ok"] == "1" for r in results)
