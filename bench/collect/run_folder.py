"""Run folders on disk: find them under paths, globs, ``latest`` or results-store ids; read a
run's config."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

from omegaconf import OmegaConf

from bench.errors import BenchError


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
