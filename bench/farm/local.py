"""Several jobs at once on one host: each takes a free board of its type under a lock.

A job is ``python -m bench run board=<type> <overrides>`` in its own process
(Hydra keeps global state, and a crashed job must not take the others with
it), writing to ``<out>/<job name>``. A thread per job waits for a free board
of its type (BoardLock over the inventory's instances on this host), runs the
process with that board's probe and ports, then adds the run to the store.
Progress across jobs is one rich bar per job, fed by each run's
case_keys.json (cases planned) and results.csv (cases finished).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence

from bench.store.resume import KEYS_FILE
from bench.farm.inventory import BoardEntry, require_boards
from bench.farm.lock import acquire_any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    board_type: str
    overrides: tuple[str, ...] = ()


@dataclass
class JobResult:
    job: Job
    board: str = ""           # the instance it ran on
    host: str = ""
    run_dir: str = ""
    returncode: int | None = None
    wall_s: float = 0.0
    detail: str = ""
    files: dict = field(default_factory=dict, repr=False)   # Ray: run folder contents

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def expand(board_types: Sequence[str], overrides: Sequence[str]) -> list[Job]:
    """One job per board type and per combination of comma-separated override values
    (``op=standard,depthwise`` makes two jobs, as Hydra's -m would)."""
    choices = []
    for ov in overrides:
        key, _, value = ov.partition("=")
        if "," in value and not re.search(r"[\[\]{}()'\"]", value):
            choices.append([f"{key}={v}" for v in value.split(",")])
        else:
            choices.append([ov])
    varying = [len(c) > 1 for c in choices]
    jobs = []
    for btype in board_types:
        for combo in itertools.product(*choices):
            tag = "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", c.split("=", 1)[-1])
                           for c, v in zip(combo, varying) if v)
            jobs.append(Job(f"{len(jobs):02d}_{btype}" + (f"_{tag}" if tag else ""), btype, tuple(combo)))
    return jobs


def bench_command(job: Job, board: BoardEntry, run_dir: Path) -> tuple[list[str], dict]:
    """The process that runs one job on one board instance, and its environment."""
    cmd = [sys.executable, "-m", "bench", "run", f"board={job.board_type}", *job.overrides,
           f"hydra.run.dir={run_dir}", "store.path=null"]   # the dispatcher adds the run to the store
    if board.probe:
        cmd.append(f"board.target.unique_id={board.probe}")   # bench/deploy/pyocd_target.py picks the probe
    if board.power and not any(o.startswith(("power=", "+power=")) for o in job.overrides):
        cmd.append(f"power={board.power.get('kind', 'none')}")
        port = _local_port(str(board.power.get("serial", "")))
        if port:
            cmd.append(f"power.port={port}")
    env = {**os.environ, "BENCH_BOARD_INSTANCE": board.name, "BENCH_PROBE_UID": board.probe,
           "BENCH_SERIAL_PORT": board.serial, "BENCH_POWER": json.dumps(board.power or {})}
    return cmd, env


def _local_port(spec: str) -> str | None:
    from serial.tools import list_ports

    from bench.farm.inventory import resolve_port
    ports = [{"device": p.device, "serial_number": p.serial_number or ""} for p in list_ports.comports()]
    return resolve_port(spec, "", ports)


def run_on_board(job: Job, boards: Sequence[BoardEntry], run_dir: Path, lock_dir: str | None = None,
                 on_board=None, timeout_s: float | None = None) -> JobResult:
    """Wait for a free board of the job's type, run the job there, release the board."""
    result = JobResult(job, host=socket.gethostname(), run_dir=str(run_dir))
    by_name = {b.name: b for b in boards}
    with acquire_any(by_name, lock_dir, job=job.name) as lock:
        board = by_name[lock.board]
        result.board = board.name
        if on_board:
            on_board(job, board.name)
        cmd, env = bench_command(job, board, run_dir)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with open(run_dir.parent / f"{job.name}.log", "w") as logf:
            try:
                # The job shares the lock's open file: the board stays locked while either
                # this process or the job lives, and is freed when both are gone (crash included).
                result.returncode = subprocess.run(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                                   timeout=timeout_s, pass_fds=(lock.fileno(),)).returncode
            except subprocess.TimeoutExpired:
                result.returncode, result.detail = -1, f"timed out after {timeout_s:.0f} s"
        result.wall_s = time.monotonic() - t0
    if result.returncode and not result.detail:
        result.detail = f"exit code {result.returncode}; log {run_dir.parent / (job.name + '.log')}"
    return result


def _progress_counts(run_dir: Path) -> tuple[int | None, int]:
    total = None
    try:
        total = len(json.loads((run_dir / KEYS_FILE).read_text())["keys"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        with (run_dir / "results.csv").open() as f:
            done = max(sum(1 for _ in f) - 1, 0)
    except OSError:
        done = 0
    return total, done


def run_local(jobs: Sequence[Job], entries: Sequence[BoardEntry], out_root: Path,
              store_path: str | None = None, lock_dir: str | None = None,
              host: str | None = None, show_progress: bool = True) -> list[JobResult]:
    """Run the jobs on this host's boards, as many at once as there are boards."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    host = host or socket.gethostname()
    boards = {j.board_type: require_boards(entries, j.board_type, host) for j in jobs}
    workers = max(1, len({b.name for bs in boards.values() for b in bs}))
    out_root.mkdir(parents=True, exist_ok=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), disable=not (show_progress and sys.stderr.isatty()))
    tasks = {j.name: progress.add_task(f"{j.name} (waiting for a {j.board_type})", total=None) for j in jobs}
    status_lock = threading.Lock()

    def on_board(job: Job, board: str) -> None:
        with status_lock:
            progress.update(tasks[job.name], description=f"{job.name} on {board}")

    def one(job: Job) -> JobResult:
        res = run_on_board(job, boards[job.board_type], out_root / job.name, lock_dir, on_board)
        if store_path and (out_root / job.name / "results.csv").exists():
            from bench.store.db import Store
            with Store(store_path) as store:
                store.add_run(out_root / job.name)
        msg = f"{job.name} on {res.board}: {'ok' if res.ok else 'FAILED (' + res.detail + ')'} in {res.wall_s:.1f} s"
        progress.console.print(msg) if progress.live.is_started else print(msg, file=sys.stderr)
        return res

    with progress, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, j) for j in jobs]
        while not all(f.done() for f in futures):
            for j in jobs:
                total, done = _progress_counts(out_root / j.name)
                with status_lock:
                    progress.update(tasks[j.name], total=total, completed=done)
            time.sleep(0.3)
        results = [f.result() for f in futures]
        for j in jobs:
            total, done = _progress_counts(out_root / j.name)
            progress.update(tasks[j.name], total=total or done, completed=done)
    (out_root / "jobs.json").write_text(json.dumps([{**asdict(r), "files": None} for r in results],
                                                   indent=1, default=str))
    return results


def default_out_root() -> Path:
    return Path("runs") / "farm" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
