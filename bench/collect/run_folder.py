"""Run folders on disk: find them under paths, globs, ``latest`` or results-store ids; read a
run's config; hold one while a run writes it."""

from __future__ import annotations

import contextlib
import glob
from pathlib import Path
from typing import Iterable, Iterator

from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.flock import HolderLock

LOCK_FILE = ".run.lock"


def latest_run(root: Path = Path("runs")) -> Path:
    """The newest run under runs/ (by its results.csv); a multirun's whole sweep folder when the
    newest run is one of its jobs, so that ``report latest`` after ``run -m`` covers every job."""
    found = [p for p in root.rglob("results.csv") if p.relative_to(root).parts[0] != "reports"]
    if not found:
        raise BenchError(f"no run under {root}/ yet: python -m bench run writes one")
    run = max(found, key=lambda p: p.stat().st_mtime).parent
    return run.parent if (run.parent / "multirun.yaml").exists() else run


def resolve_run_refs(refs: Iterable[str | Path]) -> list[str | Path]:
    """Paths and globs as given; ``latest`` turned into the newest run's folder. (Results-store
    ids are turned into folders by bench.store.db.store_refs, which the commands call first.)"""
    return [latest_run() if str(ref) == "latest" else ref for ref in refs]


def find_runs(patterns: Iterable[str | Path]) -> list[Path]:
    """Run folders under the given references: a run folder, a multirun folder, globs of either,
    or ``latest`` (the newest run)."""
    runs: list[Path] = []
    patterns = resolve_run_refs(patterns)
    for pattern in patterns:
        matches = [Path(p) for p in glob.glob(str(pattern))] or [Path(pattern)]
        for match in matches:
            if (match / "results.csv").exists():
                runs.append(match)
            elif match.is_dir():
                runs += sorted(p.parent for p in match.rglob("results.csv"))
    runs = list(dict.fromkeys(runs))
    if not runs:
        raise BenchError(f"no results.csv under {', '.join(map(str, patterns))}; give a run folder from "
                         "runs/, a glob, latest, or a store id (python -m bench store list)")
    return runs


def run_config(run: Path) -> dict:
    """The run's composed config (config.resolved.yaml, else .hydra/config.yaml), or {}."""
    for name in ("config.resolved.yaml", ".hydra/config.yaml"):
        path = Path(run) / name
        if path.exists():
            try:
                return OmegaConf.to_container(OmegaConf.load(path), resolve=True)
            except Exception:  # noqa: BLE001 - a config we cannot resolve is reported as absent
                continue
    return {}


class RunFolderBusy(BenchError):
    """Another run or resume is writing this run folder."""


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[HolderLock]:
    """Hold ``run_dir`` for one run: a second run or resume there fails at once.

    Two runs writing one folder would interleave their rows in one
    results.csv; two resumes would each rewrite it under the other. The
    refusal names the holder's pid, host and start time. The lock goes with
    its holder's process however that ends (bench/flock.py), so a crashed
    run never blocks its folder: a resume takes the lock over.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = HolderLock(run_dir / LOCK_FILE, run_dir=str(run_dir))
    if not lock.try_acquire():
        raise RunFolderBusy(f"run folder {run_dir} is in use by another run ({lock.holder()}); "
                            "wait for it to end, or give this run its own hydra.run.dir")
    try:
        yield lock
    finally:
        lock.release()


def check_fresh(run_dir: Path, resume) -> None:
    """A run that is not a resume starts in a folder without an earlier run's results.

    Appending to another run's results.csv would leave two rows per case (and
    "140/70 cases ok"); Hydra's default folder name is only unique to the second.
    """
    results = run_dir / "results.csv"
    if resume or not results.exists():
        return
    with results.open("rb") as f:
        rows = sum(1 for line in f if line.strip()) - 1
    if rows > 0:
        raise RunFolderBusy(f"run folder {run_dir} already holds {rows} result row(s) of an earlier run; "
                            "resume it (run.resume=true) or give this run its own hydra.run.dir")
