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

MUTATIONS = 1500           # per family: seeded, so a failure names its seed
VALUE_COLUMNS = ("metric", "metric_min", "metric_max", "metric_median", "metric_sd", "metric_rse",
                 "reps", "mismatches", "output_ok", "energy_uj", "energy_basis", "kernels_version",
                 "instructions", "cycles_estimated")


# -- capturing real streams ------------------------------------------------------------


class _Recorder(LineSplitter):
    captured: list[bytes] = []

    def feed(self, data: bytes):
        _Recorder.captured.append(bytes(data))
        return super().feed(data)


def _capture(compose_cfg, cache: Path, kernels: str, monkeypatch, *overrides: str) -> dict:
    """Build the smoke image with ``kernels`` and run it in QEMU; its bytes and plan."""
    from bench.orchestrate import pipeline
    from bench.targets import make_target, qemu

    cfg = compose_cfg("sweep=smoke", f"kernels={kernels}", "run.instruction_mix=false", "run.report=false",
                      *overrides)
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


class Quiet:
    def advance(self, n: int = 1) -> None:
        pass

    def current(self, case_id: str) -> None:
        pass


def run_rows(image, generated, settings, target, cfg, workdir: Path | None) -> list[dict]:
    from bench.orchestrate import pipeline

    writer = ListWriter(workdir or Path(image.elf).parent)
    pipeline.run_image(image, generated, settings, target, cfg, writer, Quiet(), mixes={})
    return writer.rows


@pytest.fixture(scope="module")
def captured(have_qemu_toolchain, compose_cfg, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("fi-cache")
    mp.setenv("BENCH_CACHE_DIR", str(cache))
    try:
        ref = _capture(compose_cfg, cache, "ref", mp)
        opt = _capture(compose_cfg, cache, "opt", mp)
        # Three timed calls after a warm-up: the spread fields (med, sd, rse_ppm) carry figures.
        reps3 = _capture(compose_cfg, cache, "ref", mp, "board.reps=3", "board.warmup=1")
    finally:
        mp.undo()
    for cap in (ref, reps3):
        assert all(r["status"] == "ok" for r in cap["rows"]), [r["detail"] for r in cap["rows"]]
    return {"ref": ref, "opt": opt, "reps3": reps3}


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


@pytest.mark.parametrize("stream", ["ref", "reps3"])
def test_transport_damage_never_changes_an_ok_figure(captured, stream):
    cap = captured[stream]
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


@pytest.mark.parametrize("stream", ["ref", "reps3"])
def test_reframed_lines_are_never_recorded_as_ok(captured, stream):
    cap = captured[stream]
    for seed in range(MUTATIONS):
        rng = random.Random(10**6 + seed)
        damaged, what, must_flag = reframed_damage(cap, rng)
        if damaged == cap["stream"]:
            continue
        rows = replay(cap, damaged, seed)
        got = check_invariant(cap["rows"], rows, f"{what} (seed {seed})")
        if must_flag:
            assert any(r["status"] != "ok" for r in got.values()), f"{what} (seed {seed}) went unnoticed"


# -- issue 11, item by item ----------------------------------------------------------------


def test_1_wrong_firmware_gives_every_case_a_status_naming_it(captured):
    """The opt image's real stream where the ref image was planned: nothing is recorded as ok."""
    rows = replay(captured["ref"], captured["opt"]["stream"])
    assert {r["status"] for r in rows} == {"wrong-firmware"}
    assert all("banner kernels=opt, planned ref" in r["detail"] for r in rows)
    assert all(r.get("metric") in ("", None) for r in rows)


@pytest.mark.parametrize("edit, status, words", [
    # a second result line for one case, with other values
    (lambda s: reframe(s, "R", lambda b: [b, set_field(b, "sum", "5")], 2), "duplicate-result", "values differ"),
    (lambda s: reframe(s, "R", lambda b: f"{b} sum=5", 2), "bad-record", "key sum repeated"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "max", "31000000000000000000000000"), 2), "bad-record",
     "max=31000000000000000000000000 is above 18446744073709551615"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "bad", "-1"), 2), "bad-record", "bad=-1 is below 0"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "med", "1.5"), 2), "bad-record", "med=1.5 is not an integer"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "sd", "x"), 2), "bad-record", "sd=x is not an integer"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "rse_ppm", "-3"), 2), "bad-record", "rse_ppm=-3 is below 0"),
    (lambda s: reframe(s, "R", lambda b: set_field(b, "reps", "0"), 2), "bad-record", "reps=0 is below 1"),
])
def test_2_meaningless_result_lines_mark_their_case_only(captured, edit, status, words):
    cap = captured["ref"]
    rows = replay(cap, edit(cap["stream"]))
    got = check_invariant(cap["rows"], rows, words)
    third = cap["rows"][2]["case_id"]
    assert got[third]["status"] == status and words in got[third]["detail"], got[third]
    assert all(r["status"] == "ok" for cid, r in got.items() if cid != third)


