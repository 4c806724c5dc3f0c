"""micromind's PhiNet and XiNet (the authors' reference code), loaded by file path when installed.

micromind 0.2.1 is installed with ``pip install --no-deps micromind==0.2.1`` (setup.sh does): its package
``__init__`` imports torchvision and accelerate, which the torch 2.13 CPU wheel does not carry, so the two
network files are loaded by path. Its phinet.py imports torchinfo (a dev extra).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from types import ModuleType

VERSION = "0.2.1"


def installed_root() -> Path | None:
    """The installed micromind package folder when it is version 0.2.1, else None."""
    try:
        dist = importlib.metadata.distribution("micromind")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(dist.locate_file("micromind")) if dist.version == VERSION else None


def load(root: Path | None = None) -> dict[str, ModuleType]:
    """micromind's networks/phinet.py and xinet.py as modules {"phinet": ..., "xinet": ...}."""
    root = root or installed_root()
    if root is None:
        raise ImportError(f"micromind {VERSION} is not installed (pip install --no-deps micromind=={VERSION})")
    mods = {}
    for name in ("phinet", "xinet"):
        spec = importlib.util.spec_from_file_location(f"micromind_ref_{name}", Path(root) / "networks" / f"{name}.py")
        mods[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mods[name])
    return mods


def build(call: str, mods: dict[str, ModuleType]):
    """The network of a printed constructor call, e.g. ``PhiNet(input_shape=(3, 96, 96), alpha=0.5)``."""
    return eval(call, {"__builtins__": {}}, {"PhiNet": mods["phinet"].PhiNet, "XiNet": mods["xinet"].XiNet})
