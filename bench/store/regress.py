"""``python -m bench regress``: compare a run with its baseline, case by case.

Lower is better for every figure compared here (instructions or cycles per
call). Emulator counts (provenance emulator-count) are deterministic, so any
difference is reported, exactly. Hardware figures (hardware-measured) carry
a spread (metric_min..metric_max over the repetitions): a difference counts
only when it exceeds both ``min_rel`` of the baseline figure and the noise
of the two runs, ``noise_factor * (spread_baseline + spread_run) / 2``, so
jitter inside the measured spread never fails a build. Where both runs
measured energy with a power monitor (energy_provenance hardware-measured),
energy per call is a second figure (``<case>.energy``) with its own relative
threshold ``min_rel_energy``; modelled energy is never compared (it follows
the metric). Where both runs carry a cycle estimate from the same timing
model (cycles_estimated, model-estimate), it is a further figure
(``<case>.cycles``) compared exactly: the estimate is deterministic.

A case that failed (build, crash, timeout, wrong output) in the run fails the
check too. Outputs: a plain-text list on the terminal, a Markdown summary and
JUnit XML; exit code 1 on any regression or failed case, 0 otherwise, 2 when
there is nothing to compare against. For each changed case, step detection
over the store's history (bench/store/steps.py) names the run where it appeared.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Mapping

from bench.errors import BenchError
from bench.store.steps import Step, detect_steps
from bench.store.db import Run, Store

MIN_REL = 0.02        # hardware: smallest relative change that can fail the check
NOISE_FACTOR = 1.0    # hardware: multiple of the runs' mean half-spread
EXACT = "emulator-count"
ESTIMATE = "model-estimate"   # estimated cycles: deterministic, compared exactly too
HISTORY_MAX = 200     # runs of a case's history used for step detection

FAILING = ("regression", "failed", "incomparable")


class NoBaseline(BenchError):
    exit_code = 2


@dataclass
class CaseVerdict:
    case_id: str
    op: str
    verdict: str            # regression, improvement, unchanged, failed, incomparable, new, missing
    base: float | None = None
    cur: float | None = None
    unit: str = ""
    provenance: str = ""
    threshold: float = 0.0  # absolute change that counts (0: exact)
    reason: str = ""
    appeared: str = ""      # where step detection places the change
    figure: str = "metric"  # or "energy" (measured energy per call, uJ)

    @property
    def name(self) -> str:
        return self.case_id if self.figure == "metric" else f"{self.case_id}.{self.figure}"

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.cur is None else self.cur - self.base

    @property
    def rel(self) -> float | None:
        d = self.delta
        return None if d is None or not self.base else d / self.base

    def line(self) -> str:
        head = f"{self.verdict.upper():<12} {self.name:<28}"
        if self.delta is not None and self.verdict in ("regression", "improvement", "unchanged"):
            how = "exact" if self.provenance in (EXACT, ESTIMATE) else f"threshold {_fmt(self.threshold)}"
            text = (f"{head} {_fmt(self.base)} -> {_fmt(self.cur)} {self.unit} "
                    f"({self.delta:+,.6g}, {_pct(self.rel)}; {how})")
        else:
            text = f"{head} {self.reason}"
        return text + (f"  first seen: {self.appeared}" if self.appeared else "")


def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6g}"


def _pct(rel: float | None) -> str:
    return "n/a" if rel is None or math.isinf(rel) else f"{rel * 100:+.2f}%"


def compare_case(base: Mapping | None, cur: Mapping | None, *, min_rel: float = MIN_REL,
                 noise_factor: float = NOISE_FACTOR) -> CaseVerdict:
    """One case's verdict from its baseline row and its row in the run (results.csv fields)."""
    some = cur or base
    v = CaseVerdict(case_id=some["case_id"], op=some.get("op", ""), verdict="unchanged",
                    unit=some.get("metric_unit", ""), provenance=some.get("provenance", ""))
    if cur is None:
        v.verdict, v.reason = "missing", "in the baseline but not in this run"
        return v
    if cur.get("status") != "ok":
        v.verdict = "failed"
        v.reason = f"status {cur.get('status')}" + (f": {cur.get('detail')}" if cur.get("detail") else "")
        return v
    v.cur = _num(cur.get("metric"))
    if base is None or base.get("status") != "ok" or _num(base.get("metric")) is None:
        v.verdict, v.reason = "new", "no baseline figure for this case"
        return v
    v.base = _num(base.get("metric"))
    if v.cur is None:
        v.verdict, v.reason = "failed", "status ok but no metric"
        return v
    if (base.get("provenance"), base.get("metric_unit")) != (cur.get("provenance"), cur.get("metric_unit")):
        v.verdict = "incomparable"
        v.reason = (f"baseline is {base.get('metric_unit')} ({base.get('provenance')}), run is "
                    f"{cur.get('metric_unit')} ({cur.get('provenance')})")
        return v
    delta = v.cur - v.base
    if cur.get("provenance") == EXACT:
        v.threshold = 0.0
        changed = delta != 0
    else:
        spread = [_spread(r) for r in (base, cur)]
        noise = noise_factor * (spread[0] + spread[1]) / 2
        v.threshold = max(min_rel * abs(v.base), noise)
        changed = abs(delta) > v.threshold
    if changed:
        v.verdict = "regression" if delta > 0 else "improvement"
    return v


