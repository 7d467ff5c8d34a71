"""Where raw events come from: JSON Lines and Avro container files (or stdin).

A source yields :class:`RawEvent` values: the bytes as received, where they came from, and
for binary formats the decoded record. Decoding and validation happen in ``consumers.ingest``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import fastavro

from slaclock.consumers.avro import from_record, to_json_text

AVRO_MAGIC = b"Obj\x01"


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event as received. ``data`` is set when the format was already decoded (Avro);
    ``error`` when it could not be decoded at all; ``raw_bytes`` holds the exact bytes when
    they are not valid UTF-8 (``raw`` then shows them with replacement characters)."""

    source: str
    raw: str
    data: dict[str, Any] | None = None
    error: str | None = None
    raw_bytes: bytes | None = None

    def text(self) -> str:
        """The event as text for a dead letter: the original line, or the decoded record
        rendered as JSON (binary formats; rendered only when needed)."""
        if self.raw or self.data is None:
            return self.raw
        return to_json_text(self.data)


def read_events(path: str) -> Iterator[RawEvent]:
    """The events of one file (``-`` is stdin), JSON Lines or Avro, detected by content."""
    if path == "-":
        stream: io.BufferedReader = sys.stdin.buffer  # type: ignore[assignment]
        name = "stdin"
    else:
        stream = Path(path).open("rb")  # noqa: SIM115 - closed below (a BufferedReader)
        name = path
    with stream:
        head = stream.peek(4)[:4]  # peek, not read+seek: stdin cannot seek
        if head == AVRO_MAGIC:
            yield from _avro(stream, name)
        else:
            yield from _jsonl(stream, name)


def from_bytes(data: bytes, source: str) -> RawEvent:
    """One JSON text as received: strictly UTF-8, or an event with ``error`` naming the first
    bad byte and its offset, the readable text and the exact bytes (never a silent repair)."""
    try:
        return RawEvent(source=source, raw=data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return RawEvent(
            source=source,
            raw=data.decode("utf-8", errors="replace"),  # readable only: the error says so
            error=f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            raw_bytes=data,
        )


def _jsonl(stream: BinaryIO, name: str) -> Iterator[RawEvent]:
    for number, line in enumerate(stream, start=1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield from_bytes(line, f"{name}:{number}")


def _avro(stream: BinaryIO, name: str) -> Iterator[RawEvent]:
    number = 0
    try:
        reader = fastavro.reader(stream, return_record_name=True)
        for number, item in enumerate(reader, start=1):
            record_name, record = item if isinstance(item, tuple) else ("", item)
            yield _avro_event(record_name, record, f"{name}:#{number}")
    except Exception as exc:  # fastavro raises many kinds for a damaged file
        yield RawEvent(
            source=f"{name}:#{number + 1}",
            raw="",
            error=f"not a readable Avro record: {exc}",
        )


def _avro_event(record_name: str, record: dict[str, Any], source: str) -> RawEvent:
    """One readable Avro record; one that cannot be an event (an offset out of range) is
    rejected alone, and the file reads on."""
    try:
        return RawEvent(source=source, raw="", data=from_record(record_name, record))
    except ValueError as exc:
        return RawEvent(source=source, raw=to_json_text(record), error=str(exc))
