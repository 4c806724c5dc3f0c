"""Nordic Power Profiler Kit II over its USB serial port.

With the ``ppk2-api`` package installed, its ``PPK2_API`` sets the device up
and converts ADC readings with the calibration read from the device.
Without it, ``Ppk2Serial`` below speaks the same serial commands itself.
Facts used (from Nordic's nRF Connect Power Profiler and the ppk2-api
source, which document the protocol): single-byte opcodes (0x19 metadata,
0x11 power mode 1 = ampere meter / 2 = source meter, 0x0D regulator
voltage, 0x0C DUT power, 0x06 start / 0x07 stop), metadata as ``key: value``
lines ending with ``END``, and 100,000 samples/s of 4-byte little-endian
words: bits 0-13 ADC value, 14-16 measuring range, 24-31 the eight logic
inputs. Current = UG * (r * (GS * r + GI) + S * Vdd + I) with
r = (4 * adc - O) * (1.8 / 163840) / R, per range.

The board's window GPIO goes to one logic input (``logic_channel``, D0 by
default): a window is the run of samples where that input is high, so edges
are exact to one sample (10 us). The ppk2-api spike filter (a rolling
average after range switches) is not applied by ``Ppk2Serial``.
"""

from __future__ import annotations

import struct
import time
from typing import Mapping

from bench.power.base import PowerMonitor, PowerMonitorError, open_serial

SAMPLE_HZ = 100_000
ADC_MULT = 1.8 / 163840
CMD_START, CMD_STOP = 0x06, 0x07
CMD_DUT_POWER, CMD_REGULATOR, CMD_POWER_MODE, CMD_METADATA = 0x0C, 0x0D, 0x11, 0x19
DEFAULT_MODIFIERS = {
    "R": [1031.64, 101.65, 10.15, 0.94, 0.043],
    "GS": [1.0] * 5, "GI": [1.0] * 5, "O": [0.0] * 5, "S": [0.0] * 5, "I": [0.0] * 5, "UG": [1.0] * 5,
}


def regulator_bytes(millivolts: int) -> tuple[int, int]:
    """The two argument bytes of the regulator command for a voltage in mV (800-5000)."""
    mv = min(max(int(millivolts), 800), 5000)
    code = mv - 800 + 32
    return 3 + code // 256, code % 256


def parse_metadata(text: str) -> dict:
    """Calibration modifiers from the device's ``key: value`` metadata."""
    mods = {k: list(v) for k, v in DEFAULT_MODIFIERS.items()}
    for row in text.splitlines():
        key, sep, value = row.partition(": ")
        if not sep:
            continue
        name, idx = key[:-1], key[-1:]
        if name in mods and idx.isdigit() and int(idx) < 5:
            try:
                number = float(value)
            except ValueError:
                continue
            if name == "R" and number == 0:
                continue  # some units report a zero resistor; keep the nominal value
            mods[name][int(idx)] = number
    return mods


