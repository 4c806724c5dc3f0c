"""Run the STM32H743 image in Renode (headless) and read USART3 through pyserial.

The image is the one ``nucleo_h743`` builds (same board layer, flags and
memory map). Renode models no cycles: its DWT counts virtual time, which
advances ``1 / PerformanceInMips`` us per instruction, so with
``PerformanceInMips`` = clock MHz and a DWT at the clock frequency one DWT
"cycle" is one executed instruction. The metric is therefore *instructions*
(provenance emulator-count), like QEMU's.

One run:
1. ``job.resc`` (``render_script``): create the machine from the STM32H743
   platform, add a DWT node, match ``PerformanceInMips`` to the clock, apply
   the board yaml's extra monitor commands, put USART3 on a server socket
   terminal (telnet negotiation off), load the ELF, point VTOR at its vector
   table, enable opcode counting with the configured patterns, and hook the
   stop symbol (``board_exit``) to pause the emulation.
2. Renode starts with ``--disable-gui --plain --console`` and includes the
   script; we connect to the UART socket *before* the emulation runs, then
   send ``emulation RunFor`` and the queries (``ExecutedInstructions``, PC,
   r0, ``GetAllOpcodesCounters``) and ``quit`` on the monitor's stdin.
3. The UART is read in small chunks until Renode exits; the monitor's stdout
   is parsed (``parse_monitor_output``). Whether the stop hook fired is told
   by PC = the stop symbol; r0 there is the firmware's exit code.

Renode was not available where this was written: the script and the parser
are tested against the documented command syntax and output format, and
``tests/test_renode.py`` runs the real thing only when ``renode`` is on PATH.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import serial
from elftools.elf.elffile import ELFFile

from bench.errors import ConfigError, TargetError, ToolchainError
from bench.collect.protocol import LineSplitter, Record
from bench.targets.base import RunOutcome, connect_uart_socket

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 60.0   # Renode (Mono/.NET) takes seconds to start
INSTALL_HINT = (
    "Install Renode (https://renode.io): download a release from "
    "https://github.com/renode/renode/releases (renode-*.linux-portable.tar.gz: unpack and put "
    "its folder on PATH; or the .deb: sudo apt-get install ./renode_*.deb), or set "
    "board.target.binary (or the RENODE_BIN environment variable) to the renode executable")

# First-halfword patterns (Renode matches only the first halfword of a Thumb
# instruction, so 32-bit encodings are told apart by their first halfword
# alone: data-processing-immediate and branches share 11110..., for instance).
# Coarse on purpose; the exact mix comes from bench/timing/instruction_mix.py.
DEFAULT_OPCODE_PATTERNS = {
    "t16_shift_add_sub_mov_cmp": "00**************",
    "t16_data_processing": "010000**********",
    "t16_special_bx": "010001**********",
    "t16_ldr_literal": "01001***********",
    "t16_load_store_reg": "0101************",
    "t16_load_store_imm": "011*************",
    "t16_load_store_half_sp": "100*************",
    "t16_push_pop": "1011*10*********",
    "t16_cbz_cbnz": "1011*0*1********",
    "t16_it_hints": "10111111********",
    "t16_ldm_stm": "1100************",
    "t16_b_cond_svc": "1101************",
    "t16_b": "11100***********",
    "t32_load_store_multiple": "1110100**0******",
    "t32_load_store_dual_excl_tbb": "1110100**1******",
    "t32_dp_shifted_reg": "1110101*********",
    "t32_dp_imm_or_branch": "11110***********",
    "t32_load_store_single": "1111100*********",
    "t32_dp_reg_simd_extend": "11111010********",
    "t32_mul_mac_dual": "111110110*******",
    "t32_long_mul_div": "111110111*******",
    "t32_coprocessor_fp": "111*11**********",
}


def find_renode(target: Mapping) -> str:
    """The renode executable: board.target.binary, $RENODE_BIN, or renode on PATH."""
    for candidate in (target.get("binary"), os.environ.get("RENODE_BIN"), "renode"):
        if not candidate:
            continue
        path = shutil.which(str(candidate)) or (str(candidate) if Path(str(candidate)).is_file() else None)
        if path:
            return path
    raise ToolchainError(f"renode not found. {INSTALL_HINT}")


@dataclass
class MonitorReport:
    """What the monitor printed after the run."""

    executed_instructions: int | None = None
    pc: int | None = None
    r0: int | None = None
    opcodes: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)


_NUMBER = re.compile(r"^(?:\([^)]*\)\s*)*(0x[0-9a-fA-F]+|\d+)\s*$")
_TABLE_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|$")
_ERROR = re.compile(r"(error|no such command|could not|cannot|exception)", re.IGNORECASE)


def parse_monitor_output(text: str) -> MonitorReport:
    """Parse the monitor output of the queries ``run`` sends, in their order:
    ExecutedInstructions, PC, r0 (bare numbers, decimal or hex, maybe after a
    ``(machine)`` prompt), then GetAllOpcodesCounters' table."""
    report = MonitorReport()
    numbers: list[int] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = _NUMBER.match(line)
        if m:
            numbers.append(int(m.group(1), 0))
            continue
        row = _TABLE_ROW.match(line)
        if row:
            if row.group(1).lower() != "opcode":
                report.opcodes[row.group(1)] = int(row.group(2))
            continue
        if _ERROR.search(line) and not line.startswith("|"):
            report.errors.append(line)
    for name, value in zip(("executed_instructions", "pc", "r0"), numbers):
        setattr(report, name, value)
    return report


