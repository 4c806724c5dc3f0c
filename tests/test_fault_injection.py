"""Fault injection: real firmware streams, damaged thousands of ways, never recorded as ok.

The smoke sweep's image is built and run in QEMU once per session and its
serial bytes captured. Each mutation then replays the damaged bytes through
the pipeline's own per-image path (``run_image``: a target feeding
``LineSplitter``, the checked collector, the row builder) with a target that
plays the bytes back in random chunks. Two families:

- transport damage (bit flips, lost, inserted and repeated bytes or lines,
  truncation, lines run together): the CRC's job;
- re-framed lines with a valid CRC, what a buggy or wrong firmware sends:
  impossible, malformed, repeated or missing values, a second result, a
  banner of another build, wrong end counts, lines out of order.

The invariant: nothing raises, every planned case gets exactly one row, and a
row whose status is ok carries exactly the figures of the undamaged run.
Each numbered item of issue 11 has its own test below as well.
"""

from __future__ import annotations

import random
import re
import zlib
from pathlib import Path

import pytest

from bench.collect.protocol import LineSplitter
from bench.collect.schema import ImagePlan
from bench.targets.base import RunOutcome

pytestmark = pytest.mark.qemu

MUTATIONS = 3000           # per family: seeded, so a failure names its seed
VALUE_COLUMNS = ("metric", "metric_min", "metric_max", "metric_median", "metric_sd", "metric_rse",
                 "reps", "mismatches", "output_ok", "energy_uj", "energy_basis", "kernels_version",
                 "instructions", "cycles_estimated")


# -- capturing real streams ------------------------------------------------------------


class _Recorder(LineSplitter):
    captured: list[bytes] = []

    def feed(self, data: bytes):
        _Recorder.captured.append(bytes(data))
        return super().feed(data)


def _capture(compose_cfg, cache: Path, kernels: str, monkeypatch) -> dict:
    """Build the smoke image with ``kernels`` and run it in QEMU; its bytes and plan."""
    from bench.orchestrate import pipeline
    from bench.targets import make_target, qemu

    cfg = compose_cfg("sweep=smoke", f"kernels={kernels}", "run.instruction_mix=false", "run.report=false")
    specs = pipeline.plan_cases(cfg)
    settings = pipeline.build_settings(cfg)
    generated = [pipeline.generate(s, cache) for s in specs]
    image = pipeline.build_image("img0", generated, settings, cache)
    target = make_target(cfg["board"])
    _Recorder.captured = []
    monkeypatch.setattr(qemu, "LineSplitter", _Recorder)
    rows = run_rows(image, generated, settings, target, cfg, None)
    monkeypatch.undo()
    return {"cfg": cfg, "image": image, "generated": generated, "settings": settings, "target": target,
            "stream": b"".join(_Recorder.captured), "rows": rows}


class ListWriter:
    """What run_image writes rows to, kept in memory (no fsync per mutation)."""

    def __init__(self, path: Path):
        self.path = path / "results.csv"
        self.rows: list[dict] = []

    def write(self, row: dict) -> None:
        self.rows.append(row)


class ReplayTarget:
    """Plays captured bytes back through LineSplitter, in random chunks, as a target would."""

    def __init__(self, real, stream: bytes, rng: random.Random, status: str = "ok"):
        self.unit, self.provenance, self.metric_decimals = real.unit, real.provenance, real.metric_decimals
        self.counter_to_metric = real.counter_to_metric
        self.stream, self.rng, self.status = stream, rng, status

    def run(self, elf, on_record, timeout_s):
        splitter = LineSplitter()
        pos = 0
        while pos < len(self.stream):
            n = self.rng.choice((1, 7, 64, 4096))
            for record in splitter.feed(self.stream[pos:pos + n]):
                on_record(record)
            pos += n
        return RunOutcome(self.status, 0 if self.status == "ok" else 2, 0.0, splitter.rejected)


def run_rows(image, generated, settings, target, cfg, workdir: Path | None) -> list[dict]:
    from bench.orchestrate import pipeline
    from bench.progress import Progress

    writer = ListWriter(workdir or Path(image.elf).parent)
    with Progress(total=len(generated), description="replay", enabled=False) as progress:
        pipeline.run_image(image, generated, settings, target, cfg, writer, progress, mixes={})
    return writer.rows