@pytest.mark.parametrize("key, value", [("reps", "3"), ("cases", "8"), ("cflags", "-O0"), ("cc", "11.3.1_20220712"),
                                        ("fw", "0.9"), ("warmup", "2"), ("build", "ffffffffffffffffffff")])
def test_2_banner_fields_are_checked_against_the_plan(captured, key, value):
    cap = captured["ref"]
    rows = replay(cap, reframe(cap["stream"], "B", lambda b: set_field(b, key, value)))
    assert {r["status"] for r in rows} == {"wrong-firmware"}
    assert f"banner {key}={value}, planned" in rows[0]["detail"]


@pytest.mark.parametrize("key, value", [("cases", "10"), ("failed", "1")])
def test_2_end_counts_are_checked(captured, key, value):
    cap = captured["ref"]
    rows = replay(cap, reframe(cap["stream"], "E", lambda b: set_field(b, key, value)))
    assert {r["status"] for r in rows} == {"bad-end"}
    assert f"#E {key}={value}" in rows[0]["detail"]


@pytest.fixture(scope="module")
def smoke_run(have_qemu_toolchain, compose_cfg, tmp_path_factory):
    """A real smoke run (standard convs) whose energy basis decision depends on the case count."""
    from bench.orchestrate.pipeline import plan_cases, run_benchmark

    base = tmp_path_factory.mktemp("smoke-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE_DIR", str(base / "cache"))
    cfg = compose_cfg("sweep=smoke", "op=standard", "run.report=false", f"store.path={base / 'runs/results.sqlite'}")
    total = sum(s.macs for s in plan_cases(cfg))
    # Too many MACs for the instruction mix as a whole; few enough once half is done.
    cfg["run"]["instruction_mix_max_macs"] = total - 1
    run_dir = base / "runs" / "r1"
    try:
        run_benchmark(cfg, run_dir)
    finally:
        mp.undo()
    return {"cfg": cfg, "dir": run_dir, "base": base}


