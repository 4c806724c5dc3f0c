"""``python -m bench regress``: compare runs with their baselines; text, Markdown, JUnit; exit 1 on regression."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.collect.run_folder import find_runs
from bench.store.db import DEFAULT_PATH, Run, Store
from bench.store.regress import (MIN_REL, MIN_REL_ENERGY, NOISE_FACTOR, CaseVerdict, NoBaseline, compare_runs,
                                 exit_code, junit_xml, locate_change, markdown_report, steps_report,
                                 text_report)


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench regress",
        description="compare runs with the baseline of their (board, kernels, sweep); "
                    "exit 1 on a regression or failed case, 2 when a run has no baseline")
    p.add_argument("runs", nargs="*", help="run folders (a farm or multirun folder: every run under it) "
                                           "or store ids; default: the newest run in the store")
    p.add_argument("--db", help=f"results store (default $BENCH_STORE or {DEFAULT_PATH})")
    p.add_argument("--baseline", help="compare with this run (folder or id) instead of the stored baseline")
    p.add_argument("--min-rel", type=float, default=MIN_REL,
                   help=f"hardware: smallest relative change that counts (default {MIN_REL})")
    p.add_argument("--min-rel-energy", type=float, default=MIN_REL_ENERGY,
                   help=f"measured energy (power monitor): smallest relative change that counts (default {MIN_REL_ENERGY})")
    p.add_argument("--noise-factor", type=float, default=NOISE_FACTOR,
                   help=f"hardware: multiple of the measured half-spreads that counts as noise (default {NOISE_FACTOR})")
    p.add_argument("--markdown", help="Markdown summary path (default RUN/regress.md per run; '-' for none)")
    p.add_argument("--junit", help="JUnit XML path (default RUN/regress.junit.xml per run; '-' for none)")
    p.add_argument("--no-history", action="store_true", help="skip step detection over the store's history")
    p.add_argument("--steps", action="store_true",
                   help="list every case's level changes over the history instead (no baseline needed; exit 0)")
    ns = p.parse_args(args)
    checks: list[tuple[Run, Run, list[CaseVerdict]]] = []
    code = 0
    with Store(ns.db) as store:
        if not ns.runs:
            runs = [store.newest()]
        else:
            ids = [r for r in ns.runs if r.isdigit()]
            folders = find_runs([r for r in ns.runs if not r.isdigit()]) if len(ids) < len(ns.runs) else []
            runs = [store.run(r) for r in ids] + [store.run(f) for f in folders]
        if ns.steps:
            print("\n".join(steps_report(store, run) for run in runs))
            return 0
        for run in runs:
            base = store.run(ns.baseline) if ns.baseline else store.baseline(run.board, run.kernels, run.sweep)
            if base is None:
                problem = NoBaseline(
                    f"no baseline for board {run.board}, kernels {run.kernels}, sweep {run.sweep!r} "
                    f"({run.path}); promote a run with python -m bench baseline set runs/...")
                if len(runs) == 1:
                    raise problem
                print(f"error: {problem}")
                code = max(code, problem.exit_code)
                continue
            verdicts = compare_runs(store.results(base.id), store.results(run.id),
                                    min_rel=ns.min_rel, noise_factor=ns.noise_factor,
                                    min_rel_energy=ns.min_rel_energy)
            if not ns.no_history:
                for v in verdicts:
                    if v.verdict in ("regression", "improvement") and v.figure == "metric":
                        v.appeared = locate_change(store, run, v.case_id)
            checks.append((run, base, verdicts))
            code = max(code, exit_code(verdicts))
    for run, base, verdicts in checks:
        print(text_report(run, base, verdicts))
    _write_outputs(ns, checks)
    return code


def _write_outputs(ns, checks) -> None:
    """Per run into its folder by default; one combined file when a path is given."""
    outputs = []
    if ns.markdown != "-":
        if ns.markdown:
            outputs.append((Path(ns.markdown), "\n".join(markdown_report(r, b, v) for r, b, v in checks), True))
        else:
            outputs += [(Path(r.path) / "regress.md", markdown_report(r, b, v), False) for r, b, v in checks]
    if ns.junit != "-":
        if ns.junit:
            outputs.append((Path(ns.junit), junit_xml(checks), True))
        else:
            outputs += [(Path(r.path) / "regress.junit.xml", junit_xml([(r, b, v)]), False) for r, b, v in checks]
    for path, text, explicit in outputs:
        if not explicit and not path.parent.is_dir():
            continue  # a run folder that is not on this host
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
