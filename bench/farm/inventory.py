"""The farm inventory (which boards exist, where they are attached) and what is attached now.

The inventory is a yaml file (conf/farm/example.yaml shows every field)::

    boards:
      - name: h743-a              # unique instance name (lock file, job logs)
        type: nucleo_h743         # conf/board/<type>.yaml
        host: farm-01             # hostname that owns it; "*" for emulated boards
        probe: 066DFF...          # pyOCD probe unique ID (pyocd list)
        serial: probe             # the probe's VCP; or /dev/tty..., or serial_number:XYZ
        power: {kind: lpm01a, serial: serial_number:ABC}   # optional power monitor

``python -m bench boards`` compares it with pyOCD's probe list and
``serial.tools.list_ports``, and flags every mismatch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from omegaconf import OmegaConf

from bench import paths
from bench.errors import BenchError, ConfigError

EXAMPLE = "farm/example.yaml"


@dataclass(frozen=True)
class BoardEntry:
    name: str
    type: str
    host: str = "*"
    probe: str = ""
    serial: str = ""
    power: Mapping = field(default_factory=dict)
    emulated: bool = False

    def on_host(self, host: str) -> bool:
        short = host.split(".")[0]
        return self.host in ("*", host, short)


@dataclass
class Attached:
    probes: list[dict]        # {uid, description}
    ports: list[dict]         # {device, serial_number, vid_pid, description}
    probe_error: str = ""


def default_path() -> Path:
    """$BENCH_INVENTORY, else ./farm.yaml, else the example in conf/farm/."""
    env = os.environ.get("BENCH_INVENTORY")
    if env:
        return Path(env)
    if Path("farm.yaml").exists():
        return Path("farm.yaml")
    return paths.conf_dir() / EXAMPLE


def load(path: str | Path | None = None) -> list[BoardEntry]:
    path = Path(path) if path else default_path()
    if not path.exists():
        raise ConfigError(f"no farm inventory at {path}; copy {paths.conf_dir() / EXAMPLE} and edit it")
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
    entries, problems = [], []
    for n, b in enumerate(data.get("boards") or []):
        name, btype = str(b.get("name") or ""), str(b.get("type") or "")
        if not name or not btype:
            problems.append(f"board #{n + 1}: needs name and type")
            continue
        board_yaml = paths.conf_dir() / "board" / f"{btype}.yaml"
        if not board_yaml.exists():
            problems.append(f"{name}: type {btype!r} has no conf/board/{btype}.yaml")
            continue
        kind = (OmegaConf.load(board_yaml).get("target") or {}).get("kind", "")
        emulated = kind in ("qemu", "renode", "unicorn")
        if not emulated and not b.get("probe"):
            problems.append(f"{name}: a {kind or 'real'} board needs its probe's unique ID (probe:)")
        entries.append(BoardEntry(name=name, type=btype, host=str(b.get("host", "*")),
                                  probe=str(b.get("probe") or ""), serial=str(b.get("serial") or ""),
                                  power=dict(b.get("power") or {}), emulated=emulated))
    names = [e.name for e in entries]
    problems += [f"board name {n!r} used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ConfigError(f"farm inventory {path}:\n  " + "\n  ".join(problems))
    return entries


def attached() -> Attached:
    """Debug probes (pyOCD) and serial ports (pyserial) visible on this host now."""
    probes, error = [], ""
    try:
        from pyocd.core.helpers import ConnectHelper
        for p in ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False):
            probes.append({"uid": p.unique_id, "description": p.description})
    except Exception as exc:  # noqa: BLE001 - a broken USB stack must not hide the serial ports
        error = f"pyOCD probe listing failed: {exc}"
    from serial.tools import list_ports
    ports = [{"device": p.device, "serial_number": p.serial_number or "",
              "vid_pid": f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "",
              "description": p.description or ""} for p in list_ports.comports()]
    return Attached(probes, ports, error)


def resolve_port(spec: str, probe: str, ports: Sequence[Mapping]) -> str | None:
    """The device path a serial spec names, if attached: 'probe', 'serial_number:X' or a path."""
    if not spec:
        return None
    if spec in ("probe", "auto") or spec.startswith("serial_number:"):
        want = probe if spec in ("probe", "auto") else spec.split(":", 1)[1]
        hits = [p["device"] for p in ports if want and p["serial_number"].lower() == want.lower()]
        return hits[0] if hits else None
    real = os.path.realpath(spec)
    for p in ports:
        if p["device"] in (spec, real) or os.path.realpath(p["device"]) == real:
            return p["device"]
    return spec if os.path.exists(spec) else None


@dataclass
class BoardState:
    entry: BoardEntry
    state: str                 # ready, missing, mismatch, elsewhere
    port: str | None = None
    power_port: str | None = None
    problems: list[str] = field(default_factory=list)


def check(entries: Sequence[BoardEntry], now: Attached, host: str,
          qemu_found: bool | None = None) -> tuple[list[BoardState], list[str]]:
    """Each configured board's state on ``host``, and attached devices the inventory lacks."""
    qemu_found = shutil.which("qemu-system-arm") is not None if qemu_found is None else qemu_found
    uids = {p["uid"].lower() for p in now.probes}
    states = []
    for e in entries:
        st = BoardState(e, "ready")
        if not e.on_host(host):
            st.state = "elsewhere"
            states.append(st)
            continue
        if e.emulated:
            if not qemu_found:
                st.problems.append("qemu-system-arm not installed")
        else:
            if e.probe.lower() not in uids:
                st.problems.append(f"probe {e.probe} not attached")
            st.port = resolve_port(e.serial, e.probe, now.ports)
            if e.serial and st.port is None:
                st.problems.append(f"serial {e.serial} not found")
        if e.power:
            st.power_port = resolve_port(str(e.power.get("serial", "")), "", now.ports)
            if st.power_port is None:
                st.problems.append(f"power monitor {e.power.get('kind', '?')} "
                                   f"({e.power.get('serial', 'no serial given')}) not found")
        if st.problems:
            st.state = "missing" if not e.emulated else "mismatch"
        states.append(st)
    known = {e.probe.lower() for e in entries if e.probe}
    extra = [f"probe {p['uid']} ({p['description']}) attached but not in the inventory"
             for p in now.probes if p["uid"].lower() not in known]
    return states, extra


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench boards",
                                description="boards in the farm inventory and what is attached to this host; "
                                            "exit 1 when they disagree")
    p.add_argument("--inventory", help="inventory yaml (default $BENCH_INVENTORY, ./farm.yaml, "
                                       "else conf/farm/example.yaml)")
    p.add_argument("--host", default=socket.gethostname(), help="check as this host (default: this one)")
    ns = p.parse_args(args)
    path = Path(ns.inventory) if ns.inventory else default_path()
    entries = load(path)
    now = attached()
    states, extra = check(entries, now, ns.host)
    print(f"inventory {path}, host {ns.host}")
    print(f"{'board':<14} {'type':<14} {'host':<12} {'state':<10} details")
    for st in states:
        e = st.entry
        detail = "; ".join(st.problems) if st.problems else (
            f"attached to {e.host}, not checked from here" if st.state == "elsewhere" else
            "emulated" if e.emulated else f"probe {e.probe}, serial {st.port or '-'}"
            + (f", power {st.power_port}" if st.power_port else ""))
        print(f"{e.name:<14} {e.type:<14} {e.host:<12} {st.state:<10} {detail}")
    print(f"attached: {len(now.probes)} probe(s), {len(now.ports)} serial port(s)")
    for p_ in now.probes:
        print(f"  probe {p_['uid']}  {p_['description']}")
    for port in now.ports:
        print(f"  port  {port['device']}  sn={port['serial_number'] or '-'}  {port['vid_pid']}  {port['description']}")
    if now.probe_error:
        print(f"warning: {now.probe_error}")
    for line in extra:
        print(f"MISMATCH {line}")
    bad = [st for st in states if st.problems]
    for st in bad:
        print(f"MISMATCH {st.entry.name}: {'; '.join(st.problems)}")
    return 1 if bad or extra else 0


def boards_for(entries: Sequence[BoardEntry], board_type: str, host: str) -> list[BoardEntry]:
    return [e for e in entries if e.type == board_type and e.on_host(host)]


def require_boards(entries: Sequence[BoardEntry], board_type: str, host: str) -> list[BoardEntry]:
    found = boards_for(entries, board_type, host)
    if not found:
        raise BenchError(f"no {board_type} board for host {host} in the inventory")
    return found
