"""Host side of the framed serial protocol (firmware/runner/protocol.c).

A line is ``#<TAG> key=value ...*<crc32 hex>``. Tags: B banner, C counter
overhead, R one case's result, E end of image. A line whose CRC fails or that
does not parse is rejected and counted, never half-used.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from bench.errors import ProtocolError

TAGS = {"B", "C", "R", "E"}


@dataclass(frozen=True)
class Record:
    tag: str
    fields: dict

    def int(self, key: str) -> int:
        try:
            return int(self.fields[key])
        except (KeyError, ValueError):
            raise ProtocolError(f"#{self.tag} line has no integer {key!r}: {self.fields}") from None


def parse_line(line: str) -> Record:
    """Parse one framed line (without its line ending); raises ProtocolError."""
    line = line.strip("\r\n")
    if not line.startswith("#") or "*" not in line:
        raise ProtocolError(f"not a framed line: {line[:80]!r}")
    body, _, crc_text = line.rpartition("*")
    try:
        crc = int(crc_text, 16)
    except ValueError:
        raise ProtocolError(f"bad checksum field in {line[:80]!r}") from None
    if len(crc_text) != 8 or zlib.crc32(body.encode("latin-1")) != crc:
        raise ProtocolError(f"checksum mismatch in {line[:80]!r}")
    tag, *pairs = body[1:].split(" ")
    if tag not in TAGS:
        raise ProtocolError(f"unknown line tag {tag!r}")
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ProtocolError(f"malformed field {pair!r} in {line[:80]!r}")
        fields[key] = value
    return Record(tag, fields)


@dataclass
class LineSplitter:
    """Bytes in, framed records out; keeps what it could not trust."""

    rejected: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # unframed output (debug prints)
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Record]:
        self._buf += data
        records = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(self._buf[:nl]).decode("latin-1").strip("\r")
            del self._buf[:nl + 1]
            if not raw:
                continue
            if not raw.startswith("#"):
                self.other.append(raw)
                continue
            try:
                records.append(parse_line(raw))
            except ProtocolError:
                self.rejected.append(raw)
        return records

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)
