"""What a kernel library adds to a firmware build, beyond firmware/kernels/<name>/*.c.

``ref`` and ``opt`` are self-contained. ``cmsis_nn`` is our adapter
(firmware/kernels/cmsis_nn/) over a CMSIS-NN source tree the user supplies
(``kernels.cmsis_nn_path=...`` or the CMSIS_NN_PATH environment variable);
this module checks that the tree is CMSIS-NN and declares every public
function the adapter calls, finds its version, and lists its include
directory and the sources to compile. No CMSIS-NN code is stored here.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bench.errors import ConfigError

# The public API the adapter calls (CMSIS-NN's wrappers and their buffer-size queries).
CMSIS_NN_FUNCTIONS = (
    "arm_convolve_wrapper_s8",
    "arm_convolve_wrapper_s8_get_buffer_size",
    "arm_depthwise_conv_wrapper_s8",
    "arm_depthwise_conv_wrapper_s8_get_buffer_size",
    # model layers (python -m bench profile)
    "arm_elementwise_add_s8", "arm_elementwise_mul_s8", "arm_avgpool_s8", "arm_avgpool_s8_get_buffer_size",
    "arm_max_pool_s8", "arm_fully_connected_s8", "arm_fully_connected_per_channel_s8", "arm_softmax_s8",
)
# Source folders with the s8 kernels the adapter calls (convolutions; add/mul,
# pooling, fully connected and softmax for model layers) and what they call.
CMSIS_NN_SOURCE_DIRS = ("Source/ConvolutionFunctions", "Source/NNSupportFunctions", "Source/BasicMathFunctions",
                        "Source/PoolingFunctions", "Source/FullyConnectedFunctions", "Source/SoftmaxFunctions")
# Needed only by some builds, and absent from older versions: the MVE depthwise
# wrapper (Cortex-M55) turns some depthwise calls into a transpose + conv.
CMSIS_NN_OPTIONAL_SOURCE_DIRS = ("Source/TransposeFunctions",)


class KernelLibraryError(ConfigError):
    """A kernel library cannot be used as configured (e.g. a bad CMSIS-NN path)."""


@dataclass(frozen=True)
class LibraryBuild:
    extra_sources: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    version: str = ""


def library_build(kernels: Mapping) -> LibraryBuild:
    """Extra sources, include dirs and -D flags for the configured kernel library."""
    if kernels.get("name") == "cmsis_nn":
        return cmsis_nn_build(kernels.get("cmsis_nn_path"), int(kernels.get("scratch_bytes", 65536)))
    return LibraryBuild()


def cmsis_nn_build(path, scratch_bytes: int = 65536) -> LibraryBuild:
    root = check_cmsis_nn_tree(path)
    version = cmsis_nn_version(root)
    sources = []
    for folder in CMSIS_NN_SOURCE_DIRS + tuple(d for d in CMSIS_NN_OPTIONAL_SOURCE_DIRS if (root / d).is_dir()):
        # int8/int16/int4 kernels only: the float (f16/f32) files need an FPU ABI.
        sources += [p for p in sorted((root / folder).glob("*.c"))
                    if not re.search(r"_(f16|f32|flt)\b|_f(16|32)_", p.stem)]
    return LibraryBuild(
        extra_sources=tuple(map(str, sources)),
        include_dirs=(str(root / "Include"),),
        defines=(f'-DCMSIS_NN_VERSION="{version}"', f"-DCMSIS_NN_SCRATCH_BYTES={int(scratch_bytes)}"),
        version=version,
    )


def check_cmsis_nn_tree(path) -> Path:
    """The CMSIS-NN root, or a KernelLibraryError saying what is wrong with ``path``."""
    if path in (None, "", "null", "None"):
        raise KernelLibraryError(
            "kernels=cmsis_nn needs a CMSIS-NN source tree: pass kernels.cmsis_nn_path=/path/to/CMSIS-NN "
            "or set CMSIS_NN_PATH (git clone https://github.com/ARM-software/CMSIS-NN)")
    root = Path(str(path)).expanduser()
    if not root.is_dir():
        raise KernelLibraryError(f"kernels.cmsis_nn_path={root}: no such directory")
    header = root / "Include" / "arm_nnfunctions.h"
    missing = [str(p.relative_to(root)) for p in (header, *(root / d for d in CMSIS_NN_SOURCE_DIRS))
               if not p.exists()]
    if missing:
        raise KernelLibraryError(
            f"kernels.cmsis_nn_path={root} is not a CMSIS-NN source tree (missing {', '.join(missing)}); "
            "point it at the root of a CMSIS-NN checkout, the folder that holds Include/ and Source/")
    text = header.read_text(errors="replace")
    absent = [f for f in CMSIS_NN_FUNCTIONS if not re.search(rf"\b{f}\s*\(", text)]
    if absent:
        raise KernelLibraryError(
            f"the CMSIS-NN at {root} (version {cmsis_nn_version(root)}) does not declare "
            f"{', '.join(absent)} in Include/arm_nnfunctions.h; the adapter needs "
            f"{', '.join(CMSIS_NN_FUNCTIONS)} (CMSIS-NN 4.0 or newer)")
    return root


def cmsis_nn_version(root: Path) -> str:
    """The release from the pack description, else git describe, else the header's revision."""
    for pdsc in sorted(root.glob("*.pdsc")):
        m = re.search(r'<release\s+version="([^"]+)"', pdsc.read_text(errors="replace"))
        if m:
            return m.group(1)
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--tags", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    header = root / "Include" / "arm_nnfunctions.h"
    m = re.search(r"\$Revision:\s*([^\s$]+)", header.read_text(errors="replace")) if header.exists() else None
    return f"header {m.group(1)}" if m else "unknown"
