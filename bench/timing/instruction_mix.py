"""Instruction-class histogram of each case's timed region, from Unicorn + capstone.

Why Unicorn: QEMU counts instructions but tells nothing about which ones
(a TCG plugin would, but needs the QEMU source package to build); Renode's
opcode counters match only the first halfword of Thumb-2 instructions and
cover the whole run. Unicorn is QEMU's CPU core as a library, so it executes
the same ELF with the same instruction counts, and lets Python see every
translated block.

How: the image runs from its reset vector under Unicorn (the board's core).
The board layer is replaced, not emulated: calls to the ``board.h`` functions
(init, putc, counter read, window, exit) are caught at their entry and
answered here, so the same code works for any board's ELF (mps2-an500 or
STM32H743) without modelling a single peripheral. The counter returns the
exact number of instructions executed so far, so the firmware computes its
own sums, minima and overhead in instructions, exactly like QEMU under
``-icount`` but without the timer's +-1. Each block is decoded and
classified once (``instruction_classes.analyse_block``); per execution the
hook only bumps the block's counter, and whether a block's final
conditional branch was taken is read from where execution goes next.

A case's histogram is the mean over its timed windows (counter read to
counter read) minus the empty window the firmware subtracts as overhead, so
its total equals the firmware's per-call count, and the firmware's own
``sum``/``min``/``overhead`` fields are checked against the windows.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

from elftools.elf.elffile import ELFFile

from bench.errors import BenchError, TargetError, ToolchainError
from bench.timing.instruction_classes import CLASSES, EXTRAS, analyse_block
from bench.collect.protocol import LineSplitter, Record
from bench.timing.vfp_double import DoubleVfp

log = logging.getLogger(__name__)

PROVENANCE = "emulator-count"
METHOD = "unicorn-capstone"
MIX_VERSION = 2  # bump when classes or the window rules change (cache key)
EMULATED_KINDS = ("qemu", "renode")

# board.h functions answered by the host; everything else runs as compiled.
INTERCEPTED = ("board_init", "board_putc", "board_counter_read", "board_counter_hz", "board_window_begin",
               "board_window_end", "board_exit")
# What board_counter_hz answers: the runner turns milliseconds (idle window,
# minimum window, time budget) into ticks with it; at 1 kHz those loops end
# after a handful of instructions instead of emulating seconds of idling.
COUNTER_HZ = 1000


@dataclass
class CaseMix:
    """One case's instruction mix per call of the kernel (timed region, overhead removed)."""

    case_id: str
    instructions: float
    classes: dict
    extras: dict
    reps: int
    windows: list = field(default_factory=list)   # instructions of each timed window
    overhead: int = 0
    check: str = "ok"   # or why the firmware's fields and the windows disagree

    def vector(self) -> list[float]:
        return [self.classes[c] for c in CLASSES]


@dataclass
class ElfMix:
    cases: dict                  # case_id -> CaseMix, in image order
    exit_code: int | None
    total_instructions: int
    blocks: int
    wall_s: float
    banner: dict = field(default_factory=dict)


def _unicorn():
    try:
        import unicorn
        from unicorn import arm_const
    except ImportError:
        raise ToolchainError("the instruction mix needs Unicorn: pip install unicorn==2.1.4 capstone") from None
    return unicorn, arm_const


SCS_BASE, SCS_END = 0xE000E000, 0xE000F000   # Armv7-M System Control Space (SCB, NVIC, SysTick)


