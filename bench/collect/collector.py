"""Turn one image's records into per-case measurements, trusting nothing unchecked.

Every record is checked against its declared schema (bench/collect/schema.py)
and the banner against the image's plan before any result line is used. A
result is kept only when its line is well formed, agrees with itself, with the
banner and the counter overhead, is the only one for its case, and the #E end
line (when it came) agrees with what arrived. Anything else gives the case a
status naming the field and value; ``feed`` and ``finish`` never raise.

Statuses besides ok / output-mismatch (docs/measurement.md has the table):
wrong-firmware, protocol-violation, bad-record, duplicate-result, bad-end,
garbled, missing, not-run (and the target's timeout / crashed / no-output).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from bench.collect.protocol import Record
from bench.collect.schema import ImagePlan, banner_problems, check_record, result_problems

log = logging.getLogger(__name__)

_CLASSIC_R_FIELDS = {"idx", "id", "reps", "sum", "min", "max", "ok", "bad", "first_bad"}


@dataclass
class CaseMeasurement:
    case_id: str
    status: str                 # ok, output-mismatch, or why there is no trusted number
    reps: int = 0
    ticks_sum: int = 0
    ticks_min: int = 0
    ticks_max: int = 0
    overhead_ticks: int = 0
    mismatches: int = 0
    first_mismatch: int = -1
    detail: str = ""
    extra: dict = field(default_factory=dict)  # further R fields, typed (med, sd, rse_ppm, pm_* energy)

    @property
    def measured(self) -> bool:
        return self.status in ("ok", "output-mismatch")


@dataclass
class ImageCollector:
    """Feed records as they arrive; ``finish`` returns one measurement per planned case."""

    plan: ImagePlan
    banner: dict = field(default_factory=dict)       # typed banner values, once the banner is accepted
    overhead: int | None = None
    end: dict | None = None
    problems: list[str] = field(default_factory=list)  # everything that went wrong, for the log
    _results: dict = field(default_factory=dict)       # case_id -> CaseMeasurement (first line)
    _lines: Counter = field(default_factory=Counter)   # case_id -> result lines seen
    _raw: dict = field(default_factory=dict)           # case_id -> the first line's fields, as sent
    _case_problem: dict = field(default_factory=dict)  # case_id -> (status, detail), first one wins
    _image_problem: tuple[str, str] | None = None      # applies to every case of the image
    _banner_seen: bool = False
    _overhead_seen: bool = False

    @property
    def case_ids(self) -> tuple[str, ...]:
        return self.plan.case_ids

    def feed(self, record: Record) -> str | None:
        """Consume one record; returns the case id a result line names (for progress)."""
        try:
            return getattr(self, f"_feed_{record.tag}")(record)
        except Exception as exc:  # a defect here must cost this image, never the run
            log.exception("collector failed on a #%s line", record.tag)
            self._fail_image("protocol-violation", f"#{record.tag} line could not be handled ({exc!r})")
            return None

    # -- per record type -------------------------------------------------------------

    def _once(self, record: Record, seen: bool, status: str, what: str) -> dict | None:
        """A record that comes once per image: its checked values, or None (the image is refused)."""
        if seen:
            self._fail_image(status, f"a second {what}" + (": the firmware restarted" if record.tag == "B" else ""))
            return None
        checked = check_record(record.tag, record.fields, record.repeated)
        if not checked.ok:
            self._fail_image(status, f"{what}: " + "; ".join(checked.problems))
            return None
        return checked.values

    def _feed_B(self, record: Record) -> None:
        seen, self._banner_seen = self._banner_seen, True
        values = self._once(record, seen, "protocol-violation", "banner")
        if values is None:
            return
        mismatch = banner_problems(values, self.plan)
        if mismatch:
            self._fail_image("wrong-firmware", "; ".join(mismatch))
            return
        self.banner = values

    def _feed_C(self, record: Record) -> None:
        seen, self._overhead_seen = self._overhead_seen, True
        values = self._once(record, seen, "protocol-violation", "counter-overhead line")
        if values is not None:
            self.overhead = values["overhead"]

    def _feed_E(self, record: Record) -> None:
        values = self._once(record, self.end is not None, "bad-end", "#E end line")
        if values is not None:
            self.end = values

    def _feed_R(self, record: Record) -> str | None:
        checked = check_record("R", record.fields, record.repeated)
        case_id = self._attribute(checked.values, record)
        if case_id is None:
            return None
        self._lines[case_id] += 1
        if self._image_problem:     # the whole image is refused already; no case is looked at
            return case_id
        self._raw.setdefault(case_id, dict(record.fields))
        if self._lines[case_id] > 1:
            self._results.pop(case_id, None)
            same = self._raw.get(case_id) == record.fields and not record.repeated
            self._flag(case_id, "duplicate-result",
                       f"{self._lines[case_id]} result lines for this case ({'identical' if same else 'values differ'})",
                       replace=True)
            return case_id
        if self.end is not None:
            self._flag(case_id, "protocol-violation", "result line after the #E end line")
            return case_id
        if not self.banner or self.overhead is None:
            self._flag(case_id, "protocol-violation", "result line before the banner and counter overhead")
            return case_id
        if not checked.ok:
            self._flag(case_id, "bad-record", "; ".join(checked.problems))
            return case_id
        idx = self.case_ids.index(case_id)
        problems = result_problems(checked.values, self.banner, self.overhead, self.plan.output_bytes[idx])
        if problems:
            self._flag(case_id, "bad-record", "; ".join(problems))
            return case_id
        v = checked.values
        m = CaseMeasurement(
            case_id=case_id, status="ok" if v["ok"] == 1 else "output-mismatch",
            reps=v["reps"], ticks_sum=v["sum"], ticks_min=v["min"], ticks_max=v["max"],
            overhead_ticks=self.overhead, mismatches=v["bad"], first_mismatch=v["first_bad"],
            extra={k: val for k, val in v.items() if k not in _CLASSIC_R_FIELDS},
        )
        if m.status != "ok":
            m.detail = f"{m.mismatches} output bytes differ from the golden output (first at {m.first_mismatch})"
        self._results[case_id] = m
        return case_id

    def _attribute(self, values: dict, record: Record) -> str | None:
        """The planned case a result line is for, or None (the image fails) when it names none."""
        idx, cid = values.get("idx"), values.get("id")
        ids = self.case_ids
        if idx is not None and cid is not None:
            if idx < len(ids) and ids[idx] == cid:
                return cid
            want = ids[idx] if idx < len(ids) else f"none: the image has {len(ids)} cases"
            self._fail_image("protocol-violation", f"result line idx={idx} id={cid}: the planned case at idx {idx} is {want}")
            return None
        if cid is not None and cid in ids:       # idx itself is malformed: the line still names its case
            return cid
        if idx is not None and idx < len(ids):
            return ids[idx]
        self._fail_image("protocol-violation",
                         f"result line names no planned case (idx={record.fields.get('idx')!r} id={record.fields.get('id')!r})")
        return None

    def _flag(self, case_id: str, status: str, detail: str, replace: bool = False) -> None:
        self.problems.append(f"{case_id}: {status}: {detail}")
        if replace or case_id not in self._case_problem:
            self._case_problem[case_id] = (status, detail)

    def _fail_image(self, status: str, detail: str) -> None:
        self.problems.append(f"{self.plan.image}: {status}: {detail}")
        if self._image_problem is None:
            self._image_problem = (status, detail)

    # -- the end of the image --------------------------------------------------------

    def finish(self, run_status: str = "ok", detail: str = "", rejected: int = 0) -> list[CaseMeasurement]:
        """One measurement per planned case, in plan order, once the target has stopped."""
        try:
            self._check_end(run_status, rejected)
            return self._finish(run_status, detail, rejected)
        except Exception as exc:
            log.exception("collector failed at the end of %s", self.plan.image)
            return [CaseMeasurement(cid, "protocol-violation", detail=f"results could not be checked ({exc!r})")
                    for cid in self.case_ids]

    def _check_end(self, run_status: str, rejected: int) -> None:
        if self.end is None:
            if run_status == "ok" and not rejected and len(self._lines) == len(self.case_ids):
                self.problems.append(f"{self.plan.image}: no #E end line, yet the run ended cleanly")
            return
        n = len(self.case_ids)
        if self.end["cases"] != n:
            self._fail_image("bad-end", f"#E cases={self.end['cases']}, planned {n}")
            return
        failing = sum(m.status == "output-mismatch" for m in self._results.values())
        unknown = n - len(self._results)      # cases whose own line was lost or rejected
        if not failing <= self.end["failed"] <= failing + unknown:
            self._fail_image("bad-end", f"#E failed={self.end['failed']}, but {failing} result line(s) "
                                        f"reported a mismatch and {unknown} did not arrive")

    def _finish(self, run_status: str, detail: str, rejected: int) -> list[CaseMeasurement]:
        if self._image_problem:
            status, why = self._image_problem
            return [CaseMeasurement(cid, status, detail=why) for cid in self.case_ids]
        if not self.banner and rejected:
            why = f"no trusted banner: {rejected} serial line(s) failed their checksum"
            return [CaseMeasurement(cid, "garbled", detail=why) for cid in self.case_ids]
        out: dict[str, CaseMeasurement] = {}
        for cid in self.case_ids:
            if cid in self._case_problem:
                status, why = self._case_problem[cid]
                out[cid] = CaseMeasurement(cid, status, detail=why)
            elif cid in self._results:
                out[cid] = self._results[cid]
        missing = [cid for cid in self.case_ids if cid not in out]
        if missing:
            if run_status != "ok":
                status = run_status
            elif rejected:
                status, detail = "garbled", f"{rejected} serial line(s) failed their checksum"
            else:
                status, detail = "missing", detail or "the firmware printed no result for this case"
            out[missing[0]] = CaseMeasurement(missing[0], status, detail=detail)
            for cid in missing[1:]:
                # Lost lines of a run that finished are each garbled; after a hang or
                # crash the first missing case is the one it happened in, the rest never started.
                out[cid] = (CaseMeasurement(cid, status, detail=detail) if status == "garbled" else
                            CaseMeasurement(cid, "not-run", detail=f"not reached: {missing[0]} {status}"))
        return [out[cid] for cid in self.case_ids]
