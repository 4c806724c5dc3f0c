"""The pyOCD target's probe discovery and error paths, with no probe attached.

pyOCD's ConnectHelper and FileProgrammer and pyserial's list_ports are
monkeypatched; the board's serial side is a pseudo-terminal whose peer, when
the fake session resets the "board", plays back framed protocol lines (a
protocol simulator: the numbers in them are made up for the test and never
reach a results file).
"""

from __future__ import annotations

import os
import threading
import tty
import zlib

import pytest
from pyocd.core import exceptions as pyocd_exceptions
from pyocd.core.helpers import ConnectHelper
from pyocd.flash import file_programmer

from bench.targets import make_target
from bench.targets import pyocd_target as pt
from bench.errors import BenchError, ConfigError
from bench.power import Window
from bench.collect.protocol import Record

UID = "0670FF383930434B43093422"


def framed(tag: str, **fields) -> bytes:
    body = "#" + tag + "".join(f" {k}={v}" for k, v in fields.items())
    return f"{body}*{zlib.crc32(body.encode()):08x}\r\n".encode()


class FakeProbe:
    def __init__(self, uid, description="STM32 STLink"):
        self.unique_id = uid
        self.description = description


class BoardPty:
    """The board's VCP: plays `lines` each time the fake session resets the board."""

    def __init__(self, lines: list[bytes]):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.lines = lines
        self.resets = 0

    def reset(self):
        self.resets += 1
        if self.lines:
            threading.Timer(0.05, lambda: os.write(self.master, b"".join(self.lines))).start()

    def close(self):
        os.close(self.master)
        os.close(self.slave)


class FakeSession:
    def __init__(self, board: BoardPty | None, open_error: Exception | None = None):
        self.board = board
        self.open_error = open_error
        self.opened = self.closed = False
        self.target = self

    def open(self):
        if self.open_error:
            raise self.open_error
        self.opened = True

    def close(self):
        self.closed = True

    def reset(self):
        self.board.reset()


class Port:
    def __init__(self, device, serial_number):
        self.device, self.serial_number = device, serial_number


@pytest.fixture()
def fake_pyocd(monkeypatch):
    """Install fakes; returns a namespace the test fills (probes, session, ports, flash error)."""
    state = type("State", (), {})()
    state.probes = [FakeProbe(UID)]
    state.session = None
    state.ports = []
    state.flash_error = None
    state.programmed = []
    state.session_kwargs = None

    def get_all(blocking=True, unique_id=None, print_wait_message=True):
        assert blocking is False  # never wait for a probe: fail with a message instead
        return [p for p in state.probes if unique_id is None or unique_id.lower() in p.unique_id.lower()]

    def session_with_chosen_probe(**kwargs):
        state.session_kwargs = kwargs
        return state.session

    class Programmer:
        def __init__(self, session):
            self.session = session

        def program(self, path, file_format=None):
            if state.flash_error:
                raise state.flash_error
            state.programmed.append((path, file_format))

    monkeypatch.setattr(ConnectHelper, "get_all_connected_probes", staticmethod(get_all))
    monkeypatch.setattr(ConnectHelper, "session_with_chosen_probe", staticmethod(session_with_chosen_probe))
    monkeypatch.setattr(file_programmer, "FileProgrammer", Programmer)
    import serial.tools.list_ports
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: state.ports)
    return state


def board_cfg(**target):
    return {"name": "nucleo_h743", "reps": 5, "repeat": {"target_rse": 0.01, "max_reps": 10},
            "target": {"kind": "pyocd", "target_override": "stm32h743xx", "unique_id": None,
                       "output_timeout_s": 0.4, "baud": 115200, **target}}


def test_one_probe_is_chosen_and_kind_is_registered(fake_pyocd):
    t = make_target(board_cfg())
    assert isinstance(t, pt.PyOCDTarget)
    assert t.unique_id == UID and t.unit == "cycles" and t.provenance == "hardware-measured"
    assert t.counter_to_metric(123) == 123.0


def test_no_probe(fake_pyocd):
    fake_pyocd.probes = []
    with pytest.raises(pt.ProbeNotFound, match="no debug probe attached"):
        make_target(board_cfg())


def test_unknown_unique_id_lists_the_attached_probes(fake_pyocd):
    with pytest.raises(pt.ProbeNotFound, match=f"unique ID 'ABC'.*{UID}"):
        make_target(board_cfg(unique_id="ABC"))


def test_several_probes_and_none_chosen(fake_pyocd):
    fake_pyocd.probes = [FakeProbe(UID), FakeProbe("066DFF555")]
    with pytest.raises(pt.ProbeAmbiguous, match="2 debug probes attached and none chosen"):
        make_target(board_cfg())
    assert make_target(board_cfg(unique_id="066DFF555")).unique_id == "066DFF555"