@pytest.fixture(scope="module")
def captured(have_qemu_toolchain, compose_cfg, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("fi-cache")
    mp.setenv("BENCH_CACHE_DIR", str(cache))
    try:
        ref = _capture(compose_cfg, cache, "ref", mp)
        opt = _capture(compose_cfg, cache, "opt", mp)
    finally:
        mp.undo()
    assert all(r["status"] == "ok" for r in ref["rows"]), [r["detail"] for r in ref["rows"]]
    return {"ref": ref, "opt": opt}


def replay(cap: dict, stream: bytes, seed: int = 0, status: str = "ok") -> list[dict]:
    target = ReplayTarget(cap["target"], stream, random.Random(seed), status)
    return run_rows(cap["image"], cap["generated"], cap["settings"], target, cap["cfg"], None)


def by_case(rows: list[dict]) -> dict[str, dict]:
    return {r["case_id"]: r for r in rows}


# -- stream surgery ---------------------------------------------------------------------


def lines_of(stream: bytes) -> list[bytes]:
    return stream.splitlines(keepends=True)


def frame(body: str) -> bytes:
    return f"{body}*{zlib.crc32(body.encode('latin-1')):08x}\r\n".encode("latin-1")


def body_of(line: bytes) -> str:
    return line.decode("latin-1").rstrip("\r\n").rpartition("*")[0]


def reframe(stream: bytes, tag: str, edit, nth: int = 0) -> bytes:
    """Apply ``edit`` (body -> body or list of bodies) to the nth #tag line, re-framed with a valid CRC."""
    out, seen = [], 0
    for line in lines_of(stream):
        if line.startswith(f"#{tag} ".encode()):
            if seen == nth:
                new = edit(body_of(line))
                out += [frame(b) for b in ([new] if isinstance(new, str) else new)]
                seen += 1
                continue
            seen += 1
        out.append(line)
    return b"".join(out)


def set_field(body: str, key: str, value: str) -> str:
    return re.sub(rf"(?<= ){re.escape(key)}=[^ ]*", f"{key}={value}", body)


def check_invariant(original: list[dict], rows: list[dict], what: str) -> dict[str, dict]:
    orig = by_case(original)
    got = by_case(rows)
    assert len(rows) == len(original) and got.keys() == orig.keys(), f"{what}: one row per planned case"
    for cid, row in got.items():
        if row["status"] == "ok":
            for col in VALUE_COLUMNS:
                assert str(row.get(col, "")) == str(orig[cid].get(col, "")), \
                    f"{what}: {cid} ok with {col}={row.get(col)!r}, undamaged {orig[cid].get(col)!r}"
    return got


# -- transport damage -------------------------------------------------------------------------


def transport_damage(stream: bytes, rng: random.Random) -> bytes:
    data = bytearray(stream)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(9)
        pos = rng.randrange(len(data))
        if kind == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[pos]
        elif kind == 2:
            data.insert(pos, rng.randrange(256))
        elif kind == 3:
            del data[pos:]
        else:
            ls = lines_of(bytes(data))
            i, j = rng.randrange(len(ls)), rng.randrange(len(ls))
            if kind == 4:
                del ls[i]
            elif kind == 5:
                ls.insert(j, ls[i])                     # a repeated line: same bytes, valid CRC
            elif kind == 6:
                ls[i], ls[j] = ls[j], ls[i]
            elif kind == 7:
                ls[i] = ls[i].rstrip(b"\r\n")          # two lines run together
            else:
                ls.insert(j, b"boot noise \x00\xff\r\n")
            data = bytearray(b"".join(ls))
        if not data:
            break
    return bytes(data)


def test_transport_damage_never_changes_an_ok_figure(captured):
    cap = captured["ref"]
    flagged = 0
    for seed in range(MUTATIONS):
        rng = random.Random(seed)
        damaged = transport_damage(cap["stream"], rng)
        rows = replay(cap, damaged, seed)
        got = check_invariant(cap["rows"], rows, f"transport seed {seed}")
        flagged += any(r["status"] != "ok" for r in got.values())
    assert flagged > MUTATIONS // 2   # most damage hits a line that matters, and shows


# -- re-framed lines with a valid CRC ---------------------------------------------------------

BAD_VALUES = ("-1", "-5", "1.5", "abc", "", "+7", "1_0", "0x10", "31000000000000000000000000",
              "18446744073709551616", "nan", "1e3")


def reframed_damage(cap: dict, rng: random.Random) -> tuple[bytes, str, bool]:
    """A valid-CRC mutation, its description, and whether it must be flagged (not merely harmless)."""
    stream = cap["stream"]
    ls = lines_of(stream)
    r_lines = [i for i, line in enumerate(ls) if line.startswith(b"#R ")]
    n_r = len(r_lines)
    kind = rng.randrange(11)
    tag = rng.choice("BCRE") if kind < 4 else "R"
    nth = rng.randrange(n_r) if tag == "R" else 0
    keys = lambda body: [p.partition("=")[0] for p in body.split(" ")[1:]]  # noqa: E731
    if kind == 0:       # an impossible or malformed value
        key = None

        def edit(body):
            nonlocal key
            key = rng.choice(keys(body))
            return set_field(body, key, rng.choice(BAD_VALUES))
        return reframe(stream, tag, edit, nth), f"#{tag} bad value", True
    if kind == 1:       # a key dropped
        def edit(body):
            parts = body.split(" ")
            del parts[rng.randrange(1, len(parts))]
            return " ".join(parts)
        return reframe(stream, tag, edit, nth), f"#{tag} key dropped", True
    if kind == 2:       # a key repeated, same or other value
        def edit(body):
            pair = rng.choice(body.split(" ")[1:])
            k, _, v = pair.partition("=")
            return f"{body} {k}={rng.choice([v, v + '1', '0'])}"
        return reframe(stream, tag, edit, nth), f"#{tag} key repeated", True
    if kind == 3:       # an unknown key
        return reframe(stream, tag, lambda b: f"{b} extra=1", nth), f"#{tag} unknown key", True
    if kind == 4:       # a second result line for one case, with other or the same values
        def edit(body):
            other = set_field(body, "sum", str(int(re.search(r" sum=(\d+)", body)[1]) + rng.choice((0, 1, 1000))))
            return [body, other]
        return reframe(stream, "R", edit, nth), "second result line", True
    if kind == 5:       # one field of a result line changed to another plausible number
        def edit(body):
            key = rng.choice(["idx", "reps", "sum", "min", "max", "ok", "bad", "first_bad", "med", "sd", "rse_ppm"])
            value = int(re.search(rf" {key}=(-?\d+)", body)[1]) + rng.choice((-1, 1, 2, 100))
            return set_field(body, key, str(max(value, -1 if key == "first_bad" else 0)))
        return reframe(stream, "R", edit, nth), "result field edited", True
    if kind == 6:       # the banner of another build
        key, value = rng.choice([("kernels", "opt"), ("kernels_version", "9.9"), ("fw", "2.0"), ("reps", "2"),
                                 ("warmup", "3"), ("cases", str(n_r - 1)), ("image", "img1"), ("board", "nucleo_h743"),
                                 ("cflags", "-O0"), ("cc", "11.3.1"), ("build", "0123456789abcdef0123"),
                                 ("max_reps", "50")])
        return reframe(stream, "B", lambda b: set_field(b, key, value)), f"banner {key}={value}", True
    if kind == 7:       # end counts that disagree with what arrived
        key, value = rng.choice([("cases", str(n_r + 1)), ("cases", str(n_r - 1)), ("failed", "1"), ("failed", "7")])
        return reframe(stream, "E", lambda b: set_field(b, key, value)), f"#E {key}={value}", True
    if kind == 8:       # a result before the banner
        i = r_lines[nth]
        moved = [ls[i]] + ls[:i] + ls[i + 1:]
        return b"".join(moved), "result before banner", True
    if kind == 9:       # a result after the end line
        i = r_lines[nth]
        moved = ls[:i] + ls[i + 1:] + [ls[i]]
        return b"".join(moved), "result after end", True
    # a result naming another case
    def edit(body):
        ids = [re.search(rb" id=([^ ]+)", ls[j])[1].decode() for j in r_lines]
        return set_field(body, "id", rng.choice([x for x in ids if f" id={x} " not in body] or ["zz"]))
    return reframe(stream, "R", edit, nth), "result names another case", True


def test_reframed_lines_are_never_recorded_as_ok(captured):
    cap = captured["ref"]
    for seed in range(MUTATIONS):
        rng = random.Random(10**6 + seed)
        damaged, what, must_flag = reframed_damage(cap, rng)
        if damaged == cap["stream"]:
            continue
        rows = replay(cap, damaged, seed)
        got = check_invariant(cap["rows"], rows, f"{what} (seed {seed})")
        if must_flag:
            assert any(r["status"] != "ok" for r in got.values()), f"{what} (seed {seed}) went unnoticed"
