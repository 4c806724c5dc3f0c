import zlib

import pytest

from bench.collect.collector import ImageCollector
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
    return [collector.feed(parse_line(frame(line))) for line in lines]


BANNER = "#B fw=1.0 image=img0 board=qemu_m7 kernels=ref kernels_version=1.0"


def result(idx, cid, ok=1):
    return f"#R idx={idx} id={cid} reps=2 sum=200 min=99 max=101 ok={ok} bad={0 if ok else 3} first_bad={-1 if ok else 7}"


def test_collector_happy_path_and_mismatch():
    c = ImageCollector("img0", "qemu_m7", "ref", ["a", "b"])
    out = feed_all(c, [BANNER, "#C overhead=5", result(0, "a"), result(1, "b", ok=0), "#E cases=2 failed=1"])
    a, b = out[2], out[3]
    assert (a.status, a.ticks_sum, a.overhead_ticks, a.reps) == ("ok", 200, 5, 2)
    assert b.status == "output-mismatch" and b.mismatches == 3 and "first at 7" in b.detail
    assert c.ended and not c.unfinished("ok", "", 0)


def test_collector_rejects_wrong_board_and_out_of_order_ids():
    c = ImageCollector("img0", "nucleo_h743", "ref", ["a"])
    feed_all(c, [BANNER])
    assert "board='qemu_m7'" in c.problems[0]
    c = ImageCollector("img0", "qemu_m7", "ref", ["a", "b"])
    out = feed_all(c, [BANNER, "#C overhead=5", result(0, "b")])
    assert out[2] is None and "does not match" in c.problems[0]


def test_result_before_banner_is_not_recorded():
    c = ImageCollector("img0", "qemu_m7", "ref", ["a"])
    assert feed_all(c, [result(0, "a")]) == [None]
    assert not c.results


def test_unfinished_cases_after_timeout_and_garbling():
    c = ImageCollector("img0", "qemu_m7", "ref", ["a", "b", "c"])
    feed_all(c, [BANNER, "#C overhead=5", result(0, "a")])
    missing = c.unfinished("timeout", "no end of run within 3 s", 0)
    assert [(m.case_id, m.status) for m in missing] == [("b", "timeout"), ("c", "not-run")]
    assert all(not m.measured for m in missing)
    garbled = c.unfinished("ok", "", 2)
    assert garbled[0].status == "garbled" and "checksum" in garbled[0].detail
