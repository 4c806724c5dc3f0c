"""The results store: every run's results in one SQLite file, and the baselines.

A run folder stays the primary record (results.csv and its config); the store
indexes it so history is queryable: which firmware, toolchain, project commit
and config produced which numbers, and which run is the baseline for a
(board, kernel library, sweep). Runs are added at the end of
``python -m bench run`` and on demand with ``python -m bench store add``.

SQLite in WAL mode with a busy timeout, so parallel jobs on one host can add
their runs at the same time.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import socket
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from bench import paths
from bench.errors import BenchError

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("runs/results.sqlite")
META_FILE = "store_meta.json"   # git commit and host, recorded when the run ended

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,        -- absolute run folder on the host that ingested it
    created_at TEXT NOT NULL,         -- when the run started (UTC, ISO 8601)
    ingested_at TEXT NOT NULL,
    board TEXT, kernels TEXT, sweep TEXT, ops TEXT,
    provenance TEXT,                  -- emulator-count / hardware-measured (mixed: comma list)
    git_commit TEXT, git_dirty INTEGER,
    git_recorded TEXT,                -- 'run-end' (exact) or 'store-add' (commit when added)
    host TEXT,
    toolchain TEXT,                   -- compiler(s) named in results.csv
    firmware_hashes TEXT,             -- image hashes, comma list
    config_json TEXT,
    cases INTEGER, ok INTEGER
);
CREATE TABLE IF NOT EXISTS results (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    case_id TEXT NOT NULL, case_key TEXT, op TEXT, status TEXT,
    metric REAL, metric_min REAL, metric_max REAL, metric_unit TEXT, reps INTEGER,
    provenance TEXT, firmware_hash TEXT, compiler TEXT, cflags TEXT, energy_uj REAL,
    row_json TEXT NOT NULL,           -- the whole results.csv row
    PRIMARY KEY (run_id, case_id)
);
CREATE TABLE IF NOT EXISTS baselines (
    board TEXT NOT NULL, kernels TEXT NOT NULL, sweep TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    set_at TEXT NOT NULL,
    PRIMARY KEY (board, kernels, sweep)
);
CREATE TABLE IF NOT EXISTS baseline_log (
    board TEXT, kernels TEXT, sweep TEXT, run_id INTEGER, set_at TEXT
);
CREATE INDEX IF NOT EXISTS results_case ON results(case_id);
"""


@dataclass(frozen=True)
class Run:
    id: int
    path: str
    created_at: str
    board: str
    kernels: str
    sweep: str
    ops: str
    provenance: str
    git_commit: str | None
    git_dirty: int | None
    toolchain: str
    cases: int
    ok: int

    @property
    def label(self) -> str:
        commit = (self.git_commit or "?")[:9] + ("+dirty" if self.git_dirty else "")
        return f"#{self.id} {self.created_at[:16].replace('T', ' ')} {commit}"


def resolve_path(path: str | Path | None = None) -> Path:
    """--db, else $BENCH_STORE, else runs/results.sqlite."""
    return Path(path or os.environ.get("BENCH_STORE") or DEFAULT_PATH)


