"""What every target provides."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import serial

from bench.collect.protocol import Record


@dataclass
class RunOutcome:
    """How one image's run ended, besides the records it produced."""

    status: str                  # "ok", "timeout", "crashed", "no-output"
    exit_code: int | None
    wall_s: float
    rejected_lines: list[str] = field(default_factory=list)
    detail: str = ""


class Target(Protocol):
    #: What the board's counter measures once converted: (unit, provenance).
    unit: str
    provenance: str
    metric_decimals: int  # digits worth keeping in the per-call figure

    def run(self, elf: Path, on_record: Callable[[Record], None], timeout_s: float) -> RunOutcome:
        """Run the image, calling on_record for each trusted line as it arrives."""

    def counter_to_metric(self, ticks: float) -> float:
        """Convert counter ticks to the target's unit (instructions or cycles)."""


def connect_uart_socket(port: int, proc: subprocess.Popen, timeout_s: float,
                        retry_s: float = 0.01) -> serial.SerialBase | None:
    """pyserial on an emulator's UART server at 127.0.0.1:port, retried until it
    answers; None when the emulator exits first or ``timeout_s`` runs out."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            return serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.05)
        except serial.SerialException:
            time.sleep(retry_s)
    return None
