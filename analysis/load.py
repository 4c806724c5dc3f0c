"""Load results.csv files from one or several run folders (globs allowed)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

import pandas as pd
from omegaconf import OmegaConf

from bench.errors import BenchError


def latest_run(root: Path = Path("runs")) -> Path:
    """The newest run under runs/ (by its results.csv); a multirun's whole sweep folder when the
    newest run is one of its jobs, so that ``report latest`` after ``run -m`` covers every job."""
    found = [p for p in root.rglob("results.csv") if "reports" not in p.relative_to(root).parts[:1]]
    if not found:
        raise BenchError(f"no run under {root}/ yet: python -m bench run writes one")
    run = max(found, key=lambda p: p.stat().st_mtime).parent
    return run.parent if (run.parent / "multirun.yaml").exists() else run


def _store_run(ref: str) -> Path:
    """A run by its results-store id (``12`` or ``#12``, as ``python -m bench store list`` shows)."""
    from bench.store import Store, resolve_path

    if not resolve_path().exists():
        raise BenchError(f"{ref!r} looks like a store id, but there is no results store at {resolve_path()}")
    with Store() as store:
        return Path(store.run(int(ref.lstrip("#"))).path)


def resolve_run_refs(refs: Iterable[str | Path]) -> list[str | Path]:
    """Paths and globs as given; ``latest`` and store ids (``12``, ``#12``) turned into folders."""
    out: list[str | Path] = []
    for ref in refs:
        text = str(ref)
        if text == "latest":
            out.append(latest_run())
        elif text.lstrip("#").isdigit() and not Path(text).exists():
            out.append(_store_run(text))
        else:
            out.append(ref)
    return out


def find_runs(patterns: Iterable[str | Path]) -> list[Path]:
    """Run folders under the given references: a run folder, a multirun folder, globs of either,
    ``latest`` (the newest run) or a results-store id."""
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


def load_results(patterns: Iterable[str | Path]) -> pd.DataFrame:
    """Every results.csv under the patterns, one row per case, with the run folder and the
    clock and CPI of the run's board energy model (``clock_hz``, ``cycles_per_unit``)
    so that instruction counts can be turned into a stated-clock latency."""
    frames = []
    runs = find_runs(patterns)
    for run in runs:
        df = pd.read_csv(run / "results.csv")
        if df.empty:  # a run stopped before its first case: nothing to read
            continue
        df.insert(0, "run", str(run))
        board = run_config(run).get("board") or {}
        model = board.get("energy_model") or {}
        df["core"] = board.get("core") or ""  # grouping and labels of multi-board reports
        df["clock_hz"] = float(model["clock_hz"]) if "clock_hz" in model else float("nan")
        df["cycles_per_unit"] = float(model["cycles_per_unit"]) if "cycles_per_unit" in model else float("nan")
        df["run_mtime"] = (run / "results.csv").stat().st_mtime
        frames.append(df)
    if not frames:
        raise BenchError(f"no measured cases in {', '.join(map(str, runs))}: every results.csv there is empty")
    return deduplicate(pd.concat(frames, ignore_index=True))


# A case is the same measurement when its id (shape, op, seed) and its build agree.
SAME_CASE = ["case_id", "board", "kernels", "kernels_version", "compiler", "cflags", "metric_unit",
             "provenance"]


def deduplicate(results: pd.DataFrame) -> pd.DataFrame:
    """One row per case: where several runs measured the same case with the same build, the
    newest run's row is kept and ``results.attrs["notes"]`` says how many and by how much
    the repeats differed (emulator counts should not differ at all)."""
    keys = [k for k in SAME_CASE if k in results]
    filled = results[keys].astype(str)
    repeated = filled.duplicated(keep=False)
    notes = []
    if repeated.any():
        rep = results[repeated].assign(_key=filled[repeated].agg("|".join, axis=1))
        spread = rep[rep["status"] == "ok"].groupby("_key")["metric"].agg(lambda m: m.max() / m.min() - 1)
        runs = rep.groupby("_key")["run"].nunique()
        worst = float(spread.max()) if len(spread) else 0.0
        notes.append(f"{runs.size} case(s) were measured in more than one run (up to {runs.max()} times, "
                     f"same build); the newest run's figure is used for each, and the repeats' metric "
                     f"differed by at most {worst:.2%}.")
    order = results.sort_values("run_mtime", kind="stable")
    out = order[~filled.loc[order.index].duplicated(keep="last")].sort_index()
    out = out.drop(columns="run_mtime").reset_index(drop=True)
    out.attrs["notes"] = notes
    return out
