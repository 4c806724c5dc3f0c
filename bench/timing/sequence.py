"""Time short instruction sequences with the cycle plugin, as the published experiments do.

Each sequence is assembled into a function ``isb; <body repeated k times>; isb; bx lr``
for two repeat counts (quinapalus' method: 4 and 14 copies, difference over 10;
or 0 and 1 copy for a sequence the TRM times as a whole). A tiny bare-metal
image (arm-none-eabi-gcc, mps2-an500) calls a marker function around each
call; the plugin snapshots its totals at every marker entry, so the
difference of two windows is exactly the cost of the extra copies under the
chosen core model. Memory the loads read holds a pointer into itself, so any
register a load writes is again a valid address; r8-r12 hold 8, for use as
register offsets.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from bench.errors import TargetError, ToolchainError
from bench.timing.qemu_cycles import Estimator

RAM = 0x20000000
RAM_WORDS = 1024
# Any Armv7-M/v8-M core runs the scalar sequences; Helium needs the Cortex-M55 machine.
MACHINES = {"cortex-m55": ("mps3-an547", "cortex-m55")}
DEFAULT_MACHINE = ("mps2-an500", "cortex-m7")


@dataclass(frozen=True)
class Seq:
    name: str
    body: str                  # assembly, ';' or newline separated; {n} = repeat count in the body itself
    counts: tuple = (4, 14)    # repeat counts (lo, hi)
    repeat: bool = True        # False: body used once, with {n} substituted (loops)


def _function(label: str, seq: Seq, n: int) -> str:
    if seq.repeat:
        body = "\n".join(seq.body.replace(";", "\n") for _ in range(n))
    else:
        body = seq.body.replace("{n}", str(n)).replace(";", "\n")
    return (f"    .balign 32\n    .thumb_func\n{label}:\n    isb\n{body}\n    isb\n    bx lr\n")


def _program(seqs: Sequence[Seq], mve: bool = False) -> str:
    calls, funcs = [], []
    # CPACR: full access to CP10/CP11 (FPU and MVE), then synchronise.
    enable_mve = "    ldr r0, =0xE000ED88\n    ldr r1, [r0]\n    orr r1, r1, #0xF00000\n    str r1, [r0]\n    dsb\n    isb"
    for i, seq in enumerate(seqs):
        for n in seq.counts:
            label = f"seq{i}_{n}"
            calls.append(f"    bl init_regs\n    bl mark\n    bl {label}\n    bl mark\n")
            funcs.append(_function(label, seq, n))
    # r0-r7 point into the self-pointing RAM; r8-r12 hold a small offset for register-offset addressing.
    init = "\n".join([f"    ldr r{r}, =0x{RAM + 0x100:08x}" for r in range(8)] + [f"    mov r{r}, #8" for r in range(8, 13)])
    return f"""    .syntax unified
    .thumb
    .section .vectors, "a"
    .word 0x{RAM + 0x10000:08x}
    .word _start
    .text
    .thumb_func
_start:
{enable_mve if mve else ""}
    ldr r0, ={RAM:#x}
    ldr r1, ={RAM + 0x100:#x}
    movw r2, #{RAM_WORDS}
fill:
    str r1, [r0], #4
    subs r2, #1
    bne fill
{''.join(calls)}
    ldr r2, =0x20026
    movs r3, #0
    push {{r2, r3}}
    movs r0, #0x20
    mov r1, sp
    bkpt 0xab
hang:
    b hang
    .thumb_func
mark:
    bx lr
    .thumb_func
init_regs:          @ every sequence starts from the same registers
{init}
    bx lr
{''.join(funcs)}
    .ltorg
"""


LINKER = f"""
MEMORY {{ CODE (rx) : ORIGIN = 0, LENGTH = 1M
          RAM (rw) : ORIGIN = {RAM + RAM_WORDS * 4:#x}, LENGTH = 64K }}
SECTIONS {{ .vectors : {{ *(.vectors) }} > CODE
            .text : {{ *(.text*) }} > CODE }}
"""


def build(seqs: Sequence[Seq], folder: Path, cpu: str = "cortex-m7") -> Path:
    src, ld, elf = folder / "seq.S", folder / "seq.ld", folder / "seq.elf"
    mve = cpu == "cortex-m55"
    src.write_text(_program(seqs, mve))
    ld.write_text(LINKER)
    fpu = ["-mfloat-abi=hard", "-mfpu=auto"] if mve else []
    cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", *fpu, "-mthumb", "-nostdlib", "-nostartfiles",
           "-Wl,--entry=_start", f"-T{ld}", "-o", str(elf), str(src)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise ToolchainError("arm-none-eabi-gcc not found (./setup.sh installs it)") from None
    if proc.returncode != 0:
        raise ToolchainError(f"assembling the timing sequences failed:\n{proc.stderr[-2000:]}")
    return elf


def per_copy(seqs: Sequence[Seq], board: Mapping, cache: Path) -> dict[str, float]:
    """Cycles per extra copy (or loop iteration) of each sequence under the board's core model."""
    est = Estimator.for_board(board, cache)
    machine, cpu = MACHINES.get(est.core, DEFAULT_MACHINE)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        elf = build(seqs, folder, cpu)
        out = folder / "snap.txt"
        cmd = ["qemu-system-arm", "-M", machine, "-display", "none", "-monitor", "none", "-nodefaults",
               "-kernel", str(elf), "-semihosting-config", "enable=on,target=native",
               *est.qemu_args_at(mark_symbol_address(elf), out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise TargetError(f"sequence image failed in QEMU (exit {proc.returncode}): {proc.stderr[-500:]}")
        snaps = [int(line.split()[2]) for line in out.read_text().splitlines() if line.startswith("S ")]
    windows = [b - a for a, b in zip(snaps[0::2], snaps[1::2])]
    result, k = {}, 0
    for seq in seqs:
        lo, hi = windows[k], windows[k + 1]
        k += 2
        result[seq.name] = (hi - lo) / (seq.counts[1] - seq.counts[0])
    return result


def mark_symbol_address(elf: Path) -> int:
    from elftools.elf.elffile import ELFFile
    with elf.open("rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == "mark":
                return int(sym["st_value"]) & ~1
    raise ToolchainError(f"{elf}: no mark symbol")
