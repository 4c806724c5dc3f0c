"""ST X-NUCLEO-LPM01A (PowerShield) over its virtual COM port.

The protocol as documented by ST (UM2269, PowerShield firmware) and used by
MLPerf Tiny's energy runner: ASCII commands ending in a newline, each
acknowledged with ``PowerShield > ack <command>`` (or ``PowerShield > error
...``), at 3,686,400 baud. The session takes host control (``htc``), sets
the supply voltage, sampling rate, unlimited acquisition time, current
output in ``ascii_dec`` (a sample such as ``6409-07`` is 6409e-07 A), a
software trigger and the D7 input as event source, then ``start``. While
acquiring, sample lines stream; an edge on D7 arrives as a line such as
``event 1 ris`` / ``event 2 fal`` (the default set-up asks for falling
edges, as MLPerf Tiny does: our window GPIO falls at the end of a window). ``stop`` ends the acquisition
("Acquisition completed"); ``hrc`` hands control back.

The exact command list is configurable (conf/power/lpm01a.yaml: setup) so
that differences between PowerShield firmware versions need no code change.
The parser accepts rising and falling event lines; with falling edges only,
each window's start comes from its length as the board measured it.

Ratings to keep in mind (read, not checked here): the PowerShield's dynamic
range is specified up to 50 mA; an STM32H743 at 480 MHz draws more, so use a
lower core clock or the PPK2 for full-speed runs (docs/hardware.md).
"""

from __future__ import annotations

import re
import time
from typing import Mapping

from bench.power.base import PowerMonitor, PowerMonitorError, open_serial

BAUD = 3686400
SAMPLE = re.compile(rb"^(\d+)([-+])(\d+)$")
EVENT = re.compile(rb"^event\s+\d+\s+(ris|fal)\b", re.IGNORECASE)
ACK = re.compile(rb"^PowerShield\s*>\s*ack\s+(.*)$")
ERROR = re.compile(rb"^PowerShield\s*>\s*(error.*)$", re.IGNORECASE)

DEFAULT_SETUP = (
    "htc",
    "volt {millivolts}m",
    "freq {freq}",
    "acqtime 0",
    "acqmode dyn",
    "funcmode {funcmode}",
    "output current",
    "format ascii_dec",
    "trigsrc sw",
    "eventsrc d7 fal",
    "pwr on",
)


def freq_text(hz: float) -> str:
    hz = int(hz)
    return f"{hz // 1000}k" if hz >= 1000 and hz % 1000 == 0 else str(hz)


def parse_sample(line: bytes) -> float | None:
    """Amperes from an ascii_dec sample line, or None if the line is not a sample."""
    m = SAMPLE.match(line)
    if not m:
        return None
    mantissa, sign, exponent = int(m.group(1)), m.group(2), int(m.group(3))
    return mantissa * 10.0 ** (-exponent if sign == b"-" else exponent)


class PowerShield(PowerMonitor):
    kind = "lpm01a"

    def __init__(self, cfg: Mapping):
        super().__init__(cfg)
        if not 1 <= self.sample_hz <= 100000:
            raise PowerMonitorError(f"lpm01a: sample_hz {self.sample_hz:g} outside 1 to 100k")
        if self.sample_hz > 5000:
            raise PowerMonitorError("lpm01a: ascii_dec streaming is limited to 5 kHz for unlimited acquisitions")
        millivolts = int(round(self.supply_v * 1000))
        if not 1800 <= millivolts <= 3300:
            raise PowerMonitorError(f"lpm01a: supply_v {self.supply_v:g} outside 1.8 to 3.3 V")
        values = {"millivolts": millivolts, "freq": freq_text(self.sample_hz),
                  "funcmode": cfg.get("funcmode", "high")}
        self.setup = [c.format(**values) for c in (cfg.get("setup") or DEFAULT_SETUP)]
        self.ack_timeout_s = float(cfg.get("ack_timeout_s", 2.0))
        self._buf = bytearray()
        self.log: list[str] = []  # lines that were neither samples, events nor acks

    def _open_port(self):
        return open_serial(self.cfg.get("port"), int(self.cfg.get("baud", BAUD)), "lpm01a",
                           "set power.port to the PowerShield's serial device (e.g. /dev/ttyACM1)")

    def command(self, cmd: str) -> None:
        """Send one command and wait for its acknowledgement."""
        self.port.write(cmd.encode() + b"\n")
        deadline = time.monotonic() + self.ack_timeout_s
        pending = bytearray()
        while time.monotonic() < deadline:
            pending += self.port.read(max(1, self.port.in_waiting))
            while b"\n" in pending:
                raw, _, rest = bytes(pending).partition(b"\n")
                pending = bytearray(rest)
                line = raw.strip(b"\r ")
                ack = ACK.match(line)
                if ack and ack.group(1).strip().decode(errors="replace") == cmd:
                    return
                err = ERROR.match(line)
                if err:
                    raise PowerMonitorError(f"lpm01a: {cmd!r} refused: {err.group(1).decode(errors='replace')}")
        raise PowerMonitorError(f"lpm01a: no acknowledgement for {cmd!r} within {self.ack_timeout_s:g} s "
                                "(wrong port or baud rate, or the PowerShield is not powered)")

    def _configure(self) -> None:
        for cmd in self.setup:
            self.command(cmd)

    def _start(self) -> None:
        self._buf.clear()
        self.command("start")

    def _stop(self) -> None:
        try:
            self.port.write(b"stop\n")
            deadline = time.monotonic() + self.ack_timeout_s
            tail = b""
            while time.monotonic() < deadline and b"Acquisition completed" not in tail:
                tail = (tail + self.port.read(max(1, self.port.in_waiting)))[-256:]
        finally:
            pass

    def close(self) -> None:
        if self.port is not None:
            try:
                if self._thread is not None:
                    self.stop()
                self.port.write(b"hrc\n")
            except Exception:  # closing must not hide the error that got us here
                pass
        super().close()

    def _feed(self, data: bytes) -> None:
        self._buf += data
        samples: list[float] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._buf[:nl]).strip(b"\r ")
            del self._buf[:nl + 1]
            if not line:
                continue
            value = parse_sample(line)
            if value is not None:
                samples.append(value)
                continue
            event = EVENT.match(line)
            if event:
                self.integrator.add_samples(samples)
                samples = []
                self.integrator.edge(rising=event.group(1).lower() == b"ris")
                continue
            if ERROR.match(line):
                self.integrator.add_samples(samples)
                raise PowerMonitorError(f"lpm01a: {line.decode(errors='replace')}")
            self.log.append(line.decode(errors="replace"))
        self.integrator.add_samples(samples)
