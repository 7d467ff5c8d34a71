"""``slaclock consume``: check the options, open the store (waiting while the database is
away), and run the Kafka consume loop until it is stopped or idle.

SIGTERM and SIGINT ask the loop to finish its batch; a second one forces it. The loop itself
lives in ``consumers.kafka_consumer``; this module only turns options into its settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from slaclock import exit_codes, registry_options
from slaclock.args import UsageError
from slaclock.bootstrap import follow_store_policy
from slaclock.domain.policy import Policy
from slaclock.kafka_options import client_config
from slaclock.output import counts_table, emit
from slaclock.projections.batch import PolicyMoved
from slaclock.projections.event_store import store_env
from slaclock.projections.store import TicketStore


def run(
    args: argparse.Namespace,
    policy: Policy,
    store_factory: Callable[[], TicketStore],
    policy_factory: Callable[[], Policy] | None,
    wake_delivery: Callable[[], None] | None = None,
) -> int:
    """Consume until stopped; the exit code (1 if a second signal forced the stop).
    ``wake_delivery``: called when a batch or tick committed alert deliveries."""
    from slaclock.consumers.kafka_consumer import KafkaIngest

    _check(args)
    store_env(args.store)  # a malformed store URL is a usage error, not something to retry
    source = _source(args) if args.source is not None else None
    settings = _settings(args)
    stop = threading.Event()
    ingest: KafkaIngest | None = None

    def request_stop() -> None:
        if ingest is not None:
            ingest.request_stop()
        stop.set()

    with _Signals(request_stop):
        store = _open_store(store_factory, stop, settings.backoff_max, settings.health_file)
        if store is None:
            return exit_codes.OK
        try:
            counts: dict[str, int] = {}
            while True:
                ingest = _ingest(
                    args, settings, store, policy, policy_factory, source, wake_delivery
                )
                if stop.is_set():
                    ingest.request_stop()
                try:
                    counts = _added(counts, _consume(ingest))
                    break
                except PolicyMoved as moved:  # its batch was not stored: consumed again
                    counts = _added(counts, _counts(ingest))
                    policy, policy_factory = follow_store_policy(store, moved)
            forced = ingest.forced
        finally:
            store.close()
    if not counts.get("voided"):
        counts.pop("voided", None)
    emit(args, counts, counts_table(counts))
    return exit_codes.FAILED if forced else exit_codes.OK


def _check(args: argparse.Namespace) -> None:
    """Values argparse cannot check (ranges, and choices given in the environment)."""
    if args.max_poll_records < 1:
        raise UsageError("--max-poll-records: must be at least 1")
    if args.exit_when_idle is not None and args.exit_when_idle < 0:
        raise UsageError("--exit-when-idle: must not be negative")
    if args.tick_every < 0:
        raise UsageError("--tick-every: must not be negative")
    if args.topic_grace < 0:
        raise UsageError("--topic-grace: must not be negative")
    if args.decoder not in ("auto", "process", "inline"):  # a bad environment value
        raise UsageError(f"--decoder: {args.decoder!r} is not one of auto, process, inline")
    if args.clock not in ("wall", "event"):  # a bad environment value
        raise UsageError(f"--clock: {args.clock!r} is not one of wall, event")


def _settings(args: argparse.Namespace) -> Any:
    from slaclock.consumers.kafka_settings import ConsumerSettings

    return ConsumerSettings(
        topic=args.topic,
        group=args.group,
        client_config=client_config(args),
        dead_letter_topic=args.dead_letter_topic,
        schema_registry=registry_options.registry_access(args),
        max_poll_records=args.max_poll_records,
        exit_when_idle=args.exit_when_idle,
        instance_id=args.instance_id,
        session_timeout_ms=args.session_timeout_ms,
        health_file=args.health_file,
        clock=args.clock,
        alerts_path=args.alerts,
        tick_every=args.tick_every,
        topic_grace=args.topic_grace,
    )


def _ingest(
    args: argparse.Namespace,
    settings: Any,
    store: TicketStore,
    policy: Policy,
    policy_factory: Callable[[], Policy] | None,
    source: Any,
    wake_delivery: Callable[[], None] | None = None,
) -> Any:
    """The consume loop; ``source``: the ``--source`` table (its messages are translated)."""
    from slaclock.consumers.decode_worker import WireDecodeProcess
    from slaclock.consumers.kafka_consumer import KafkaIngest
    from slaclock.consumers.source_decoding import SourceDecoding

    decoding: Any = None
    if source is not None:  # translation reads kept state from the store: in process
        decoding = SourceDecoding(source, policy, store)
    elif policy_factory is not None and _decode_in_process(args.decoder):
        decoding = WireDecodeProcess(policy_factory, settings.schema_registry)
    return KafkaIngest(settings, store, policy, decoding=decoding, wake_delivery=wake_delivery)


def _source(args: argparse.Namespace) -> Any:
    """The ``[sources.NAME]`` table ``--source`` names (a usage error if there is none)."""
    from slaclock.config import load_sources

    sources = load_sources(args.config)
    if args.source not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise UsageError(f"--source: no [sources.{args.source}] in the configuration ({known})")
    return sources[args.source]


def _consume(ingest: Any) -> dict[str, int]:
    """Run the loop; its counts with the dead letters sent."""
    from kafka.errors import KafkaConfigurationError

    try:
        ingest.run()
    except KafkaConfigurationError as exc:
        raise UsageError(f"Kafka client settings: {exc}") from None
    return _counts(ingest)


def _counts(ingest: Any) -> dict[str, int]:
    return {**ingest.stats.as_dict(), "dead_lettered": ingest.dead_letters.sent}


def _added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The counts of two runs of the loop (``pending`` is a level: the last one's)."""
    return {
        key: value if key == "pending" else before.get(key, 0) + value
        for key, value in after.items()
    }


def _decode_in_process(decoder: str) -> bool:
    """``--decoder``: a second process pays off only with a second core to run it on."""
    if decoder == "auto":
        return (os.cpu_count() or 1) > 1
    return decoder == "process"


def _open_store(
    store_factory: Callable[[], TicketStore],
    stop: threading.Event,
    backoff_max: float,
    health_file: str | None,
) -> TicketStore | None:
    """Open the store, waiting with backoff while the database is unavailable."""
    from slaclock.consumers.health import HealthFile
    from slaclock.consumers.kafka_settings import TRANSIENT

    log = logging.getLogger("slaclock.kafka")
    health = HealthFile(health_file)
    delay = 0.5
    while not stop.is_set():
        try:
            return store_factory()
        except TRANSIENT as exc:  # StoreUnavailable: the database is not reachable (yet)
            log.warning("store unavailable (%s); retrying in %.1fs", exc, delay)
            health.retrying(f"store unavailable: {exc}")
            stop.wait(delay)
            delay = min(backoff_max, delay * 2)
    return None


class _Signals:
    """SIGTERM/SIGINT call ``stop`` while active (first: finish the batch; second: force)."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        logging.getLogger("slaclock.kafka").info(
            "%s received: finishing the current batch", signal.Signals(signum).name
        )
        self.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
