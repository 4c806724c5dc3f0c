"""Build firmware images with arm-none-eabi-gcc, cached by content.

An image is a board, a kernel library, compiler flags and a list of cases.
Its cache key hashes everything that goes into the ELF (firmware sources,
generated tables, memory map, flags, compiler version), so an unchanged case
set is never rebuilt. ``plan_images`` packs cases into images that fit the
board's memories, and splits the work so ``jobs`` images can run at once.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from bench import paths
from bench.build import codegen
from bench.cases.spec import CaseSpec
from bench.errors import BuildError, FirmwareTooLarge, ToolchainError
from bench.cases.generate import GENERATOR_VERSION
from bench.cases.generated import GeneratedCase

CODE_RESERVE = 64 * 1024  # runner, kernels, startup and libc in the CODE region


@dataclass(frozen=True)
class BuildSettings:
    """What, besides the cases, decides an image's bytes."""

    board: str
    firmware_dir: str           # firmware/boards/<firmware_dir>
    cpu_flags: tuple[str, ...]
    opt_level: str
    extra_flags: tuple[str, ...]
    kernels: str                # firmware/kernels/<kernels>
    memory: Mapping             # region name -> {origin, size_kb, kind}
    placement: Mapping          # code/ram/weights/input/golden/activations -> region
    stack_bytes: int
    warmup: int
    reps: int
    defines: tuple[str, ...] = ()   # board-specific -D flags
    # Outside firmware/: a kernel library's own sources and headers (bench/build/kernel_libs.py)
    extra_sources: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()

    @property
    def cflags(self) -> list[str]:
        return [*self.cpu_flags, self.opt_level, *self.extra_flags]


@dataclass(frozen=True)
class Image:
    name: str
    elf: Path
    cases: tuple[GeneratedCase, ...]
    firmware_hash: str
    cflags: str
    compiler: str
    sizes: Mapping  # text/data/bss and bytes used per region


