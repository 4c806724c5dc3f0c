"""The Hydra side of ``python -m bench run``: compose the config, hand it on.

Kept thin: ``task`` converts the composed config to plain containers and calls
``bench.orchestrate.pipeline.run_benchmark``, which knows nothing of Hydra,
with the run report from ``analysis`` as its report step.
"""

from __future__ import annotations

import logging
import sys

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
    from pathlib import Path

    from analysis.report import write_run_report
    from bench.orchestrate.pipeline import run_benchmark

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    OmegaConf.save(cfg, run_dir / "config.resolved.yaml", resolve=True)
    plain = OmegaConf.to_container(cfg, resolve=True)
    if hydra_cfg.mode == RunMode.MULTIRUN and plain["run"]["report"] != "always":
        # One combined report over all jobs is written when the multirun ends
        # (bench.hydra_callbacks); per-job reports would repeat it.
        plain["run"]["report"] = False
    try:
        summary = run_benchmark(plain, run_dir, report=write_run_report)
    except BenchError as exc:
        log.error("%s", exc)
        _failures.append(f"{run_dir}: {exc}")
        return
    log.info("%d/%d cases ok; results in %s", summary.ok, summary.cases, run_dir)
    if summary.failed:
        for line in summary.failed:
            log.error("failed: %s", line)
        _failures.append(f"{run_dir}: {len(summary.failed)} case(s) failed")
    elif (run_dir / "report.md").exists():
        log.info("report: %s", run_dir / "report.md")


def run_app(args: list[str]) -> int:
    _failures.clear()
    sys.argv = ["python -m bench run", *args]
    task()
    for failure in _failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if _failures else 0
