"""The declared schema of every serial record, and the checks a record must pass.

The CRC only says a line arrived as it was sent; it says nothing about whether
what was sent makes sense. A record is used only when every key it must have
is there once, every value parses as its declared type and lies in its range,
and the values agree with each other and with what was planned for the image
(``ImagePlan``): a banner from another build, a result line with a negative
count, a repeated key or a second result for one case are violations, each
described by field and value, never a guess at what was meant.

The tables are data: a new record field (a timing plugin's cycle figure, a
power monitor's window energy) is one ``Field`` entry in ``RECORDS``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

U64_MAX = 2**64 - 1
I32_MAX = 2**31 - 1

_INT = re.compile(r"-?[0-9]{1,40}")   # no '+', '_', spaces or exponents, which int() would take


@dataclass(frozen=True)
class Field:
    kind: str                    # "uint" | "int" | "float" | "str"
    required: bool = True
    lo: float | None = None
    hi: float | None = None

    def parse(self, text: str):
        """The typed value, or raise ValueError with the reason in words."""
        if self.kind == "str":
            if not text:
                raise ValueError("is empty")
            return text
        if self.kind in ("uint", "int"):
            if not _INT.fullmatch(text):
                raise ValueError("is not an integer")
            value = int(text)
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError("is not a number") from None
            if not math.isfinite(value):
                raise ValueError("is not a finite number")
        lo = 0 if self.kind == "uint" and self.lo is None else self.lo
        hi = U64_MAX if self.kind == "uint" and self.hi is None else self.hi
        if lo is not None and value < lo:
            raise ValueError(f"is below {_num(lo)}")
        if hi is not None and value > hi:
            raise ValueError(f"is above {_num(hi)}")
        return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def uint(lo: int = 0, hi: int = U64_MAX, required: bool = True) -> Field:
    return Field("uint", required, lo, hi)


def text(required: bool = True) -> Field:
    return Field("str", required)


def real(lo: float | None = None, hi: float | None = None, required: bool = True) -> Field:
    return Field("float", required, lo, hi)


RECORDS: dict[str, dict[str, Field]] = {
    # Banner: what the image is (firmware/runner/main.c prints it first).
    "B": {
        "fw": text(), "image": text(), "build": text(), "board": text(),
        "core_hz": uint(1), "counter": text(), "counter_hz": uint(1),
        "kernels": text(), "kernels_version": text(), "cc": text(), "cflags": text(),
        "warmup": uint(), "reps": uint(1), "max_reps": uint(1), "rse_target_ppm": uint(0, 10**6),
        "min_window_ms": uint(), "idle_ms": uint(), "cases": uint(1, I32_MAX),
    },
    # Counter overhead (an empty timed window) and the idle window's length.
    "C": {"overhead": uint(0, 2**32), "idle_ticks": uint()},
    # One case's result, in counter ticks; pm_* are added by a target from its power monitor.
    "R": {
        "idx": uint(0, I32_MAX), "id": text(), "reps": uint(1),
        "sum": uint(), "min": uint(), "max": uint(), "med": uint(), "sd": uint(), "rse_ppm": uint(),
        "ok": uint(0, 1), "bad": uint(0, I32_MAX), "first_bad": Field("int", True, -1, I32_MAX),
        "pm_energy_j": real(0, required=False), "pm_samples": uint(1, required=False),
        "pm_sample_hz": real(1e-9, required=False), "pm_baseline_w": real(0, required=False),
        # Added by the QEMU target from its cycle plugin (bench/timing/qemu_cycles.py): per call.
        "host_cycles": real(0, required=False), "host_instructions": real(0, required=False),
        "host_cycles_parts": text(required=False),
    },
    # End of the image: how many cases ran and how many failed the golden check.
    "E": {"cases": uint(1, I32_MAX), "failed": uint(0, I32_MAX)},
}


@dataclass
class Checked:
    values: dict = field(default_factory=dict)     # key -> typed value, for the keys that parsed
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _show(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def check_record(tag: str, fields: Mapping[str, str], repeated: Sequence[tuple[str, str]] = ()) -> Checked:
    """Check one record's fields against its declared schema.

    ``repeated``: (key, value) of every later occurrence of a key already in
    ``fields`` (bench/collect/protocol.py keeps them rather than let one win).
    """
    schema = RECORDS.get(tag, {})
    out = Checked()
    for key, value in fields.items():
        spec = schema.get(key)
        if spec is None:
            out.problems.append(f"unknown key {key}={_show(value)}")
            continue
        try:
            out.values[key] = spec.parse(value)
        except ValueError as exc:
            out.problems.append(f"{key}={_show(value)} {exc}")
    for key, value in repeated:
        out.problems.append(f"key {key} repeated ({key}={_show(fields.get(key, ''))} and {key}={_show(value)})")
        out.values.pop(key, None)
    for key, spec in schema.items():
        if spec.required and key not in fields:
            out.problems.append(f"missing key {key}")
    return out


@dataclass(frozen=True)
class ImagePlan:
    """What the host built an image to be: the banner it must print and its cases."""

    image: str
    case_ids: tuple[str, ...]
    output_bytes: tuple[int, ...]            # golden output length per case (bounds bad, first_bad)
    banner: Mapping[str, str]                # banner key -> exact expected text (bench/build/images.py)


def banner_problems(values: Mapping, plan: ImagePlan) -> list[str]:
    """Where a well-formed banner disagrees with the plan ('banner kernels=opt, planned ref')."""
    problems = []
    for key, want in plan.banner.items():
        got = values.get(key)
        if got is not None and str(got) != str(want):
            problems.append(f"banner {key}={_show(str(got))}, planned {_show(str(want))}")
    return problems


def result_problems(r: Mapping, banner: Mapping, overhead: int, output_bytes: int) -> list[str]:
    """Disagreements inside a well-formed result line, and with its banner and overhead.

    The bounds are what the runner's arithmetic allows (firmware/runner/main.c):
    one of the calls took min and one took max, so with n calls
    max + (n-1)*min <= sum <= min + (n-1)*max; equal counts have no spread.
    """
    p = []
    reps, lo, hi, total, med, sd, rse = (r[k] for k in ("reps", "min", "max", "sum", "med", "sd", "rse_ppm"))
    if lo > hi:
        p.append(f"min={lo} is above max={hi}")
    elif reps == 1 and not total == lo == hi:
        p.append(f"reps=1 with sum={total} min={lo} max={hi}: one call has one count")
    elif reps > 1 and not hi + (reps - 1) * lo <= total <= lo + (reps - 1) * hi:
        p.append(f"sum={total} is not between max+(reps-1)*min={hi + (reps - 1) * lo} "
                 f"and min+(reps-1)*max={lo + (reps - 1) * hi}")
    if not lo <= med <= hi:
        p.append(f"med={med} is outside min..max ({lo}..{hi})")
    if lo <= overhead:
        p.append(f"min={lo} is not above the counter overhead {overhead}: no time left for the call")
    kept = min(reps, banner.get("max_reps", reps))   # calls whose counts the spread is taken over
    if kept == reps <= 3 and lo <= hi:
        # Up to three calls are known one by one (min, the median, max): the
        # runner's median, sd and rse_ppm follow exactly.
        samples = {1: [lo], 2: [lo, hi], 3: [lo, total - lo - hi, hi]}[reps]
        if lo <= sorted(samples)[len(samples) // 2] <= hi and (med, sd, rse) != _spread(samples):
            want = dict(zip(("med", "sd", "rse_ppm"), _spread(samples)))
            p.append(f"med={med} sd={sd} rse_ppm={rse}, but calls {samples} give "
                     + " ".join(f"{k}={v}" for k, v in want.items()))
    elif lo == hi and (med, sd, rse) != (lo, 0, 0):
        p.append(f"med={med} sd={sd} rse_ppm={rse} with equal counts min=max={lo} (no spread)")
    elif sd > hi - lo:
        p.append(f"sd={sd} is larger than max-min={hi - lo}")
    elif lo > 0 and rse > 10**6 * (sd + 1) / (math.sqrt(kept) * lo) + 1:
        p.append(f"rse_ppm={rse} does not follow from sd={sd}, min={lo} and {kept} kept calls")
    if reps < banner.get("reps", 1):
        p.append(f"reps={reps} is below the banner's reps={banner.get('reps')}")
    elif banner.get("min_window_ms", 0) == 0 and reps > banner.get("max_reps", reps):
        p.append(f"reps={reps} is above the banner's max_reps={banner.get('max_reps')}")
    bad, first = r["bad"], r["first_bad"]
    if r["ok"] != (bad == 0):
        p.append(f"ok={r['ok']} contradicts bad={bad}")
    if (bad == 0) != (first == -1):
        p.append(f"first_bad={first} contradicts bad={bad}")
    if bad > output_bytes or first >= output_bytes:
        p.append(f"bad={bad} first_bad={first} do not fit the {output_bytes}-byte output")
    return p


def _spread(samples: list[int]) -> tuple[int, int, int]:
    """Median, sd and rse_ppm of the calls, in the runner's arithmetic (main.c, IEEE double)."""
    n = len(samples)
    ordered = sorted(samples)
    med = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) // 2
    avg = 0.0
    for x in samples:
        avg += float(x)
    avg /= n
    ss = 0.0
    for x in samples:
        ss += (float(x) - avg) ** 2
    sd = math.isqrt(int(ss / (n - 1))) if n > 1 else 0
    rse = math.isqrt(int(ss / (n - 1) / n / (avg * avg) * 1e12)) if n > 1 and avg > 0 else 0
    return med, sd, rse