class _Run:
    """State of one Unicorn run of an image."""

    def __init__(self, elf: Path, memory: Mapping, read_regions: tuple[str, ...] = (), core: str = "cortex-m7"):
        unicorn, arm = _unicorn()
        self.uc_mod, self.arm = unicorn, arm
        with elf.open("rb") as f:
            e = ELFFile(f)
            symtab = e.get_section_by_name(".symtab")
            if symtab is None:
                raise BenchError(f"{elf}: no symbol table (the board functions cannot be found)")
            self.symbols = {s.name: s["st_value"] for s in symtab.iter_symbols()
                            if s["st_info"]["type"] == "STT_FUNC"}
            segments = [(s["p_paddr"], s.data()) for s in e.iter_segments()
                        if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
        missing = [n for n in INTERCEPTED if n not in self.symbols]
        if missing:
            raise BenchError(f"{elf}: board functions {', '.join(missing)} not found")
        cpu = getattr(arm, "UC_CPU_ARM_" + core.upper().replace("-", "_"), None)
        if cpu is None:
            raise BenchError(f"Unicorn has no CPU model for core {core!r}")
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS, cpu=cpu)
        spans = _spans(memory)
        for lo, hi in spans:
            self.uc.mem_map(lo, hi - lo)
        # The System Control Space as plain memory: start-up code read-modify-writes CPACR
        # (0xE000ED88) to enable the FPU/MVE, which Unicorn does not map for M-class cores.
        if not any(lo < SCS_END and hi > SCS_BASE for lo, hi in spans):
            self.uc.mem_map(SCS_BASE, SCS_END - SCS_BASE)
        for addr, data in segments:   # load addresses, as a flash programmer would write them
            self.uc.mem_write(addr, data)
        self.table: dict[int, list] = {}
        # Data reads per region, only for regions the board gives wait states
        # (a Python callback per read: slow, so never on by default).
        self.read_regions = tuple(read_regions)
        self.region_reads = [0] * len(self.read_regions)
        for i, name in enumerate(self.read_regions):
            if name not in memory:
                raise BenchError(f"cycle_model.data_wait_cycles names {name!r}, not a memory region of the board")
            lo = int(memory[name]["origin"])
            hi = lo + int(memory[name]["size_kb"]) * 1024 - 1
            self.uc.hook_add(unicorn.UC_HOOK_MEM_READ, self._count_read(i), begin=lo, end=hi)
        self.handlers = {self.symbols[n] & ~1: getattr(self, "_" + n) for n in INTERCEPTED}
        self.splitter = LineSplitter()
        self.records: list[Record] = []
        self.reads: list[tuple[int, list[int], list[int]]] = []   # (icount, classes, extras) per counter read
        # putc completes a record at a known point between counter reads: the
        # reads made since the previous record are the ones it reports on.
        self.read_groups: list[list] = []
        self._reads_taken = 0
        self.vector_base = _vector_table_address(elf)
        self.exit_code: int | None = None
        self.last: list = [-1, None]

    def _count_read(self, i: int):
        counts = self.region_reads

        def on_read(uc, access, address, size, value, _user):
            counts[i] += 1

        return on_read

    def extra_names(self) -> tuple[str, ...]:
        return (*EXTRAS, *(f"reads_{r}" for r in self.read_regions))

    # -- cumulative counts -------------------------------------------------

    def cumulative(self) -> tuple[int, list[int], list[int]]:
        classes = [0] * len(CLASSES)
        extras = [0] * len(EXTRAS)
        taken_i, not_taken_i = CLASSES.index("branch_taken"), CLASSES.index("branch_not_taken")
        icount = 0
        for rec in self.table.values():
            n, nt, fall, handler, info = rec
            if handler is not None or n == 0:
                continue
            icount += n * info.n_insns
            for i, c in enumerate(info.counts):
                if c:
                    classes[i] += n * c
            for i, c in enumerate(info.extras):
                if c:
                    extras[i] += n * c
            if fall >= 0:
                classes[taken_i] += n - nt
                classes[not_taken_i] += nt
        return icount, classes, extras + list(self.region_reads)

    # -- the block hook ----------------------------------------------------

    def hook(self):
        table, new_block = self.table, self._new_block
        last = self.last  # [fallthrough of the previous block's conditional branch, its record]

        def on_block(uc, address, size, _user):
            rec = table.get((address << 16) | size)
            if rec is None:
                rec = new_block(uc, address, size)
            if rec[3] is not None:   # a board function: answered here, never executed
                rec[3]()
                last[0] = -1
                return
            rec[0] += 1
            if address == last[0]:
                last[1][1] += 1
            last[0] = rec[2]
            last[1] = rec

        return on_block

    def _new_block(self, uc, address, size):
        handler = self.handlers.get(address)
        if handler is not None:
            rec = [0, 0, -1, handler, None]
        else:
            info = analyse_block(bytes(uc.mem_read(address, size)), address)
            rec = [0, 0, info.cond_branch_fallthrough, None, info]
        self.table[(address << 16) | size] = rec
        return rec

    # -- board.h, answered by the host ----------------------------------------

    def _return(self) -> None:
        self.uc.reg_write(self.arm.UC_ARM_REG_PC, self.uc.reg_read(self.arm.UC_ARM_REG_LR))

    def _board_init(self) -> None:
        self._return()

    _board_window_begin = _board_window_end = _board_init

    def _board_counter_hz(self) -> None:
        self.uc.reg_write(self.arm.UC_ARM_REG_R0, COUNTER_HZ)
        self._return()

    def _board_putc(self) -> None:
        ch = self.uc.reg_read(self.arm.UC_ARM_REG_R0) & 0xFF
        for record in self.splitter.feed(bytes([ch])):
            self.records.append(record)
            self.read_groups.append(self.reads[self._reads_taken:])
            self._reads_taken = len(self.reads)
        self._return()

    def _board_counter_read(self) -> None:
        icount, classes, extras = self.cumulative()
        self.reads.append((icount, classes, extras))
        self.uc.reg_write(self.arm.UC_ARM_REG_R0, icount & 0xFFFFFFFF)
        self.uc.reg_write(self.arm.UC_ARM_REG_R1, icount >> 32)
        self._return()

    def _board_exit(self) -> None:
        self.exit_code = self.uc.reg_read(self.arm.UC_ARM_REG_R0)
        self.uc.emu_stop()

    # -- running -------------------------------------------------------------

    def run(self, timeout_s: float) -> None:
        uc, arm = self.uc, self.arm
        sp = int.from_bytes(uc.mem_read(self.vector_base, 4), "little")
        entry = int.from_bytes(uc.mem_read(self.vector_base + 4, 4), "little")
        uc.reg_write(arm.UC_ARM_REG_SP, sp)
        uc.hook_add(self.uc_mod.UC_HOOK_BLOCK, self.hook())
        self.vfp = DoubleVfp(arm.UC_ARM_REG_PC, arm.UC_ARM_REG_FPSCR)
        uc.hook_add(self.uc_mod.UC_HOOK_INSN_INVALID, self.vfp)
        # The FPU is enabled by board_init on silicon (CPACR); board_init is not run here.
        uc.reg_write(arm.UC_ARM_REG_C1_C0_2, uc.reg_read(arm.UC_ARM_REG_C1_C0_2) | (0xF << 20))
        try:
            uc.emu_start(entry | 1, 0xFFFFFFFF, timeout=int(timeout_s * 1e6))
        except self.uc_mod.UcError as exc:
            pc = uc.reg_read(arm.UC_ARM_REG_PC)
            raise TargetError(f"Unicorn stopped at pc={pc:#x}: {exc} (an access outside the board's "
                              "memory map, or an instruction Unicorn does not implement)") from None


