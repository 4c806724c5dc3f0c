"""A benchmark run: plan the cases, generate, build, run, collect, report.

Plain functions over a plain config mapping (no Hydra in here), so tests and
other front ends can call ``run_benchmark`` directly. Measurement never needs
analysis: a front end that wants a report passes ``report`` (a function of the
run folder), which runs after the results are written and before the run is
stored.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from bench import paths
from bench.timing import cycle_model
from bench.power import energy
from bench.timing import instruction_mix
from bench import power
from bench.store import resume
from bench.store import db as store
from bench.build.images import BuildSettings, Image, build_image, compiler_version, plan_images
from bench.cases.spec import CaseSpec
from bench.build.banner import planned_banner
from bench.collect import run_decisions
from bench.collect.collector import CaseMeasurement, ImageCollector
from bench.collect.run_folder import check_fresh, run_folder_lock
from bench.collect.schema import ImagePlan
from bench.orchestrate import config_schema
from bench.targets import make_target
from bench.build.settings import build_settings
from bench.cases.plan import plan_cases
from bench.errors import BenchError, ConfigError
from bench.cases.generate import GeneratedCase, generate
from bench.progress import Progress
from bench.collect.results import ResultsWriter
from bench.timing.cycle_parts import parse_parts
from bench.timing.qemu_cycles import Estimator

log = logging.getLogger(__name__)

# Emulated instructions per second used only to size timeouts, deliberately low.
TIMEOUT_INSTR_PER_S = 1e8
TIMEOUT_INSTR_PER_MAC = 40


@dataclass
class RunSummary:
    run_dir: Path
    cases: int = 0
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def run_benchmark(cfg: Mapping, run_dir: Path, report: Callable[[Path], None] | None = None,
                  *, hold_lock: bool = True) -> RunSummary:
    """Run into ``run_dir``, holding its lock (``hold_lock=False``: the caller holds it)."""
    config_schema.validate(cfg)   # every bad key, value or shape is named before any work
    if not hold_lock:
        return _run_locked(cfg, run_dir, report)
    with run_folder_lock(run_dir):
        return _run_locked(cfg, run_dir, report)


def _run_locked(cfg: Mapping, run_dir: Path, report: Callable[[Path], None] | None) -> RunSummary:
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(run_dir)
    board = cfg["board"]

    # Everything that can be wrong with the request fails here, before any work.
    specs = plan_cases(cfg)
    settings = build_settings(cfg)
    target = make_target(board)
    attach_cycle_estimator(target, cfg)  # run.cycles: the QEMU plugin's sequence-aware estimate
    power.attach(target, cfg)  # power=lpm01a|ppk2: a monitor for a real board's target
    compiler_version()
    check_fresh(run_dir, cfg["run"].get("resume"))
    # Taken from every planned case, or read back from the folder being resumed:
    # one run, one energy basis (bench/collect/run_decisions.py).
    decisions = run_decisions.decide(cfg, sum(s.macs for s in specs), target, run_dir)
    cfg = {**cfg, "run": {**cfg["run"], "instruction_mix": decisions["instruction_mix"]}}
    # Writes case_keys.json; with run.resume, finished cases are carried over and skipped.
    todo = resume.prepare(specs, cfg, settings, run_dir, decisions)
    images_plan = plan_images(todo, settings, jobs=int(cfg["run"]["jobs"]))
    summary.cases = len(specs)
    log.info("%d cases (%s) on %s in %d image(s), kernels=%s, %s",
             len(specs), ", ".join(cfg["op"]["names"]), board["name"], len(images_plan),
             settings.kernels, " ".join(settings.cflags))

    cache = paths.cache_dir()
    t0 = time.perf_counter()
    generated = _generate_all(todo, cache, run_dir)
    summary.timings["generate_s"] = time.perf_counter() - t0

    sizes, build_s, emulating = run_images(images_plan, generated, settings, target, cfg, run_dir,
                                           board["name"], cache)
    summary.timings["build_s"] = build_s  # summed over images (builds overlap when jobs > 1)
    summary.timings["emulate_s"] = sum(end - start for start, end in emulating)
    summary.timings["emulate_wall_s"] = _union_length(emulating)
    if sizes:
        pd.DataFrame(sizes).sort_values("image").to_csv(run_dir / "firmware_sizes.csv", index=False)

    summary.ok, summary.failed = outcome(run_dir)

    if report is not None and cfg["run"].get("report", True):
        t1 = time.perf_counter()
        report(run_dir)
        summary.timings["analyse_s"] = time.perf_counter() - t1
    summary.timings["total_s"] = time.perf_counter() - started
    (run_dir / "timings.json").write_text(json.dumps(summary.timings, indent=2))
    store.ingest_finished_run(run_dir, cfg)  # results store (store.path); never fails the run
    return summary


def run_images(images: list[list[CaseSpec]], generated: list[GeneratedCase], settings: BuildSettings, target,
               cfg: Mapping, run_dir: Path, description: str, cache: Path):
    """Build and run the images ``jobs`` at a time, rows into run_dir/results.csv as each image
    ends. Returns each image's sizes, the summed build time and each run's (start, end)."""
    by_id = {g.spec.case_id: g for g in generated}
    writer = ResultsWriter(run_dir / "results.csv")
    sizes, build_s, emulating = [], 0.0, []
    try:
        with Progress(total=len(generated), description=description) as progress, \
                ThreadPoolExecutor(max_workers=int(cfg["run"]["jobs"])) as pool:
            futures = [
                pool.submit(build_and_run, f"img{n}", [by_id[s.case_id] for s in image_specs],
                            settings, target, cfg, writer, progress, cache)
                for n, image_specs in enumerate(images)
            ]
            for fut in as_completed(futures):
                image_sizes, b_s, interval = fut.result()
                if image_sizes:
                    sizes.append(image_sizes)
                build_s += b_s
                if interval:
                    emulating.append(interval)
    finally:
        writer.close()
    return sizes, build_s, emulating


def outcome(run_dir: Path) -> tuple[int, list[str]]:
    """Cases ok, and a line per case that is not, from the run's results.csv."""
    results = pd.read_csv(run_dir / "results.csv")
    failed = [f"{r.case_id}: {r.status} ({r.detail})" for r in results.itertuples() if r.status != "ok"]
    return int((results["status"] == "ok").sum()), failed


