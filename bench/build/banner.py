"""The banner an image must print, from what it was built from.

firmware/runner/main.c prints a banner before any result: firmware version,
image, build hash, board, kernel library and version, compiler, flags,
repetitions, case count, counter. The collector compares it with this plan
before it uses a single result line of the image (bench/collect/schema.py),
so a stale or swapped ELF, or a board running something else, is named
(`wrong-firmware: banner kernels=opt, planned ref`) instead of recorded.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from bench import paths
from bench.build.images import BuildSettings, Image

_FW_VERSION = re.compile(r'#define\s+FIRMWARE_VERSION\s+"([^"]+)"')
_LIB_VERSION = re.compile(r'\.version\s*=\s*(?:"([^"]+)"|(\w+))')


def planned_banner(image: Image, settings: BuildSettings, board: Mapping) -> dict[str, str]:
    """The banner ``image`` must print (firmware/runner/main.c), key -> exact text.

    Taken from what the image was built from: the runner and kernel library
    sources, the -D flags, the compiler, the board's counter. The collector
    refuses every result of an image whose banner differs (bench/collect/schema.py).
    """
    defines = define_values(settings.defines)
    fw = paths.firmware_dir()
    banner = {
        "fw": _first(_FW_VERSION, fw / "runner" / "main.c"),
        "image": image.name, "build": image.firmware_hash, "board": settings.board,
        "kernels": settings.kernels, "kernels_version": _kernels_version(settings, defines),
        "cc": compiler_macro_version(), "cflags": " ".join(settings.cflags),
        "warmup": settings.warmup, "reps": settings.reps,
        "max_reps": defines.get("BENCH_MAX_REPS", settings.reps),
        "rse_target_ppm": defines.get("BENCH_RSE_PPM", 0),
        "min_window_ms": defines.get("BENCH_MIN_WINDOW_MS", 0),
        "idle_ms": defines.get("BENCH_IDLE_MS", 0), "cases": len(image.cases),
    }
    counter = board.get("counter") or {}
    banner["counter"] = counter.get("name")
    if counter.get("tick_ns"):
        hz = 1e9 / float(counter["tick_ns"])
        banner["counter_hz"] = int(hz) if hz.is_integer() else None
    # The runner prints values with spaces as '_' (protocol.c line_str); None: not checked.
    return {k: str(v).replace(" ", "_") for k, v in banner.items() if v not in (None, "")}


def define_values(defines) -> dict[str, str]:
    """-DNAME=VALUE flags as NAME -> VALUE (quotes removed)."""
    out = {}
    for flag in defines:
        name, _, value = flag.removeprefix("-D").partition("=")
        out[name] = value.strip('"')
    return out


def _kernels_version(settings: BuildSettings, defines: Mapping[str, str]) -> str | None:
    """The library's version string as its library.c sets it (a literal, or a -D macro)."""
    path = paths.firmware_dir() / "kernels" / settings.kernels / "library.c"
    try:
        m = _LIB_VERSION.search(path.read_text())
    except OSError:
        return None
    if m is None:
        return None
    return m.group(1) or defines.get(m.group(2))


def _first(pattern: re.Pattern, path: Path) -> str | None:
    try:
        m = pattern.search(path.read_text())
    except OSError:
        return None
    return m.group(1) if m else None


@lru_cache(maxsize=None)
def compiler_macro_version(gcc: str = "arm-none-eabi-gcc") -> str:
    """What the compiler's __VERSION__ expands to: the runner prints it as cc."""
    out = subprocess.run([gcc, "-E", "-P", "-x", "c", "-"], input="__VERSION__\n", capture_output=True,
                         text=True, check=True).stdout
    return out.strip().strip('"')