def _spans(memory: Mapping, page: int = 0x400) -> list[tuple[int, int]]:
    """The board's regions as page-aligned, merged address spans (Unicorn maps 1 KiB pages)."""
    spans = sorted((int(r["origin"]) & ~(page - 1),
                    (int(r["origin"]) + int(r["size_kb"]) * 1024 + page - 1) & ~(page - 1))
                   for r in memory.values())
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _vector_table_address(elf: Path) -> int:
    with elf.open("rb") as f:
        e = ELFFile(f)
        sec = e.get_section_by_name(".vectors")
        if sec is not None:
            return sec["sh_addr"]
        symtab = e.get_section_by_name(".symtab")
        for s in symtab.iter_symbols():
            if s.name == "vector_table":
                return s["st_value"]
    return 0


def analyse_elf(elf: Path, memory: Mapping, timeout_s: float = 600.0,
                read_regions: tuple[str, ...] = (), core: str = "cortex-m7") -> ElfMix:
    """Run an image under Unicorn; per-case instruction mixes of the timed regions."""
    t0 = time.perf_counter()
    run = _Run(elf, memory, read_regions, core)
    run.run(timeout_s)
    wall = time.perf_counter() - t0
    if run.exit_code is None:
        raise TargetError(f"{elf.name}: no board_exit within {timeout_s:.0f} s under Unicorn")
    cases = _cases_from(run)
    total, _, _ = run.cumulative()
    banner = next((dict(r.fields) for r in run.records if r.tag == "B"), {})
    return ElfMix(cases=cases, exit_code=run.exit_code, total_instructions=total,
                  blocks=sum(1 for r in run.table.values() if r[3] is None), wall_s=wall, banner=banner)