def test_inventory_file_names_the_probe(fake_pyocd, tmp_path):
    fake_pyocd.probes = [FakeProbe(UID), FakeProbe("066DFF555")]
    inv = tmp_path / "probes.yaml"
    inv.write_text(f"nucleo_h743: {UID}\n")
    assert make_target(board_cfg(inventory=str(inv))).unique_id == UID
    inv.write_text("other_board: X\n")
    with pytest.raises(ConfigError, match="no entry for board 'nucleo_h743'"):
        make_target(board_cfg(inventory=str(inv)))


def test_vcp_found_by_serial_number(fake_pyocd):
    fake_pyocd.ports = [Port("/dev/ttyACM3", "OTHER"), Port("/dev/ttyACM0", UID.lower())]
    assert pt.find_vcp(UID) == "/dev/ttyACM0"
    fake_pyocd.ports = [Port("/dev/ttyACM3", "OTHER")]
    with pytest.raises(pt.SerialPortNotFound, match=UID):
        pt.find_vcp(UID)


def test_probe_busy_is_a_clear_error(fake_pyocd, tmp_path):
    import usb.core

    fake_pyocd.session = FakeSession(None, open_error=usb.core.USBError("[Errno 16] Resource busy"))
    t = make_target(board_cfg(serial_port="/dev/null"))
    with pytest.raises(pt.ProbeBusy, match="another program holds it"):
        t.run(tmp_path / "image.elf", lambda r: None, 5)


def test_flash_failure_is_a_clear_error(fake_pyocd, tmp_path):
    board = BoardPty([])
    try:
        fake_pyocd.session = FakeSession(board)
        fake_pyocd.flash_error = pyocd_exceptions.FlashProgramFailure("verify failed at 0x08000000")
        t = make_target(board_cfg(serial_port=board.path))
        with pytest.raises(pt.FlashError, match="verify failed"):
            t.run(tmp_path / "image.elf", lambda r: None, 5)
        assert fake_pyocd.session.closed  # the probe is released after the failure
    finally:
        board.close()


def test_no_serial_output_resets_once_more_then_fails(fake_pyocd, tmp_path):
    board = BoardPty([])  # the board stays silent
    try:
        fake_pyocd.session = FakeSession(board)
        t = make_target(board_cfg(serial_port=board.path))
        with pytest.raises(pt.NoSerialOutput, match="no banner"):
            t.run(tmp_path / "image.elf", lambda r: None, 30)
        assert board.resets == 2
        assert issubclass(pt.NoSerialOutput, BenchError)
    finally:
        board.close()


def banner_and_results():
    return [b"board: stm32h743 rev=0x2003 sysclk=480000000\r\n",
            framed("B", fw="1.0", image="img0", board="nucleo_h743", core_hz=480000000,
                   counter="dwt_cyccnt", counter_hz=480000000, kernels="ref"),
            framed("C", overhead=6, idle_ticks=48000000),
            framed("R", idx=0, id="case0", reps=7, sum=4800000, min=680000, max=700000, ok=1, bad=0,
                   first_bad=-1, med=685000, sd=5000, rse_ppm=2500),
            framed("E", cases=1, failed=0)]


def test_run_reads_framed_lines_programs_the_elf_and_resets(fake_pyocd, tmp_path):
    board = BoardPty(banner_and_results())
    try:
        fake_pyocd.session = FakeSession(board)
        fake_pyocd.ports = [Port(board.path, UID)]
        t = make_target(board_cfg())
        records: list[Record] = []
        outcome = t.run(tmp_path / "image.elf", records.append, 20)
        assert outcome.status == "ok" and [r.tag for r in records] == ["B", "C", "R", "E"]
        assert fake_pyocd.programmed == [(str(tmp_path / "image.elf"), "elf")]
        assert fake_pyocd.session_kwargs["target_override"] == "stm32h743xx"
        assert fake_pyocd.session_kwargs["unique_id"] == UID
        assert board.resets == 1 and fake_pyocd.session.closed
        assert "pm_energy_j" not in records[2].fields  # no monitor attached
    finally:
        board.close()


def test_crash_line_ends_the_run_as_crashed(fake_pyocd, tmp_path):
    board = BoardPty([framed("B", board="nucleo_h743", counter_hz=480000000), b"bench: exit 2 (fault handler)\r\n"])
    try:
        fake_pyocd.session = FakeSession(board)
        t = make_target(board_cfg(serial_port=board.path))
        outcome = t.run(tmp_path / "image.elf", lambda r: None, 20)
        assert outcome.status == "crashed" and "fault handler" in outcome.detail
    finally:
        board.close()


