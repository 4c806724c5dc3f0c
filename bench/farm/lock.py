"""One job per board at a time: an exclusive flock on a per-board lock file.

The kernel drops a flock when its holder's file descriptor closes, which
includes the process dying (crash, kill -9, power loss of the job), so a
lock never outlives its job and never needs cleaning up by hand. The file
keeps the last holder's pid, host and job for diagnostics only
(bench/flock.py, shared with the run-folder lock).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from bench import paths
from bench.errors import BenchError
from bench.flock import HolderLock


class BoardBusy(BenchError):
    """No board of the requested kind became free in time."""


def lock_dir(path: str | Path | None = None) -> Path:
    """--lock-dir, else $BENCH_LOCK_DIR, else <cache>/locks. Must be local to the host."""
    d = Path(path or os.environ.get("BENCH_LOCK_DIR") or paths.cache_dir() / "locks")
    d.mkdir(parents=True, exist_ok=True)
    return d


class BoardLock(HolderLock):
    def __init__(self, board: str, directory: str | Path | None = None, job: str = ""):
        super().__init__(lock_dir(directory) / f"{board}.lock", job=job)
        self.board = board
        self.job = job

    def acquire(self, timeout: float | None = None, poll_s: float = 0.2) -> "BoardLock":
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.try_acquire():
            if deadline is not None and time.monotonic() > deadline:
                raise BoardBusy(f"board {self.board} still in use after {timeout:.0f} s ({self.holder()})")
            time.sleep(poll_s)
        return self

    def fileno(self) -> int:
        if self._fd is None:
            raise BenchError(f"lock on {self.board} is not held")
        return self._fd

    def holder(self) -> str:
        info = self.holder_info()
        if not info:
            return "holder unknown"
        return f"last taken by pid {info.get('pid')} on {info.get('host')} for {info.get('job') or '?'}"

    def __enter__(self) -> "BoardLock":
        return self if self.held else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def acquire_any(boards: Iterable[str], directory: str | Path | None = None, job: str = "",
                timeout: float | None = None, poll_s: float = 0.2) -> BoardLock:
    """Lock the first free board of ``boards`` (waiting while all are busy)."""
    boards = list(boards)
    if not boards:
        raise BenchError(f"job {job}: no board of this kind on this host")
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for board in boards:
            lock = BoardLock(board, directory, job)
            if lock.try_acquire():
                return lock
        if deadline is not None and time.monotonic() > deadline:
            raise BoardBusy(f"job {job}: all of {', '.join(boards)} busy after {timeout:.0f} s")
        time.sleep(poll_s)
