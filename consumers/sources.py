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
    ``error`` when it could not be decoded at all."""

    source: str
    raw: str
    data: dict[str, Any] | None = None
    error: str | None = None

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


def _jsonl(stream: BinaryIO, name: str) -> Iterator[RawEvent]:
    for number, line in enumerate(stream, start=1):
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.strip():
            yield RawEvent(source=f"{name}:{number}", raw=text)


def _avro(stream: BinaryIO, name: str) -> Iterator[RawEvent]:
    number = 0
    try:
        reader = fastavro.reader(stream, return_record_name=True)
        for number, item in enumerate(reader, start=1):
            record_name, record = item if isinstance(item, tuple) else ("", item)
            event = from_record(record_name, record)
            yield RawEvent(source=f"{name}:#{number}", raw="", data=event)
    except Exception as exc:  # fastavro raises many kinds for a damaged file
        yield RawEvent(
            source=f"{name}:#{number + 1}",
            raw="",
            error=f"not a readable Avro record: {exc}",
        )