def _windows(reads: list) -> list[tuple[int, list[int], list[int]]]:
    """(instructions, class deltas, extra deltas) of each (t0, t1) pair of counter reads."""
    return [(b[0] - a[0], [y - x for x, y in zip(a[1], b[1])], [y - x for x, y in zip(a[2], b[2])])
            for a, b in zip(reads[0::2], reads[1::2])]


def _cases_from(run: _Run) -> dict[str, CaseMix]:
    """Attribute counter reads to records: each record follows the (t0, t1) pairs it used."""
    cases: dict[str, CaseMix] = {}
    overhead_hist = None
    overhead = 0
    overhead_check = "ok"
    for rec, reads in zip(run.records, run.read_groups):
        if rec.tag == "C":
            # counter_overhead's pairs are the last reads before the C line; an
            # idle window (any number of reads) may come before them, so pair from the end.
            tail = reads[len(reads) % 2:]
            windows = _windows(tail)
            if windows:
                overhead, ocls, oext = min(reversed(windows), key=lambda w: w[0])  # ties: the last pairs
                overhead_hist = (ocls, oext)
                with contextlib.suppress(BenchError):
                    if rec.int("overhead") != overhead:
                        overhead_check = f"firmware overhead {rec.int('overhead')}, windows give {overhead}"
            continue
        windows = _windows(reads)
        if rec.tag != "R" or overhead_hist is None:
            continue
        reps = len(windows)
        cid = rec.fields.get("id", "")
        if reps == 0:
            continue
        sums = [w[0] for w in windows]
        per_call_cls = [sum(w[1][i] for w in windows) / reps - overhead_hist[0][i] for i in range(len(CLASSES))]
        names = run.extra_names()
        per_call_ext = [sum(w[2][i] for w in windows) / reps - overhead_hist[1][i] for i in range(len(names))]
        check = overhead_check
        try:
            want = (rec.int("sum"), rec.int("min"), rec.int("max"), rec.int("reps"))
        except BenchError as exc:
            want, check = None, str(exc)
        if want is not None and want != (sum(sums), min(sums), max(sums), reps):
            check = (f"firmware reported sum/min/max/reps {want}, windows give "
                     f"{(sum(sums), min(sums), max(sums), reps)}")
        cases[cid] = CaseMix(
            case_id=cid, instructions=sum(sums) / reps - overhead,
            classes={c: _tidy(v) for c, v in zip(CLASSES, per_call_cls)},
            extras={c: _tidy(v) for c, v in zip(names, per_call_ext)},
            reps=reps, windows=sums, overhead=overhead, check=check)
    return cases


def _tidy(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 3)


# -- cache and run-folder output --------------------------------------------------

