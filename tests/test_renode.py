"""Renode target: script generation, monitor-output parsing, the host-side run loop.

Renode is not installable on the machines this was written on. What runs
everywhere: the generated .resc, the parser on output in Renode's documented
format, the missing-binary error, and the run loop against a *stand-in*
executable (tests/test_renode_standin.py) that speaks the same interface (include
the script, open the UART server socket, take monitor commands on stdin, print
results) but emulates nothing. The real integration test at the end runs only
when ``renode`` is on PATH.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.targets import make_target
from bench.targets import renode as renode_mod
from bench.targets.renode import RenodeTarget, parse_monitor_output
from bench.errors import ToolchainError

HERE = Path(__file__).resolve().parent
BOARD = {
    "name": "renode_h743",
    "target": {"kind": "renode", "binary": None, "clock_hz": 480_000_000, "uart": "sysbus.usart3",
               "extra_commands": ['sysbus Tag <0x58024804, 0x58024807> "PWR_CSR1" 0x2000']},
    "energy_model": {"clock_hz": 480_000_000},
}
STOP = 0x08000D00


@pytest.fixture()
def fake_elf(monkeypatch, tmp_path):
    monkeypatch.setattr(renode_mod, "_elf_facts", lambda elf, sym: {"stop": STOP, "vectors": 0x08000000})
    elf = tmp_path / "image.elf"
    elf.write_bytes(b"\x7fELF")
    return elf


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    """An executable named like renode that runs tests/test_renode_standin.py."""
    exe = tmp_path / "renode"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'test_renode_standin.py'} \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_missing_renode_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("RENODE_BIN", raising=False)
    with pytest.raises(ToolchainError, match="renode not found.*github.com/renode/renode/releases"):
        make_target(BOARD)


def test_script_sets_up_platform_dwt_uart_and_stop_hook(fake_elf, standin):
    target = RenodeTarget({**BOARD, "target": {**BOARD["target"], "binary": str(standin)}})
    script = target.render_script(fake_elf, 45678)
    lines = script.splitlines()
    assert "machine LoadPlatformDescription @platforms/cpus/stm32h743.repl" in lines
    assert any("Miscellaneous.DWT @ sysbus 0xE0001000 { frequency: 480000000 }" in ln for ln in lines)
    assert "cpu PerformanceInMips 480" in lines
    # telnet negotiation off (third argument false), UART3 connected to it
    assert 'emulation CreateServerSocketTerminal 45678 "bench_uart" false' in lines
    assert "connector Connect sysbus.usart3 bench_uart" in lines
    assert f"sysbus LoadELF @{fake_elf}" in lines
    assert "cpu VectorTableOffset 0x8000000" in lines
    assert "cpu EnableOpcodesCounting true" in lines
    assert sum(ln.startswith("cpu InstallOpcodeCounterPattern") for ln in lines) >= 10
    assert lines[-1] == ('cpu AddHook `sysbus GetSymbolAddress "board_exit"` '
                         '"machine.PauseAndRequestEmulationPause()"')
    # the PWR tag comes after the platform (it overrides the platform's PWR tag)
    assert lines.index(BOARD["target"]["extra_commands"][0]) > lines.index(
        "machine LoadPlatformDescription @platforms/cpus/stm32h743.repl")
    # DWT ticks are instructions when MIPS and DWT frequency match the clock
    assert target.counter_to_metric(1234) == 1234


def test_patterns_are_halfwords():
    for name, pattern in renode_mod.DEFAULT_OPCODE_PATTERNS.items():
        assert len(pattern) == 16 and set(pattern) <= {"0", "1", "*"}, name


def test_run_commands_run_for_then_queries():
    text = RenodeTarget.run_commands(3725.5)
    assert text.splitlines() == [
        'emulation RunFor "01:02:05.500000"', "cpu ExecutedInstructions", "cpu PC",
        "cpu GetRegisterUnsafe 0", "cpu GetAllOpcodesCounters", "quit"]


MONITOR_SAMPLE = """Renode, version 1.15.3.1234 (abcdef-202406)
(monitor) include @/tmp/job.resc
(bench) emulation RunFor "00:01:00.000000"
(bench) cpu ExecutedInstructions
1611760
(bench) cpu PC
0x8000d00
(bench) cpu GetRegisterUnsafe 0
0x0
(bench) cpu GetAllOpcodesCounters
---------------------------------------
|Opcode                    |Count     |
---------------------------------------
|t16_load_store_imm        |412345    |
|t32_mul_mac_dual          |98765     |
---------------------------------------
(bench) quit
"""


def test_parse_monitor_output():
    report = parse_monitor_output(MONITOR_SAMPLE)
    assert report.executed_instructions == 1611760
    assert report.pc == 0x8000D00 and report.r0 == 0
    assert report.opcodes == {"t16_load_store_imm": 412345, "t32_mul_mac_dual": 98765}
    assert report.errors == []


def test_parse_monitor_output_with_prompt_prefix_and_errors():
    report = parse_monitor_output("(bench) 42\n(bench) 0x10\nThere was an error executing command 'cpu X'\n")
    assert (report.executed_instructions, report.pc, report.r0) == (42, 16, None)
    assert report.errors and "error" in report.errors[0]


@pytest.mark.parametrize("mode, status, exit_code", [
    ("ok", "ok", 0), ("fault", "crashed", 2), ("stuck", "timeout", None)])
def test_run_loop_against_standin(mode, status, exit_code, fake_elf, standin, monkeypatch):
    monkeypatch.setenv("RENODE_STANDIN_MODE", mode)
    monkeypatch.setenv("RENODE_STANDIN_STOP", hex(STOP))
    target = RenodeTarget({**BOARD, "target": {**BOARD["target"], "binary": str(standin)}})
    records = []
    outcome = target.run(fake_elf, records.append, timeout_s=30)
    assert outcome.status == status, outcome.detail
    assert outcome.exit_code == exit_code
    assert [r.tag for r in records] == ["B", "C", "R", "E"]
    assert records[2].fields["id"] == "std_case"
    assert target.last_report.executed_instructions == 123456
    assert target.last_report.opcodes["t16_b"] == 77


# -- the real thing -------------------------------------------------------------

@pytest.mark.skipif(shutil.which("renode") is None and not os.environ.get("RENODE_BIN"),
                    reason="renode is not installed (not obtainable on the build machines): "
                           "install it from https://github.com/renode/renode/releases to run this")
def test_renode_h743_smoke_matches_instruction_mix(tmp_path, isolated_cache):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (run ./setup.sh)")
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", f"hydra.run.dir={run_dir}",
                           "board=renode_h743", "sweep=smoke", "op=standard", "run.report=false"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(run_dir / "results.csv")
    assert (rows["status"] == "ok").all(), rows[["case_id", "status", "detail"]]
    assert (rows["metric_unit"] == "instructions").all()
    mix = pd.read_csv(run_dir / "instruction_mix.csv").set_index("case_id")
    for r in rows.itertuples():
        # Renode's DWT count and Unicorn's count of the same ELF's timed region:
        # equal up to SysTick interrupts (a handler every 2^24 instructions).
        assert abs(r.metric - mix.loc[r.case_id, "instructions"]) <= 64 * (1 + r.metric // 2**24)
