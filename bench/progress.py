"""The terminal during a command: progress bars (rich), a spinner for steps of unknown length,
and the console side of logging.

Only what a user acts on reaches the terminal: progress, warnings, errors and each command's
own answer. Internal detail (firmware banners, why the instruction mix was skipped, store
bookkeeping) goes to the run's log file only (conf/config.yaml routes logging here).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

from rich.errors import LiveError
from rich.progress import (BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.progress import Progress as _RichProgress


def _interactive() -> bool:
    return sys.stderr.isatty()


class Progress:
    def __init__(self, total: int, description: str):
        self._rich = _RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            TextColumn("{task.fields[case]}"),
            disable=not _interactive(), transient=False)
        self._task = self._rich.add_task(description, total=total, case="")
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._rich.advance(self._task, n)

    def current(self, case_id: str) -> None:
        with self._lock:
            self._rich.update(self._task, case=case_id)

    def __enter__(self) -> "Progress":
        try:
            self._rich.start()
        except LiveError:  # another display is live (a command inside a command): stay quiet
            self._rich.disable = True
        return self

    def __exit__(self, *exc) -> None:
        self._rich.stop()


@contextlib.contextmanager
def status(description: str):
    """A spinner with the elapsed time for a step whose length is unknown (a search, a solve).
    Usage: ``with status("search: ranking designs") as update: ... update("fitting")``."""
    rich = _RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                         TextColumn("{task.fields[step]}"), disable=not _interactive(), transient=True)
    task = rich.add_task(description, total=None, step="")
    try:
        rich.start()
    except LiveError:
        rich.disable = True
    try:
        yield lambda step: rich.update(task, step=step)
    finally:
        rich.stop()


class ConsoleHandler(logging.Handler):
    """Warnings and errors to the terminal as one line each (``warning: ...``), written through
    the *current* sys.stderr so that a live progress bar prints them above itself instead of
    being broken by them. Records logged with ``extra={"file_only": True}`` stay in the log file
    (the command prints its own one-line message for them)."""

    def __init__(self, level: int = logging.WARNING, **_ignored):  # Hydra's default passes a stream
        super().__init__(level)

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False) and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{record.levelname.lower()}: {record.getMessage()}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never take the run down
            self.handleError(record)