def decode_words(data: bytes) -> list[tuple[int, int, int]]:
    """(adc, range, logic) per complete 4-byte word."""
    out = []
    for (word,) in struct.iter_unpack("<I", data[: len(data) // 4 * 4]):
        out.append((word & 0x3FFF, min((word >> 14) & 0x7, 4), (word >> 24) & 0xFF))
    return out


class Ppk2Serial:
    """The subset of ppk2-api's PPK2_API this driver uses, spoken directly."""

    def __init__(self, port):
        self.ser = port
        self.modifiers = {k: list(v) for k, v in DEFAULT_MODIFIERS.items()}
        self.current_vdd = None

    def _write(self, *bytes_: int) -> None:
        self.ser.write(bytes(bytes_))

    def get_modifiers(self, timeout_s: float = 2.0) -> bool:
        self._write(CMD_METADATA)
        deadline = time.monotonic() + timeout_s
        text = b""
        while time.monotonic() < deadline and b"END" not in text:
            text += self.ser.read(max(1, self.ser.in_waiting))
        if b"END" not in text:
            return False
        self.modifiers = parse_metadata(text.decode(errors="replace"))
        return True

    def use_ampere_meter(self) -> None:
        self._write(CMD_POWER_MODE, 1)

    def use_source_meter(self) -> None:
        self._write(CMD_POWER_MODE, 2)

    def set_source_voltage(self, millivolts: int) -> None:
        self._write(CMD_REGULATOR, *regulator_bytes(millivolts))
        self.current_vdd = millivolts

    def toggle_DUT_power(self, state: str) -> None:  # noqa: N802 - the ppk2-api name
        self._write(CMD_DUT_POWER, 1 if state == "ON" else 0)

    def start_measuring(self) -> None:
        self._write(CMD_START)

    def stop_measuring(self) -> None:
        self._write(CMD_STOP)

    def get_adc_result(self, rng: int, adc4: float) -> float:
        m, r = self.modifiers, int(rng)
        raw = (adc4 - m["O"][r]) * (ADC_MULT / m["R"][r])
        vdd = (self.current_vdd or 0) / 1000
        return m["UG"][r] * (raw * (m["GS"][r] * raw + m["GI"][r]) + (m["S"][r] * vdd + m["I"][r]))


class PPK2(PowerMonitor):
    kind = "ppk2"

    def __init__(self, cfg: Mapping):
        cfg = {**cfg, "sample_hz": SAMPLE_HZ}
        super().__init__(cfg)
        self.mode = cfg.get("mode", "source")
        if self.mode not in ("source", "ampere"):
            raise PowerMonitorError(f"ppk2: mode must be source or ampere, not {self.mode!r}")
        self.channel = int(cfg.get("logic_channel", 0))
        if not 0 <= self.channel <= 7:
            raise PowerMonitorError(f"ppk2: logic_channel {self.channel} outside D0-D7")
        self.api = None
        self._rest = b""

    def _open_port(self):
        url = self.cfg.get("port") or _find_ppk2_port()
        return open_serial(url, 9600, "ppk2", "connect a PPK2 or set power.port")

    def _configure(self) -> None:
        try:
            from ppk2_api.ppk2_api import PPK2_API  # optional dependency
        except ImportError:
            PPK2_API = None
        if PPK2_API is not None and not self.cfg.get("force_builtin_protocol"):
            # PPK2_API opens the port by name itself: hand it over.
            name = self.port.port
            self.port.close()
            self.api = PPK2_API(name)
            self.port = self.api.ser
        else:
            self.api = Ppk2Serial(self.port)
        if not self.api.get_modifiers():
            raise PowerMonitorError("ppk2: no calibration metadata from the device (is it a PPK2?)")
        millivolts = int(round(self.supply_v * 1000))
        if self.mode == "source":
            self.api.use_source_meter()
        else:
            self.api.use_ampere_meter()
        self.api.set_source_voltage(millivolts)
        if self.mode == "source":
            self.api.toggle_DUT_power("ON")

    def _start(self) -> None:
        self._rest = b""
        self.api.start_measuring()

    def _stop(self) -> None:
        self.api.stop_measuring()

    def close(self) -> None:
        if self.api is not None and self.port is not None and self.mode == "source" and self.cfg.get("power_off_on_close"):
            try:
                self.api.toggle_DUT_power("OFF")
            except Exception:
                pass
        super().close()

    def _feed(self, data: bytes) -> None:
        data = self._rest + data
        whole = len(data) // 4 * 4
        self._rest = data[whole:]
        currents, levels = [], []
        bit = 1 << self.channel
        for adc, rng, logic in decode_words(data[:whole]):
            currents.append(self.api.get_adc_result(rng, adc * 4))
            levels.append(1 if logic & bit else 0)
        self.integrator.add_levels(currents, levels)


def _find_ppk2_port() -> str | None:
    from serial.tools import list_ports

    found = [p.device for p in list_ports.comports() if (p.product or "") == "PPK2"]
    if len(found) > 1:
        raise PowerMonitorError(f"ppk2: several PPK2s attached ({', '.join(found)}); set power.port")
    return found[0] if found else None
