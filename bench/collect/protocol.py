"""Host side of the framed serial protocol (firmware/runner/protocol.c).

A line is ``#<TAG> key=value ...*<crc32 hex>``. Tags: B banner, C counter
overhead, R one case's result, E end of image. A line whose CRC fails or that
does not parse is rejected and counted, never half-used. What the fields must
be is bench/collect/schema.py's business: a key sent twice is kept aside
(``Record.repeated``) for it to refuse, rather than letting one value win.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from bench.errors import ProtocolError

TAGS = {"B", "C", "R", "E"}
# The runner's longest line is a few hundred bytes; anything this long without a
# newline is noise (or a stuck UART), dropped rather than buffered without end.
MAX_LINE = 8192


@dataclass(frozen=True)
class Record:
    tag: str
    fields: dict
    repeated: tuple = ()    # (key, value) of every later occurrence of a key already in fields

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
    fields, repeated = {}, []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ProtocolError(f"malformed field {pair!r} in {line[:80]!r}")
        if key in fields:
            repeated.append((key, value))
        else:
            fields[key] = value
    return Record(tag, fields, tuple(repeated))


@dataclass
class LineSplitter:
    """Bytes in, framed records out; keeps what it could not trust."""

    rejected: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # unframed output (debug prints)
    _buf: bytearray = field(default_factory=bytearray)
    _scanned: int = 0        # bytes of _buf already known to hold no newline

    def feed(self, data: bytes) -> list[Record]:
        self._buf += data
        records = []
        while True:
            # Search only what arrived since the last call: a long line fed a byte at
            # a time is scanned once, not once per byte.
            nl = self._buf.find(b"\n", self._scanned)
            if nl < 0:
                self._scanned = len(self._buf)
                if self._scanned > MAX_LINE:
                    self.rejected.append(bytes(self._buf[:120]).decode("latin-1") + "... (no newline)")
                    self._buf.clear()
                    self._scanned = 0
                break
            raw = bytes(self._buf[:nl]).decode("latin-1").strip("\r")
            del self._buf[:nl + 1]
            self._scanned = 0
            if not raw:
                continue
            if len(raw) > MAX_LINE:
                self.rejected.append(raw[:120] + "... (too long)")
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
