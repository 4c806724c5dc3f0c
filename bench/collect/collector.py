"""Turn one image's records into per-case measurements, checking the sequence.

The banner must name the board, kernel library and image that were built;
each result line must carry the index and id the image was built with. A case
whose line never came, or came garbled, gets a status saying so and no number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

from bench.errors import ProtocolError
from bench.collect.protocol import Record

log = logging.getLogger(__name__)


_CLASSIC_R_FIELDS = {"idx", "id", "reps", "sum", "min", "max", "ok", "bad", "first_bad"}


@dataclass
class CaseMeasurement:
    case_id: str
    status: str                 # ok, output-mismatch, missing, timeout, crashed, garbled
    reps: int = 0
    ticks_sum: int = 0
    ticks_min: int = 0
    ticks_max: int = 0
    overhead_ticks: int = 0
    mismatches: int = 0
    first_mismatch: int = -1
    detail: str = ""
    extra: dict = field(default_factory=dict)  # further R fields (med, sd, rse_ppm, pm_* energy)

    @property
    def measured(self) -> bool:
        return self.status in ("ok", "output-mismatch")


@dataclass
class ImageCollector:
    """Feed records as they arrive; ``finish`` returns one measurement per case."""

    image: str
    board: str
    kernels: str
    case_ids: Sequence[str]
    banner: dict = field(default_factory=dict)
    overhead: int | None = None
    results: dict = field(default_factory=dict)
    ended: bool = False
    problems: list[str] = field(default_factory=list)

    def feed(self, record: Record) -> CaseMeasurement | None:
        """Consume a record; returns the case measurement when it completes one."""
        try:
            return self._feed(record)
        except ProtocolError as exc:
            self.problems.append(str(exc))
            return None

    def _feed(self, record: Record) -> CaseMeasurement | None:
        if record.tag == "B":
            self.banner = dict(record.fields)
            for key, want in (("board", self.board), ("kernels", self.kernels), ("image", self.image)):
                if self.banner.get(key) != want:
                    raise ProtocolError(f"banner says {key}={self.banner.get(key)!r}, expected {want!r}")
            return None
        if record.tag == "C":
            self.overhead = record.int("overhead")
            return None
        if record.tag == "E":
            self.ended = True
            return None
        idx = record.int("idx")
        if not self.banner or self.overhead is None:
            raise ProtocolError("result line before the banner and counter overhead")
        if not 0 <= idx < len(self.case_ids) or record.fields.get("id") != self.case_ids[idx]:
            raise ProtocolError(f"result line idx={idx} id={record.fields.get('id')} does not match the image")
        ok = record.int("ok") == 1
        m = CaseMeasurement(
            case_id=self.case_ids[idx], status="ok" if ok else "output-mismatch",
            reps=record.int("reps"), ticks_sum=record.int("sum"), ticks_min=record.int("min"),
            ticks_max=record.int("max"), overhead_ticks=self.overhead,
            mismatches=record.int("bad"), first_mismatch=record.int("first_bad"),
            extra={k: v for k, v in record.fields.items() if k not in _CLASSIC_R_FIELDS},
        )
        if not ok:
            m.detail = f"{m.mismatches} output bytes differ from the golden output (first at {m.first_mismatch})"
        self.results[m.case_id] = m
        return m

    def unfinished(self, run_status: str, detail: str, rejected: int) -> list[CaseMeasurement]:
        """Measurements for the cases that got no trusted result line."""
        missing = [cid for cid in self.case_ids if cid not in self.results]
        if not missing:
            return []
        if run_status != "ok":
            status = run_status
        elif rejected:
            status, detail = "garbled", f"{rejected} serial line(s) failed their checksum"
        else:
            status, detail = "missing", detail or "the firmware printed no result for this case"
        # The first missing case is the one that hung or crashed; the rest never started.
        out = [CaseMeasurement(missing[0], status, detail=detail)]
        out += [CaseMeasurement(cid, "not-run", detail=f"not reached: {missing[0]} {status}") for cid in missing[1:]]
        return out
