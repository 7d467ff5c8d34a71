"""Seeded generator of realistic ticket event streams for the ingest benchmark.

    python bench/generate.py --events 1000000 --seed 1 --format jsonl --out bench/out/e.jsonl

The stream is what a real feed delivers: tickets of many customers (the contracts of
``--config``, plus a few prospects without a contract) arrive through the (UTC) working day
and week, live hours to days, and their events interleave in delivery order. Each ticket is
created, mostly acknowledged, sometimes intervened on, reprioritised (~15 %), paused and
resumed (~20 %), resolved, and sometimes reopened (~5 %). About 1 % of events are delivered a
second time (same ``event_id``), a few are delivered late (hours after later events, some of
them ``ticket.created``, which leaves the ticket's other events pending until it arrives), and
about 0.1 % are invalid (bad priority, missing customer, occurred before the creation, wrong
customer; in JSON Lines also lines that are not JSON, timestamps without an offset and
unknown event types, which Avro cannot carry and which are replaced by an encodable kind of
invalid event there, so both formats give the same counts).

``--stream varied`` (with ``bench/bench-varied.toml``) makes a harder stream for the same
engine: customers in four time zones (Europe/Berlin, America/New_York, Australia/Sydney with
their DST changes inside the year, and Asia/Kolkata), tickets arriving around the clock (the
overnight desks get work), and more of everything that makes a ticket's clocks move: pauses
(~45 %, often twice), reopenings (~15 %), reprioritisations (~25 %), late deliveries (2 %)
and redeliveries (3 %). Its configuration has overnight calendars, 24x7 targets in a DST
zone and three warning thresholds per plan. The default ``--stream plain`` is unchanged, so
figures measured on it stay comparable.

``--stream replies`` (with ``bench/bench-replies.toml``: the varied configuration plus
``next_reply`` targets and ``ownership`` tables) is the varied stream with conversations and
reassignments added, about one per lifecycle event: every ticket is created in group L1;
after the first answer the customer writes again a geometric number of times (mean 4, fewer
when the ticket ends first), most messages answered by an agent (``ticket.customer_replied``,
``ticket.agent_replied``), and the ticket moves 0-3 times (mean 1.4) between L1, L2, L3 and a
vendor group (``ticket.assigned``).
JSON Lines only. The varied stream itself is unchanged.

Memory is constant: the generator only keeps the future events of tickets still in flight in
a heap (a few thousand entries), never the stream. Output is deterministic for a given seed,
event count and configuration.

Besides the events, ``OUT.expected.json`` records what a correct ingest must report (``read``,
``accepted``, ``duplicates``, ``pending``, ``rejected``) and facts about the stream (time span,
tickets, counts per type) that ``bench/run.py`` uses.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
import tomllib
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "bench.toml"
VARIED_CONFIG = Path(__file__).resolve().parent / "bench-varied.toml"
REPLIES_CONFIG = Path(__file__).resolve().parent / "bench-replies.toml"
AVRO_SCHEMA_ID = 1  # schemas/ticket_event.v1.avsc (see schemas/registry.json)

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Rates:
    """Probabilities (per ticket unless stated otherwise) and the weekly arrival shape."""

    reprioritise: float = 0.15
    ack: float = 0.95
    intervention: float = 0.60
    pause: float = 0.20
    second_pause: float = 0.25  # of paused tickets
    resolve: float = 0.92
    reopen: float = 0.05  # of resolved tickets
    resolve_again: float = 0.85  # of reopened tickets
    prospect: float = 0.005  # customer without a contract: accepted, no clocks
    redeliver: float = 0.01  # per event
    late: float = 0.003  # per event: delivered 1-48 h late
    invalid: float = 0.001  # per event, drawn per ticket
    mean_events_per_ticket: float = 4.2  # measured; scales ``invalid`` to a per-ticket rate
    around_the_clock: bool = False  # arrivals: a UTC working week, or every hour alike
    zones: tuple[str, ...] = ()
    replies: bool = False  # conversations and reassignments (the ``replies`` stream)


PLAIN = Rates(
    zones=(
        "Europe/Berlin",
        "Europe/Berlin",
        "Europe/Berlin",
        "Europe/Luxembourg",
        "Europe/Paris",
        "UTC",
        "America/New_York",
    )
)
VARIED = replace(
    PLAIN,
    reprioritise=0.25,
    pause=0.45,
    second_pause=0.40,
    reopen=0.15,
    redeliver=0.03,
    late=0.02,
    mean_events_per_ticket=5.0,
    around_the_clock=True,
    zones=("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"),
)
REPLIES = replace(VARIED, replies=True, mean_events_per_ticket=10.0)
STREAMS = {"plain": PLAIN, "varied": VARIED, "replies": REPLIES}

MAX_LIFETIME = 30 * DAY
JITTER = 30  # delivery lag of an on-time event, seconds (events of a ticket are >= 60 s apart)

CHANNELS = ("email", "email", "portal", "portal", "phone", "chat")
SOURCES = ("zendesk", "jira-sm", "freshdesk")
GROUPS = ("L1", "L1", "L2", "L2", "L3", "vendor")  # reassignment targets, L1/L2 most often
REPRIO_REASONS = ("production outage", "impact re-assessed", "customer request", "downgrade")
PAUSE_REASONS = ("waiting_for_customer", "waiting_for_customer", "waiting_for_vendor")
# Invalid kinds: the first ones can be carried by Avro, the last three only by JSON Lines.
AVRO_INVALID = ("bad_priority", "no_customer", "before_created", "wrong_customer")
JSON_ONLY_INVALID = ("not_json", "no_offset", "unknown_type")
INVALID_KINDS = AVRO_INVALID + JSON_ONLY_INVALID


def arrival_weight(t: int, around_the_clock: bool = False) -> float:
    """Relative ticket arrival rate at epoch second ``t``: a busy UTC working day, or (for
    customers all around the world) every hour alike, a little less at weekends."""
    days, rest = divmod(t, DAY)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    hour = rest // HOUR
    if around_the_clock:
        return 0.5 if weekday >= 5 else 1.0
    if weekday >= 5:
        return 0.15
    return 1.0 if 7 <= hour < 17 else 0.25


MEAN_ARRIVAL_WEIGHT = (5 * (10 * 1.0 + 14 * 0.25) + 2 * 24 * 0.15) / (7 * 24)
MEAN_ARRIVAL_WEIGHT_AROUND = (5 * 1.0 + 2 * 0.5) / 7


class Customers:
    """The customers of a configuration, with skewed ticket volumes (a few big ones)."""

    def __init__(self, config: Path, rng: random.Random, rates: Rates = PLAIN) -> None:
        data = tomllib.loads(config.read_text())
        names = sorted({c["customer"] for c in data.get("contracts", [])})
        if not names:
            raise SystemExit(f"{config}: no contracts, so no customers to generate tickets for")
        self.priorities: list[int] = list(data.get("priorities", [1, 2, 3, 4]))
        # Zipf-like volumes: customer k gets weight 1/(k+10), in a seeded order.
        order = names[:]
        rng.shuffle(order)
        self.names = order
        self.cum = list(accumulate(1.0 / (k + 10) for k in range(len(order))))
        zones = rates.zones
        self.prospect = rates.prospect
        self.zone = {name: ZoneInfo(zones[i % len(zones)]) for i, name in enumerate(order)}
        self.prospects = [f"prospect-{i:02d}" for i in range(1, 6)]
        for i, name in enumerate(self.prospects):
            self.zone[name] = ZoneInfo(zones[i % len(zones)])

    def pick(self, rng: random.Random) -> str:
        if rng.random() < self.prospect:
            return self.prospects[int(rng.random() * len(self.prospects))]
        return self.names[bisect_right(self.cum, rng.random() * self.cum[-1])]

    def other_than(self, name: str, rng: random.Random) -> str:
        other = self.names[int(rng.random() * len(self.names))]
        if other == name:
            other = self.names[(self.names.index(name) + 1) % len(self.names)]
        return other


def _priority(rng: random.Random, priorities: list[int]) -> int | None:
    """P1 10 %, P2 30 %, P3 50 %, none (default priority) 10 %; other configs uniform."""
    x = rng.random()
    if priorities[:3] == [1, 2, 3]:
        if x < 0.10:
            return 1
        if x < 0.40:
            return 2
        if x < 0.90:
            return 3
        return None
    return None if x < 0.1 else priorities[int(rng.random() * len(priorities))]


def _lognormal(rng: random.Random, median: float, sigma: float, low: float = 60) -> int:
    return int(max(low, min(median * math.exp(rng.gauss(0, sigma)), MAX_LIFETIME / 3)))


def _expo(rng: random.Random, mean: float, low: float = 60) -> int:
    return int(max(low, rng.expovariate(1 / mean)))


class Stream:
    """The event stream: ``events()`` yields exactly ``n`` events in delivery order.

    Each yielded event is a dict with JSON-shaped fields, except ``occurred_at`` (an aware
    datetime, or a naive one for the invalid kind "no_offset") and the invalid kind
    "not_json", which is yielded as ``{"_raw": text}``.
    """

    def __init__(
        self,
        n: int,
        seed: int,
        config: Path,
        *,
        start: datetime,
        tickets_per_day: float,
        avro: bool,
        rates: Rates = PLAIN,
    ) -> None:
        self.n = n
        self.rates = rates
        self.rng = random.Random(seed)
        self.seed = seed
        self.customers = Customers(config, random.Random(seed ^ 0x5EED), rates)
        self.avro = avro
        self.start = int(start.timestamp())
        # Thinning: candidates at the peak rate, kept with probability weight(t).
        mean = MEAN_ARRIVAL_WEIGHT_AROUND if rates.around_the_clock else MEAN_ARRIVAL_WEIGHT
        self.peak_gap = DAY / (tickets_per_day / mean)
        self.heap: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0
        self.tickets = 0
        self.event_no = 0
        self.bad_no = 0
        # Expected ingest outcome.
        self.duplicates = 0
        self.invalid = 0
        self.awaiting_created: dict[str, int] = {}  # ticket -> events delivered before it
        self.types: Counter[str] = Counter()
        self.invalid_kinds: Counter[str] = Counter()
        self.late = 0
        self.first_at: int | None = None
        self.last_at = 0
        self.max_heap = 0

    # --------------------------------------------------------------- scheduling
    def _push(self, deliver: int, event: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (deliver, self.seq, event))

    def _event(
        self, kind: str, ticket: str, at: int, zone: ZoneInfo, source: str, **fields: Any
    ) -> None:
        """Schedule one valid event (and maybe its redelivery), delivered on time or late."""
        rng = self.rng
        rates = self.rates
        self.event_no += 1
        event: dict[str, Any] = {
            "event_id": f"evt-{self.seed}-{self.event_no:09d}",
            "type": kind,
            "ticket_id": ticket,
            "occurred_at": datetime.fromtimestamp(at, zone),
        }
        late = fields.pop("_late", None)  # True/False forces it, None leaves it to chance
        event.update(fields)
        if rng.random() < 0.5:
            event["actor"] = f"agent-{int(rng.random() * 80) + 1:02d}"
        event["source"] = source
        deliver = at + int(rng.random() * JITTER)
        if late or (late is None and rng.random() < rates.late):
            deliver = at + HOUR + int(rng.random() * 47 * HOUR)
            event["_late"] = True
        self._push(deliver, event)
        if rng.random() < rates.redeliver:
            copy = dict(event)
            copy["_dup"] = True
            copy.pop("_late", None)
            self._push(deliver + 1 + int(rng.random() * 6 * HOUR), copy)

    def _ticket(self, created: int) -> None:
        """Create one ticket and schedule its whole life."""
        rng = self.rng
        rates = self.rates
        self.tickets += 1
        ticket = f"T-{self.tickets:08d}"
        customer = self.customers.pick(rng)
        zone = self.customers.zone[customer]
        priorities = self.customers.priorities
        priority = _priority(rng, priorities)
        source = SOURCES[self.tickets % len(SOURCES)]
        # Invalid events need the creation delivered first (else they would be pending).
        invalid = None
        if rng.random() < rates.invalid * rates.mean_events_per_ticket:
            invalid = INVALID_KINDS[int(rng.random() * len(INVALID_KINDS))]
        created_late = invalid is None and rng.random() < rates.late
        fields: dict[str, Any] = {"customer_id": customer}
        if priority is not None:
            fields["priority"] = priority
        fields["channel"] = CHANNELS[int(rng.random() * len(CHANNELS))]
        fields["_late"] = created_late
        if rates.replies:
            fields["group"] = "L1"
        if created_late:
            self.awaiting_created[ticket] = 0
        self._event("ticket.created", ticket, created, zone, source, **fields)

        def maybe_customer() -> dict[str, Any]:
            return {"customer_id": customer} if rng.random() < 0.3 else {}

        t = created
        resolve_at: int | None = None
        ack_at = created + _lognormal(rng, 1.5 * HOUR, 1.2) if rng.random() < rates.ack else None
        later: list[tuple[int, str, dict[str, Any]]] = []
        if ack_at is not None:
            later.append((ack_at, "ticket.acknowledged", maybe_customer()))
            t = ack_at
            if rng.random() < rates.intervention:
                t_int = ack_at + _expo(rng, 2 * HOUR)
                later.append((t_int, "ticket.intervention_started", maybe_customer()))
                t = t_int
        if rng.random() < rates.pause:
            pauses = 2 if rng.random() < rates.second_pause else 1
            for _ in range(pauses):
                paused = t + _expo(rng, 3 * HOUR)
                resumed = paused + _expo(rng, 18 * HOUR)
                reason = PAUSE_REASONS[int(rng.random() * len(PAUSE_REASONS))]
                later.append((paused, "ticket.paused", {"reason": reason}))
                later.append((resumed, "ticket.resumed", maybe_customer()))
                t = resumed
        if rng.random() < rates.resolve:
            resolve_at = t + _lognormal(rng, 6 * HOUR, 1.3)
            later.append((resolve_at, "ticket.resolved", maybe_customer()))
            t = resolve_at
            if rng.random() < rates.reopen:
                reopened = t + _expo(rng, 24 * HOUR)
                later.append((reopened, "ticket.reopened", {"reason": "customer disagrees"}))
                t = reopened
                if rng.random() < rates.resolve_again:
                    t = reopened + _lognormal(rng, 4 * HOUR, 1.0)
                    later.append((t, "ticket.resolved", maybe_customer()))
        if rng.random() < rates.reprioritise:
            until = resolve_at if resolve_at is not None else created + 2 * DAY
            at = created + 60 + int(rng.random() * max(1, until - created - 120))
            current = priority if priority is not None else 3
            choices = [p for p in priorities if p != current] or priorities
            new = choices[int(rng.random() * len(choices))]
            reason = REPRIO_REASONS[int(rng.random() * len(REPRIO_REASONS))]
            later.append((at, "ticket.reprioritised", {"priority": new, "reason": reason}))
        if rates.replies:
            end = resolve_at if resolve_at is not None else created + 2 * DAY
            later.extend(self._conversation(ack_at, end, maybe_customer))
            later.extend(self._reassignments(created, end))
        later.sort(key=lambda item: item[0])
        last = created
        for at, kind, extra in later:
            at = max(at, last + 60)  # keep the ticket's events >= 60 s apart (see JITTER)
            if at - created > MAX_LIFETIME:
                break
            self._event(kind, ticket, at, zone, source, **extra)
            last = at
        if invalid is not None:
            self._invalid(invalid, ticket, customer, zone, created, priority)

    def _conversation(
        self, first_answer: int | None, end: int, maybe_customer: Any
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Customer messages after the first answer, most of them answered by an agent: a
        geometric number of exchanges (mean 4), cut off where the ticket's life ends."""
        rng = self.rng
        out: list[tuple[int, str, dict[str, Any]]] = []
        if first_answer is None:
            return out
        t = first_answer
        while rng.random() < 0.8:
            t += _expo(rng, 4 * HOUR)
            if t >= end:
                break
            out.append((t, "ticket.customer_replied", maybe_customer()))
            if rng.random() < 0.9:
                t += _lognormal(rng, 1.5 * HOUR, 1.0)
                out.append((t, "ticket.agent_replied", {}))
        return out

    def _reassignments(self, created: int, end: int) -> list[tuple[int, str, dict[str, Any]]]:
        """Reassignments between a few groups (0-3, mean 1.4), spread over the life."""
        rng = self.rng
        x = rng.random()
        count = 0 if x < 0.20 else 1 if x < 0.55 else 2 if x < 0.85 else 3
        span = max(120, end - created)
        times = sorted(created + 60 + int(rng.random() * span) for _ in range(count))
        out: list[tuple[int, str, dict[str, Any]]] = []
        group = "L1"
        for at in times:
            new = GROUPS[int(rng.random() * len(GROUPS))]
            if new == group:
                new = "L2" if group == "L1" else "L1"
            out.append((at, "ticket.assigned", {"group": new}))
            group = new
        return out

    def _invalid(
        self,
        kind: str,
        ticket: str,
        customer: str,
        zone: ZoneInfo,
        created: int,
        priority: int | None,
    ) -> None:
        """Schedule one invalid event about ``ticket`` (delivered an hour after creation)."""
        if self.avro and kind in JSON_ONLY_INVALID:
            kind = AVRO_INVALID[JSON_ONLY_INVALID.index(kind)]
        self.bad_no += 1
        at = created + HOUR
        event: dict[str, Any] = {
            "event_id": f"bad-{self.seed}-{self.bad_no:07d}",
            "type": "ticket.acknowledged",
            "ticket_id": ticket,
            "occurred_at": datetime.fromtimestamp(at, zone),
            "_kind": kind,
        }
        if kind == "bad_priority":
            event["type"] = "ticket.reprioritised"
            event["priority"] = max(self.customers.priorities) + 4
        elif kind == "no_customer":
            event["type"] = "ticket.created"
            event["ticket_id"] = f"{ticket}-B"
            event["priority"] = priority if priority is not None else 3
            if self.avro:
                event["customer_id"] = ""  # Avro requires the field; empty is rejected too
        elif kind == "before_created":
            event["occurred_at"] = datetime.fromtimestamp(created - HOUR, zone)
        elif kind == "wrong_customer":
            event["customer_id"] = self.customers.other_than(customer, self.rng)
        elif kind == "no_offset":
            event["occurred_at"] = event["occurred_at"].replace(tzinfo=None)
        elif kind == "unknown_type":
            event["type"] = "ticket.escalated"
        elif kind == "not_json":
            cut = '{"event_id": "' + event["event_id"] + '", "type": "ticket.ackno'
            event = {"_raw": cut, "_kind": kind}
        self._push(at, event)

    # --------------------------------------------------------------- the stream
    def events(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        next_ticket = self.start
        emitted = 0
        heap = self.heap
        while emitted < self.n:
            if heap and heap[0][0] <= next_ticket:
                _, _, event = heapq.heappop(heap)
                emitted += 1
                yield self._account(event)
                continue
            self._ticket(next_ticket)
            if len(heap) > self.max_heap:
                self.max_heap = len(heap)
            # Next arrival (thinned Poisson process).
            while True:
                next_ticket += max(1, int(rng.expovariate(1 / self.peak_gap)))
                if rng.random() < arrival_weight(next_ticket, self.rates.around_the_clock):
                    break

    def _account(self, event: dict[str, Any]) -> dict[str, Any]:
        """Count what the ingest should report for ``event``; strip the private markers."""
        kind = event.pop("_kind", None)
        if kind is not None:
            self.invalid += 1
            self.invalid_kinds[kind] += 1
            return event
        ticket = event["ticket_id"]
        if event.pop("_dup", False):
            self.duplicates += 1
            return event
        if event.pop("_late", False):
            self.late += 1
        self.types[event["type"]] += 1
        at = int(event["occurred_at"].timestamp())
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = max(self.last_at, at)
        if ticket in self.awaiting_created:
            if event["type"] == "ticket.created":
                del self.awaiting_created[ticket]
            else:
                self.awaiting_created[ticket] += 1
        return event

    def expected(self) -> dict[str, Any]:
        accepted = self.n - self.duplicates - self.invalid
        return {
            "ingest": {
                "read": self.n,
                "accepted": accepted,
                "duplicates": self.duplicates,
                "pending": sum(self.awaiting_created.values()),
                "rejected": self.invalid,
            },
            "stream": {
                "seed": self.seed,
                "tickets_created": self.tickets,
                "first_occurred_at": _iso(self.first_at or self.start),
                "last_occurred_at": _iso(self.last_at),
                "delivered_late": self.late,
                "types": dict(sorted(self.types.items())),
                "invalid_kinds": dict(sorted(self.invalid_kinds.items())),
                "max_in_flight": self.max_heap,
            },
        }


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


# ------------------------------------------------------------------------- writers


def _json_line(event: dict[str, Any]) -> str:
    raw = event.get("_raw")
    if raw is not None:
        return raw
    event["occurred_at"] = event["occurred_at"].isoformat()
    return json.dumps(event)


def write_jsonl(stream: Stream, out: Path) -> None:
    with out.open("w", encoding="utf-8") as fh:
        write = fh.write
        for event in stream.events():
            write(_json_line(event))
            write("\n")


def write_avro(stream: Stream, out: Path, codec: str) -> None:
    import fastavro

    sys.path.insert(0, str(ROOT))
    from slaclock.consumers.avro import schema_by_id, to_record

    records = (to_record(event) for event in stream.events())
    with out.open("wb") as fh:
        fastavro.writer(fh, schema_by_id(AVRO_SCHEMA_ID), records, codec=codec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, required=True, help="events to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("jsonl", "avro"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--stream",
        choices=sorted(STREAMS),
        default="plain",
        help="plain: the original benchmark stream; varied: four zones with DST, overnight"
        " desks, more pauses, reopens, late and duplicate events; replies: varied plus"
        " replies and reassignments (see the module docstring)",
    )
    parser.add_argument("--config", type=Path, help="default: bench.toml, bench-varied.toml")
    parser.add_argument("--start", default="2025-01-01T00:00:00+00:00", help="first arrival")
    parser.add_argument("--tickets-per-day", type=float, default=600.0)
    parser.add_argument("--codec", default="null", help="Avro codec (null, deflate, ...)")
    args = parser.parse_args(argv)
    if args.events < 0:
        parser.error("--events must not be negative")
    if args.config is None:
        args.config = {"varied": VARIED_CONFIG, "replies": REPLIES_CONFIG}.get(
            args.stream, DEFAULT_CONFIG
        )
    if args.stream == "replies" and args.format == "avro":
        parser.error("--stream replies: JSON Lines only (the Avro writer uses schema v1)")
    start = datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        parser.error("--start needs a UTC offset")
    stream = Stream(
        args.events,
        args.seed,
        args.config,
        start=start,
        tickets_per_day=args.tickets_per_day,
        avro=args.format == "avro",
        rates=STREAMS[args.stream],
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    if args.format == "jsonl":
        write_jsonl(stream, args.out)
    else:
        write_avro(stream, args.out, args.codec)
    expected = stream.expected()
    expected["stream"]["format"] = args.format
    expected["stream"]["profile"] = args.stream
    expected["stream"]["config"] = str(args.config)
    Path(f"{args.out}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    elapsed = time.perf_counter() - began
    print(
        f"{args.out}: {args.events} events, {stream.tickets} tickets, "
        f"{args.out.stat().st_size / 1e6:.1f} MB in {elapsed:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
