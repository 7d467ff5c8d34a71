"""Reading and validating a large file in a second process, while this one stores.

Reading, parsing and validating an event costs about a third of ingesting it, and needs
nothing from the store, so on a machine with a spare core a second process does it: it
reads the file in the same batches as :meth:`Ingestor.run` would, runs the same
:func:`consumers.ingest.decode`, and sends each batch back as plain tuples (``marshal``: far
cheaper to load than pickled objects). This process rebuilds the facts and goes on as
usual, so the outcome is the same as reading in-process: same batches, same order, same
dead letters. The worker stays at most a batch or two ahead (the pipe blocks it).

An error in the worker (an unreadable file, a bug) ends the ingest with that error, after
the batches it delivered before; a worker that dies without a word raises
:class:`DecodeWorkerError`.
"""

from __future__ import annotations

import marshal
import multiprocessing
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from consumers.ingest import Decoded, decode
from consumers.sources import RawEvent, read_events
from domain.facts import Fact
from domain.policy import Policy


class DecodeWorkerError(Exception):
    """The decoding process failed; the message says how."""


def decoded_batches(
    path: str, policy_factory: Callable[[], Policy], batch_size: int
) -> Iterator[Decoded]:
    """The batches of ``path``, read and validated by a worker process. ``policy_factory``
    must be picklable (a module-level function or a ``functools.partial`` of one): the
    worker builds its own policy with it."""
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


def _plain(item: tuple[int, RawEvent, str, Fact]) -> tuple[Any, ...]:
    index, raw, ticket_id, fact = item
    return (
        index,
        raw.source,
        raw.text(),  # the line, or an Avro record as JSON: what a dead letter would carry
        ticket_id,
        fact.event_id,
        fact.type,
        fact.occurred_at.isoformat(),
        fact.customer_id,
        fact.priority,
        dict(fact.details),
    )


def _fact(item: tuple[Any, ...]) -> tuple[int, RawEvent, str, Fact]:
    index, source, text, ticket_id, event_id, type_, occurred_at, customer, priority, details = item
    fact = Fact(event_id, type_, datetime.fromisoformat(occurred_at), customer, priority, details)
    return index, RawEvent(source=source, raw=text), ticket_id, fact
