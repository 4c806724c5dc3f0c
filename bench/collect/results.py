"""results.csv: one row per case, appended and flushed as each image's rows are
checked, so cases already measured stay on disk whatever happens later in the run.

``ROW_FIELDS`` declares what an ok row must hold to be used again (a resume
carries it over, ``baseline set`` promotes it): a row cut short by a power
loss, or edited by hand, fails ``ok_row_problems`` and its case is measured
again rather than trusted."""

from __future__ import annotations

import csv
import math
import os
import threading
from pathlib import Path
from typing import Iterable, Mapping

from bench.collect.schema import Field, real, text, uint

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
    # Side by side per case: the instruction count, the cycles the core's timing
    # model estimates (bench/timing: the QEMU cycle plugin), and cycles measured
    # on silicon where the metric is cycles. cycles_parts splits the estimate
    # (static schedule, branch refills, mispredicts as a count, carried stalls)
    # for `calibrate --pipeline`.
    "instructions", "cycles_estimated", "cycles_estimated_provenance", "cycles_model", "cycles_measured",
    "cycles_parts",
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
        torn = not new and _ends_mid_row(path)
        self._file = path.open("a", newline="")
        if torn:   # a row cut by a power loss stays a row of its own (and fails ok_row_problems)
            self._file.write("\r\n")
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


def _ends_mid_row(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


# What an ok row must hold for its figures to be used again: carried over by a
# resume, or promoted to a baseline. A row cut short by a power cut, or edited
# by hand, fails here and its case is measured again. A plugin that adds a
# column a later step relies on adds it here.
ROW_FIELDS: dict[str, Field] = {
    "case_id": text(), "op": text(), "board": text(), "kernels": text(), "image": text(),
    "firmware_hash": text(), "compiler": text(), "metric_unit": text(), "provenance": text(),
    "macs": uint(1), "h": uint(1), "w": uint(1), "c_in": uint(1), "c_out": uint(1), "k": uint(1),
    "stride": uint(1), "reps": uint(1), "mismatches": uint(0, 0),
    "metric": real(0), "metric_min": real(0), "metric_max": real(0),
}


# What a baseline is compared on (bench/store/regress.py); a resume needs every field.
BASELINE_NEEDS = ("case_id", "metric", "metric_min", "metric_max", "metric_unit", "provenance")


def ok_row_problems(row: Mapping, needs: Iterable[str] | None = None) -> list[str]:
    """Why an ok results.csv row cannot be used again ([] when it can); ``needs``: the
    fields the user of the row relies on (default: all of ROW_FIELDS, energy included)."""
    problems = []
    full = needs is None
    needs = list(ROW_FIELDS) if full else list(needs)
    extra = row.get(None) or row.get("null")  # csv.DictReader's cells beyond the header (JSON: "null")
    if extra:
        problems.append(f"{len(extra)} cell(s) beyond the header: two rows run together")
    if full and row.get("output_ok") != "True":
        problems.append(f"output_ok={row.get('output_ok')!r}, expected True")
    values = {}
    for key in needs:
        spec = ROW_FIELDS[key]
        cell = row.get(key)
        if cell is None or cell == "":
            problems.append(f"{key} is empty")
            continue
        try:
            values[key] = spec.parse(str(cell))
        except ValueError as exc:
            problems.append(f"{key}={cell!r} {exc}")
    if {"metric", "metric_min", "metric_max"} <= values.keys() and \
            not values["metric_min"] <= values["metric"] <= values["metric_max"]:
        problems.append(f"metric={values['metric']} is outside metric_min..metric_max "
                        f"({values['metric_min']}..{values['metric_max']})")
    if full and row.get("energy_provenance") != "not-measured":
        for key in ("energy_uj", "energy_basis"):
            if row.get(key) in (None, ""):
                problems.append(f"{key} is empty")
        try:
            if float(row.get("energy_uj") or 0) < 0 or not math.isfinite(float(row.get("energy_uj") or 0)):
                problems.append(f"energy_uj={row.get('energy_uj')!r} is not a finite number >= 0")
        except ValueError:
            problems.append(f"energy_uj={row.get('energy_uj')!r} is not a number")
    return problems
