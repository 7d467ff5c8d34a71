"""``slaclock serve``'s webhook receiver: its options, and the state ``POST /hooks`` runs on.

Every ``[sources.NAME]`` of the configuration can receive webhooks. At start-up each
``secret_env`` must name a set variable (else a configuration error, exit 2). Deliveries are
made durable by one writer thread (``slaclock.api.hooks.IntakeWriter``) on a store of its own:
with ``consumers.source_intake.SourceIntake`` (events, kept snapshots and dead letters in one
transaction), or with ``--publish-topic`` onto the event topic — the events are published
and flushed with ``acks=all`` first, and only then are the kept snapshots stored, so that a
change is never marked as seen before the broker has it (a retry then adds duplicates, which
the consumer drops by ``event_id``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from slaclock import kafka_options
from slaclock.args import UsageError

if TYPE_CHECKING:  # the server's modules load only when it starts (the CLI starts faster)
    from slaclock.api.hooks import Taken
    from slaclock.api.routes_hooks import HookState
    from slaclock.config import LoadedPolicy
    from slaclock.consumers.ingest import Ingestor
    from slaclock.consumers.source_config import SourceConfig
    from slaclock.consumers.source_intake import IntakeResult
    from slaclock.projections.store import TicketStore

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a webhook body may have (``--hook-max-body``)."""
PUBLISH_FORMATS = ("json", "avro")


def add_options(p: argparse.ArgumentParser) -> None:
    """The webhook options of ``serve`` (and the broker connection for ``--publish-topic``)."""
    group = p.add_argument_group("webhooks (POST /hooks/SOURCE for every [sources.NAME])")
    group.add_argument(
        "--hook-max-body",
        type=int,
        default=DEFAULT_MAX_BODY,
        metavar="BYTES",
        help=f"largest webhook body accepted, else 413 (default {DEFAULT_MAX_BODY})",
    )
    group.add_argument(
        "--hook-max-age",
        type=float,
        metavar="SECONDS",
        help="how far a signed timestamp (Zendesk, GLPI) may be from now, else 401; 0: not"
        " checked (default: 3600 for Zendesk, not checked for GLPI, which retries late"
        " with its first headers)",
    )
    group.add_argument(
        "--publish-topic",
        metavar="TOPIC",
        help="publish the translated events to this Kafka topic (acks=all) instead of"
        " storing them; 202 only once the broker acknowledged",
    )
    group.add_argument(
        "--publish-format",
        choices=PUBLISH_FORMATS,
        default="json",
        help="message format on --publish-topic (default json)",
    )
    kafka_options.add_connection_options(p, log_level=False)


def hook_state(
    args: argparse.Namespace, loaded: LoadedPolicy, open_store: Callable[[], TicketStore]
) -> tuple[HookState | None, Callable[[], None]]:
    """The receiver's state (None without sources: every ``/hooks`` path answers 404) and
    what to call when the server stops. :class:`UsageError` or ``HookConfigError`` (both
    naming the option or key) when it cannot work."""
    from slaclock.api.hooks import HookCounters, IntakeWriter, hook_sources
    from slaclock.api.routes_hooks import HookState
    from slaclock.consumers.source_intake import Payload

    if args.hook_max_body < 1:
        raise UsageError("--hook-max-body: must be at least 1 byte")
    sources = hook_sources(loaded.sources)
    if not sources:
        if args.publish_topic:
            raise UsageError("--publish-topic: the configuration declares no [sources.NAME]")
        return None, lambda: None
    configs = {name: loaded.sources[name] for name in sources}
    store = open_store()
    producer = None
    if args.publish_topic:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        from slaclock.consumers.kafka_publish import producer_config

        try:
            producer = KafkaProducer(**producer_config(kafka_options.client_config(args)))
        except KafkaError as exc:
            store.close()
            raise UsageError(
                f"--publish-topic: cannot reach the brokers {args.bootstrap_servers}:"
                f" {type(exc).__name__}: {exc}"
            ) from None
        take = publish_take(configs, store, producer, args.publish_topic, args.publish_format)
    else:
        take = store_take(configs, store)
    writer = IntakeWriter(take)

    def close() -> None:
        writer.close()
        if producer is not None:
            producer.close(timeout=30)
        store.close()

    state = HookState(
        sources=sources,
        writer=writer,
        counters=HookCounters(list(sources)),
        payload=Payload,
        max_body=args.hook_max_body,
        max_age=args.hook_max_age,
        publishing=producer is not None,
    )
    return state, close


