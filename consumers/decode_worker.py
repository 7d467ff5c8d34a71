"""Reading and validating events in a second process, while this one stores them.

Decoding costs about a third of ingesting an event and needs nothing from the store, so on a
machine with a spare core a second process runs the same :func:`consumers.events.decode` on
the same batches, for a large file (:func:`decoded_batches`) or the Kafka consumer's message
values (:class:`WireDecodeProcess`; :class:`InlineWireDecoding` is its in-process twin). The
outcome is the same as in-process: same batches, same order, same dead letters.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.events import Decoded, decode
from slaclock.consumers.kafka_wire import SchemaResolver, WireDecoder
from slaclock.consumers.schema_registry import RegistryAccess, RegistryUnavailable
from slaclock.consumers.sources import RawEvent, read_events
from slaclock.domain.facts import Fact
from slaclock.domain.policy import Policy
from slaclock.projections.runtime import tune_gc


class DecodeWorkerError(Exception):
    """The decoding process failed; the message says how."""


def decoded_batches(
    path: str, policy_factory: Callable[[], Policy], batch_size: int
) -> Iterator[Decoded]:
    """The batches of ``path``, read and validated by a worker process. ``policy_factory``
    must be picklable (a module-level function or a ``functools.partial`` of one): the
    worker builds its own policy with it. Batches come back as ``marshal``-ed tuples (far
    cheaper to load than pickled objects); the worker stays a batch or two ahead (the pipe
    blocks it). An error in the worker (an unreadable file, a bug) ends the ingest with that
    error after the batches delivered before; a worker that dies without a word raises
    :class:`DecodeWorkerError`."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a store
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work,
        args=(sender, path, policy_factory, batch_size),
        name="slaclock-decode",
        daemon=True,
    )
    worker.start()
    sender.close()
    try:
        while True:
            try:
                message = marshal.loads(receiver.recv_bytes())
            except EOFError:
                raise DecodeWorkerError(
                    f"{path}: the decoding process ended unexpectedly (exit code "
                    f"{worker.join(5) or worker.exitcode})"
                ) from None
            if message is None:
                return
            if message[0] == "error":
                raise DecodeWorkerError(message[1])
            _, read, facts, rejected = message
            yield Decoded(read, [_fact(item) for item in facts], [tuple(r) for r in rejected])
    finally:
        receiver.close()
        worker.join(5)
        if worker.is_alive():
            worker.terminate()
            worker.join(5)


def _work(sender: Any, path: str, policy_factory: Callable[[], Policy], batch_size: int) -> None:
    tune_gc()
    try:
        policy = policy_factory()
        events = read_events(path)
        while batch := list(islice(events, batch_size)):
            decoded = decode(batch, policy)
            facts = [_plain(item) for item in decoded.facts]
            sender.send_bytes(marshal.dumps(("batch", decoded.read, facts, decoded.rejected)))
        sender.send_bytes(marshal.dumps(None))
    except BaseException as exc:  # sent back whole: the parent reports it
        sender.send_bytes(marshal.dumps(("error", f"{path}: {type(exc).__name__}: {exc}")))
    finally:
        sender.close()


# ------------------------------------------------------------------ Kafka message values
class InlineWireDecoding:
    """Batches of Kafka message values decoded and validated in this process (``consume
    --decoder inline``): the same calls as :class:`WireDecodeProcess`, results in the order
    of submission."""

    def __init__(self, policy: Policy, schema_registry: RegistryAccess | str | None) -> None:
        self.policy = policy
        self.decoder = WireDecoder(SchemaResolver(schema_registry))
        self._batches: deque[tuple[Sequence[bytes | None], Sequence[str]]] = deque()

    def submit(self, values: Sequence[bytes | None], sources: Sequence[str]) -> None:
        self._batches.append((values, sources))

    def result(self) -> Decoded:
        """The oldest submitted batch decoded (now); :class:`RegistryUnavailable` if the
        schema registry did not answer (the batch is to be retried, not dead-lettered)."""
        values, sources = self._batches.popleft()
        return _decode_values(self.decoder, self.policy, values, sources)

    def reset(self) -> None:
        """Nothing is remembered between batches (the source decoding's twin)."""

    def close(self) -> None:
        pass