def attach_cycle_estimator(target, cfg: Mapping) -> None:
    """Emulators that can load the cycle plugin estimate cycles unless run.cycles=false."""
    wanted = cfg["run"].get("cycles", True)
    if not isinstance(wanted, bool):
        raise ConfigError(f"run.cycles={wanted!r}: use true or false")
    if wanted and hasattr(target, "use_cycle_estimator"):
        target.use_cycle_estimator(Estimator.for_board(cfg["board"], paths.cache_dir()))
    elif wanted and target.unit == "instructions":
        log.info("%s cannot load the cycle plugin: no cycles_estimated for its cases", cfg["board"]["name"])


def _generate_all(specs: list[CaseSpec], cache: Path, run_dir: Path) -> list[GeneratedCase]:
    models = run_dir / "models"
    models.mkdir(exist_ok=True)
    out = []
    with Progress(total=len(specs), description="generate") as progress:
        for spec in specs:
            progress.current(spec.case_id)
            g = generate(spec, cache)
            shutil.copyfile(g.model_path, models / f"{spec.case_id}.tflite")
            out.append(g)
            progress.advance()
    return out


def build_and_run(name: str, cases: list[GeneratedCase], settings: BuildSettings, target,
                   cfg: Mapping, writer: ResultsWriter, progress: Progress, cache: Path):
    """Build one image, run it, write its checked rows. Never raises for one image's failure."""
    case_ids = [g.spec.case_id for g in cases]
    specs = {g.spec.case_id: g.spec for g in cases}
    image: Image | None = None
    t0 = time.perf_counter()
    try:
        image = build_image(name, cases, settings, cache)
    except BenchError as exc:
        for cid in case_ids:
            writer.write(_row(specs[cid], CaseMeasurement(cid, "build-failed", detail=str(exc)),
                              cfg, None, target, {}))
            progress.advance()
        log.error("%s", exc)
        return None, time.perf_counter() - t0, None
    build_s = time.perf_counter() - t0
    # Instruction-class histograms of the timed regions (Unicorn, cached by ELF).
    mixes = instruction_mix.for_image(image.elf, name, cfg, writer.path.parent, cache)
    interval = run_image(image, cases, settings, target, cfg, writer, progress, mixes)
    sizes = {"image": name, "cases": len(cases), "firmware_hash": image.firmware_hash, **image.sizes}
    return sizes, build_s, interval


def image_plan(image: Image, settings: BuildSettings, board: Mapping) -> ImagePlan:
    """What the image must say about itself, and its cases in order."""
    return ImagePlan(image=image.name, case_ids=tuple(g.spec.case_id for g in image.cases),
                     output_bytes=tuple(g.spec.output_bytes for g in image.cases),
                     banner=planned_banner(image, settings, board))


