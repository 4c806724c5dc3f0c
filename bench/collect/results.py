"""results.csv: one row per case, appended and flushed as each case completes,
so cases already measured stay on disk whatever happens later in the run."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

COLUMNS = [
    "op", "case_id", "h", "w", "c_in", "c_out", "k", "stride", "groups", "padding", "ref_k",
    "out_h", "out_w", "macs", "params", "weight_bytes", "activation_bytes",
    "board", "kernels", "kernels_version", "image", "firmware_hash", "compiler", "cflags",
    "status", "output_ok", "mismatches", "reps",
    "metric", "metric_unit", "metric_min", "metric_max", "provenance",
    "energy_uj", "energy_provenance",
    # What an energy figure was computed from: a power monitor, the cycles a
    # core model estimates, or the metric times a stated cycles-per-unit.
    # Ratios are only taken between rows of one basis.
    "energy_basis",
    # Side by side per case (bench/timing/cycle_model.py): the instruction count, the
    # cycles the core's model estimates from the case's instruction mix, and
    # cycles measured on silicon where the metric is cycles.
    "instructions", "cycles_estimated", "cycles_estimated_provenance", "cycles_model", "cycles_measured",
    "detail",
    # Repeatability (boards repeat until a relative standard error is reached) and
    # power-monitor energy details (bench/power: hardware-measured energy).
    "metric_median", "metric_sd", "metric_rse",
    "energy_sample_hz", "energy_windows", "energy_window_samples", "energy_baseline_mw",
]


class ResultsWriter:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        new = not path.exists()
        self._file = path.open("a", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS, extrasaction="raise")
        if new:
            self._csv.writeheader()
            self._flush()

    def write(self, row: dict) -> None:
        with self._lock:
            self._csv.writerow({k: row.get(k, "") for k in COLUMNS})
            self._flush()

    def _flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
