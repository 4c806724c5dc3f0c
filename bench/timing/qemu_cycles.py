"""Estimated cycles of each timed window, from the QEMU cycle plugin.

The plugin (``qemu_plugin/cycles.c``) writes ``S <instructions> <cycles>
<branch cycles> <mispredicts> <stall cycles>`` (running totals) at every
entry of the board's counter-read function. The firmware reads the
counter in a fixed pattern (firmware/runner/main.c): eight empty windows for
the overhead (the C line), an optional idle window (power monitors only), then
``reps`` windows per case, each a pair of reads. ``WindowReader`` follows that
pattern as the firmware's lines arrive and gives each case its estimated
cycles and instructions per call, the empty-window overhead taken off exactly
as the firmware takes it off its counts. The plugin's instruction count of a
window is checked against QEMU's own count from the timer (+-1 tick apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from elftools.elf.elffile import ELFFile

from bench.errors import BenchError
from bench.timing import core_model
from bench.timing.cycle_parts import apply, load_fit
from bench.timing.plugin_build import plugin_path

MARK_FUNCTION = "board_counter_read"
OVERHEAD_PAIRS = 8          # counter_overhead() in firmware/runner/main.c
PROVENANCE = "model-estimate"


def mark_address(elf: Path) -> int:
    """Entry address of the counter-read function (Thumb bit cleared)."""
    with elf.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym.name == MARK_FUNCTION and sym["st_info"]["type"] == "STT_FUNC":
                    return int(sym["st_value"]) & ~1
    raise BenchError(f"{elf}: no {MARK_FUNCTION} symbol; the cycle estimate cannot find the timed windows")


@dataclass
class Estimator:
    """What a QEMU target needs to estimate cycles: the plugin and the core's parameters."""

    core: str
    params: Path
    plugin: Path
    basis: str
    mispredict_cycles: int = 0
    fitted: dict | None = None       # a board's pipeline fit (timing.fitted), applied to the parts

    @classmethod
    def for_board(cls, board: Mapping, cache: Path) -> "Estimator":
        core = str((board.get("timing") or {}).get("core") or board.get("core") or "")
        model = core_model.load(core)
        text = core_model.param_text(model, board)
        folder = cache / "timing-params"
        folder.mkdir(parents=True, exist_ok=True)
        params = folder / f"{core}__{board['name']}.txt"
        if not params.exists() or params.read_text() != text:
            tmp = params.with_suffix(f".{id(text)}.tmp")
            tmp.write_text(text)
            tmp.replace(params)
        fitted = (board.get("timing") or {}).get("fitted")
        if fitted:
            path = Path(fitted) if Path(fitted).is_absolute() else core_model.cores_dir() / "fitted" / fitted
            fitted = load_fit(path)
        return cls(core=core, params=params, plugin=plugin_path(cache), basis=core_model.describe(model),
                   mispredict_cycles=int(model["branches"]["mispredict"]["value"]), fitted=fitted or None)

    @property
    def model_name(self) -> str:
        fit = f" fitted to {self.fitted['board']}" if self.fitted else ""
        return f"{self.core} pipeline model{fit} (QEMU plugin)"

    def cycles(self, estimate_cycles: float, parts: Mapping | None) -> float:
        """The estimate as reported: the plugin's total, or the board fit applied to its parts."""
        if self.fitted and parts:
            return apply(self.fitted, parts)
        return estimate_cycles

    def qemu_args(self, elf: Path, out: Path) -> list[str]:
        return self.qemu_args_at(mark_address(elf), out)

    def qemu_args_at(self, mark: int, out: Path) -> list[str]:
        return ["-plugin", f"{self.plugin},model={self.params},out={out},mark={mark:#x}"]

    def window_reader(self, out: Path) -> "WindowReader":
        reader = WindowReader(out)
        reader.mispredict_cycles = self.mispredict_cycles
        return reader


@dataclass
class WindowEstimate:
    cycles: float
    instructions: float
    parts: dict | None = None   # cycles split as PARTS (mispredicts as a count)

    def parts_text(self) -> str:
        return ";".join(f"{k}={v:.2f}" for k, v in (self.parts or {}).items())


class WindowReader:
    """Pairs the plugin's snapshots with the firmware's windows as records arrive."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._partial = ""
        self.snapshots: list[tuple[int, ...]] = []
        self._used = 0
        self.overhead: tuple[int, int] | None = None

    def _read(self) -> None:
        try:
            with self.path.open("r") as f:
                f.seek(self._offset)
                data = f.read()
                self._offset = f.tell()
        except OSError:
            return
        text = self._partial + data
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            fields = line.split()
            if len(fields) in (3, 6) and fields[0] == "S":
                self.snapshots.append(tuple(int(x) for x in fields[1:]))

    def on_overhead(self, idle_ticks: int = 0) -> None:
        """The C line arrived: the first OVERHEAD_PAIRS pairs of reads were its empty windows.

        QEMU runs ahead of the host reading its UART, so the file may already
        hold later windows: the position comes from the firmware's fixed read
        pattern, never from how much has been written. An idle window (power
        monitors only, not emulators) has a variable number of reads: no estimate then.
        """
        self._read()
        if idle_ticks:
            return
        pairs = _pairs(self.snapshots[:2 * OVERHEAD_PAIRS])
        if len(pairs) == OVERHEAD_PAIRS:
            self.overhead = min(pairs)   # the emptiest window, as the firmware's minimum
        self._used = 2 * OVERHEAD_PAIRS

    def on_case(self, reps: int) -> WindowEstimate | None:
        """An R line with ``reps`` windows arrived: its per-call estimate, or None if out of step."""
        self._read()
        window = self.snapshots[self._used:self._used + 2 * reps]
        self._used += 2 * reps
        if self.overhead is None or reps <= 0 or len(window) != 2 * reps:
            return None
        pairs = _pairs(window)
        per_call = [sum(p[i] for p in pairs) / reps - self.overhead[i] for i in range(len(self.overhead))]
        parts = None
        if len(per_call) == 5:
            insns, cycles, branch, mispredicts, stall = per_call
            parts = {"static": cycles - branch - stall - self.mispredict_cycles * mispredicts,
                     "branch": branch, "mispredicts": mispredicts, "stall": stall}
        return WindowEstimate(cycles=per_call[1], instructions=per_call[0], parts=parts)

    mispredict_cycles = 0   # the model's mispredict penalty, to split it off the total


def _pairs(snaps: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Per window (pair of reads): the difference of every running total."""
    return [tuple(y - x for x, y in zip(a, b)) for a, b in zip(snaps[0::2], snaps[1::2])]