def _ingestor(store: TicketStore) -> Ingestor:
    """An ingestor whose rejections are stored in the store's dead-letter outbox
    (``slaclock dead-letters`` lists them), in the transaction of their delivery. The
    escalations it raises go to the alert outbox in that transaction too (every ingestor
    writes them, ``projections.alert_outbox``), and ``serve`` delivers them."""
    from slaclock.consumers.dead_letter import LoggedDeadLetters
    from slaclock.consumers.dead_letter_relay import dead_letter_of
    from slaclock.consumers.ingest import Ingestor
    from slaclock.projections.dead_letters import last_seq

    seq = [last_seq(store)]

    def outbox(rejected: Sequence[Any]) -> list[Any]:
        now, first = int(time.time()), seq[0] + 1
        seq[0] += len(rejected)
        return [
            dead_letter_of(None, source, reason, text, now, number)
            for number, (_, source, reason, text, _) in enumerate(rejected, start=first)
        ]

    return Ingestor(
        store,
        store.policy,
        LoggedDeadLetters(),
        policy_version=store.policy_version(),
        outbox=outbox,
    )


def store_take(
    configs: dict[str, SourceConfig], store: TicketStore
) -> Callable[[str, Sequence[Any]], list[Taken]]:
    """Deliveries into the store, one ``SourceIntake.take`` (one transaction) per group."""
    from slaclock.bootstrap import follow_store_policy
    from slaclock.consumers.source_intake import SourceIntake
    from slaclock.projections.batch import PolicyMoved

    def intakes() -> dict[str, SourceIntake]:
        ingestor = _ingestor(store)  # under store.policy
        return {name: SourceIntake(config, ingestor) for name, config in configs.items()}

    current = intakes()

    def take(source: str, payloads: Sequence[Any]) -> list[Taken]:
        nonlocal current
        try:
            return _per_payload(current[source].take(payloads), len(payloads))
        except PolicyMoved as moved:  # nothing was stored: take them under the store's policy
            follow_store_policy(store, moved)
            current = intakes()
            return _per_payload(current[source].take(payloads), len(payloads))

    return take


def _per_payload(result: IntakeResult, count: int) -> list[Taken]:
    """One :class:`Taken` per payload. The counts are the group's: the first payload carries
    them (so that counters add up), the others zero."""
    from slaclock.api.hooks import Taken

    taken = []
    for index in range(count):
        counts = (result.emitted, result.accepted, result.duplicates) if index == 0 else (0, 0, 0)
        taken.append(Taken(result.reasons.get(index), *counts))
    return taken


def publish_take(
    configs: dict[str, SourceConfig],
    store: TicketStore,
    producer: Any,
    topic: str,
    fmt: str,
) -> Callable[[str, Sequence[Any]], list[Taken]]:
    """Deliveries onto ``topic``: translate (snapshots kept in the store), publish, flush,
    and keep the snapshots once every event was acknowledged."""
    from slaclock.api.hooks import Taken
    from slaclock.bootstrap import follow_store_policy
    from slaclock.consumers.events import Rejected
    from slaclock.consumers.kafka_publish import PublishStats, publish_events
    from slaclock.consumers.source_intake import StoreKeeper, Translator
    from slaclock.consumers.sources import RawEvent
    from slaclock.projections.batch import PolicyMoved

    ingestor = _ingestor(store)

    def keep(rows: list[Any], failed: list[Any]) -> None:
        """Store the dead letters and kept snapshots; under the store's policy version once
        another process applied a configuration change (nothing of them was stored)."""
        nonlocal ingestor
        try:
            ingestor.process_decoded([], failed, source_state=rows)
        except PolicyMoved as moved:
            follow_store_policy(store, moved)
            ingestor = _ingestor(store)
            ingestor.process_decoded([], failed, source_state=rows)

    def take(source: str, payloads: Sequence[Any]) -> list[Taken]:
        keeper = StoreKeeper(store, source)
        translator = Translator(configs[source], keeper)
        taken: list[Taken] = []
        raws: list[Any] = []
        failed: list[Any] = []
        for index, payload in enumerate(payloads):
            try:
                events = translator.translate(payload)
            except Rejected as exc:
                text = payload.body.decode("utf-8", errors="replace")
                failed.append((index, payload.origin, exc.reason, text, None))
                taken.append(Taken(exc.reason))
                continue
            raws += [RawEvent(payload.origin, json.dumps(event)) for event in events]
            taken.append(Taken(None, emitted=len(events)))  # the consumer dedups them
        stats = publish_events(raws, topic, producer, fmt=fmt, stats=PublishStats())
        if stats.failed or stats.skipped:
            raise RuntimeError("; ".join(stats.problems[:3]) or "not every event was published")
        keep(keeper.rows(), failed)
        return taken

    return take
