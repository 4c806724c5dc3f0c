"""The results store under concurrent writers, and the end-of-run hook's rules."""

from __future__ import annotations

import multiprocessing as mp

from bench.store.db import Store, ingest_finished_run
from tests.test_regress import row, write_run


def _add_runs(db: str, folders: list[str]) -> None:
    for folder in folders:
        with Store(db) as store:
            store.add_run(folder)


def test_parallel_jobs_add_runs_at_once(tmp_path):
    folders = [str(write_run(tmp_path / f"r{i}", [row("a", 100 + i), row("b", 200)])) for i in range(12)]
    db = str(tmp_path / "s.sqlite")
    Store(db).close()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_add_runs, args=(db, folders[k::4])) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Store(db) as store:
        runs = store.runs()
        assert len(runs) == 12
        assert sorted(store.results(r.id)["a"]["metric"] for r in runs) == sorted(str(100 + i) for i in range(12))


def test_end_of_run_hook_adds_runs_under_the_store_folder_only(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_STORE", raising=False)
    db = tmp_path / "runs" / "results.sqlite"
    inside = write_run(tmp_path / "runs" / "r1", [row("a", 1)])
    outside = write_run(tmp_path / "scratch", [row("a", 1)])
    cfg = {"store": {"path": str(db)}}
    ingest_finished_run(inside, cfg)
    ingest_finished_run(outside, cfg)
    with Store(db) as store:
        assert [r.path for r in store.runs()] == [str(inside.resolve())]
        assert store.runs()[0].git_commit            # recorded at the end of the run (this checkout)
    assert (outside / "store_meta.json").exists()    # provenance kept for a later store add
    ingest_finished_run(inside, {"store": {"path": None}})   # store.path=null: nothing added, no error