def _spread(row: Mapping) -> float:
    lo, hi = _num(row.get("metric_min")), _num(row.get("metric_max"))
    return 0.0 if lo is None or hi is None else max(hi - lo, 0.0)


MEASURED = "hardware-measured"
MIN_REL_ENERGY = 0.05  # measured energy: smallest relative change that counts


def compare_energy(base: Mapping, cur: Mapping, *, min_rel: float = MIN_REL_ENERGY) -> CaseVerdict | None:
    """Measured energy per call (power monitor), when both runs have it; None otherwise.

    results.csv carries no spread for energy, so only the relative threshold applies.
    """
    if base.get("status") != "ok" or cur.get("status") != "ok":
        return None
    if base.get("energy_provenance") != MEASURED or cur.get("energy_provenance") != MEASURED:
        return None
    eb, ec = _num(base.get("energy_uj")), _num(cur.get("energy_uj"))
    if eb is None or ec is None:
        return None
    v = CaseVerdict(case_id=cur["case_id"], op=cur.get("op", ""), verdict="unchanged", base=eb, cur=ec,
                    unit="uJ", provenance=MEASURED, threshold=min_rel * abs(eb), figure="energy")
    if abs(ec - eb) > v.threshold:
        v.verdict = "regression" if ec > eb else "improvement"
    return v


def compare_estimated_cycles(base: Mapping, cur: Mapping) -> CaseVerdict | None:
    """Estimated cycles per call, exactly, when both runs have them from the same model."""
    if base.get("status") != "ok" or cur.get("status") != "ok":
        return None
    cb, cc = _num(base.get("cycles_estimated")), _num(cur.get("cycles_estimated"))
    if cb is None or cc is None or base.get("cycles_model") != cur.get("cycles_model"):
        return None
    v = CaseVerdict(case_id=cur["case_id"], op=cur.get("op", ""), verdict="unchanged", base=cb, cur=cc,
                    unit="cycles (estimated)", provenance=ESTIMATE, figure="cycles")
    if cc != cb:
        v.verdict = "regression" if cc > cb else "improvement"
    return v


def compare_runs(base: Mapping[str, Mapping], cur: Mapping[str, Mapping], *,
                 min_rel_energy: float = MIN_REL_ENERGY, **kw) -> list[CaseVerdict]:
    """Verdicts for every case of the run (and its measured energy, where both runs have
    it), then baseline cases the run lacks."""
    out = []
    for cid, row in cur.items():
        out.append(compare_case(base.get(cid), row, **kw))
        if cid in base:
            extra = (compare_energy(base[cid], row, min_rel=min_rel_energy),
                     compare_estimated_cycles(base[cid], row))
            out += [v for v in extra if v]
    out += [compare_case(row, None, **kw) for cid, row in base.items() if cid not in cur]
    return out


def exit_code(verdicts: list[CaseVerdict]) -> int:
    return 1 if any(v.verdict in FAILING for v in verdicts) else 0


# -- step detection over the history -----------------------------------------------


