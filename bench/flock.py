"""An exclusive flock on a file that also records who holds it.

The kernel drops a flock when its holder's file descriptor closes, which
includes the process dying (crash, kill -9), so a lock never outlives its
holder and never needs cleaning up by hand: a dead holder's file is simply
taken over. The file keeps the holder's pid, host and start time so the one
who is refused can be told who is in the way. Used for a board
(bench/farm/lock.py) and for a run folder (bench/store/run_lock.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path


class HolderLock:
    def __init__(self, path: str | Path, **info):
        self.path = Path(path)
        self.info = info            # extra holder details (a job name, a run folder)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (at once) when another holder has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.time(), **self.info}).encode())
        self._fd = fd
        return True

    def fileno(self) -> int | None:
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            # Close, not LOCK_UN: a process given this descriptor (pass_fds) keeps
            # the lock until it exits; the lock goes with the last descriptor.
            os.close(self._fd)
            self._fd = None

    def holder_info(self) -> dict:
        # A new holder truncates, then writes: a reader in between sees an empty file.
        for _ in range(20):
            try:
                info = json.loads(self.path.read_text() or "{}")
            except (OSError, ValueError):
                info = {}
            if info:
                return info
            time.sleep(0.01)
        return {}

    def holder(self) -> str:
        """'pid 123 on host since 2026-12-03 16:40:02 UTC' (or 'holder unknown')."""
        info = self.holder_info()
        if not info:
            return "holder unknown"
        since = info.get("since")
        when = (datetime.fromtimestamp(since, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
                if isinstance(since, (int, float)) else "?")
        return f"pid {info.get('pid')} on {info.get('host')} since {when}"