def run_image(image: Image, cases: list[GeneratedCase], settings: BuildSettings, target, cfg: Mapping,
              writer, progress: Progress, mixes: Mapping) -> tuple[float, float]:
    """Run a built image; write one checked row per case once it has ended.

    Every record goes through the checked collector (bench/collect/collector.py):
    a case gets a number only from a result line that is valid, agrees with the
    banner planned for this image, and is the only one for its case. Nothing
    the target sends makes this raise. Returns the run's (start, end).
    """
    name = image.name
    specs = {g.spec.case_id: g.spec for g in cases}
    collector = ImageCollector(image_plan(image, settings, cfg["board"]))

    def on_record(record):
        if record.tag == "B":
            log.info("%s banner: %s", name, " ".join(f"{k}={v}" for k, v in record.fields.items()))
        case_id = collector.feed(record)
        if case_id:
            progress.current(case_id)

    macs = sum(g.spec.macs for g in cases) * (settings.warmup + settings.reps)
    timeout = float(cfg["run"]["timeout_s"]) + macs * TIMEOUT_INSTR_PER_MAC / TIMEOUT_INSTR_PER_S
    progress.current(cases[0].spec.case_id)
    run_start = time.perf_counter()
    outcome = target.run(image.elf, on_record, timeout)
    run_end = time.perf_counter()
    for problem in collector.problems:
        log.warning("%s: %s", name, problem)
    for line in outcome.rejected_lines:
        log.warning("%s: rejected serial line %r", name, line[:120])
    for m in collector.finish(outcome.status, outcome.detail, len(outcome.rejected_lines)):
        writer.write(_checked_row(specs[m.case_id], m, cfg, image, target, collector.banner,
                                  mixes.get(m.case_id)))
        progress.advance()
        if m.status != "ok":
            log.error("%s: %s %s", m.case_id, m.status, m.detail)
    return run_start, run_end


def _plugin_estimate(m: CaseMeasurement, target, instructions: float) -> dict:
    """cycles_estimated from the QEMU cycle plugin's windows (bench/timing), if it ran."""
    estimator = getattr(target, "estimator", None)
    value = m.extra.pop("host_cycles", None)
    counted = m.extra.pop("host_instructions", None)
    parts = m.extra.pop("host_cycles_parts", "")
    if estimator is None or value is None:
        return {}
    if counted is not None and abs(float(counted) - instructions) > 2:
        log.warning("%s: the cycle plugin counted %s instructions per call, QEMU's timer %.0f",
                    m.case_id, counted, instructions)
    cycles = estimator.cycles(float(value), parse_parts(parts) if parts else None)
    return {"cycles_estimated": round(cycles), "cycles_estimated_provenance": cycle_model.PROVENANCE,
            "cycles_model": estimator.model_name, "cycles_parts": parts}


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Wall time covered by at least one interval (parallel runs counted once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def _checked_row(spec: CaseSpec, m: CaseMeasurement, cfg: Mapping, image: Image | None, target,
                 banner: Mapping, mix: Mapping | None = None) -> dict:
    """The case's row; a figure that cannot be computed costs the case, never the run."""
    try:
        return _row(spec, m, cfg, image, target, banner, mix)
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
        log.exception("%s: row could not be computed", m.case_id)
        failed = CaseMeasurement(m.case_id, "bad-record", detail=f"row could not be computed: {exc!r}")
        return _row(spec, failed, cfg, image, target, {}, None)


def _row(spec: CaseSpec, m: CaseMeasurement, cfg: Mapping, image: Image | None, target,
         banner: Mapping, mix: Mapping | None = None) -> dict:
    board = cfg["board"]
    row = {
        **spec.row(), "board": board["name"], "kernels": cfg["kernels"]["name"],
        "kernels_version": banner.get("kernels_version", ""),
        "image": image.name if image else "", "firmware_hash": image.firmware_hash if image else "",
        "compiler": image.compiler if image else "", "cflags": image.cflags if image else "",
        "status": m.status, "output_ok": m.status == "ok", "mismatches": m.mismatches if m.measured else "",
        "reps": m.reps, "metric_unit": target.unit, "provenance": target.provenance, "detail": m.detail,
    }
    if m.measured:
        per_call = target.counter_to_metric(m.ticks_sum / m.reps - m.overhead_ticks)
        digits = target.metric_decimals
        cycles = cycle_model.row_fields(per_call, target.unit, board, mix)
        cycles.update(_plugin_estimate(m, target, per_call))  # replaces the mix model's, when made
        estimated = cycles.get("cycles_estimated") if target.unit == "instructions" else None
        row.update(
            metric=round(per_call, digits),
            metric_min=round(target.counter_to_metric(m.ticks_min - m.overhead_ticks), digits),
            metric_max=round(target.counter_to_metric(m.ticks_max - m.overhead_ticks), digits),
            # Emulators count instructions: their energy comes from estimated cycles
            # where the instruction mix was made, else from the stated CPI.
            energy_uj=energy.energy_uj(per_call, board["energy_model"], estimated),
            energy_provenance=energy.PROVENANCE,
            energy_basis=energy.basis(target.unit, board["energy_model"], cycles.get("cycles_model"), estimated),
            **cycles,
        )
    row.update(power.row_columns(m, target))  # median/sd/rse; measured energy replaces the estimate
    return row
