"""One run at a time in a run folder: a flock on <run folder>/.run.lock.

Two runs writing one folder would interleave their rows in one results.csv
(twice as many rows as cases, all "ok"); two resumes of one folder would each
rewrite it under the other. The second one to come fails at once, naming the
holder's pid, host and start time. The lock goes when its holder's process
ends, however it ends (bench/flock.py), so a crashed run never blocks the
folder: its resume simply takes the lock over.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from ..errors import BenchError
from ..flock import HolderLock

LOCK_FILE = ".run.lock"


class RunFolderBusy(BenchError):
    """Another run or resume is writing this run folder."""


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[HolderLock]:
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = HolderLock(run_dir / LOCK_FILE, run_dir=str(run_dir))
    if not lock.try_acquire():
        raise RunFolderBusy(f"run folder {run_dir} is in use by another run ({lock.holder()}); "
                            "wait for it to end, or give this run its own hydra.run.dir")
    try:
        yield lock
    finally:
        lock.release()
