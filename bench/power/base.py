"""What every power monitor shares: samples and window edges in, energy per window out.

The board raises its window GPIO before the first timed call of a case and
lowers it after the last one. A monitor reports the supply current as evenly
spaced samples and tells us where the GPIO changed, either as a logic level
sampled with each current sample (PPK2) or as edge events between samples
(PowerShield). Energy of window k = supply voltage x sum of the current
samples inside it / sample rate. When an instrument reports only the closing
edge, the window's start is found from its length, which the board itself
measured (cycles / core clock, from the result line).
"""

from __future__ import annotations

import threading
import time
from array import array
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from bench.errors import TargetError


class PowerMonitorError(TargetError):
    """The power monitor is missing, busy, or said something we cannot trust."""


@dataclass(frozen=True)
class Window:
    index: int
    start_sample: int
    end_sample: int          # exclusive
    sample_hz: float
    energy_j: float

    @property
    def samples(self) -> int:
        return self.end_sample - self.start_sample

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_hz

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.samples else 0.0


class WindowIntegrator:
    """Accumulates one acquisition; thread-safe (a reader thread feeds it)."""

    def __init__(self, sample_hz: float, supply_v: float):
        if sample_hz <= 0 or supply_v <= 0:
            raise ValueError("sample rate and supply voltage must be positive")
        self.sample_hz = float(sample_hz)
        self.supply_v = float(supply_v)
        self._current = array("d")
        self._rising: list[int] = []
        self._falling: list[int] = []
        self._level: int | None = None
        self._skip_fall = False
        self._lock = threading.Lock()

    @property
    def n_samples(self) -> int:
        with self._lock:
            return len(self._current)

    def add_samples(self, currents_a: Iterable[float]) -> None:
        with self._lock:
            self._current.extend(currents_a)

    def edge(self, rising: bool) -> None:
        """An edge of the window GPIO just before the next sample."""
        with self._lock:
            (self._rising if rising else self._falling).append(len(self._current))
            self._level = 1 if rising else 0

    def add_levels(self, currents_a: Sequence[float], levels: Sequence[int]) -> None:
        """Samples with the GPIO level seen at each; edges found where it changes."""
        with self._lock:
            for current, level in zip(currents_a, levels):
                level = 1 if level else 0
                if self._level is None:
                    self._level = level
                    # Acquisition started inside a window: its end closes no whole window.
                    self._skip_fall = bool(level)
                elif level != self._level:
                    if level:
                        self._rising.append(len(self._current))
                    elif self._skip_fall:
                        self._skip_fall = False
                    else:
                        self._falling.append(len(self._current))
                    self._level = level
                self._current.append(current)

    @property
    def edges(self) -> tuple[list[int], list[int]]:
        with self._lock:
            return list(self._rising), list(self._falling)

    def completed(self) -> int:
        """Windows whose closing edge has been seen."""
        with self._lock:
            return len(self._falling)

    def window(self, k: int, duration_s: float | None = None) -> Window | None:
        """Window k (0-based, in order of closing edges); None while it is not closed."""
        with self._lock:
            falling = self._falling
            if k >= len(falling):
                return None
            end = falling[k]
            starts = [r for r in self._rising if r <= end]
            previous_end = falling[k - 1] if k > 0 else -1
            starts = [r for r in starts if r >= previous_end]
            if starts:
                start = starts[-1]
            elif duration_s is not None:
                start = max(0, end - int(round(duration_s * self.sample_hz)))
            else:
                return None
            data = np.frombuffer(self._current, dtype=np.float64)[start:end]
            energy = float(data.sum()) * self.supply_v / self.sample_hz
        return Window(k, start, end, self.sample_hz, energy)

    def mean_power_w(self, start: int, end: int) -> float:
        with self._lock:
            data = np.frombuffer(self._current, dtype=np.float64)[start:end]
            return float(data.mean()) * self.supply_v if len(data) else 0.0


class PowerMonitor:
    """Base of the drivers: a serial port, a reader thread, an integrator.

    Drivers implement ``_open_port``, ``_configure``, ``_start``, ``_stop`` and
    ``_feed(data)`` (parse bytes from the instrument into the integrator).
    Use as a context manager: the port is released whatever happens.
    """

    kind = "base"

    def __init__(self, cfg: Mapping):
        self.cfg = dict(cfg)
        self.supply_v = float(cfg.get("supply_v", 3.3))
        self.sample_hz = float(cfg.get("sample_hz", 1000))
        self.baseline_ms = int(cfg.get("baseline_ms", 0) or 0)  # the firmware's idle window (window 0)
        self.window_wait_s = float(cfg.get("window_wait_s", 2.0))
        self.port = None
        self.integrator: WindowIntegrator | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._reader_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> "PowerMonitor":
        self.port = self._open_port()
        try:
            self._configure()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.stop()
        if self.port is not None:
            try:
                self.port.close()
            finally:
                self.port = None

    def __enter__(self) -> "PowerMonitor":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start a continuous acquisition (a fresh integrator) and the reader thread."""
        if self.port is None:
            raise PowerMonitorError(f"{self.kind}: start() before open()")
        self.integrator = WindowIntegrator(self.sample_hz, self.supply_v)
        self._stopping.clear()
        self._reader_error = None
        self._start()
        self._thread = threading.Thread(target=self._reader, name=f"{self.kind}-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout=5)
        self._thread = None
        self._stop()

    def _reader(self) -> None:
        try:
            while not self._stopping.is_set():
                data = self.port.read(max(1, self.port.in_waiting))
                if data:
                    self._feed(data)
        except BaseException as exc:  # reported by check(); a reader thread must not die silently
            self._reader_error = exc

    def check(self) -> None:
        if self._reader_error is not None:
            raise PowerMonitorError(f"{self.kind}: reading samples failed: {self._reader_error}")

    # -- results -----------------------------------------------------------

    def wait_for_window(self, k: int, timeout_s: float, duration_s: float | None = None) -> Window | None:
        """Window k once its closing edge has arrived (None after timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check()
            if self.integrator is not None:
                w = self.integrator.window(k, duration_s)
                if w is not None:
                    return w
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    # -- driver hooks --------------------------------------------------------

    def _open_port(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _configure(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _feed(self, data: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def open_serial(url: str | None, baud: int, what: str, hint: str):
    """pyserial port by device path or URL, with errors a user can act on."""
    import serial

    if not url:
        raise PowerMonitorError(f"{what}: no serial port configured; {hint}")
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=0.05)
    except serial.SerialException as exc:
        text = str(exc)
        if "busy" in text.lower() or "Errno 16" in text:
            raise PowerMonitorError(f"{what}: {url} is in use by another program (close it and retry)") from None
        if "Errno 13" in text or "ermission" in text:
            raise PowerMonitorError(f"{what}: no permission to open {url} (add yourself to the dialout group)") from None
        raise PowerMonitorError(f"{what}: cannot open {url}: {text}") from None
