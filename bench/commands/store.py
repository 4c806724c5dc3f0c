"""``python -m bench store`` and ``python -m bench baseline``: the results store from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.collect.results import BASELINE_NEEDS, ok_row_problems
from bench.collect.run_folder import find_runs
from bench.errors import BenchError, ConfigError
from bench.store.db import DEFAULT_PATH, Store


def store_main(args: list[str]) -> int:
    """python -m bench store add|list ..."""
    p = argparse.ArgumentParser(prog="python -m bench store", description="the results store (SQLite)")
    p.add_argument("--db", help=f"store file (default $BENCH_STORE or {DEFAULT_PATH})")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add run folders (a multirun folder adds every run under it)")
    add.add_argument("runs", nargs="+")
    ls = sub.add_parser("list", help="runs in the store, oldest first")
    ls.add_argument("--board")
    ls.add_argument("--kernels")
    ls.add_argument("--sweep")
    ns = p.parse_args(args)
    with Store(ns.db) as store:
        if ns.action == "add":
            for run_dir in find_runs(ns.runs):
                run = store.add_run(run_dir)
                print(f"added {run.label}  {run.board}/{run.kernels}/{run.sweep}  "
                      f"{run.ok}/{run.cases} ok  {run.path}")
            return 0
        base_ids = {r.id for *_, r in store.baselines()}
        for run in store.runs(ns.board, ns.kernels, ns.sweep):
            mark = " [baseline]" if run.id in base_ids else ""
            print(f"{run.label:<34} {run.board}/{run.kernels}/{run.sweep:<10} {run.ok}/{run.cases} ok  "
                  f"{run.provenance}  {run.path}{mark}")
    return 0


def baseline_main(args: list[str]) -> int:
    """python -m bench baseline set RUN | show"""
    p = argparse.ArgumentParser(prog="python -m bench baseline",
                                description="the baseline run per (board, kernels, sweep)")
    p.add_argument("--db", help=f"store file (default $BENCH_STORE or {DEFAULT_PATH})")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("set", help="promote a run (folder or store id) to the baseline of its board, kernels, sweep")
    s.add_argument("run")
    s.add_argument("--allow-failed", action="store_true", help="accept a run with failed cases")
    sub.add_parser("show", help="list the baselines")
    ns = p.parse_args(args)
    with Store(ns.db) as store:
        if ns.action == "set":
            if not ns.run.isdigit() and not Path(ns.run).is_dir():
                raise ConfigError(f"{ns.run}: not a run folder or a store run id")
            run = store.run(ns.run)
            incomplete = [(cid, ok_row_problems(row, BASELINE_NEEDS)) for cid, row in store.results(run.id).items()
                          if row.get("status") == "ok"]
            incomplete = [(cid, problems) for cid, problems in incomplete if problems]
            if incomplete:
                cid, problems = incomplete[0]
                raise BenchError(f"run {run.path}: case {cid} is ok but its row is incomplete ({'; '.join(problems)})"
                                 + (f", and {len(incomplete) - 1} more" if len(incomplete) > 1 else "")
                                 + "; resume the run (run.resume=true) to measure it again, then set the baseline")
            if run.ok < run.cases and not ns.allow_failed:
                raise BenchError(f"run {run.path} has {run.cases - run.ok} failed case(s); a baseline "
                                 "should be a clean run (--allow-failed to promote it anyway)")
            store.set_baseline(run)
            print(f"baseline for {run.board}/{run.kernels}/{run.sweep}: {run.label} {run.path}")
            return 0
        for board, kernels, sweep, run in store.baselines():
            print(f"{board}/{kernels}/{sweep}: {run.label} {run.ok}/{run.cases} ok {run.path}")
    return 0
