"""Run images in QEMU (qemu-system-arm) and read the UART through pyserial.

QEMU models no cycles and no DWT: under ``-icount shift=N`` virtual time
advances 2**N ns per instruction, so the board's timer, clocked at 25 MHz
(40 ns a tick), reads instructions: instructions = ticks * 40 / 2**N, within
+-1 for N >= 7. The metric is therefore *instructions* (provenance
emulator-count), never cycles. With ``use_cycle_estimator`` the run loads the
cycle plugin (bench/timing) and each result record gets the model's
estimated cycles of its windows (``host_cycles``, ``host_instructions``:
host-side fields, not sent by the firmware). The UART is a TCP server that waits for us
(``server=on,wait=on``), so no early output is lost; semihosting exit ends
QEMU with the firmware's exit code.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Mapping

import serial

from bench.errors import BenchError, ConfigError, TargetError, ToolchainError
from bench.collect.protocol import LineSplitter, Record
from bench.targets.base import RunOutcome, connect_uart_socket

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class QemuTarget:
    unit = "instructions"
    provenance = "emulator-count"
    metric_decimals = 0  # whole instructions (the tick conversion is exact to +-1)

    def __init__(self, board: Mapping):
        target = board["target"]
        self.machine = target["machine"]
        self.shift = int(target["icount_shift"])
        if not 0 <= self.shift <= 10:  # QEMU's own limit
            raise ConfigError(f"board {board['name']}: target.icount_shift={self.shift} must be 0..10 "
                              "(QEMU rejects larger shifts; 7 or more keeps timer ticks exact to +-1 instruction)")
        self.tick_ns = float(board["counter"]["tick_ns"])
        self.binary = target.get("binary", "qemu-system-arm")
        self.estimator = None   # bench.timing.qemu_cycles.Estimator, given by the orchestrator
        if shutil.which(self.binary) is None:
            raise ToolchainError(
                f"{self.binary} not found. Install QEMU: sudo apt-get install -y "
                "--no-install-recommends qemu-system-arm (or run ./setup.sh)")

    def counter_to_metric(self, ticks: float) -> float:
        return ticks * self.tick_ns / (1 << self.shift)

    def use_cycle_estimator(self, estimator) -> None:
        """Estimate cycles of every timed window with the core's timing model (None: off).

        ``estimator`` provides ``qemu_args(elf, out)`` (the plugin's command-line
        arguments) and ``window_reader(out)`` (pairs its output with the records).
        """
        self.estimator = estimator

    def command(self, elf: Path, listen_fd: int, plugin: list[str] | None = None) -> list[str]:
        return [
            self.binary, "-M", self.machine, "-display", "none", "-monitor", "none",
            "-nodefaults", "-kernel", str(elf),
            "-icount", f"shift={self.shift},align=off,sleep=off",
            "-semihosting-config", "enable=on,target=native",
            # The UART is a server on a socket we opened and hand over: the
            # port is never free between choosing it and QEMU using it.
            "-chardev", f"socket,id=uart0,fd={listen_fd},server=on,wait=on",
            "-serial", "chardev:uart0",
            *(plugin or []),
        ]

    def run(self, elf: Path, on_record: Callable[[Record], None], timeout_s: float) -> RunOutcome:
        with tempfile.TemporaryDirectory(prefix="qemu-cycles-") as tmp:
            plugin = []
            if self.estimator is not None:
                cycles_out = Path(tmp) / "windows.txt"
                try:
                    plugin = self.estimator.qemu_args(elf, cycles_out)
                except BenchError as exc:   # an image without the counter-read symbol: counts only
                    log.warning("%s: no cycle estimate: %s", elf.parent.name, exc)
                else:
                    on_record = _with_cycle_estimates(on_record, self.estimator.window_reader(cycles_out))
            return self._run(elf, on_record, timeout_s, plugin)

    def _run(self, elf: Path, on_record: Callable[[Record], None], timeout_s: float,
             plugin: list[str]) -> RunOutcome:
        start = time.monotonic()
        splitter = LineSplitter()
        with _qemu_session(self, elf, plugin) as (proc, port_serial):
            status, detail = "ok", ""
            # Read until end of stream: QEMU closes the UART socket when it exits,
            # after everything it sent. pyserial's socket read() throws away what
            # it had read when it meets the end of stream, so read a byte at a
            # time (its in_waiting is 0 or 1): nothing buffered is ever dropped.
            while True:
                if time.monotonic() - start > timeout_s:
                    status, detail = "timeout", f"no end of run within {timeout_s:.0f} s"
                    break
                try:
                    data = port_serial.read(1)
                except (serial.SerialException, OSError):
                    break
                for record in splitter.feed(data):
                    on_record(record)
            try:
                exit_code = proc.wait(timeout=5) if status == "ok" else proc.poll()
            except subprocess.TimeoutExpired:
                exit_code = None
        if status == "ok" and exit_code not in (0, None):
            status = "crashed"
            detail = f"firmware ended with exit code {exit_code}" + (" (fault handler)" if exit_code == 2 else "")
        return RunOutcome(status=status, exit_code=exit_code, wall_s=time.monotonic() - start,
                          rejected_lines=splitter.rejected, detail=detail)


def _with_cycle_estimates(on_record: Callable[[Record], None], reader):
    """Add the plugin's per-call estimate to each result record before it is handled."""
    def handle(record: Record) -> None:
        if record.tag == "C":
            try:
                reader.on_overhead(record.int("idle_ticks"))
            except BenchError:
                reader.on_overhead()
        elif record.tag == "R":
            try:
                estimate = reader.on_case(record.int("reps"))
            except BenchError:
                estimate = None
            if estimate is not None:
                record.fields["host_cycles"] = f"{estimate.cycles:.2f}"
                record.fields["host_instructions"] = f"{estimate.instructions:.2f}"
                if estimate.parts:
                    record.fields["host_cycles_parts"] = estimate.parts_text()
        on_record(record)
    return handle


@contextlib.contextmanager
def _qemu_session(target: QemuTarget, elf: Path, plugin: list[str] | None = None):
    """Start QEMU and connect to its UART; always kills QEMU and closes the port.

    We bind and listen on a loopback port ourselves and pass the socket to
    QEMU (``-chardev socket,fd=N,server=on``). Choosing a free port and letting
    QEMU bind it later races with other runs: two QEMUs could end up with the
    same port number and a client read another image's stream.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        proc = subprocess.Popen(target.command(elf, listener.fileno(), plugin), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=[listener.fileno()])
    ser = None
    try:
        ser = connect_uart_socket(port, proc, CONNECT_TIMEOUT_S)
        if ser is None:
            _, err = _stop(proc)
            raise TargetError("QEMU failed to start: " + (err.strip() or "it did not serve its UART"))
        yield proc, ser
    finally:
        if ser is not None:
            ser.close()
        _stop(proc)


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        proc.kill()
    try:
        out, err = proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):
        return "", ""
    return (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