def read_rows(run_dir: Path) -> list[dict]:
    import csv
    with (run_dir / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_3_resume_keeps_the_energy_basis_decided_at_the_start(smoke_run):
    import json
    import shutil

    from bench.orchestrate.pipeline import run_benchmark

    first = read_rows(smoke_run["dir"])
    assert len({r["energy_basis"] for r in first}) == 1
    decided = json.loads((smoke_run["dir"] / "run_decisions.json").read_text())
    assert decided["instruction_mix"] is False
    # Killed after the first case: resume in place with the rest (few MACs, so a fresh
    # decision would now make the instruction mix and change the basis half-way).
    r2 = smoke_run["base"] / "runs" / "r2"
    shutil.copytree(smoke_run["dir"], r2)
    text = (r2 / "results.csv").read_text().splitlines(keepends=True)
    (r2 / "results.csv").write_text("".join(text[:2]))
    cfg = {**smoke_run["cfg"], "run": {**smoke_run["cfg"]["run"], "resume": True}}
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE_DIR", str(smoke_run["base"] / "cache"))
    try:
        run_benchmark(cfg, r2)
    finally:
        mp.undo()
    resumed = read_rows(r2)
    assert len(resumed) == len(first) and {r["status"] for r in resumed} == {"ok"}
    assert {r["energy_basis"] for r in resumed} == {r["energy_basis"] for r in first}
    assert json.loads((r2 / "run_decisions.json").read_text()) == decided


def test_4_a_torn_row_is_measured_again_and_refused_as_a_baseline(smoke_run, capsys):
    import shutil

    from bench import cli
    from bench.orchestrate.pipeline import run_benchmark

    torn = smoke_run["base"] / "runs" / "torn"
    shutil.copytree(smoke_run["dir"], torn)
    text = (torn / "results.csv").read_text()
    cut = text.rindex(",ok,") + len(",ok,")          # power cut while writing the last row
    (torn / "results.csv").write_text(text[:cut])
    last = read_rows(smoke_run["dir"])[-1]["case_id"]
    db = str(smoke_run["base"] / "baseline-test.sqlite")
    assert cli.main(["baseline", "--db", db, "set", str(torn)]) != 0
    err = capsys.readouterr().err
    assert last in err and "metric is empty" in err

    cfg = {**smoke_run["cfg"], "run": {**smoke_run["cfg"]["run"], "resume": True}}
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE_DIR", str(smoke_run["base"] / "cache"))
    try:
        summary = run_benchmark(cfg, torn)
    finally:
        mp.undo()
    rows = read_rows(torn)
    assert summary.ok == summary.cases == len(rows) == len({r["case_id"] for r in rows})
    redone = [r for r in rows if r["case_id"] == last][0]
    assert redone["metric"] == read_rows(smoke_run["dir"])[-1]["metric"]
    import json
    # Not carried from the torn row itself (a sound copy in a sibling run may be carried).
    assert json.loads((torn / "resumed.json").read_text())["carried_over"].get(last) != str(torn)


def _hold_run_lock(folder: str, ready, stop) -> None:
    from bench.collect.run_folder import run_folder_lock
    with run_folder_lock(Path(folder)):
        ready.set()
        stop.wait(30)


@pytest.mark.qemu
def test_5_a_second_run_in_a_held_folder_fails_at_once_naming_the_holder(tmp_path, have_qemu_toolchain):
    import multiprocessing as mp
    import os
    import socket
    import subprocess
    import sys
    import time

    from bench.collect.run_folder import RunFolderBusy, run_folder_lock

    folder = tmp_path / "run"
    ctx = mp.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_run_lock, args=(str(folder), ready, stop))
    holder.start()
    assert ready.wait(20)
    with pytest.raises(RunFolderBusy, match=rf"pid {holder.pid} on {socket.gethostname()} since 20\d\d-"):
        with run_folder_lock(folder):
            pass
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bench", "run", "sweep=smoke", "op=standard", "run.report=false",
                          f"hydra.run.dir={folder}", "store.path=null"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "BENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode != 0 and time.monotonic() - t0 < 60
    assert f"in use by another run (pid {holder.pid}" in out.stderr
    assert not (folder / "results.csv").exists()
    # A holder killed outright leaves its file behind, but not its lock.
    os.kill(holder.pid, 9)
    holder.join(10)
    with run_folder_lock(folder) as lock:
        assert lock.holder_info()["pid"] == os.getpid()


def test_5_a_finished_run_folder_is_not_appended_to(smoke_run):
    from bench.collect.run_folder import RunFolderBusy
    from bench.orchestrate.pipeline import run_benchmark

    before = (smoke_run["dir"] / "results.csv").read_bytes()
    with pytest.raises(RunFolderBusy, match="already holds 2 result row"):
        run_benchmark(smoke_run["cfg"], smoke_run["dir"])
    assert (smoke_run["dir"] / "results.csv").read_bytes() == before


def _baseline_set(db: str, run: str, start, results) -> None:
    from bench import cli
    start.wait(30)
    try:
        results.put(cli.main(["baseline", "--db", db, "set", run]))
    except BaseException as exc:  # noqa: BLE001 - the test reports what escaped
        results.put(repr(exc))


def test_6_concurrent_baseline_set_of_a_new_run_is_one_transaction(tmp_path):
    import multiprocessing as mp

    from bench.store.db import Store
    from tests.test_regress import row, write_run

    run = write_run(tmp_path / "runs" / "r1", [row("a", 100), row("b", 200)])
    db = str(tmp_path / "s.sqlite")
    ctx = mp.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_baseline_set, args=(db, str(run), start, results)) for _ in range(48)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert outcomes == [0] * 48
    with Store(db) as store:
        assert len(store.runs()) == 1 and len(store.baselines()) == 1


