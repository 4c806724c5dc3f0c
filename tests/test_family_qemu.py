"""The Cortex-M family on QEMU: every emulated board bit-exact on every operator.

Each board (M0+, M3, M4, M7, M33, M55) builds the smoke sweep's four
convolutions and the five element-wise/pooling operators with a kernel
library (ref, opt, and cmsis_nn when CMSIS_NN_PATH names a checkout), runs them in its QEMU machine and checks every output against the
reference interpreter's golden output (the runner's comparison). The qemu_m0plus
image is also disassembled: an Armv6-M core would fault on any instruction
outside Armv6-M, and QEMU's Cortex-M3 would run it without complaint, so the
check has to be made on the image itself.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from bench.orchestrate import pipeline

pytestmark = pytest.mark.qemu

BOARDS = ["qemu_m0plus", "qemu_m3", "qemu_m4", "qemu_m7", "qemu_m33", "qemu_m55"]
CONV_OPS = ["standard", "depthwise", "grouped", "pointwise"]
ELEMENTWISE_OPS = ["add", "mul", "relu6", "avgpool", "maxpool"]
SLOTS = [{"hw": 8, "cin": 8, "cout": 16, "k": 3, "stride": 1},
         {"h": 7, "w": 9, "cin": 12, "cout": 12, "k": 5, "stride": 2}]

# Armv6-M (ARM DDI 0419, A5.2 and A5.3): every 32-bit Thumb instruction it has.
ARMV6M_32BIT = {"bl", "msr", "mrs", "dmb", "dsb", "isb"}
# 16-bit Thumb encodings that Armv7-M added (compare-and-branch, if-then).
ARMV7M_ONLY_16BIT = re.compile(r"^(cbn?z|it[te]{0,3})$")


def _run(compose_cfg, run_dir: Path, board: str, kernels: str, names: list[str], groups: int) -> pd.DataFrame:
    cfg = compose_cfg(f"board={board}", f"kernels={kernels}", "run.report=false",
                      "run.instruction_mix=false", "store.path=null")
    cfg["op"] = {"name": "family", "names": names, "groups": groups, "depth_multiplier": 1}
    cfg["sweep"] = {"name": "family", "padding": "same", "seed": 0, "shapes": SLOTS}
    pipeline.run_benchmark(cfg, run_dir)
    return pd.read_csv(run_dir / "results.csv")


def _assert_bit_exact(rows: pd.DataFrame, board: str, kernels: str) -> None:
    bad = rows[(rows["status"] != "ok") | ~rows["output_ok"].astype(bool)]
    assert bad.empty, bad[["case_id", "status", "mismatches", "detail"]].to_string()
    assert (rows["board"] == board).all() and (rows["kernels"] == kernels).all()
    assert (rows["metric"] > 0).all() and (rows["metric_unit"] == "instructions").all()


@pytest.mark.parametrize("kernels", ["ref", "opt", "cmsis_nn"])
@pytest.mark.parametrize("board", BOARDS)
def test_board_bit_exact_on_every_operator(board, kernels, compose_cfg, tmp_path, have_qemu_toolchain,
                                           isolated_cache):
    if kernels == "cmsis_nn" and not os.environ.get("CMSIS_NN_PATH"):
        pytest.skip("kernels=cmsis_nn needs a CMSIS-NN checkout: set CMSIS_NN_PATH")
    rows = _run(compose_cfg, tmp_path, board, kernels, CONV_OPS + ELEMENTWISE_OPS, groups=4)
    _assert_bit_exact(rows, board, kernels)
    assert set(rows["op"]) == set(CONV_OPS + ELEMENTWISE_OPS)


def non_armv6m_instructions(elf: Path) -> list[str]:
    """Disassembled lines of ``elf``'s code that an Armv6-M core cannot execute."""
    raw = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    bad = []
    # objdump prints the encoding as one 4-hex-digit halfword (16-bit) or two (32-bit).
    line_re = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s+(\S+)")
    for line in raw.splitlines():
        m = line_re.match(line)
        if not m or m.group(4).startswith("."):  # .word / .short: literal pool data
            continue
        mnemonic = m.group(4).split(".")[0]
        wide = m.group(3) is not None
        if (wide and mnemonic not in ARMV6M_32BIT) or (not wide and ARMV7M_ONLY_16BIT.match(mnemonic)):
            bad.append(line.strip())
    return bad


def _image_elves(rows: pd.DataFrame, cache: Path) -> list[Path]:
    elves = [cache / "images" / h / "image.elf" for h in sorted(set(rows["firmware_hash"]))]
    assert elves and all(e.exists() for e in elves)
    return elves


@pytest.mark.parametrize("kernels", ["ref", "opt"])
def test_m0plus_image_is_armv6m_only(kernels, compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    rows = _run(compose_cfg, tmp_path / "m0", "qemu_m0plus", kernels, CONV_OPS + ELEMENTWISE_OPS, groups=4)
    for elf in _image_elves(rows, isolated_cache):
        bad = non_armv6m_instructions(elf)
        assert not bad, f"{len(bad)} instructions outside Armv6-M in {elf}:\n" + "\n".join(bad[:20])


def test_armv6m_check_catches_armv7m_code(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    """The same check on the Cortex-M3 build finds Thumb-2 instructions (so it can fail)."""
    rows = _run(compose_cfg, tmp_path / "m3", "qemu_m3", "ref", ["standard"], groups=1)
    bad = [b for elf in _image_elves(rows, isolated_cache) for b in non_armv6m_instructions(elf)]
    assert len(bad) > 100
