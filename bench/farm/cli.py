"""``python -m bench farm run``: a sweep across the farm's boards, in parallel."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from bench.farm.inventory import default_path, load
from bench.farm.local import default_out_root, expand, run_local


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench farm run",
        description="run python -m bench run on every board type of the inventory (or --board), as many "
                    "jobs at once as there are boards, one job per board at a time; then add the runs "
                    "to the store. Overrides are passed to every job; a,b values make one job each.")
    p.add_argument("action", choices=["run"])
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every job, e.g. op=all sweep=smoke")
    p.add_argument("--inventory", help="inventory yaml (default $BENCH_INVENTORY, ./farm.yaml, conf/farm/example.yaml)")
    p.add_argument("--board", action="append", default=[], metavar="TYPE",
                   help="board type to run on (repeatable; default: every type in the inventory for this host)")
    p.add_argument("--out", help="folder for the job runs (default runs/farm/<date_time>)")
    p.add_argument("--db", help="results store to add the runs to (default $BENCH_STORE or runs/results.sqlite)")
    p.add_argument("--lock-dir", help="per-board lock files (default $BENCH_LOCK_DIR or <cache>/locks)")
    p.add_argument("--ray", action="store_true",
                   help="dispatch through a Ray cluster to the hosts that own the boards (pip install '.[farm]')")
    p.add_argument("--ray-address", default="auto", metavar="HOST:PORT",
                   help="the Ray cluster to join (default: auto, the one ray start made on this host)")
    ns = p.parse_args(args)
    from bench.store.db import resolve_path
    inventory = Path(ns.inventory) if ns.inventory else default_path()
    entries = load(inventory)
    host = socket.gethostname()
    types = ns.board or list(dict.fromkeys(e.type for e in entries if ns.ray or e.on_host(host)))
    jobs = expand(types, ns.overrides)
    out = Path(ns.out) if ns.out else default_out_root()
    store = str(resolve_path(ns.db))
    print(f"{len(jobs)} job(s) on {', '.join(types)} -> {out}")
    if ns.ray:
        from bench.farm.ray_dispatch import dispatch
        results = dispatch(jobs, out, inventory=str(inventory.resolve()), store_path=store,
                           lock_dir=ns.lock_dir, address=ns.ray_address)
    else:
        results = run_local(jobs, entries, out, store_path=store, lock_dir=ns.lock_dir, host=host)
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} job(s) ok; runs in {out}; "
          f"compare with: python -m bench regress {out}/*")
    return 1 if failed else 0
