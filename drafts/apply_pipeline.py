"""Apply the pipeline changes to bench/orchestrate/pipeline.py (after the layout merge)."""
import re
import sys

p = sys.argv[1]
s = open(p).read()


def rep(old, new, count=1):
    global s
    assert s.count(old) == count, (old[:80], s.count(old))
    s = s.replace(old, new)


# run_benchmark: validate, lock, decide once, then as before.
rep('''def run_benchmark(cfg: Mapping, run_dir: Path) -> RunSummary:
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(run_dir)
    board = cfg["board"]
''', '''def run_benchmark(cfg: Mapping, run_dir: Path, *, hold_lock: bool = True) -> RunSummary:
    """Run the benchmark into ``run_dir``; ``hold_lock=False`` when the caller holds its lock."""
    config_schema.validate(cfg)   # every bad key, value or shape is named before any work
    if not hold_lock:
        return _run_locked(cfg, run_dir)
    with run_folder_lock(run_dir):
        return _run_locked(cfg, run_dir)


def _run_locked(cfg: Mapping, run_dir: Path) -> RunSummary:
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(run_dir)
    board = cfg["board"]
''')
rep('''    # Writes case_keys.json; with run.resume, finished cases are carried over and skipped.
    todo = resume.prepare(specs, cfg, settings, run_dir)
    cfg = _decide_instruction_mix(cfg, todo)
''', '''    # Taken from every planned case, or read back from the folder being resumed:
    # one run, one energy basis (bench/orchestrate/run_decisions.py).
    decisions = run_decisions.decide(cfg, specs, target, run_dir)
    cfg = {**cfg, "run": {**cfg["run"], "instruction_mix": decisions["instruction_mix"]}}
    # Writes case_keys.json; with run.resume, finished cases are carried over and skipped.
    todo = resume.prepare(specs, cfg, settings, run_dir, decisions)
''')
# _decide_instruction_mix moved to run_decisions.
start = s.index("def _decide_instruction_mix(")
end = s.index("def _generate_all(")
s = s[:start] + s[end:]

# _build_and_run: the run part becomes run_image, shared with the fault-injection tests.
start = s.index('''    # Instruction-class histograms of the timed regions (Unicorn, cached by ELF).''')
end = s.index("def _union_length(")
s = s[:start] + '''    # Instruction-class histograms of the timed regions (Unicorn, cached by ELF).
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
    """Run a built image; write one checked row per case when it has ended.

    Every record goes through the checked collector (bench/collect/collector.py):
    a case gets a number only from a result line that is valid, agrees with
    the banner planned for this image, and is the only one for its case.
    Nothing here raises for what the target sent. Returns the run's (start, end).
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
        writer.write(_checked_row(specs[m.case_id], m, cfg, image, target, collector.banner, mixes.get(m.case_id)))
        progress.advance()
        if m.status != "ok":
            log.error("%s: %s %s", m.case_id, m.status, m.detail)
    return run_start, run_end


''' + s[end:]

rep('''def _row(spec: CaseSpec, m: CaseMeasurement''', '''def _checked_row(spec: CaseSpec, m: CaseMeasurement, cfg: Mapping, image: Image | None, target,
                 banner: Mapping, mix: Mapping | None = None) -> dict:
    """The case's row; a figure that cannot be computed costs the case, never the run."""
    try:
        return _row(spec, m, cfg, image, target, banner, mix)
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
        log.exception("%s: row could not be computed", m.case_id)
        failed = CaseMeasurement(m.case_id, "bad-record", detail=f"row could not be computed: {exc!r}")
        return _row(spec, failed, cfg, image, target, {}, None)


def _row(spec: CaseSpec, m: CaseMeasurement''')
open(p, "w").write(s)
