"""Operator metrics: Prometheus text format, request latencies per route template, store
gauges that move after an ingest into the store the server reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AS_OF
from tests.e2e.test_api_harness import OPEN_EVENTS, ApiServer, serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    """A server whose store gauges are read on every scrape (``--metrics-cache 0``)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    yield from serve(tmp_path, url, "--metrics-cache", "0", open_tickets=False)


def scrape(
    server: ApiServer, token: str | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = server.get("/metrics", token=token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_expose_latencies_and_store_gauges_that_move(server: ApiServer) -> None:
    before = scrape(server)
    assert before[("slaclock_store_up", ())] == 1
    assert before[("slaclock_events_stored", ())] == 30
    assert before[("slaclock_tickets", (("state", "created"),))] == 11
    assert before[("slaclock_clocks_open", (("metric", "response"),))] == 1  # T-1004
    assert before[("slaclock_clocks_breached", (("metric", "response"),))] == 3
    assert before[("slaclock_clocks_breached", (("metric", "resolution"),))] == 1

    server.json("/api/tickets/T-1001", as_of=AS_OF)
    server.json("/api/tickets/T-2001", as_of=AS_OF)
    server.get("/api/tickets/T-0000", as_of=AS_OF)
    server.json("/api/reports/compliance", month="2025-09", as_of=AS_OF)

    path = server.cli.cwd / "more.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in OPEN_EVENTS))
    assert server.cli.json("ingest", str(path))["accepted"] == 3
    bad = server.cli.cwd / "bad.jsonl"
    bad.write_text('{"event_id": "x"}\nnot json\n')
    assert server.cli.json("ingest", str(bad))["rejected"] == 2

    after = scrape(server)
    consumed = "slaclock_events_consumed_total"
    assert (
        after[(consumed, (("outcome", "accepted"),))]
        == before[(consumed, (("outcome", "accepted"),))] + 3
    )
    assert after[(consumed, (("outcome", "rejected"),))] == 2
    assert after[("slaclock_events_rejected_total", (("field", "type"),))] == 1
    assert after[("slaclock_events_rejected_total", (("field", "event"),))] == 1
    breaches = ("slaclock_alerts_total", (("alert", "raised:breach"),))
    assert after[breaches] > before[breaches]
    assert after[("slaclock_events_stored", ())] == 33
    assert after[("slaclock_tickets", (("state", "created"),))] == 14
    # The three new tickets are open now (their response deadlines passed long ago).
    assert after[("slaclock_clocks_open", (("metric", "response"),))] == 4
    ticket_route = (("method", "GET"), ("route", "/api/tickets/{ticket_id:path}"))
    assert (
        after[("slaclock_http_request_duration_seconds_count", (*ticket_route, ("status", "200")))]
        == 2
    )
    assert (
        after[("slaclock_http_request_duration_seconds_count", (*ticket_route, ("status", "404")))]
        == 1
    )
    report = (("method", "GET"), ("route", "/api/reports/compliance"), ("status", "200"))
    assert after[("slaclock_http_request_duration_seconds_count", report)] == 1
    assert after[("slaclock_http_request_duration_seconds_sum", report)] > 0
    # Raw paths never become label values.
    assert not any("T-1001" in str(labels) for _, labels in after)


def test_metrics_can_require_an_admin_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for server in serve(tmp_path, url, "--metrics-auth", open_tickets=False):
        assert server.get("/metrics", token=None).status_code == 401
        assert server.get("/metrics", token="acme").status_code == 401
        response = server.get("/metrics", token="admin")
        assert response.status_code == 200 and "slaclock_store_up 1.0" in response.text


def test_a_hostile_client_cannot_grow_the_series_or_the_scrape_cost(tmp_path: Path) -> None:
    """Made-up methods share one label; the store gauges of a scrape serve the next ones for
    ``--metrics-cache`` seconds; ``--metrics-token-file`` makes /metrics need that token."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    token_file = tmp_path / "metrics-token"
    token_file.write_text("scrape-me-0123456789\n")
    options = ("--metrics-cache", "600", "--metrics-token-file", str(token_file))
    for server in serve(tmp_path, url, *options, open_tickets=False):
        for n in range(20):
            server.client.request(f"M{n}X", "/healthz")
        server.client.request("DELETE", "/healthz")
        assert server.get("/metrics", token=None).status_code == 401
        assert server.get("/metrics", token="acme").status_code == 401
        assert server.get("/metrics", token="scrape-me-0123456789x").status_code == 401
        before = scrape(server, "scrape-me-0123456789")
        methods = {
            dict(labels)["method"]
            for name, labels in before
            if name == "slaclock_http_request_duration_seconds_count"
        }
        assert methods == {"GET", "DELETE", "other"}
        other = [
            value
            for (name, labels), value in before.items()
            if name == "slaclock_http_request_duration_seconds_count"
            and ("method", "other") in labels
        ]
        assert sum(other) == 20

        path = server.cli.cwd / "more.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in OPEN_EVENTS))
        assert server.cli.json("ingest", str(path))["accepted"] == 3
        after = scrape(server, "admin")  # an admin token is accepted too
        assert after[("slaclock_events_stored", ())] == before[("slaclock_events_stored", ())]
        assert after[("slaclock_tickets", (("state", "created"),))] == 11


def test_consumer_lag_and_alert_watermark(server: ApiServer) -> None:
    """A consumer stores each partition's end offset with its batch; /metrics tells the lag
    (end minus the stored position) and when it was measured, and the alert watermark."""
    from eventsourcing.persistence import Tracking

    from slaclock.config import load_policy
    from slaclock.projections.meta import end_offset_key
    from slaclock.projections.store import TicketStore

    policy, _ = load_policy(str(server.cli.config))
    store = TicketStore(server.cli.store, policy)
    try:
        name = "kafka:ticket-events:3"
        store.save([], [], [Tracking(name, 12)], meta={end_offset_key(name): "20 1764100000"})
        watermark = store.watermark()
    finally:
        store.close()
    samples = scrape(server)
    labels = (("partition", "3"), ("topic", "ticket-events"))
    assert samples[("slaclock_consumer_lag_messages", labels)] == 8
    assert samples[("slaclock_consumer_lag_timestamp_seconds", labels)] == 1764100000
    assert watermark and samples[("slaclock_alert_watermark_timestamp_seconds", ())] == watermark
