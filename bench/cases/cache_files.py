"""Writing the case cache safely when several runs generate the same case at once
(a farm's ref and opt jobs share their standard convs): each writer uses its own
temporary name and renames it into place, so a reader sees a whole file or none."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_atomic(path: Path, data: bytes | str) -> None:
    tmp = _tmp(path)
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def savez_atomic(path: Path, **arrays: np.ndarray) -> None:
    tmp = _tmp(path)
    with tmp.open("wb") as f:  # a file object: np.savez adds no .npz suffix to it
        np.savez(f, **arrays)
    tmp.replace(path)
