"""Hydra callbacks: a combined eta_op report over every job of a multirun."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("bench")


class CombinedReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from analysis.report import write_report
        from bench.errors import BenchError

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():  # every job failed validation and left nothing behind
            return
        try:
            path = write_report([sweep_dir], sweep_dir)
        except BenchError as exc:
            log.error("combined report: %s", exc)
            return
        import pandas as pd

        from analysis.headline import print_summary

        print()
        print_summary(pd.read_csv(sweep_dir / "eta_op.csv"))
        print(f"combined report over all jobs: {path.with_suffix('.html')} (and report.md)", flush=True)