class StubMonitor:
    """Hands back fixed windows: tests the target's window bookkeeping only."""

    window_wait_s = 1.0

    def __init__(self):
        self.asked = []
        self.starts = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def start(self):
        self.starts += 1

    def stop(self):
        pass

    def wait_for_window(self, k, timeout_s, duration_s=None):
        self.asked.append((k, duration_s))
        energy = 0.05 if k == 0 else 0.02  # window 0 is the idle window
        return Window(k, 0, 100 if k == 0 else 10, 1000.0, energy)


def test_monitor_windows_are_matched_to_cases_after_the_idle_window(fake_pyocd, tmp_path):
    board = BoardPty(banner_and_results())
    try:
        fake_pyocd.session = FakeSession(board)
        t = make_target(board_cfg(serial_port=board.path))
        mon = StubMonitor()
        t.attach_monitor(mon)
        records: list[Record] = []
        assert t.run(tmp_path / "image.elf", records.append, 20).status == "ok"
        assert mon.starts == 1
        assert mon.asked[0] == (0, pytest.approx(0.1))         # idle: 48e6 ticks at 480 MHz
        assert mon.asked[1] == (1, pytest.approx(0.01))        # case 0: 4.8e6 ticks
        r = records[2].fields
        assert float(r["pm_energy_j"]) == 0.02 and r["pm_samples"] == "10"
        assert float(r["pm_baseline_w"]) == pytest.approx(0.05 / 0.1)
    finally:
        board.close()


def test_power_monitor_needs_a_board_target():
    from bench import power

    class Qemu:
        pass

    cfg = {"power": {"kind": "ppk2"}, "board": {"name": "qemu_m7", "target": {"kind": "qemu"}}}
    with pytest.raises(ConfigError, match="needs a real board"):
        power.attach(Qemu(), cfg)
    power.attach(Qemu(), {"power": {"kind": "none"}, "board": cfg["board"]})  # nothing to do


def test_timeout_scales_with_adaptive_repetitions(fake_pyocd):
    assert make_target(board_cfg()).timeout_scale == 2.0  # max_reps 10 / reps 5


# -- target types that need a CMSIS pack (NUCLEO-L4R5ZI, -F446RE, -U575ZI-Q) --------

class PackDevice:
    def __init__(self, part_number):
        self.part_number = part_number


@pytest.fixture()
def installed_packs(monkeypatch):
    """The part numbers pyOCD's managed packs provide (none by default, as on this machine)."""
    from pyocd.target.pack import pack_target

    parts: list[str] = []
    monkeypatch.setattr(pack_target.ManagedPacks, "get_installed_targets",
                        staticmethod(lambda cache=None: [PackDevice(p) for p in parts]))
    return parts


@pytest.mark.parametrize("board", ["nucleo_l4r5", "nucleo_f446", "nucleo_u575"])
def test_pack_target_without_its_pack_says_how_to_install_it(board, fake_pyocd, installed_packs):
    import yaml

    from bench import paths

    target = yaml.safe_load((paths.conf_dir() / "board" / f"{board}.yaml").read_text())["target"]
    name = target["target_override"]
    with pytest.raises(ConfigError, match=f"`pyocd pack install {name}`"):
        make_target({**board_cfg(), "name": board, "target": {**board_cfg()["target"], **target}})
    assert fake_pyocd.session_kwargs is None  # failed before touching the probe


def test_pack_target_from_an_installed_pack(fake_pyocd, installed_packs):
    installed_packs.append("STM32L4R5ZITx")  # the part number as ST's pack spells it
    t = make_target(board_cfg(target_override="stm32l4r5zitx"))
    assert t.target_override == "stm32l4r5zitx"


def test_pack_file_is_passed_to_the_session(fake_pyocd, installed_packs, tmp_path):
    with pytest.raises(ConfigError, match="no CMSIS pack file at"):
        make_target(board_cfg(target_override="stm32u575zitxq", pack=str(tmp_path / "missing.pack")))
    pack = tmp_path / "Keil.STM32U5xx_DFP.3.0.0.pack"
    pack.write_bytes(b"PK")  # pyOCD reads it when the session opens; here only the path travels
    board = BoardPty(banner_and_results())
    try:
        fake_pyocd.session = FakeSession(board)
        fake_pyocd.ports = [Port(board.path, UID)]
        t = make_target(board_cfg(target_override="stm32u575zitxq", pack=str(pack)))
        assert t.run(tmp_path / "image.elf", lambda r: None, 20).status == "ok"
        assert fake_pyocd.session_kwargs["pack"] == str(pack)
        assert fake_pyocd.session_kwargs["target_override"] == "stm32u575zitxq"
    finally:
        board.close()