def _cache_key(elf: Path, memory: Mapping, read_regions: tuple[str, ...] = (), core: str = "cortex-m7") -> str:
    h = hashlib.sha256(elf.read_bytes())
    h.update(json.dumps({k: [int(v["origin"]), int(v["size_kb"])] for k, v in memory.items()},
                        sort_keys=True).encode())
    h.update(f"mix-v{MIX_VERSION} reads={','.join(read_regions)} core={core}".encode())
    return h.hexdigest()[:20]


def image_mix(elf: Path, memory: Mapping, cache: Path | None = None, timeout_s: float = 600.0,
              read_regions: tuple[str, ...] = (), core: str = "cortex-m7") -> dict:
    """Per-case mixes of one image as plain dicts, cached by the ELF's content."""
    path = None
    if cache is not None:
        path = cache / "imix" / f"{_cache_key(elf, memory, read_regions, core)}.json"
        if path.exists():
            return json.loads(path.read_text())["cases"]
    mix = analyse_elf(elf, memory, timeout_s, read_regions, core)
    log.info("%s: instruction mix of %d instructions in %.1f s (%.1e instructions/s, Unicorn)",
             elf.parent.name, mix.total_instructions, mix.wall_s, mix.total_instructions / max(mix.wall_s, 1e-9))
    cases = {cid: asdict(m) for cid, m in mix.cases.items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"method": METHOD, "version": MIX_VERSION, "exit_code": mix.exit_code,
                                   "total_instructions": mix.total_instructions, "wall_s": mix.wall_s,
                                   "cases": cases}, indent=1))
        tmp.replace(path)
    return cases


MIX_COLUMNS = ["case_id", "image", "method", "provenance", "instructions", *CLASSES, *EXTRAS, "check"]
_write_lock = threading.Lock()


def write_mix_rows(run_dir: Path, image: str, cases: Mapping) -> Path:
    """Append one row per case to <run>/instruction_mix.csv (per call, timed region)."""
    path = run_dir / "instruction_mix.csv"
    regions = sorted({k for m in cases.values() for k in m["extras"] if k not in EXTRAS})
    with _write_lock:
        new = not path.exists()
        if new:
            columns = [*MIX_COLUMNS[:-1], *regions, MIX_COLUMNS[-1]]
        else:
            with path.open(newline="") as f:
                columns = next(csv.reader(f))
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            if new:
                w.writeheader()
            for cid, m in cases.items():
                w.writerow({"case_id": cid, "image": image, "method": METHOD, "provenance": PROVENANCE,
                            "instructions": m["instructions"], **m["classes"], **m["extras"],
                            "check": m["check"]})
    return path


def for_image(elf: Path, image_name: str, cfg: Mapping, run_dir: Path, cache: Path | None) -> dict:
    """The pipeline's entry: mixes for one image's cases (empty if turned off or it failed).

    Never raises: a histogram that cannot be made leaves the cycle columns
    empty and says why in the log; the emulator's own count is unaffected.
    """
    if not cfg.get("run", {}).get("instruction_mix", True):
        return {}
    board = cfg["board"]
    try:
        waits = (board.get("cycle_model") or {}).get("data_wait_cycles") or {}
        regions = tuple(sorted(r for r, c in waits.items() if float(c) > 0))
        cases = image_mix(elf, board["memory"], cache, read_regions=regions,
                          core=str(board.get("core") or "cortex-m7"))
    except BenchError as exc:
        log.warning("%s: no instruction mix: %s", image_name, exc)
        return {}
    except Exception as exc:  # noqa: BLE001 - an auxiliary figure must not cost the run its counts
        log.warning("%s: no instruction mix (%s: %s)", image_name, type(exc).__name__, exc)
        return {}
    for cid, m in cases.items():
        if m["check"] != "ok":
            log.warning("%s: instruction mix of %s: %s", image_name, cid, m["check"])
    write_mix_rows(run_dir, image_name, cases)
    return cases