class Store:
    def __init__(self, path: str | Path | None = None):
        self.path = resolve_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _write(self):
        """A write transaction holding SQLite's write lock from its first statement."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- adding runs ---------------------------------------------------------

    def add_run(self, run_dir: str | Path, meta: Mapping | None = None) -> Run:
        """Ingest a run folder (again: its rows are replaced). Raises BenchError if unusable."""
        run_dir = Path(run_dir).resolve()
        csv_path = run_dir / "results.csv"
        if not csv_path.exists():
            raise BenchError(f"{run_dir}: no results.csv; give a run folder written by python -m bench run")
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        cfg = _run_config(run_dir)
        meta = dict(meta or _read_meta(run_dir) or {})
        if not meta:
            meta = {**git_state(), "host": socket.gethostname(), "git_recorded": "store-add"}
        keys = _case_keys(run_dir)
        first = rows[0] if rows else {}
        board = (cfg.get("board") or {}).get("name") or first.get("board", "")
        kernels = (cfg.get("kernels") or {}).get("name") or first.get("kernels", "")
        sweep = (cfg.get("sweep") or {}).get("name") or ""
        op_name = (cfg.get("op") or {}).get("name") or "all"
        if sweep and op_name != "all":   # a subset of the ops is its own baseline: smoke:depthwise
            sweep = f"{sweep}:{op_name}"
        ops = ",".join((cfg.get("op") or {}).get("names") or sorted({r["op"] for r in rows}))
        record = {
            "path": str(run_dir), "created_at": meta.get("started_at") or _created_at(run_dir), "ingested_at": _now(),
            "board": board, "kernels": kernels, "sweep": sweep, "ops": ops,
            "provenance": _joined(r.get("provenance") for r in rows),
            "git_commit": meta.get("git_commit"), "git_dirty": meta.get("git_dirty"),
            "git_recorded": meta.get("git_recorded", "store-add"), "host": meta.get("host"),
            "toolchain": _joined(r.get("compiler") for r in rows),
            "firmware_hashes": _joined(r.get("firmware_hash") for r in rows),
            "config_json": json.dumps(cfg, sort_keys=True, default=str),
            "cases": len(rows), "ok": sum(r.get("status") == "ok" for r in rows),
        }
        # One transaction that takes the write lock at once (BEGIN IMMEDIATE) and
        # upserts the run: two processes adding the same folder (two `baseline
        # set` of a run not in the store yet) can neither both insert it nor
        # interleave its result rows.
        with self._write():
            cols = ", ".join(record)
            updates = ", ".join(f"{k} = excluded.{k}" for k in record if k != "path")
            run_id = int(self.db.execute(
                f"INSERT INTO runs ({cols}) VALUES ({', '.join(':' + k for k in record)}) "
                f"ON CONFLICT(path) DO UPDATE SET {updates} RETURNING id", record).fetchone()[0])
            self.db.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            self.db.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, r["case_id"], keys.get(r["case_id"]), r.get("op"), r.get("status"),
                  _num(r.get("metric")), _num(r.get("metric_min")), _num(r.get("metric_max")),
                  r.get("metric_unit"), _int(r.get("reps")), r.get("provenance"), r.get("firmware_hash"),
                  r.get("compiler"), r.get("cflags"), _num(r.get("energy_uj")), json.dumps(r))
                 for r in rows])
        return self.run(run_id)

    # -- queries ---------------------------------------------------------------

    def run(self, ref: int | str | Path) -> Run:
        """A run by id, or by its folder (added first if it is not in the store yet)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            row = self.db.execute("SELECT * FROM runs WHERE id = ?", (int(ref),)).fetchone()
            if row is None:
                raise BenchError(f"no run #{ref} in {self.path}")
            return _run(row)
        path = Path(ref).resolve()
        row = self.db.execute("SELECT * FROM runs WHERE path = ?", (str(path),)).fetchone()
        return _run(row) if row else self.add_run(path)

    def runs(self, board: str | None = None, kernels: str | None = None,
             sweep: str | None = None) -> list[Run]:
        """Runs oldest first, optionally of one (board, kernels, sweep)."""
        where, args = [], []
        for col, val in (("board", board), ("kernels", kernels), ("sweep", sweep)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_run(r) for r in self.db.execute(sql + " ORDER BY created_at, id", args)]

    def newest(self) -> Run:
        row = self.db.execute("SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()
        if row is None:
            raise BenchError(f"the results store {self.path} holds no runs; run python -m bench run "
                             "or add one with python -m bench store add runs/...")
        return _run(row)

    def results(self, run_id: int) -> dict[str, dict]:
        """case_id -> the results.csv row (strings), plus case_key."""
        out = {}
        for r in self.db.execute("SELECT case_id, case_key, row_json FROM results WHERE run_id = ?", (run_id,)):
            out[r["case_id"]] = {**json.loads(r["row_json"]), "case_key": r["case_key"]}
        return out

    def series(self, case_id: str, board: str, kernels: str, sweep: str) -> list[tuple[Run, dict]]:
        """The case's rows over the history of a (board, kernels, sweep), oldest first."""
        rows = self.db.execute(
            "SELECT runs.*, results.row_json FROM results JOIN runs ON runs.id = results.run_id "
            "WHERE results.case_id = ? AND board = ? AND kernels = ? AND sweep = ? "
            "ORDER BY created_at, runs.id", (case_id, board, kernels, sweep))
        return [(_run(r), json.loads(r["row_json"])) for r in rows]

    def set_baseline(self, run: Run) -> None:
        if not run.sweep:
            raise BenchError(f"run {run.path} names no sweep in its config; cannot be a baseline")
        now = _now()
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO baselines VALUES (?,?,?,?,?)",
                            (run.board, run.kernels, run.sweep, run.id, now))
            self.db.execute("INSERT INTO baseline_log VALUES (?,?,?,?,?)",
                            (run.board, run.kernels, run.sweep, run.id, now))

    def baseline(self, board: str, kernels: str, sweep: str) -> Run | None:
        row = self.db.execute("SELECT run_id FROM baselines WHERE board = ? AND kernels = ? AND sweep = ?",
                              (board, kernels, sweep)).fetchone()
        return self.run(int(row["run_id"])) if row else None

    def baselines(self) -> list[tuple[str, str, str, Run]]:
        rows = self.db.execute("SELECT * FROM baselines ORDER BY board, kernels, sweep").fetchall()
        return [(r["board"], r["kernels"], r["sweep"], self.run(int(r["run_id"]))) for r in rows]


