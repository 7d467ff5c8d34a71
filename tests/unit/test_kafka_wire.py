"""The Kafka wire format: Confluent Avro or JSON per message, schema ids, schema evolution.

No broker needed here; tests/integration/test_kafka_consumer.py sends the same values through Kafka.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from slaclock.consumers.avro import SCHEMA_DIR, schema_by_id, to_record
from slaclock.consumers.kafka_publish import Unpublishable, message
from slaclock.consumers.kafka_wire import SchemaResolver, WireDecoder, encode_avro, encode_record
from slaclock.consumers.schema_registry import RegistryUnavailable
from slaclock.consumers.sources import RawEvent

EVENT = {
    "event_id": "evt-1",
    "type": "ticket.created",
    "ticket_id": "T-1",
    "occurred_at": "2025-08-25T09:00:00+02:00",
    "customer_id": "acme",
    "priority": 3,
    "channel": "email",
}


def v2_value(schema_id: int = 2, queue: str = "L2") -> bytes:
    name, record = to_record(EVENT)
    record["queue"] = queue
    return encode_record(schema_by_id(2), schema_id, (name, record))


def test_registry_index_ships_v1_to_v4() -> None:
    index = json.loads((SCHEMA_DIR / "registry.json").read_text())
    assert index == {
        "1": "ticket_event.v1.avsc",
        "2": "ticket_event.v2.avsc",
        "3": "ticket_event.v3.avsc",
        "4": "ticket_event.v4.avsc",
    }
    v1, v2, v3 = (json.loads((SCHEMA_DIR / index[i]).read_text()) for i in "123")
    assert [r["name"] for r in v1] == [r["name"] for r in v2]
    for old, new in zip(v1, v2, strict=True):
        added = [f for f in new["fields"] if f not in old["fields"]]
        assert old["fields"] == new["fields"][: len(old["fields"])]
        assert [(f["name"], f["type"], f["default"]) for f in added] == [
            ("queue", ["null", "string"], None)
        ]
    # v3 = v1 plus one record; every optional field of it has a default
    assert v3[: len(v1)] == v1 and [r["name"] for r in v3[len(v1) :]] == ["TicketWorkLogged"]
    work = {f["name"]: f for f in v3[-1]["fields"]}
    assert [n for n, f in work.items() if "default" not in f] == [
        "event_id",
        "ticket_id",
        "occurred_at",
    ]


def test_avro_roundtrip_keeps_instant_and_offset() -> None:
    raw = WireDecoder().decode(encode_avro(EVENT), "t/0/5")
    assert raw.error is None and raw.source == "t/0/5"
    assert raw.data is not None
    assert raw.data["occurred_at"] == datetime.fromisoformat(EVENT["occurred_at"])
    assert (
        raw.data["occurred_at"].utcoffset()
        == datetime.fromisoformat(EVENT["occurred_at"]).utcoffset()
    )
    assert {k: v for k, v in raw.data.items() if k != "occurred_at"} == {
        k: v for k, v in EVENT.items() if k != "occurred_at"
    }


def test_newer_schema_with_an_extra_optional_field_decodes_with_the_old_reader() -> None:
    """A producer on schema v2 (new optional field) does not break this consumer, whose
    reader schema (v3) has no such field."""
    decoded = WireDecoder().decode(v2_value(), "t/0/0")
    assert decoded.error is None
    assert decoded.data == WireDecoder().decode(encode_avro(EVENT), "t/0/0").data
    assert "queue" not in decoded.data


def test_json_values_pass_through_as_text() -> None:
    value = json.dumps(EVENT).encode()
    raw = WireDecoder().decode(value, "t/0/1")
    assert raw == RawEvent(source="t/0/1", raw=value.decode())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe\x00garbage", "not valid UTF-8: byte 0xff at offset 0"),
        (b"\x00\x00\x00\x00\x63" + encode_avro(EVENT)[5:], "schema id 99: unknown"),
        (b"\x00\x00\x00", "shorter than 5 bytes"),
        (encode_avro(EVENT)[:12], "not a readable Avro record of schema id 4"),
        (encode_avro(EVENT) + b"\x00\x01", "2 extra bytes"),
        (b"", "empty message value"),
    ],
)
def test_undecodable_values_carry_a_reason(value: bytes, reason: str) -> None:
    raw = WireDecoder().decode(value, "t/0/9")
    assert raw.data is None
    assert raw.error is not None and reason in raw.error


class _Registry(BaseHTTPRequestHandler):
    """A tiny Confluent-compatible registry: GET /schemas/ids/{id}; with ``authorization``
    set, other ``Authorization`` headers get 401 (403 for ``forbidden`` ones); ``status``
    forces that answer (a registry in trouble)."""

    schemas: ClassVar[dict[int, str]] = {}
    requests: ClassVar[list[str]] = []
    authorization: ClassVar[str | None] = None
    forbidden: ClassVar[str | None] = None
    status: ClassVar[int | None] = None

    def do_GET(self) -> None:
        self.requests.append(self.path)
        given = self.headers.get("Authorization")
        if self.status is not None or (self.authorization and given != self.authorization):
            self._answer(self.status or (403 if given and given == self.forbidden else 401))
            return
        prefix = "/schemas/ids/"
        if self.path.startswith(prefix) and self.path[len(prefix) :].isdigit():
            text = self.schemas.get(int(self.path[len(prefix) :]))
            if text is not None:
                body = json.dumps({"schema": text}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        self._answer(404)

    def _answer(self, status: int) -> None:
        body = json.dumps({"error_code": status * 100 + 3, "message": "no"}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_registry(
    schemas: dict[int, Path], tls: ssl.SSLContext | None = None, **settings: str | int
) -> tuple[ThreadingHTTPServer, str]:
    """A registry on a thread (over TLS with ``tls``); ``settings``: ``authorization``,
    ``forbidden``, ``status`` of :class:`_Registry`."""
    handler = type(
        "Registry",
        (_Registry,),
        {"schemas": {i: p.read_text() for i, p in schemas.items()}, "requests": [], **settings},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def registry() -> Iterator[tuple[type[_Registry], str]]:
    server, url = serve_registry({17: SCHEMA_DIR / "ticket_event.v2.avsc"})
    try:
        yield server.RequestHandlerClass, url  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def test_schema_ids_resolve_through_a_registry(registry: tuple[type[_Registry], str]) -> None:
    handler, url = registry
    decoder = WireDecoder(SchemaResolver(url))
    first = decoder.decode(v2_value(schema_id=17), "t/0/0")
    again = decoder.decode(v2_value(schema_id=17, queue="L3"), "t/0/1")
    assert first.error is None and again.error is None
    assert first.data == again.data == WireDecoder().decode(encode_avro(EVENT), "t/0/0").data
    assert handler.requests == ["/schemas/ids/17"]  # fetched once, then cached
    unknown = decoder.decode(v2_value(schema_id=18), "t/0/2")
    assert unknown.error == f"schema id 18: unknown to {url}"


def test_an_unreachable_registry_is_retried_not_dead_lettered() -> None:
    server, url = serve_registry({})
    server.shutdown()
    server.server_close()
    decoder = WireDecoder(SchemaResolver(url, timeout=2))
    with pytest.raises(RegistryUnavailable):
        decoder.decode(v2_value(schema_id=17), "t/0/0")


def test_publish_messages_are_keyed_by_ticket_id() -> None:
    raw = RawEvent(source="f:1", raw=json.dumps(EVENT))
    key, value = message(raw, "avro")
    assert key == b"T-1" and value[:5] == b"\x00\x00\x00\x00\x04"  # schema id 4
    key, value = message(raw, "json")
    assert key == b"T-1" and json.loads(value) == EVENT
    assert message(RawEvent(source="f:2", raw="not json"), "json") == (None, b"not json")
    naive = dict(EVENT, occurred_at="2025-08-25T09:00:00")
    with pytest.raises(Unpublishable, match="has no UTC offset"):
        message(RawEvent(source="f:3", raw=json.dumps(naive)), "avro")
    with pytest.raises(Unpublishable, match="not valid JSON"):
        message(RawEvent(source="f:4", raw="not json"), "avro")


# ------------------------------------------------ decoding batches in a second process
def test_the_decoding_process_gives_what_inline_decoding_gives() -> None:
    """``consume --decoder process`` and ``inline`` must turn the same values into the same
    facts and rejections (same order, same reasons), also across several batches."""
    from slaclock.consumers.decode_worker import InlineWireDecoding, WireDecodeProcess
    from tests.helpers import contract_policy

    ack = {**EVENT, "event_id": "evt-2", "type": "ticket.acknowledged"}
    del ack["customer_id"], ack["priority"], ack["channel"]
    values: list[bytes | None] = [
        encode_avro(EVENT),
        b"\x93garbage",
        json.dumps(ack).encode(),
        encode_avro({**EVENT, "event_id": "evt-3", "priority": 7}),
        v2_value(),
        None,
        b"\x00\x00\x00\x03\xe7" + encode_avro(EVENT)[5:],
    ]
    sources = [f"t/0/{i}" for i in range(len(values))]
    inline = InlineWireDecoding(contract_policy(), None)
    process = WireDecodeProcess(contract_policy, None)
    try:
        for _ in range(2):
            inline.submit(values, sources)
            process.submit(values, sources)
            here, there = inline.result(), process.result()
            assert there.read == here.read == len(values)
            assert there.rejected == here.rejected
            assert [r[1] for r in here.rejected] == ["t/0/1", "t/0/3", "t/0/5", "t/0/6"]
            assert [(i, r.source, t, f) for i, r, t, f in there.facts] == [
                (i, r.source, t, f) for i, r, t, f in here.facts
            ]
            assert [f.event_id for *_, f in there.facts] == ["evt-1", "evt-2", "evt-1"]
    finally:
        process.close()


def test_a_silent_registry_is_raised_from_the_decoding_process_and_a_dead_one_reported() -> None:
    from slaclock.consumers.decode_worker import DecodeWorkerError, WireDecodeProcess
    from tests.helpers import contract_policy

    process = WireDecodeProcess(contract_policy, "http://127.0.0.1:9")  # nothing listens
    try:
        process.submit([v2_value(schema_id=17)], ["t/0/0"])
        with pytest.raises(RegistryUnavailable):
            process.result()
        process._worker.kill()
        process._worker.join(5)
        with pytest.raises(DecodeWorkerError, match="ended unexpectedly"):
            process.submit([encode_avro(EVENT)], ["t/0/1"])
            process.result()
    finally:
        process.close()


def test_the_decoding_process_takes_a_batch_while_it_still_sends_a_result() -> None:
    """The consumer submits batch N+1 before it takes the result of batch N; with results
    and requests far larger than a pipe's buffer, neither side may wait for the other."""
    from slaclock.consumers.decode_worker import WireDecodeProcess
    from tests.helpers import contract_policy

    def batch(n: int, start: int) -> tuple[list[bytes | None], list[str]]:
        events = [{**EVENT, "event_id": f"e-{i}", "ticket_id": f"T-{i}"} for i in range(n)]
        return [encode_avro(e) for e in events], [f"t/0/{start + i}" for i in range(n)]

    process = WireDecodeProcess(contract_policy, None)
    results: list[int] = []

    def run() -> None:
        for round_ in range(3):
            process.submit(*batch(5000, 10_000 * round_))
            if round_:
                results.append(len(process.result().facts))
        results.append(len(process.result().facts))

    worker = threading.Thread(target=run, daemon=True)
    try:
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "consumer and decoding process wait for each other"
        assert results == [5000, 5000, 5000]
    finally:
        process.close()