def _elf_facts(elf: Path, stop_symbol: str) -> dict:
    with elf.open("rb") as f:
        e = ELFFile(f)
        symtab = e.get_section_by_name(".symtab")
        syms = {s.name: s["st_value"] for s in symtab.iter_symbols()} if symtab else {}
    if stop_symbol not in syms:
        raise TargetError(f"{elf}: no symbol {stop_symbol!r} to stop on")
    return {"stop": syms[stop_symbol] & ~1, "vectors": syms.get("vector_table")}


class RenodeTarget:
    unit = "instructions"
    provenance = "emulator-count"
    metric_decimals = 0

    def __init__(self, board: Mapping):
        target = board["target"]
        self.board_name = board["name"]
        self.binary = find_renode(target)
        self.platform = target.get("platform", "@platforms/cpus/stm32h743.repl")
        self.uart = target.get("uart", "sysbus.usart3")
        self.stop_symbol = target.get("stop_symbol", "board_exit")
        self.clock_hz = int(target.get("clock_hz") or board["energy_model"]["clock_hz"])
        self.dwt_hz = int(target.get("dwt_hz") or self.clock_hz)
        if self.clock_hz % 1_000_000:
            raise ConfigError(f"board {self.board_name}: target.clock_hz must be whole MHz for PerformanceInMips")
        self.mips = self.clock_hz // 1_000_000
        self.extra_commands = list(target.get("extra_commands") or [])
        self.opcode_patterns = dict(target.get("opcode_patterns") or DEFAULT_OPCODE_PATTERNS)
        self.last_report: MonitorReport | None = None

    def counter_to_metric(self, ticks: float) -> float:
        # DWT ticks at dwt_hz of virtual time; virtual time = instructions / (mips * 1e6).
        return ticks * self.mips * 1e6 / self.dwt_hz

    # -- the script ------------------------------------------------------------

    def render_script(self, elf: Path, port: int) -> str:
        facts = _elf_facts(elf, self.stop_symbol)
        lines = [
            f":: generated by bench/deploy/renode.py for board {self.board_name}",
            'mach create "bench"',
            "using sysbus",
            f"machine LoadPlatformDescription {self.platform}",
            ":: stm32h7.repl has no DWT; the firmware's counter is DWT CYCCNT",
            f'machine LoadPlatformDescriptionFromString "dwt: Miscellaneous.DWT @ sysbus 0xE0001000 '
            f'{{ frequency: {self.dwt_hz} }}"',
            ":: one virtual microsecond = mips instructions: DWT ticks count instructions",
            f"cpu PerformanceInMips {self.mips}",
            *self.extra_commands,
            f'emulation CreateServerSocketTerminal {port} "bench_uart" false',
            f"connector Connect {self.uart} bench_uart",
            f"sysbus LoadELF @{elf}",
        ]
        if facts["vectors"] is not None:
            lines.append(f"cpu VectorTableOffset {facts['vectors']:#x}")
        lines.append("cpu EnableOpcodesCounting true")
        for name, pattern in self.opcode_patterns.items():
            lines.append(f'cpu InstallOpcodeCounterPattern "{name}" "{pattern}"')
        lines.append(f'cpu AddHook `sysbus GetSymbolAddress "{self.stop_symbol}"` '
                     '"machine.PauseAndRequestEmulationPause()"')
        return "\n".join(lines) + "\n"

    @staticmethod
    def run_commands(virtual_s: float) -> str:
        """What is sent once the UART is connected: run, then the queries, then quit."""
        h, rest = divmod(max(virtual_s, 0.001), 3600)
        m, s = divmod(rest, 60)
        return "\n".join([
            f'emulation RunFor "{int(h):02d}:{int(m):02d}:{s:09.6f}"',
            "cpu ExecutedInstructions",
            "cpu PC",
            "cpu GetRegisterUnsafe 0",
            "cpu GetAllOpcodesCounters",
            "quit",
        ]) + "\n"

    # -- running -------------------------------------------------------------------

    def run(self, elf: Path, on_record: Callable[[Record], None], timeout_s: float) -> RunOutcome:
        start = time.monotonic()
        splitter = LineSplitter()
        facts = _elf_facts(elf, self.stop_symbol)
        with tempfile.TemporaryDirectory(prefix="bench-renode-") as tmp:
            port = _free_port()
            script = Path(tmp) / "job.resc"
            script.write_text(self.render_script(elf, port))
            with _renode_session(self, script, port) as (proc, ser, monitor_out):
                # Virtual time cap: the wall timeout's worth of instructions at the configured MIPS.
                proc.stdin.write(self.run_commands(timeout_s).encode())
                proc.stdin.flush()
                status, detail = "ok", ""
                while True:
                    if time.monotonic() - start > timeout_s:
                        status, detail = "timeout", f"Renode did not finish within {timeout_s:.0f} s"
                        break
                    try:
                        data = ser.read(max(1, ser.in_waiting))
                    except (serial.SerialException, OSError):
                        data = b""
                    for record in splitter.feed(data):
                        on_record(record)
                    if not data and proc.poll() is not None:
                        # Drain a byte at a time: pyserial's socket read() drops
                        # what it had read when it meets the end of stream.
                        with contextlib.suppress(serial.SerialException, OSError):
                            while chunk := ser.read(1):
                                for record in splitter.feed(chunk):
                                    on_record(record)
                        break
                captured = monitor_out
        report = parse_monitor_output("".join(captured))
        self.last_report = report
        exit_code = None
        if status == "ok":
            if report.pc is None:
                status, detail = "crashed", "Renode printed no PC after the run: " + "; ".join(report.errors[-3:])
            elif report.pc & ~1 != facts["stop"]:
                status, detail = "timeout", (f"the emulation stopped at pc={report.pc:#x}, not at "
                                             f"{self.stop_symbol} (virtual time cap reached)")
            else:
                exit_code = report.r0
                if exit_code not in (0, None):
                    status = "crashed"
                    detail = f"firmware ended with exit code {exit_code}" + (" (fault handler)" if exit_code == 2 else "")
        log.info("renode %s: executed_instructions=%s opcodes=%s", elf.parent.name,
                 report.executed_instructions, json.dumps(report.opcodes))
        with contextlib.suppress(OSError):
            (elf.parent / "renode_stats.json").write_text(json.dumps(
                {"executed_instructions": report.executed_instructions, "opcodes": report.opcodes,
                 "provenance": "emulator-count", "note": "whole run, first-halfword patterns"}, indent=1))
        return RunOutcome(status=status, exit_code=exit_code, wall_s=time.monotonic() - start,
                          rejected_lines=splitter.rejected, detail=detail)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _renode_session(target: RenodeTarget, script: Path, port: int):
    """Start Renode on the script, connect to its UART; always ends Renode and closes the port."""
    cmd = [target.binary, "--disable-gui", "--plain", "--console", "-e", f"include @{script}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    monitor_out: list[str] = []

    def pump():
        for chunk in iter(lambda: proc.stdout.readline(), b""):
            monitor_out.append(chunk.decode(errors="replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    ser = None
    try:
        ser = connect_uart_socket(port, proc, CONNECT_TIMEOUT_S, retry_s=0.1)
        if ser is None:
            raise TargetError("Renode did not open its UART socket: " + "".join(monitor_out)[-2000:])
        yield proc, ser, monitor_out
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    finally:
        if ser is not None:
            ser.close()
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
            proc.wait(timeout=5)
        reader.join(timeout=2)
