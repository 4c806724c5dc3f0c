"""Run images on a real board through pyOCD and read its virtual COM port.

pyOCD's Python API does the debug side: find the probe by unique ID
(``board.target.unique_id``, or an inventory file mapping board names to
probe IDs), connect with the board's pyOCD target (``stm32h743xx`` is built
in; other parts come from an installed CMSIS pack or ``board.target.pack``,
checked before the probe is touched: ``check_target_type``), program the ELF (its load addresses, so sections copied to RAM at
reset are written to flash), reset and let it run. The ST-LINK's virtual COM
port is the serial port whose USB serial number is the probe's unique ID
(``serial.tools.list_ports``); the firmware's framed lines are read from it
exactly as from QEMU's UART (bench/collect/protocol.py).

The metric is core cycles from DWT CYCCNT (provenance hardware-measured).
When a power monitor is attached (bench/power, ``power=lpm01a|ppk2``) it
acquires during the run; each result line is held until the monitor has
seen that case's window close, and its energy is added to the record.

One board runs one image at a time: runs are serialised by a lock even when
``run.jobs`` builds images in parallel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Mapping

from bench.errors import ConfigError, TargetError, ToolchainError
from bench.collect.protocol import LineSplitter, Record
from bench.targets.base import RunOutcome

log = logging.getLogger(__name__)


class ProbeNotFound(TargetError):
    """No debug probe (with the configured unique ID) is attached."""


class ProbeAmbiguous(TargetError):
    """Several probes are attached and none was chosen."""


class ProbeBusy(TargetError):
    """The probe is open in another program (another pyOCD, STM32CubeProgrammer, OpenOCD)."""


class ProbeAccessDenied(TargetError):
    """The operating system refused access to the probe (udev rules)."""


class FlashError(TargetError):
    """Programming the image into flash failed."""


class SerialPortNotFound(TargetError):
    """No serial port belongs to the probe (its virtual COM port is missing)."""


class NoSerialOutput(TargetError):
    """The board printed no banner within the timeout, even after a second reset."""


def _pyocd():
    try:
        from pyocd.core import exceptions
        from pyocd.core.helpers import ConnectHelper
        from pyocd.flash.file_programmer import FileProgrammer
    except ImportError:
        raise ToolchainError("pyOCD is not installed: pip install pyocd") from None
    return ConnectHelper, FileProgrammer, exceptions


def _classify_open_error(exc: BaseException, unique_id: str) -> TargetError:
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "busy" in low or "errno 16" in low or "in use" in low:
        return ProbeBusy(f"probe {unique_id} is busy: another program holds it "
                         f"(close pyOCD/OpenOCD/STM32CubeProgrammer sessions) [{text}]")
    if "access" in low or "errno 13" in low or "permission" in low:
        return ProbeAccessDenied(f"no permission to open probe {unique_id}: install the udev rules for ST-LINK "
                                 f"(see docs/hardware.md) [{text}]")
    return TargetError(f"cannot connect to probe {unique_id}: {text}")


def resolve_unique_id(target_cfg: Mapping, board_name: str) -> str | None:
    """The probe ID from the board config, else from the inventory file, else None (any one probe)."""
    uid = target_cfg.get("unique_id")
    if uid:
        return str(uid)
    inventory = target_cfg.get("inventory")
    if not inventory:
        return None
    path = Path(str(inventory)).expanduser()
    if not path.is_file():
        raise ConfigError(f"probe inventory {path} does not exist")
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"probe inventory {path} is not valid yaml: {exc}") from None
    if not isinstance(data, dict) or board_name not in data:
        raise ConfigError(f"probe inventory {path} has no entry for board {board_name!r}")
    return str(data[board_name])


def check_target_type(name: str, pack: str | None) -> None:
    """Raise ConfigError, in one line, when pyOCD cannot know the target type.

    Built-in targets need nothing; others need the device's CMSIS pack,
    installed (``pyocd pack install``) or given as a file (``board.target.pack``).
    """
    from pyocd.target.builtin import BUILTIN_TARGETS

    if name.lower() in BUILTIN_TARGETS:
        return
    if pack:
        if not Path(str(pack)).expanduser().is_file():
            raise ConfigError(f"board.target.pack: no CMSIS pack file at {pack}")
        return
    from pyocd.target.pack.pack_target import ManagedPacks

    if not any(dev.part_number.lower() == name.lower() for dev in ManagedPacks.get_installed_targets()):
        raise ConfigError(f"pyOCD target {name!r} is not built in and no installed CMSIS pack provides it: "
                          f"run `pyocd pack install {name}` once (needs internet), or set "
                          f"board.target.pack=<path to the device family .pack file>")


def choose_probe(unique_id: str | None) -> str:
    """The unique ID of the one probe to use; raises ProbeNotFound / ProbeAmbiguous."""
    ConnectHelper, _, _ = _pyocd()
    probes = list(ConnectHelper.get_all_connected_probes(blocking=False, unique_id=unique_id,
                                                         print_wait_message=False))
    if unique_id:
        exact = [p for p in probes if str(p.unique_id).lower() == unique_id.lower()]
        probes = exact or probes
    if not probes:
        if unique_id:
            others = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
            seen = ", ".join(str(p.unique_id) for p in others) or "none"
            raise ProbeNotFound(f"no debug probe with unique ID {unique_id!r} (attached: {seen})")
        raise ProbeNotFound("no debug probe attached: connect the board's ST-LINK USB port "
                            "(check with: pyocd list)")
    if len(probes) > 1:
        ids = ", ".join(f"{p.unique_id} ({p.description})" for p in probes)
        raise ProbeAmbiguous(f"{len(probes)} debug probes attached and none chosen: set "
                             f"board.target.unique_id=<ID> (or an inventory file); attached: {ids}")
    return str(probes[0].unique_id)


def find_vcp(unique_id: str) -> str:
    """Device path of the probe's virtual COM port, matched by USB serial number."""
    from serial.tools import list_ports

    ports = [p for p in list_ports.comports() if (p.serial_number or "").lower() == unique_id.lower()]
    if not ports:
        raise SerialPortNotFound(f"no serial port with USB serial number {unique_id}: the ST-LINK's virtual "
                                 "COM port is missing (ST-LINK firmware without VCP?); set "
                                 "board.target.serial_port to the device")
    return sorted(p.device for p in ports)[0]


