"""Order independence: a ticket's clocks depend only on the set of its accepted events.

Hypothesis draws ticket histories (distinct instants, so ties never arise), then feeds them
in any order, with redeliveries and split over several runs; the stored read model and the
evaluated clocks must not change.
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.sources import RawEvent
from slaclock.domain.clocks import evaluate
from slaclock.projections.store import TicketStore
from tests.helpers import contract_policy, fact

POLICY = contract_policy()
START = datetime(2025, 9, 5, 14, 0, tzinfo=UTC)  # a Friday afternoon: weekends matter
KINDS = [
    "acknowledged",
    "intervention_started",
    "reprioritised",
    "paused",
    "resumed",
    "resolved",
    "reopened",
]


@st.composite
def histories(draw):
    customer = draw(st.sampled_from(["acme", "globex", "initech", "umbrella", "hooli"]))
    priority = draw(st.sampled_from([1, 2, 3]))
    offsets = draw(st.lists(st.integers(1, 60 * 24 * 10), min_size=0, max_size=9, unique=True))
    events = [
        {
            "event_id": "c",
            "type": "ticket.created",
            "ticket_id": "T",
            "occurred_at": START.isoformat(),
            "customer_id": customer,
            "priority": priority,
        }
    ]
    for i, minutes in enumerate(sorted(offsets)):
        kind = draw(st.sampled_from(KINDS))
        event = {
            "event_id": f"e{i}",
            "type": f"ticket.{kind}",
            "ticket_id": "T",
            "occurred_at": (START + timedelta(minutes=minutes)).isoformat(),
        }
        if kind == "reprioritised":
            event["priority"] = draw(st.sampled_from([1, 2, 3]))
        events.append(event)
    return events


def _facts(events):
    return [
        fact(
            e["event_id"],
            e["type"].removeprefix("ticket."),
            e["occurred_at"],
            customer=e.get("customer_id"),
            priority=e.get("priority"),
        )
        for e in events
    ]


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_evaluation_ignores_arrival_order(events, rnd: random.Random) -> None:
    facts = _facts(events)
    shuffled = facts[:]
    rnd.shuffle(shuffled)
    assert evaluate("T", shuffled, POLICY) == evaluate("T", facts, POLICY)


def _store_rows(store: TicketStore):
    # last_recorded_at is when this run stored the events: the one column allowed to differ
    tickets = store.query(
        "SELECT ticket_id, customer_id, contract, plan, priority, created_at, last_fact_at,"
        " pending FROM {p}sla_tickets ORDER BY ticket_id"
    )
    clocks = store.query("SELECT * FROM {p}sla_clocks ORDER BY ticket_id, metric")
    # the ledger may hold credits and reversals of intermediate states; the net must agree
    net: dict[tuple, Decimal] = {}
    for row in store.query("SELECT ticket_id, metric, breached_at, amount FROM {p}sla_ledger"):
        key = (row["ticket_id"], row["metric"], row["breached_at"])
        net[key] = net.get(key, Decimal(0)) + Decimal(row["amount"])
    settled = {key: amount for key, amount in net.items() if amount}
    return [tuple(r) for r in tickets], [tuple(r) for r in clocks], settled


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.randoms(use_true_random=False), st.integers(1, 4))
def test_ingest_ignores_order_duplicates_and_run_splits(events, rnd: random.Random, runs) -> None:
    with tempfile.TemporaryDirectory() as tmp:

        def ingest(store_name: str, groups):
            store = TicketStore(f"sqlite:///{Path(tmp) / store_name}", POLICY)
            totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
            for group in groups:  # each group is one run (a new Ingestor)
                ingestor = Ingestor(store, POLICY, DeadLetterList(), batch_size=3, clock="event")
                raws = [RawEvent(f"x:{i}", json.dumps(e)) for i, e in enumerate(group)]
                stats = ingestor.run(raws)
                for key in totals:
                    totals[key] += getattr(stats, key)
            rows = _store_rows(store)
            store.close()
            return rows, totals

        reference, ref_totals = ingest("sorted.db", [events])
        mixed = events + rnd.sample(events, k=rnd.randint(0, len(events)))  # redeliveries
        rnd.shuffle(mixed)
        cut = sorted(rnd.sample(range(1, len(mixed)), k=min(runs - 1, len(mixed) - 1)))
        groups = [mixed[a:b] for a, b in zip([0, *cut], [*cut, len(mixed)], strict=True)]
        got, totals = ingest("mixed.db", groups)
        assert got == reference
        assert totals["accepted"] == ref_totals["accepted"] == len(events)
        assert totals["duplicates"] == len(mixed) - len(events)
        assert totals["rejected"] == 0