BAD_CONFIGS = [
    ("sweep.shapes=[{h:8,c_out:8,k:3}]", "sweep.shapes[0].c_in"),
    ("sweep.shapes=[{h:abc,c_in:8,c_out:8,k:3}]", "sweep.shapes[0].h='abc'"),
    ("sweep.shapes=[{hw:abc,cin:8,cout:8,k:3}]", "sweep.shapes[0].h='abc'"),  # older keys, named as today
    ("sweep.seed=abc", "sweep.seed='abc'"),
    ("~sweep.shapes +sweep.shapes={hw:8,cin:8,cout:8,k:3}", "sweep.shapes={'hw': 8"),   # as a yaml could say
    ("sweep.shapes=abc", "sweep.shapes='abc'"),
    ("run.jobs=0", "run.jobs=0"),
    ("run.timeout_s=abc", "run.timeout_s='abc'"),
    ("run.cycles=maybe", "run.cycles='maybe'"),
    ("board.reps=0", "board.reps=0"),
    ("board.warmup=-3", "board.warmup=-3"),
]


@pytest.mark.parametrize("override, named", BAD_CONFIGS)
def test_7_bad_config_is_refused_before_anything_runs(compose_cfg, tmp_path, override, named):
    from bench.errors import ConfigError
    from bench.orchestrate.pipeline import run_benchmark

    cfg = compose_cfg("sweep=smoke", *override.split(" "))
    with pytest.raises(ConfigError) as exc:
        run_benchmark(cfg, tmp_path / "run")
    message = str(exc.value)
    assert named in message and "allowed" in message and "\n" not in message
    assert not (tmp_path / "run" / "results.csv").exists()


def test_7_a_malformed_sweep_file_is_a_one_line_error(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "conf" / "sweep").mkdir(parents=True)
    (tmp_path / "conf" / "sweep" / "broken.yaml").write_text("name: broken\nshapes: [{hw: 8, cin: 8\n")
    out = subprocess.run([sys.executable, "-m", "bench", "run", "sweep=broken",
                          f"hydra.searchpath=[file://{tmp_path / 'conf'}]", f"hydra.run.dir={tmp_path / 'run'}"],
                         capture_output=True, text=True, timeout=120, env=os.environ)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "broken.yaml" in out.stderr


def test_8_a_long_line_without_newline_is_not_rescanned_per_byte():
    import time

    def feed_bytewise(n: int) -> float:
        s = LineSplitter()
        t0 = time.perf_counter()
        chunk = b"x" * 16
        for _ in range(n // 16):
            s.feed(chunk)
        s.feed(b"\n")
        return time.perf_counter() - t0

    small, large = feed_bytewise(250_000), feed_bytewise(1_000_000)
    assert large < 2.0 and large < 8 * small, (small, large)   # linear, not quadratic


class _BadMedian:
    """A real QEMU target whose second result line arrives with med=1.5 (a valid CRC: a firmware bug)."""

    def __init__(self, real):
        self.real = real
        self.unit, self.provenance, self.metric_decimals = real.unit, real.provenance, real.metric_decimals
        self.counter_to_metric = real.counter_to_metric

    def run(self, elf, on_record, timeout_s):
        import dataclasses

        def spoil(record):
            if record.tag == "R" and record.fields.get("idx") == "1":
                record = dataclasses.replace(record, fields={**record.fields, "med": "1.5"})
            on_record(record)
        return self.real.run(elf, spoil, timeout_s)


def test_2_a_bad_line_costs_its_case_and_the_run_still_reports_and_stores(
        have_qemu_toolchain, compose_cfg, tmp_path, monkeypatch):
    """Once ended the whole run with a ValueError: no rows for the rest, no report, no store entry."""
    from analysis.report import write_run_report
    from bench.orchestrate import pipeline
    from bench.store.db import Store

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_STORE", raising=False)
    real_make = pipeline.make_target
    monkeypatch.setattr(pipeline, "make_target", lambda board: _BadMedian(real_make(board)))
    db = tmp_path / "runs" / "results.sqlite"
    cfg = compose_cfg("sweep=smoke", "op=standard", "run.jobs=1", "run.instruction_mix=false", f"store.path={db}")
    run_dir = tmp_path / "runs" / "r1"
    summary = pipeline.run_benchmark(cfg, run_dir, report=write_run_report)
    rows = read_rows(run_dir)
    bad = [r for r in rows if r["status"] != "ok"]
    assert len(bad) == 1 and bad[0]["status"] == "bad-record" and "med=1.5 is not an integer" in bad[0]["detail"]
    assert summary.ok == len(rows) - 1 == summary.cases - 1
    assert (run_dir / "report.md").exists()
    with Store(db) as store:
        assert [r.ok for r in store.runs()] == [summary.ok]