class WireDecodeProcess:
    """Kafka message values decoded and validated by a second process (``consume
    --decoder process``), while this one waits for the previous batch to be stored.

    ``submit`` sends a batch (values and their sources, ``marshal``-ed), ``result`` waits for
    the oldest one not taken yet; every ``submit`` is matched by one ``result``. The worker
    ignores SIGINT (a Ctrl-C reaches the whole process group; the consumer decides when to
    stop) and ends when this side closes the pipe, also when this process is killed. The
    registry's credentials reach it pickled through the pipe ``spawn`` starts it with, never
    on its command line.
    """

    def __init__(
        self, policy_factory: Callable[[], Policy], schema_registry: RegistryAccess | str | None
    ) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding a store
        self._conn, child = context.Pipe(duplex=True)
        self._worker = context.Process(
            target=_decode_wire,
            args=(child, policy_factory, schema_registry),
            name="slaclock-decode",
            daemon=True,
        )
        self._worker.start()
        child.close()

    def submit(self, values: Sequence[bytes | None], sources: Sequence[str]) -> None:
        try:
            self._conn.send_bytes(marshal.dumps((list(values), list(sources))))
        except OSError as exc:
            raise self._died() from exc

    def result(self) -> Decoded:
        try:
            message = marshal.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            raise self._died() from None
        if message[0] == "registry":
            raise RegistryUnavailable(message[1])
        if message[0] == "fatal":
            raise FatalSourceError(message[1])
        if message[0] == "error":
            raise DecodeWorkerError(message[1])
        _, read, facts, rejected = message
        return Decoded(read, [_fact(item) for item in facts], [tuple(r) for r in rejected])

    def reset(self) -> None:
        """Nothing is remembered between batches (the source decoding's twin)."""

    def _died(self) -> DecodeWorkerError:
        self._worker.join(5)
        return DecodeWorkerError(
            f"the decoding process ended unexpectedly (exit code {self._worker.exitcode})"
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send_bytes(marshal.dumps(None))
        self._conn.close()
        self._worker.join(5)
        if self._worker.is_alive():
            self._worker.terminate()
            self._worker.join(5)


def _decode_values(
    decoder: WireDecoder, policy: Policy, values: Sequence[bytes | None], sources: Sequence[str]
) -> Decoded:
    raws = [decoder.decode(value, source) for value, source in zip(values, sources, strict=True)]
    return decode(raws, policy)


def _decode_wire(
    conn: Any, policy_factory: Callable[[], Policy], registry: RegistryAccess | str | None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc()
    setup: tuple[WireDecoder, Policy] | str
    try:
        setup = (WireDecoder(SchemaResolver(registry)), policy_factory())
    except BaseException as exc:  # reported with the first batch
        setup = f"decoding process: {type(exc).__name__}: {exc}"
    # Requests are read by a thread of their own: the consumer may send the next batch
    # while this process is still sending a result, and both would wait forever on full
    # pipes if this process read only between results.
    requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(conn, requests), daemon=True).start()
    while True:
        data = requests.get()
        request = marshal.loads(data) if data is not None else None
        if request is None:
            return
        reply: tuple[Any, ...]
        if isinstance(setup, str):
            reply = ("error", setup)
        else:
            try:
                decoded = _decode_values(*setup, *request)
                # No text for Avro records: a Kafka dead letter carries the message's bytes.
                facts = [_plain(item, render=False) for item in decoded.facts]
                reply = ("batch", decoded.read, facts, decoded.rejected)
            except RegistryUnavailable as exc:
                reply = ("registry", str(exc))
            except FatalSourceError as exc:
                reply = ("fatal", str(exc))
            except BaseException as exc:  # a bug: the consumer stops with it
                reply = ("error", f"decoding process: {type(exc).__name__}: {exc}")
        try:
            conn.send_bytes(marshal.dumps(reply))
        except OSError:  # the consumer is gone (killed): nothing to tell anyone
            return


def _read_requests(conn: Any, requests: queue.SimpleQueue[bytes | None]) -> None:
    while True:
        try:
            requests.put(conn.recv_bytes())
        except (EOFError, OSError):  # the consumer closed the pipe or is gone
            requests.put(None)
            return


def _plain(item: tuple[int, RawEvent, str, Fact], render: bool = True) -> tuple[Any, ...]:
    """A fact as plain values for ``marshal``; ``render``: an Avro record's text for a dead
    letter (files; JSON keeps its line either way)."""
    index, raw, ticket_id, fact = item
    return (
        index,
        raw.source,
        raw.text() if render else raw.raw,
        ticket_id,
        fact.event_id,
        fact.type,
        fact.occurred_at.isoformat(),
        fact.at,
        fact.customer_id,
        fact.priority,
        dict(fact.details),
        fact.group,
    )


def _fact(item: tuple[Any, ...]) -> tuple[int, RawEvent, str, Fact]:
    index, source, text, ticket_id, event_id, type_, iso, at, customer, priority, details, group = (
        item
    )
    occurred_at = datetime.fromisoformat(iso)  # the same instant and offset: iso round-trips
    fact = Fact(
        event_id,
        type_,
        occurred_at,
        customer,
        priority,
        details,
        at=at,
        occurred_at_text=iso,
        group=group,
    )
    return index, RawEvent(source=source, raw=text), ticket_id, fact
