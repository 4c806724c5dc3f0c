"""Resume an interrupted sweep: identify cases by content, carry finished ones over.

A case's key hashes everything that decides its measurement: the case's own
content hash (op, shape, seed), the generator version (quantization recipe),
the firmware identity (runner, kernel library, board layer sources, flags,
compiler version, warm-up and repetitions) and the board config. Every run
writes ``case_keys.json`` (case_id -> key) next to its results.csv, so any
run folder, finished or killed, can serve as a source.

A row is carried over only when every field it needs parses and is in range
(``ok_row_problems``: a row cut by a power loss is measured again), and only
from a run folder whose run-wide decisions (``run_decisions.json``: energy
basis, unit, energy model) are this run's.

With ``run.resume=true`` the pipeline asks ``prepare`` which cases still need
running: rows with status ok and the same key, from this run folder (when
resumed in place with ``hydra.run.dir=...``) or from the newest earlier runs
under the runs root, are written to the new results.csv; only the rest is
generated, built and run. ``run.resume=<run folder>`` names the source.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

from bench import paths
from bench.build.images import BuildSettings, compiler_version
from bench.cases.spec import CaseSpec
from bench.errors import ConfigError
from bench.cases.generate import GENERATOR_VERSION
from bench.collect.results import COLUMNS, ok_row_problems
from bench.collect.run_decisions import DECISIONS_FILE
from bench.collect.run_decisions import read as read_decisions

log = logging.getLogger(__name__)

KEYS_FILE = "case_keys.json"
RESUMED_FILE = "resumed.json"


def firmware_identity(cfg: Mapping, settings: BuildSettings) -> str:
    """Hash of what every image of this run shares (sources, flags, compiler, board, kernels)."""
    h = hashlib.sha256()
    fw = paths.firmware_dir()
    folders = [fw / "include", fw / "runner", fw / "kernels" / settings.kernels,
               fw / "boards" / "common", fw / "boards" / settings.firmware_dir]
    for folder in folders:
        for f in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if f.is_file():
                h.update(str(f.relative_to(fw)).encode())
                h.update(f.read_bytes())
    # A kernel library outside the tree (kernels.path, e.g. a user's CMSIS-NN): its sources and headers.
    external = [Path(f) for f in getattr(settings, "extra_sources", ())]
    external += [f for d in getattr(settings, "include_dirs", ()) for f in sorted(Path(d).rglob("*.h"))]
    for f in external:
        if f.is_file():
            h.update(str(f).encode())
            h.update(f.read_bytes())
    h.update(json.dumps({
        "cflags": settings.cflags, "defines": list(settings.defines), "warmup": settings.warmup,
        "reps": settings.reps, "compiler": compiler_version(), "generator": GENERATOR_VERSION,
        "board": cfg["board"], "kernels": cfg["kernels"],
    }, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


def case_keys(specs: Sequence[CaseSpec], cfg: Mapping, settings: BuildSettings) -> dict[str, str]:
    ident = firmware_identity(cfg, settings)
    return {s.case_id: hashlib.sha256(f"{s.content_hash}:{ident}".encode()).hexdigest()[:20]
            for s in specs}


def prepare(specs: Sequence[CaseSpec], cfg: Mapping, settings: BuildSettings,
            run_dir: Path, decisions: Mapping | None = None) -> list[CaseSpec]:
    """Record the case keys; with run.resume, carry finished cases over and return the rest."""
    keys = case_keys(specs, cfg, settings)
    resume = (cfg.get("run") or {}).get("resume") or False
    sources = _sources(resume, cfg, run_dir) if resume else []
    # Read the sources before rewriting anything: run_dir itself may be one.
    finished: dict[str, tuple[dict, Path]] = {}
    for src in sources:
        for case_id, row in _finished_rows(src, keys, decisions).items():
            finished.setdefault(case_id, (row, src))
        if len(finished) == len(keys):
            break
    _write_json(run_dir / KEYS_FILE, {"keys": keys})
    if not resume:
        return list(specs)
    _rewrite_results(run_dir / "results.csv", [finished[s.case_id][0] for s in specs if s.case_id in finished])
    carried = {cid: str(src) for cid, (_, src) in finished.items()}
    _write_json(run_dir / RESUMED_FILE, {"carried_over": carried})
    todo = [s for s in specs if s.case_id not in finished]
    if not todo:
        log.info("resume: all %d cases already finished (%s); nothing to run", len(specs),
                 ", ".join(sorted(set(carried.values()))))
    else:
        log.info("resume: %d of %d cases already finished, %d to run", len(finished), len(specs), len(todo))
    return todo


def _sources(resume, cfg: Mapping, run_dir: Path) -> list[Path]:
    """Run folders to take finished cases from: run_dir first, then the named or newest runs."""
    out = [run_dir]
    if isinstance(resume, str) and resume.lower() not in ("true", "yes", "1"):
        named = Path(resume)
        if not (named / KEYS_FILE).exists():
            raise ConfigError(f"run.resume={resume}: no {KEYS_FILE} there; give a run folder "
                              "written by python -m bench run")
        return out + [named]
    root = runs_root(cfg)
    if root.is_dir():
        found = [p.parent for p in root.rglob(KEYS_FILE)]
        found.sort(key=lambda p: (p / KEYS_FILE).stat().st_mtime, reverse=True)
        out += [p for p in found if p.resolve() != run_dir.resolve()]
    return out


def runs_root(cfg: Mapping) -> Path:
    """Where run folders live: the folder of the results store (runs/ by default)."""
    store = (cfg.get("store") or {}).get("path") or "runs/results.sqlite"
    return Path(store).parent


def _finished_rows(run: Path, keys: Mapping[str, str], decisions: Mapping | None = None) -> dict[str, dict]:
    """Rows of ``run`` that may be carried over: ok, same case key, and every field
    they need present and in range (a row cut by a power loss is measured again)."""
    try:
        recorded = json.loads((run / KEYS_FILE).read_text())["keys"]
    except (OSError, ValueError, KeyError):
        return {}
    if decisions is not None and read_decisions(run) != json.loads(json.dumps(dict(decisions), default=str)):
        log.info("resume: %s was run with other run-wide decisions (%s); nothing carried from it",
                 run, DECISIONS_FILE)
        return {}
    out = {}
    try:
        with (run / "results.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                cid = row.get("case_id", "")
                if row.get("status") == "ok" and cid in keys and recorded.get(cid) == keys[cid]:
                    problems = ok_row_problems(row)
                    if problems:
                        log.info("resume: %s in %s not carried (%s); measuring it again",
                                 cid, run, "; ".join(problems))
                        continue
                    out[cid] = row
    except OSError:
        return {}
    return out


def _rewrite_results(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
