"""Kafka message values: Confluent wire format (Avro) or JSON, told apart per message.

A value whose first byte is 0 is Confluent wire format: byte 0 = 0 (magic), bytes 1-4 = the
writer schema id (big-endian), then the Avro body (one ``schemaless`` datum of the union
schema in ``schemas/``). Anything else is taken for one JSON object in UTF-8 (JSON text never
starts with a 0 byte, so the two cannot be confused).

Writer schema ids resolve through a Confluent-compatible schema registry
(``GET {url}/schemas/ids/{id}``; credentials and TLS: :mod:`consumers.schema_registry`) when
one is configured, otherwise through the versions shipped in ``schemas/registry.json``. The
body is then read with Avro schema resolution into the
schema this version of slaclock was built for (:data:`consumers.avro.CURRENT_SCHEMA_ID`), so a
newer writer schema that only adds optional fields decodes fine: the new fields are dropped.

A value that cannot be decoded becomes a :class:`~consumers.sources.RawEvent` with ``error``
set (the ingest pipeline dead-letters it). A schema registry that cannot be reached is not
the message's fault: :class:`RegistryUnavailable` is raised so the consumer retries the batch;
one that refuses the credentials raises :class:`~consumers.errors.FatalSourceError`.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from typing import Any

import fastavro

from slaclock.consumers.avro import CURRENT_SCHEMA_ID, from_record, schema_by_id, to_record
from slaclock.consumers.schema_registry import RegistryAccess, RegistryClient
from slaclock.consumers.schema_registry import (
    RegistryUnavailable as RegistryUnavailable,  # re-exported
)
from slaclock.consumers.sources import RawEvent, from_bytes

MAGIC = 0
HEADER = struct.Struct(">bI")  # magic byte, schema id


class UnknownSchema(Exception):
    """A schema id that neither the registry nor ``schemas/`` knows (the message is bad)."""


class SchemaResolver:
    """Writer schemas by id, parsed once: from a schema registry URL or ``schemas/``."""

    def __init__(
        self, registry: RegistryAccess | str | None = None, *, timeout: float = 10.0
    ) -> None:
        if isinstance(registry, str):
            registry = RegistryAccess.parse(registry)
        self.client = RegistryClient(registry, timeout=timeout) if registry else None
        self.registry_url = registry.url if registry else None
        self._schemas: dict[int, Any] = {}
        self._unknown: set[int] = set()
        self._lock = threading.Lock()

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed writer schema of ``schema_id``; :class:`UnknownSchema` if there is none."""
        schema = self._schemas.get(schema_id)
        if schema is not None:
            return schema
        if schema_id in self._unknown:
            raise UnknownSchema(self._unknown_reason(schema_id))
        with self._lock:
            if self.client:
                schema = self._fetch(self.client, schema_id)
            else:
                try:
                    schema = schema_by_id(schema_id)
                except (KeyError, FileNotFoundError):
                    schema = None
            if schema is None:
                self._unknown.add(schema_id)
                raise UnknownSchema(self._unknown_reason(schema_id))
            self._schemas[schema_id] = schema
            return schema

    def _unknown_reason(self, schema_id: int) -> str:
        where = self.registry_url or "schemas/registry.json"
        return f"schema id {schema_id}: unknown to {where}"

    def _fetch(self, client: RegistryClient, schema_id: int) -> Any | None:
        body = client.schema(schema_id)
        if body is None:
            return None
        if body.get("schemaType", "AVRO") != "AVRO":
            raise UnknownSchema(f"schema id {schema_id}: a {body['schemaType']} schema, not Avro")
        try:
            return fastavro.parse_schema(json.loads(body["schema"]))
        except Exception as exc:  # fastavro raises several kinds for a bad schema
            raise UnknownSchema(f"schema id {schema_id}: not a usable Avro schema: {exc}") from None


class WireDecoder:
    """Turns Kafka message values into :class:`RawEvent` values for the ingest pipeline."""

    def __init__(self, resolver: SchemaResolver | None = None) -> None:
        self.resolver = resolver or SchemaResolver()
        self.reader_schema = schema_by_id(CURRENT_SCHEMA_ID)

    def decode(self, value: bytes | None, source: str) -> RawEvent:
        if not value:
            return RawEvent(source=source, raw="", error="empty message value (tombstone)")
        if value[0] == MAGIC:
            return self._avro(value, source)
        return from_bytes(value, source)

    def _avro(self, value: bytes, source: str) -> RawEvent:
        if len(value) < HEADER.size:
            error = "Confluent Avro: value shorter than 5 bytes"
            return RawEvent(source=source, raw="", error=error)
        _, schema_id = HEADER.unpack_from(value)
        try:
            writer = self.resolver.writer_schema(schema_id)
        except UnknownSchema as exc:
            return RawEvent(source=source, raw="", error=str(exc))
        # RegistryUnavailable propagates: the batch is retried, the message is not at fault.
        reader = None if schema_id == CURRENT_SCHEMA_ID else self.reader_schema
        body = io.BytesIO(memoryview(value)[HEADER.size :])
        try:
            item = fastavro.schemaless_reader(body, writer, reader, return_record_name=True)
        except Exception as exc:  # fastavro raises many kinds for a damaged body
            return RawEvent(
                source=source,
                raw="",
                error=f"not a readable Avro record of schema id {schema_id}: {exc!r}",
            )
        if body.tell() != len(value) - HEADER.size:
            extra = len(value) - HEADER.size - body.tell()
            return RawEvent(
                source=source,
                raw="",
                error=f"not a readable Avro record of schema id {schema_id}: {extra} extra bytes",
            )
        if not isinstance(item, tuple):
            return RawEvent(source=source, raw="", error=f"schema id {schema_id}: not a union")
        name, record = item
        try:
            event = from_record(name, record)
        except ValueError as exc:
            return RawEvent(source=source, raw="", error=str(exc))
        # ``raw`` stays empty: a dead letter carries the original bytes, not a re-encoding.
        return RawEvent(source=source, raw="", data=event)


def encode_avro(event: dict[str, Any], schema_id: int = CURRENT_SCHEMA_ID) -> bytes:
    """A valid JSON-shaped event in Confluent wire format with the shipped schema ``schema_id``."""
    schema = schema_by_id(schema_id)
    out = io.BytesIO()
    out.write(HEADER.pack(MAGIC, schema_id))
    fastavro.schemaless_writer(out, schema, to_record(event))
    return out.getvalue()


def encode_record(schema: Any, schema_id: int, record: tuple[str, dict[str, Any]]) -> bytes:
    """An already built (record name, record) pair with any parsed schema (tests, tools)."""
    out = io.BytesIO()
    out.write(HEADER.pack(MAGIC, schema_id))
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()
