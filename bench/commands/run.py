"""The Hydra side of ``python -m bench run``: compose the config, hand it on.

Kept thin: ``task`` converts the composed config to plain containers and calls
``bench.orchestrate.pipeline.run_benchmark``, which knows nothing of Hydra,
with the run report from ``analysis`` as its report step.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from bench import paths
from bench.errors import BenchError

log = logging.getLogger("bench")
_failures: list[str] = []


@hydra.main(config_path=str(paths.conf_dir()), config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> None:
    from analysis.report import write_run_report
    from bench.collect.run_folder import check_fresh, run_folder_lock
    from bench.orchestrate import config_schema
    from bench.orchestrate.pipeline import run_benchmark

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    plain = OmegaConf.to_container(cfg, resolve=True)
    if hydra_cfg.mode == RunMode.MULTIRUN and plain["run"]["report"] != "always":
        # One combined report over all jobs is written when the multirun ends
        # (bench.hydra_callbacks); per-job reports would repeat it.
        plain["run"]["report"] = False
    try:
        config_schema.validate(plain)
        # Held before anything is written: a second run in this folder must not
        # even replace the first one's config.resolved.yaml.
        with run_folder_lock(run_dir):
            check_fresh(run_dir, plain["run"].get("resume"))
            OmegaConf.save(cfg, run_dir / "config.resolved.yaml", resolve=True)
            summary = run_benchmark(plain, run_dir, report=write_run_report, hold_lock=False)
    except BenchError as exc:
        log.error("%s", exc, extra={"file_only": True})  # printed once, by run_app
        if _measured_nothing(run_dir):  # a request that failed validation leaves no folder behind
            _remove_run_dir(run_dir)
            _failures.append(str(exc))
        else:
            _failures.append(f"{run_dir}: {exc}")
        return
    log.info("%d/%d cases ok; results in %s", summary.ok, summary.cases, run_dir)
    if summary.failed:
        for line in summary.failed:
            log.error("failed: %s", line)
        _failures.append(f"{run_dir}: {len(summary.failed)} case(s) failed")
    _print_answer(run_dir, summary)


def _print_answer(run_dir: Path, summary) -> None:
    """The run's answer in the terminal: the eta_op table and sentence (when the run wrote its
    report; a multirun job leaves that to the combined report), then where everything is."""
    if (run_dir / "eta_op.csv").exists():
        import pandas as pd

        from analysis.headline import print_summary

        table = pd.read_csv(run_dir / "eta_op.csv")
        if len(table):
            print_summary(table)
    where = f"{summary.ok}/{summary.cases} cases ok; results in {run_dir}"
    if (run_dir / "report.html").exists():
        where += f"\nreport: {run_dir / 'report.html'} (and report.md)"
    print(where, flush=True)


def _measured_nothing(run_dir: Path) -> bool:
    results = run_dir / "results.csv"
    return not results.exists() or len(results.read_text().strip().splitlines()) <= 1


def _remove_run_dir(run_dir: Path) -> None:
    """Remove the folder Hydra made for a run that never started, and its date folder if that
    is left empty (run.log's handler still holds the file open: harmless on POSIX)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        run_dir.parent.rmdir()
    except OSError:
        pass  # other runs of the day are there


def _override_error(args: list[str]) -> str | None:
    """A bad override (unknown option or key) as one line, found by composing the config once
    before Hydra runs; Hydra's own report of it spans a dozen lines. Multiruns and Hydra flags
    are left to Hydra (their sweep syntax is not a plain override). A config search path (the
    user's own sweeps or boards) is kept: compose resolves it as the app does."""
    if any(a.startswith("-") for a in args) or any("," in a for a in args):
        return None
    from hydra import compose, initialize_config_dir

    def kept(arg: str) -> bool:
        key = arg.lstrip("+~")
        return "=" in arg and (not key.startswith("hydra.") or key.startswith("hydra.searchpath"))

    overrides = [a for a in args if kept(a)]
    try:
        with initialize_config_dir(config_dir=str(paths.conf_dir()), version_base="1.3"):
            compose(config_name="config", overrides=overrides)
    except Exception as exc:  # noqa: BLE001 - every composition error is the user's override
        text = str(exc).split("\nConfig search path")[0].strip()
        text = text.replace(":\n\t", ": ").replace("\n\t", ", ")
        text = "; ".join(line.strip().rstrip(".") for line in text.splitlines() if line.strip())
        cause = str(exc.__cause__).splitlines()[0] if exc.__cause__ is not None else ""
        return f"{text} ({cause})" if cause and cause not in text else text
    return None


def run_app(args: list[str]) -> int:
    if {"-h", "--help"} & set(args):
        from .run_help import run_help

        print(run_help())
        return 0
    check_yaml_files(args)  # before composing: Hydra would hide a YAML syntax error behind "not found"
    problem = _override_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    _failures.clear()
    sys.argv = ["python -m bench run", *args]
    task()
    for failure in _failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if _failures else 0


def check_yaml_files(args: list[str]) -> None:
    """A config file that is not valid YAML, named with its line, before Hydra composes.

    Hydra reports a YAML syntax error in a group file as a long traceback; this
    reads every yaml of the config path (and of a ``hydra.searchpath=[file://...]``
    given on the command line) first and raises a one-line ConfigError instead.
    """
    import re
    from pathlib import Path

    import yaml

    from bench.errors import ConfigError

    dirs = [paths.conf_dir()]
    for arg in args:
        if arg.lstrip("+").startswith("hydra.searchpath="):
            dirs += [Path(d) for d in re.findall(r"file://([^,\]\s]+)", arg)]
    for folder in dirs:
        for path in sorted(Path(folder).rglob("*.yaml")) if Path(folder).is_dir() else []:
            try:
                yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise ConfigError(f"{path}:{where}: not valid YAML ({problem})") from None