def test_work_logs_travel_as_avro_from_schema_version_3_and_old_versions_still_decode() -> None:
    """``ticket.work_logged`` has its own record since version 3: the decoded event equals its
    JSON twin, so it becomes the same fact with the same rejections; events written with
    versions 1 and 2 decode into the version 3 reader unchanged."""
    from slaclock.consumers.events import Rejected, to_fact
    from tests.helpers import contract_policy

    policy = contract_policy()
    work = {
        "event_id": "w-1",
        "type": "ticket.work_logged",
        "ticket_id": "T-1",
        "occurred_at": "2025-09-02T10:05:00+02:00",
        "minutes": 70,
        "mode": "on_site",
        "actor": "ben",
    }
    decoder = WireDecoder()
    avro = decoder.decode(encode_avro(work), "t/0/0")
    assert avro.error is None and avro.data is not None
    assert to_fact(avro.data, policy) == to_fact(work, policy)
    details = {"minutes": "70", "mode": "on_site", "actor": "ben"}
    assert to_fact(avro.data, policy)[1].details == details
    for bad, reason in [({"mode": "by_phone"}, "mode: 'by_phone'"), ({"actor": None}, "actor:")]:
        event = {**work, **bad}
        if bad.get("actor", "") is None:
            del event["actor"]
        data = decoder.decode(encode_avro(event), "t/0/1").data
        with pytest.raises(Rejected, match=reason):
            to_fact(data, policy)
    for schema_id in (1, 2):
        old = decoder.decode(encode_avro(EVENT, schema_id), "t/0/2")
        assert old.error is None and old.data == decoder.decode(encode_avro(EVENT), "t/0/3").data