def history_steps(store: Store, run: Run, case_id: str) -> list[tuple[Run, Step]]:
    """Level changes of a case over its history up to ``run``: (the run it appeared in, step)."""
    series = [(r, row) for r, row in store.series(case_id, run.board, run.kernels, run.sweep)
              if r.created_at <= run.created_at and row.get("status") == "ok" and _num(row.get("metric")) is not None]
    series = series[-HISTORY_MAX:]   # the fit is O(n^2) per case; recent history is what matters
    if len(series) < 2:
        return []
    y = [_num(row["metric"]) for _, row in series]
    exact = all(row.get("provenance") == EXACT for _, row in series)
    noise = 0.0 if exact else sorted(_spread(row) / 2 for _, row in series)[len(series) // 2]
    return [(series[step.index][0], step) for step in detect_steps(y, noise=noise)]


def locate_change(store: Store, run: Run, case_id: str) -> str:
    """Where the latest level change up to ``run`` appeared, e.g. '#12 2026-11-25 11:15 abc1234 (a -> b)'."""
    steps = history_steps(store, run, case_id)
    if not steps:
        return ""
    where, step = steps[-1]
    return f"{where.label} ({_fmt(step.before)} -> {_fmt(step.after)})"


def steps_report(store: Store, run: Run) -> str:
    """Every case's level changes over the history of the run's (board, kernels, sweep)."""
    n_runs = len([r for r in store.runs(run.board, run.kernels, run.sweep) if r.created_at <= run.created_at])
    lines = [f"steps over {n_runs} run(s) of {run.board}/{run.kernels}/{run.sweep} up to {run.label}"]
    for case_id in sorted(store.results(run.id)):
        for where, step in history_steps(store, run, case_id):
            lines.append(f"{case_id:<28} {where.label}  {_fmt(step.before)} -> {_fmt(step.after)} "
                         f"({_pct(step.relative)})")
    if len(lines) == 1:
        lines.append("no level change in any case")
    return "\n".join(lines)


# -- reports --------------------------------------------------------------------------------


def text_report(run: Run, base: Run, verdicts: list[CaseVerdict]) -> str:
    lines = [f"regress: {run.label} {run.path}",
             f"     vs baseline {base.label} {base.path}  ({run.board}, {run.kernels}, {run.sweep})"]
    order = ["regression", "failed", "incomparable", "improvement", "missing", "new"]
    for kind in order:
        lines += [v.line() for v in verdicts if v.verdict == kind]
    lines.append(_counts(verdicts))
    return "\n".join(lines)


def _counts(verdicts: list[CaseVerdict]) -> str:
    kinds = ["regression", "failed", "incomparable", "improvement", "unchanged", "new", "missing"]
    n = {k: sum(v.verdict == k for v in verdicts) for k in kinds}
    return ", ".join(f"{n[k]} {k}" for k in kinds if n[k] or k in ("regression", "improvement", "unchanged"))


def markdown_report(run: Run, base: Run, verdicts: list[CaseVerdict]) -> str:
    status = "FAIL" if exit_code(verdicts) else "PASS"
    out = [f"## Operator regression check: {status}", "",
           f"- board `{run.board}`, kernels `{run.kernels}`, sweep `{run.sweep}`",
           f"- run {run.label} (`{run.path}`), toolchain {run.toolchain or '?'}",
           f"- baseline {base.label} (`{base.path}`)",
           f"- {_counts(verdicts)}", ""]
    shown = [v for v in verdicts if v.verdict != "unchanged"]
    if shown:
        out += ["| verdict | case | op | baseline | run | change | threshold | first seen |",
                "|---|---|---|---:|---:|---:|---:|---|"]
        for v in shown:
            thr = "" if v.delta is None else "exact" if v.provenance == EXACT else _fmt(v.threshold)
            change = _pct(v.rel) if v.delta is not None else v.reason
            out.append(f"| {v.verdict} | `{v.name}` | {v.op} | {_fmt(v.base)} | {_fmt(v.cur)} | "
                       f"{change} | {thr} | {v.appeared} |")
    else:
        out.append("Every case unchanged.")
    unit = next((v.unit for v in verdicts if v.unit and v.figure == "metric"), "")
    out += ["", f"Figures are {unit} per call (`.energy`: measured uJ per call); lower is better. "
            "Emulator counts are compared exactly; hardware figures against max(min relative change, "
            "measured spread)."]
    return "\n".join(out) + "\n"


def junit_xml(checks: list[tuple[Run, Run, list[CaseVerdict]]]) -> str:
    """One testsuite per compared run, one testcase per case."""
    total = [v for _, _, verdicts in checks for v in verdicts]
    root = ET.Element("testsuites", name="bench regress", tests=str(len(total)),
                      failures=str(sum(v.verdict in ("regression", "incomparable") for v in total)),
                      errors=str(sum(v.verdict == "failed" for v in total)))
    for run, base, verdicts in checks:
        suite_name = f"bench.regress.{run.board}.{run.kernels}.{run.sweep}"
        suite = ET.SubElement(
            root, "testsuite", name=suite_name, tests=str(len(verdicts)),
            failures=str(sum(v.verdict in ("regression", "incomparable") for v in verdicts)),
            errors=str(sum(v.verdict == "failed" for v in verdicts)),
            skipped=str(sum(v.verdict in ("missing", "new") for v in verdicts)), time="0")
        props = ET.SubElement(suite, "properties")
        for name, value in (("run", run.path), ("run_commit", run.git_commit or ""),
                            ("toolchain", run.toolchain), ("baseline", base.path),
                            ("baseline_commit", base.git_commit or "")):
            ET.SubElement(props, "property", name=name, value=value)
        for v in verdicts:
            case = ET.SubElement(suite, "testcase", classname=f"{suite_name}.{v.op or 'case'}",
                                 name=v.name, time="0")
            if v.verdict in ("regression", "incomparable"):
                ET.SubElement(case, "failure", message=v.line(), type=v.verdict).text = v.line()
            elif v.verdict == "failed":
                ET.SubElement(case, "error", message=v.reason, type="case-failed").text = v.line()
            elif v.verdict in ("missing", "new"):
                ET.SubElement(case, "skipped", message=v.reason)
            else:
                ET.SubElement(case, "system-out").text = v.line()
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# -- command --------------------------------------------------------------------------------
