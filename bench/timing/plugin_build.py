"""Build the QEMU cycle plugin (``qemu_plugin/cycles.c``) with the host C compiler.

Built once per source version into the cache (``<cache>/qemu-plugin/<hash>/cycles.so``),
at set-up (``python -m bench.timing.plugin_build``, run by setup.sh) or lazily at
the first run that estimates cycles. Only the host gcc (or ``$CC``) is needed:
the plugin declares the few QEMU plugin API functions it uses itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

from bench import paths
from bench.errors import ToolchainError

SOURCE_DIR = Path(__file__).resolve().parent / "qemu_plugin"
SOURCES = ("cycles.c", "thumb_decode.h")
_lock = threading.Lock()


def _source_hash() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((SOURCE_DIR / name).read_bytes())
    return h.hexdigest()[:16]


def host_compiler() -> str:
    cc = os.environ.get("CC") or "gcc"
    if shutil.which(cc) is None:
        raise ToolchainError(f"host C compiler {cc!r} not found: the cycle estimate builds a QEMU plugin with it "
                             "(sudo apt-get install -y gcc), or turn the estimate off with run.cycles=false")
    return cc


def plugin_path(cache: Path | None = None) -> Path:
    """The built plugin, compiling it first if this source version has not been built."""
    out = (cache or paths.cache_dir()) / "qemu-plugin" / _source_hash() / "cycles.so"
    with _lock:
        if out.exists():
            return out
        cc = host_compiler()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"cycles.{os.getpid()}.so")
        cmd = [cc, "-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden", "-o", str(tmp),
               str(SOURCE_DIR / "cycles.c")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"building the QEMU cycle plugin failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
        tmp.replace(out)   # atomic: a concurrent process sees the whole file or none
    return out


if __name__ == "__main__":
    print(plugin_path())
