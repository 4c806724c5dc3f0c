import zlib

import pytest

from bench.collect.collector import ImageCollector
from bench.collect.schema import ImagePlan
from bench.errors import ProtocolError
from bench.collect.protocol import LineSplitter, parse_line


def frame(body: str) -> str:
    return f"{body}*{zlib.crc32(body.encode()):08x}"


def test_parse_line_from_firmware_capture():
    # Captured from the mps2-an500 firmware under QEMU.
    rec = parse_line("#C overhead=38*b89eced1\r\n")
    assert rec.tag == "C" and rec.int("overhead") == 38


def test_checksum_mismatch_rejected():
    line = frame("#R idx=0 id=a reps=1 sum=100 min=100 max=100 ok=1 bad=0 first_bad=-1")
    corrupted = line.replace("sum=100", "sum=900")
    with pytest.raises(ProtocolError, match="checksum"):
        parse_line(corrupted)


@pytest.mark.parametrize("line", ["hello", "#R idx=1", "#R idx=1*zzzzzzzz", frame("#Q a=1"), frame("#R novalue")])
def test_malformed_lines_rejected(line):
    with pytest.raises(ProtocolError):
        parse_line(line)


def test_splitter_keeps_partial_lines_and_separates_noise():
    good = frame("#E cases=1 failed=0")
    s = LineSplitter()
    data = f"boot noise\r\n{good[:10]}".encode()
    assert s.feed(data) == []
    recs = s.feed(f"{good[10:]}\r\n#E garbage*00000000\r\n".encode())
    assert [r.tag for r in recs] == ["E"]
    assert s.other == ["boot noise"] and len(s.rejected) == 1


def feed_all(collector, lines):
    for line in lines:
        collector.feed(parse_line(frame(line)))


BANNER = ("#B fw=1.0 image=img0 build=abc board=qemu_m7 core_hz=25000000 counter=cmsdk_timer0 "
          "counter_hz=25000000 kernels=ref kernels_version=1.0 cc=12.2.1_20221205 cflags=-O2 warmup=0 "
          "reps=2 max_reps=2 rse_target_ppm=0 min_window_ms=0 idle_ms=0 cases={n}")
C_LINE = "#C overhead=5 idle_ticks=0"


def plan(ids, board="qemu_m7"):
    banner = dict(p.split("=", 1) for p in BANNER.format(n=len(ids)).split(" ")[1:])
    return ImagePlan("img0", tuple(ids), (64,) * len(ids), {**banner, "board": board})


def result(idx, cid, ok=1):
    return (f"#R idx={idx} id={cid} reps=2 sum=200 min=99 max=101 ok={ok} bad={0 if ok else 3} "
            f"first_bad={-1 if ok else 7} med=100 sd=1 rse_ppm=10000")


def test_collector_happy_path_and_mismatch():
    c = ImageCollector(plan(["a", "b"]))
    feed_all(c, [BANNER.format(n=2), C_LINE, result(0, "a"), result(1, "b", ok=0), "#E cases=2 failed=1"])
    a, b = c.finish()
    assert (a.status, a.ticks_sum, a.overhead_ticks, a.reps) == ("ok", 200, 5, 2)
    assert a.extra == {"med": 100, "sd": 1, "rse_ppm": 10000}
    assert b.status == "output-mismatch" and b.mismatches == 3 and "first at 7" in b.detail
    assert not c.problems


def test_collector_rejects_wrong_board_and_out_of_order_ids():
    c = ImageCollector(plan(["a"], board="nucleo_h743"))
    feed_all(c, [BANNER.format(n=1), C_LINE, result(0, "a"), "#E cases=1 failed=0"])
    [a] = c.finish()
    assert a.status == "wrong-firmware" and a.detail == "banner board=qemu_m7, planned nucleo_h743"
    c = ImageCollector(plan(["a", "b"]))
    feed_all(c, [BANNER.format(n=2), C_LINE, result(0, "b")])
    assert {m.status for m in c.finish()} == {"protocol-violation"}
    assert "the planned case at idx 0 is a" in c.problems[0]


def test_result_before_banner_is_not_recorded():
    c = ImageCollector(plan(["a"]))
    feed_all(c, [result(0, "a"), BANNER.format(n=1), C_LINE, "#E cases=1 failed=0"])
    [a] = c.finish()
    assert a.status == "protocol-violation" and not a.measured and "before the banner" in a.detail


def test_unfinished_cases_after_timeout_and_garbling():
    c = ImageCollector(plan(["a", "b", "c"]))
    feed_all(c, [BANNER.format(n=3), C_LINE, result(0, "a")])
    out = c.finish("timeout", "no end of run within 3 s", 0)
    assert [(m.case_id, m.status) for m in out] == [("a", "ok"), ("b", "timeout"), ("c", "not-run")]
    garbled = c.finish("ok", "", 2)
    assert [m.status for m in garbled[1:]] == ["garbled", "garbled"] and "checksum" in garbled[1].detail


def test_repeated_key_is_kept_aside_not_overwritten():
    rec = parse_line(frame("#R idx=0 sum=5 sum=6"))
    assert rec.fields["sum"] == "5" and rec.repeated == (("sum", "6"),)


def test_a_line_longer_than_any_the_runner_prints_is_dropped_not_buffered():
    s = LineSplitter()
    for _ in range(1000):
        s.feed(b"#R " + b"x" * 20)
    assert len(s.rejected) >= 1 and "no newline" in s.rejected[0] and len(s.pending) < 9000
    recs = s.feed(b"\n" + frame("#E cases=1 failed=0").encode() + b"\r\n")
    assert [r.tag for r in recs] == ["E"]
