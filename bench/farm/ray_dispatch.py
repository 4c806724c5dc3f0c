"""Many hosts: send each job to a host that owns a board of its type, through Ray.

Optional extra (``pip install .[farm]``). Each farm host joins the cluster
advertising its boards as custom resources, one unit per board instance::

    ray start --address=HEAD:6379 --resources='{"nucleo_h743": 2, "qemu_m7": 4}'

A job asks for one unit of its board type, so Ray places it on a host that has
one free. There the task takes the board's local lock (the same BoardLock as
local runs: Ray's resource count and the lock agree when the inventory and
``--resources`` do), runs ``python -m bench run`` into a scratch folder, and
sends the run folder back (models and plots left out). The driver writes it
under ``runs/farm/...`` and adds it to its results store, so the store on the
CI host holds every host's results with the git commit and host of each.
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Sequence

from bench.errors import BenchError
from bench.farm.local import Job, JobResult, run_on_board

MAX_FILE_BYTES = 5 * 1024 * 1024
SKIP_SUFFIXES = (".tflite", ".png", ".elf")


def import_ray():
    try:
        import ray
    except ImportError:
        raise BenchError("Ray is not installed: pip install '.[farm]' (or pip install ray) "
                         "on the CI host and every farm host") from None
    return ray


def _pack(run_dir: Path) -> dict[str, bytes]:
    files = {}
    for f in sorted(run_dir.rglob("*")):
        if f.is_file() and f.suffix not in SKIP_SUFFIXES and f.stat().st_size <= MAX_FILE_BYTES:
            files[str(f.relative_to(run_dir))] = f.read_bytes()
    return files


def remote_job(job: Job, inventory: str | None, lock_dir: str | None) -> JobResult:
    """Runs on the farm host Ray chose: lock a local board of the type, run, pack the folder."""
    from bench.farm.inventory import load, require_boards

    host = socket.gethostname()
    boards = require_boards(load(inventory), job.board_type, host)
    with tempfile.TemporaryDirectory(prefix="bench-farm-") as tmp:
        run_dir = Path(tmp) / job.name
        result = run_on_board(job, boards, run_dir, lock_dir)
        result.host = host
        result.files = _pack(run_dir) if run_dir.is_dir() else {}
        log_file = Path(tmp) / f"{job.name}.log"
        if log_file.exists():
            result.files["job.log"] = log_file.read_bytes()[-200_000:]
    return result


def dispatch(jobs: Sequence[Job], out_root: Path, *, inventory: str | None = None,
             store_path: str | None = None, lock_dir: str | None = None,
             address: str | None = None) -> list[JobResult]:
    """Run the jobs across the Ray cluster; write each run folder under out_root, add it to the store."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address or "auto", log_to_driver=False)
    available = ray.cluster_resources()
    missing = sorted({j.board_type for j in jobs if available.get(j.board_type, 0) < 1})
    if missing:
        raise BenchError(f"no host in the Ray cluster offers {', '.join(missing)}; start farm hosts with "
                         f"ray start --resources='{{\"{missing[0]}\": N}}'")
    task = ray.remote(remote_job)
    pending = {task.options(resources={j.board_type: 1}, num_cpus=1, max_retries=0)
               .remote(j, inventory, lock_dir): j for j in jobs}
    results = []
    out_root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(done[0])
        try:
            res = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001 - a lost task is one failed job, not a lost sweep
            res = JobResult(job, returncode=-1, detail=f"Ray task failed: {exc}")
        run_dir = out_root / job.name
        for rel, data in res.files.items():
            path = run_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        res.files = {}
        res.run_dir = str(run_dir)
        if store_path and (run_dir / "results.csv").exists():
            from bench.store.db import Store
            with Store(store_path) as store:
                store.add_run(run_dir)
        print(f"{job.name} on {res.host}/{res.board}: {'ok' if res.ok else 'FAILED (' + res.detail + ')'} "
              f"({len(results) + 1}/{len(jobs)}, {time.monotonic() - t0:.0f} s)")
        results.append(res)
    return results