@lru_cache(maxsize=None)
def compiler_version(gcc: str = "arm-none-eabi-gcc") -> str:
    if shutil.which(gcc) is None:
        raise ToolchainError(
            f"{gcc} not found. Install the Arm toolchain: "
            "sudo apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
            "(or run ./setup.sh)")
    out = subprocess.run([gcc, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


# -- planning --------------------------------------------------------------


def region_demand(spec: CaseSpec, placement: Mapping) -> dict[str, int]:
    """Bytes a case needs per memory region under a placement."""
    demand: dict[str, int] = {}

    def add(region: str, n: int) -> None:
        demand[region] = demand.get(region, 0) + n

    code = placement["code"]
    for what, n in (("weights", spec.weight_bytes + spec.quant_bytes), ("input", spec.input_bytes),
                    ("golden", spec.output_bytes)):
        add(placement[what], n)
        if placement[what] != code:  # copied at reset: its load image stays in CODE
            add(code, n)
    return demand


def region_capacity(settings: BuildSettings) -> dict[str, int]:
    cap = {name: int(r["size_kb"]) * 1024 for name, r in settings.memory.items()}
    cap[settings.placement["code"]] -= CODE_RESERVE
    cap[settings.placement["ram"]] -= settings.stack_bytes + 4096
    return cap


def too_large(spec: CaseSpec, settings: BuildSettings, capacity: Mapping[str, int] | None = None) -> str | None:
    """Why this case fits no image of the board (a region it alone overflows), or None."""
    capacity = capacity or region_capacity(settings)
    need = region_demand(spec, settings.placement)
    activations = settings.placement["activations"]
    need[activations] = need.get(activations, 0) + spec.output_bytes
    for region, n in need.items():
        if n > capacity[region]:
            return (f"case {spec.case_id} needs {n / 1024:.0f} KiB in {region} but board "
                    f"{settings.board} has {capacity[region] / 1024:.0f} KiB there for cases")
    return None


def plan_images(specs: Sequence[CaseSpec], settings: BuildSettings, jobs: int = 1) -> list[list[CaseSpec]]:
    """Pack cases into as few images as fit, and at least ``jobs`` when there are enough cases.

    Cases are dealt longest first (by MACs) to the image with the least work
    that still has room, so parallel images finish at about the same time.
    Raises FirmwareTooLarge, before anything is built, for a case that fits no image.
    """
    capacity = region_capacity(settings)
    activations = settings.placement["activations"]
    for spec in specs:
        problem = too_large(spec, settings, capacity)
        if problem:
            raise FirmwareTooLarge(f"{problem}; use a smaller shape, or place its tensors elsewhere "
                                   "(board.placement)")
    order = sorted(range(len(specs)), key=lambda i: -specs[i].macs)
    n_images = max(1, min(jobs, len(specs)))
    while True:
        bins: list[list[int]] = [[] for _ in range(n_images)]
        used = [dict.fromkeys(capacity, 0) for _ in range(n_images)]
        out_max = [0] * n_images
        work = [0] * n_images
        placed = True
        for i in order:
            spec = specs[i]
            need = region_demand(spec, settings.placement)
            for b in sorted(range(n_images), key=lambda b: work[b]):
                trial = dict(used[b])
                for region, n in need.items():
                    trial[region] += n
                trial[activations] += max(out_max[b], spec.output_bytes) - out_max[b]
                if all(trial[r] <= capacity[r] for r in trial):
                    bins[b].append(i)
                    used[b] = trial
                    out_max[b] = max(out_max[b], spec.output_bytes)
                    work[b] += spec.macs
                    break
            else:
                placed = False
                break
        if placed:
            return [[specs[i] for i in sorted(b)] for b in bins if b]
        n_images += 1


# -- building --------------------------------------------------------------


# Reference kernels linked into every library's image (kernels.h declares them):
# the element-wise, pooling, fully-connected and softmax operators, which no other
# library implements yet, and the dilated convolutions (opt has no dilated
# paths). Unused ones are dropped by --gc-sections.
SHARED_REF_SOURCES = ("elementwise_s8.c", "pooling_s8.c", "fully_connected_s8.c", "softmax_s8.c",
                      "dilated_conv_s8.c")


def _sources(settings: BuildSettings) -> list[Path]:
    fw = paths.firmware_dir()
    kernel_dir = fw / "kernels" / settings.kernels
    board_dir = fw / "boards" / settings.firmware_dir
    for folder, what in ((kernel_dir, "kernel library"), (board_dir, "board layer")):
        if not folder.is_dir():
            raise BuildError(f"no {what} at {folder}")
    files = []
    for folder in (fw / "runner", kernel_dir, fw / "boards" / "common", board_dir):
        files += sorted(folder.glob("*.c")) + sorted(folder.glob("*.S"))
    if settings.kernels != "ref":  # every library links the shared reference kernels
        files += [fw / "kernels" / "ref" / name for name in SHARED_REF_SOURCES]
    return files + [Path(s) for s in settings.extra_sources]


def _hash_inputs(settings: BuildSettings, name: str, sources: list[Path], generated: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    fw = paths.firmware_dir()
    watched = sorted(set(sources) | set(fw.glob("include/*.h")) | set(fw.glob("runner/*.h"))
                     | set(fw.glob(f"kernels/{settings.kernels}/*.h"))
                     | set(fw.glob(f"boards/{settings.firmware_dir}/*.ld"))
                     | set(fw.glob("boards/common/*.ld")) | set(fw.glob("boards/common/*.h"))
                     | set(fw.glob(f"boards/{settings.firmware_dir}/*.h"))
                     | {f for d in settings.include_dirs for f in Path(d).rglob("*.h")})
    for f in watched:
        h.update(str(f.relative_to(fw) if f.is_relative_to(fw) else f).encode())
        h.update(f.read_bytes())
    for key in sorted(generated):
        h.update(key.encode())
        h.update(generated[key].encode())
    h.update(repr((name, settings.cflags, settings.defines, settings.board, settings.warmup,
                   settings.reps, compiler_version())).encode())
    return h.hexdigest()[:20]


def build_image(name: str, cases: Sequence[GeneratedCase], settings: BuildSettings,
                cache: Path | None = None) -> Image:
    cache = cache or paths.cache_dir()
    compiler = compiler_version()
    sources = _sources(settings)
    memory = codegen.memory_ld(settings.memory, settings.placement, settings.stack_bytes)
    # The tables are a pure function of each case's content hash and the code
    # generator, so the key names those instead of rendering megabytes of C.
    table_key = "\n".join([Path(codegen.__file__).read_text(), GENERATOR_VERSION,
                           *(g.spec.content_hash for g in cases)])
    digest = _hash_inputs(settings, name, sources, {"cases": table_key, "memory.ld": memory})
    out_dir = cache / "images" / digest
    elf = out_dir / "image.elf"
    if not elf.exists():
        generated = {"cases.c": codegen.cases_c(cases), "memory.ld": memory}
        _compile(name, sources, generated, settings, out_dir)
    return Image(name=name, elf=elf, cases=tuple(cases), firmware_hash=digest,
                 cflags=" ".join(settings.cflags), compiler=compiler,
                 sizes=size_report(elf, settings.memory))


def _compile(name: str, sources: list[Path], generated: Mapping[str, str],
             settings: BuildSettings, out_dir: Path) -> None:
    fw = paths.firmware_dir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as tmp_name:
        tmp = Path(tmp_name)
        for fname, text in generated.items():
            (tmp / fname).write_text(text)
        board_dir = fw / "boards" / settings.firmware_dir
        cflags_str = " ".join(settings.cflags)
        compile_flags = [
            *settings.cflags, "-g", "-std=c11",
            "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra",
            f"-I{fw / 'include'}", f"-I{fw / 'runner'}", f"-I{fw / 'kernels' / settings.kernels}",
            f"-I{board_dir}", *(f"-I{d}" for d in settings.include_dirs),
            f'-DBENCH_BOARD="{settings.board}"', f'-DBENCH_IMAGE="{name}"',
            f'-DBENCH_BUILD="{out_dir.name}"',   # the image's hash: its banner names this exact build
            f'-DBENCH_CFLAGS="{cflags_str}"',
            f"-DBENCH_WARMUP={int(settings.warmup)}", f"-DBENCH_REPS={int(settings.reps)}",
            *settings.defines,
        ]
        # The kernel library is compiled on its own into bench_kernel_objs/, so the
        # linker script can place its code (placement.kernel_code: ITCM, SRAM...).
        kernel_dir = fw / "kernels" / settings.kernels
        kernel_sources = [s for s in sources if s.is_relative_to(kernel_dir)] + \
            [Path(s) for s in settings.extra_sources]
        other_sources = [s for s in sources if s not in kernel_sources]
        objs = tmp / "bench_kernel_objs"
        objs.mkdir()
        kernel_objects = [objs / f"{i:03d}_{src.stem}.o" for i, src in enumerate(kernel_sources)]
        steps = [["arm-none-eabi-gcc", *compile_flags, "-c", str(src), "-o", str(obj)]
                 for src, obj in zip(kernel_sources, kernel_objects)]
        steps.append([
            "arm-none-eabi-gcc", *compile_flags,
            "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections",
            f"-Wl,-Map={tmp / 'image.map'}",
            f"-L{tmp}", f"-L{fw / 'boards' / 'common'}", "-T", str(board_dir / "link.ld"),
            *map(str, other_sources), str(tmp / "cases.c"), *map(str, kernel_objects),
            "-o", str(tmp / "image.elf"),
        ])
        (tmp / "build.cmd").write_text("\n".join(" ".join(step) for step in steps) + "\n")
        for cmd in steps:
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                break
        (tmp / "build.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            overflow = re.findall(r"region `(\w+)' overflowed by (\d+) bytes", result.stderr)
            if overflow:
                detail = ", ".join(f"{r} by {int(n) / 1024:.1f} KiB" for r, n in overflow)
                raise FirmwareTooLarge(
                    f"image {name} for {settings.board} does not fit: {detail}. "
                    "Use fewer or smaller cases, or another placement (board.placement)")
            raise BuildError(f"compiling image {name} failed:\n{result.stderr.strip()[-3000:]}")
        if out_dir.exists():  # built meanwhile by another job
            return
        tmp.rename(out_dir)


def size_report(elf: Path, memory: Mapping) -> dict:
    """text/data/bss (as arm-none-eabi-size counts them) and bytes used per region."""
    sizes = {"text": 0, "data": 0, "bss": 0}
    used = dict.fromkeys(memory, 0)

    def region_of(addr: int) -> str | None:
        for name, r in memory.items():
            if int(r["origin"]) <= addr < int(r["origin"]) + int(r["size_kb"]) * 1024:
                return name
        return None

    with elf.open("rb") as f:
        e = ELFFile(f)
        segments = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD"]
        for sec in e.iter_sections():
            flags, size = sec["sh_flags"], sec["sh_size"]
            if not flags & SH_FLAGS.SHF_ALLOC or size == 0:
                continue
            addr = sec["sh_addr"]
            nobits = sec["sh_type"] == "SHT_NOBITS"
            if nobits:
                sizes["bss"] += size
            elif flags & SH_FLAGS.SHF_WRITE:
                sizes["data"] += size
            else:
                sizes["text"] += size
            run_region = region_of(addr)
            if run_region:
                used[run_region] += size
            if not nobits:
                for seg in segments:
                    if seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_memsz"]:
                        load_region = region_of(seg["p_paddr"] + addr - seg["p_vaddr"])
                        if load_region and load_region != run_region:
                            used[load_region] += size
                        break
    capacity = {name: int(r["size_kb"]) * 1024 for name, r in memory.items()}
    return {**sizes, **{f"{name}_used": used[name] for name in memory},
            **{f"{name}_size": capacity[name] for name in memory}}
