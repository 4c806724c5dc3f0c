"""Run folders on disk: find them under paths or globs, read a run's config."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

from omegaconf import OmegaConf

from bench.errors import BenchError


def find_runs(patterns: Iterable[str | Path]) -> list[Path]:
    """Run folders under the given paths: a run folder, a multirun folder, or globs of either."""
    runs: list[Path] = []
    for pattern in patterns:
        matches = [Path(p) for p in glob.glob(str(pattern))] or [Path(pattern)]
        for match in matches:
            if (match / "results.csv").exists():
                runs.append(match)
            elif match.is_dir():
                runs += sorted(p.parent for p in match.rglob("results.csv"))
    runs = list(dict.fromkeys(runs))
    if not runs:
        raise BenchError(f"no results.csv under {', '.join(map(str, patterns))}; "
                         "give a run folder from runs/ (python -m bench run writes one)")
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