class PyOCDTarget:
    unit = "cycles"
    provenance = "hardware-measured"
    metric_decimals = 1  # per-call mean over repetitions: keep a tenth of a cycle

    def __init__(self, board: Mapping):
        _pyocd()
        t = board["target"]
        self.board_name = board["name"]
        self.target_override = str(t.get("target_override") or "stm32h743xx")
        self.pack = t.get("pack")  # a CMSIS pack file, for targets pyOCD does not build in
        self.baud = int(t.get("baud", 115200))
        self.output_timeout_s = float(t.get("output_timeout_s", 10))
        self.frequency = int(t.get("frequency_hz", 4000000))
        self.connect_mode = str(t.get("connect_mode", "under-reset"))
        self.serial_port = t.get("serial_port")
        rep = board.get("repeat") or {}
        self.timeout_scale = max(1.0, int(rep.get("max_reps", board.get("reps", 1))) / max(1, int(board.get("reps", 1))))
        self.monitor = None
        self._lock = threading.Lock()
        # Fail before any work: unknown target type, no probe, or several and none chosen.
        check_target_type(self.target_override, self.pack)
        self.unique_id = choose_probe(resolve_unique_id(t, self.board_name))

    def attach_monitor(self, monitor) -> None:
        self.monitor = monitor

    def counter_to_metric(self, ticks: float) -> float:
        return float(ticks)  # DWT CYCCNT counts core cycles

    # -- debug probe -------------------------------------------------------

    @contextlib.contextmanager
    def session(self):
        ConnectHelper, _, _ = _pyocd()
        try:
            session = ConnectHelper.session_with_chosen_probe(
                blocking=False, return_first=False, unique_id=self.unique_id, auto_open=False,
                target_override=self.target_override, frequency=self.frequency,
                connect_mode=self.connect_mode, **({"pack": str(self.pack)} if self.pack else {}))
        except Exception as exc:
            raise _classify_open_error(exc, self.unique_id) from None
        if session is None:
            raise ProbeNotFound(f"debug probe {self.unique_id} disappeared (unplugged?)")
        try:
            session.open()
        except Exception as exc:
            raise _classify_open_error(exc, self.unique_id) from None
        try:
            yield session
        finally:
            with contextlib.suppress(Exception):
                session.close()

    def program(self, session, elf: Path) -> None:
        _, FileProgrammer, exceptions = _pyocd()
        try:
            FileProgrammer(session).program(str(elf), file_format="elf")
        except exceptions.Error as exc:
            raise FlashError(f"programming {elf} into {self.target_override} failed: {exc}") from None

    # -- one image -----------------------------------------------------------

    def run(self, elf: Path, on_record: Callable[[Record], None], timeout_s: float) -> RunOutcome:
        import serial

        timeout_s *= self.timeout_scale
        with self._lock:
            start = time.monotonic()
            port_name = self.serial_port or find_vcp(self.unique_id)
            # The monitor first: a PPK2 in source mode is what powers the MCU.
            with (self.monitor or contextlib.nullcontext()), self.session() as session:
                self.program(session, elf)
                try:
                    ser = serial.serial_for_url(port_name, baudrate=self.baud, timeout=0.05)
                except serial.SerialException as exc:
                    raise TargetError(f"cannot open the board's serial port {port_name}: {exc}") from None
                with ser:
                    for attempt in (1, 2):
                        outcome = self._attempt(session, ser, on_record, timeout_s, start)
                        if outcome is not None:
                            return outcome
                        log.warning("%s: no banner within %.0f s of reset%s", self.board_name,
                                    self.output_timeout_s, "; resetting once more" if attempt == 1 else "")
        raise NoSerialOutput(
            f"board {self.board_name} printed no banner on {port_name} within {self.output_timeout_s:.0f} s, "
            f"twice (baud rate {self.baud} must match BOARD_UART_BAUD; is the VCP wired to the board's UART? see docs/hardware.md)")

    def _attempt(self, session, ser, on_record, timeout_s: float, start: float) -> RunOutcome | None:
        """One reset-and-read; None when no banner came within output_timeout_s."""
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor.start()
        ser.reset_input_buffer()
        session.target.reset()
        reset_at = time.monotonic()
        splitter = LineSplitter()
        state = _ImageState()
        seen_other = 0
        while True:
            now = time.monotonic()
            if now - start > timeout_s:
                return RunOutcome("timeout", None, now - start, splitter.rejected,
                                  f"no end of run within {timeout_s:.0f} s")
            if state.banner is None and now - reset_at > self.output_timeout_s:
                return None
            data = ser.read(max(1, ser.in_waiting))
            for record in splitter.feed(data):
                record = self._with_energy(record, state)
                on_record(record)
                if record.tag == "E":
                    return RunOutcome("ok", 0, time.monotonic() - start, splitter.rejected)
            for line in splitter.other[seen_other:]:
                if line.startswith("bench: exit"):
                    return RunOutcome("crashed", 2, time.monotonic() - start, splitter.rejected,
                                      f"firmware stopped: {line}")
                log.info("%s: %s", self.board_name, line)
            seen_other = len(splitter.other)

    def _with_energy(self, record: Record, state: "_ImageState") -> Record:
        """Track the image's state; add the monitor's window energy to result lines."""
        if record.tag == "B":
            state.banner = dict(record.fields)
            state.counter_hz = float(record.fields.get("counter_hz") or 0) or None
            return record
        if self.monitor is None or state.counter_hz is None:
            return record
        wait = self.monitor.window_wait_s
        if record.tag == "C":
            idle = int(record.fields.get("idle_ticks", 0) or 0)
            if idle > 0:
                state.offset = 1
                w = self.monitor.wait_for_window(0, wait, idle / state.counter_hz)
                if w is None:
                    log.warning("%s: the idle window never closed on the power monitor", self.board_name)
                else:
                    state.baseline_w = w.mean_power_w
            return record
        if record.tag != "R":
            return record
        try:
            k = int(record.fields["idx"]) + state.offset
            duration = int(record.fields["sum"]) / state.counter_hz
        except (KeyError, ValueError):
            return record
        w = self.monitor.wait_for_window(k, wait, duration)
        if w is None:
            log.warning("%s: no window %d on the power monitor for %s", self.board_name, k, record.fields.get("id"))
            return record
        fields = {**record.fields, "pm_energy_j": repr(w.energy_j), "pm_samples": str(w.samples),
                  "pm_sample_hz": repr(w.sample_hz)}
        if state.baseline_w is not None:
            fields["pm_baseline_w"] = repr(state.baseline_w)
        return dataclasses.replace(record, fields=fields)   # keeps repeated keys for the schema check


class _ImageState:
    def __init__(self):
        self.banner: dict | None = None
        self.counter_hz: float | None = None
        self.offset = 0
        self.baseline_w: float | None = None