# -- the pipeline's hook ------------------------------------------------------------


def store_refs(refs: Iterable[str | Path]) -> list[str | Path]:
    """Run references with results-store ids (``12`` or ``#12``, as ``store list`` shows) turned
    into their folders; paths, globs and ``latest`` pass through."""
    out: list[str | Path] = []
    for ref in refs:
        text = str(ref)
        if text.lstrip("#").isdigit() and not Path(text).exists():
            if not resolve_path().exists():
                raise BenchError(f"{text!r} looks like a store id, but there is no results store at "
                                 f"{resolve_path()}")
            with Store() as store:
                out.append(Path(store.run(int(text.lstrip("#"))).path))
        else:
            out.append(ref)
    return out


def ingest_finished_run(run_dir: Path, cfg: Mapping) -> None:
    """Called at the end of python -m bench run: record git state, add the run.

    A store that cannot be written never fails a run that measured fine: it is
    logged, and the run can be added later with python -m bench store add.
    """
    meta = {**git_state(), "host": socket.gethostname(), "git_recorded": "run-end",
            "started_at": _created_at(run_dir)}   # kept when the folder is copied (Ray)
    (run_dir / META_FILE).write_text(json.dumps(meta, indent=1))
    path = (cfg.get("store") or {}).get("path")
    if not path:
        return
    env = os.environ.get("BENCH_STORE")
    root = Path(path).resolve().parent
    if env:
        path = env   # explicit for this environment (a CI job): every run is added
    elif root not in run_dir.resolve().parents:
        # Runs elsewhere (a test's temporary folder, a scratch run) stay out of the shared history.
        log.info("run folder %s is not under %s: not added to the results store "
                 "(python -m bench store add adds it)", run_dir, root)
        return
    try:
        with Store(path) as store:
            run = store.add_run(run_dir, meta)
        log.info("results store %s: added run %s", path, run.label)
    except (BenchError, sqlite3.Error, OSError) as exc:
        log.warning("results store %s: run not added (%s); add it later with "
                    "python -m bench store add %s", path, exc, run_dir)


def git_state() -> dict:
    """The project's git commit and whether the work tree differs from it (None outside git)."""
    root = paths.firmware_dir().parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": int(bool(dirty)) if commit else None}


# -- helpers -------------------------------------------------------------------------


def _run(row: sqlite3.Row) -> Run:
    return Run(**{k: row[k] for k in Run.__dataclass_fields__})


def _run_config(run_dir: Path) -> dict:
    from bench.collect.run_folder import run_config
    return run_config(run_dir)


def _read_meta(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / META_FILE).read_text())
    except (OSError, ValueError):
        return None


def _case_keys(run_dir: Path) -> dict:
    from bench.store.resume import KEYS_FILE
    try:
        return json.loads((run_dir / KEYS_FILE).read_text())["keys"]
    except (OSError, ValueError, KeyError):
        return {}


def _created_at(run_dir: Path) -> str:
    for name in (".hydra/config.yaml", "config.resolved.yaml", "results.csv"):
        p = run_dir / name
        if p.exists():
            return datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    return _now()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _joined(values: Iterable) -> str:
    return ",".join(sorted({v for v in values if v}))


def _num(text) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _int(text) -> int | None:
    n = _num(text)
    return int(n) if n is not None else None


# -- commands --------------------------------------------------------------------------
