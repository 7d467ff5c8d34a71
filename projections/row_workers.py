"""Read-model changes of many tickets computed in worker processes, a shard of tickets each.

Reading a ticket's events, folding them and evaluating its clocks is most of a recompute's
cost and needs nothing but the event store and the policy, so worker processes each open
the store themselves and compute the rows of one shard (a list of ticket ids) at a time,
compared with the live rows read with the events (``projections.row_diff``). Changes come
back ``marshal``-ed (far cheaper to load than pickled tuples); the caller writes them, in
shard order, while the workers compute the next shards (at most two per worker are in
flight, which bounds memory). A few shards are computed in-process. Resolved tickets are
evaluated from the clock inputs their rows keep (``projections.clock_inputs``: about 25 µs
less per ticket than folding their events).

Workers are forked when that is safe (a platform with ``fork`` and a process running one
thread): they start at once with the caller's modules and policy. Otherwise they are
spawned, import the code and build their own policy with the picklable ``policy_factory``
(about half a second of CPU each). A forked worker never touches the caller's connection:
it freezes what it inherited (``gc.freeze``) so that no collection closes it underneath
the caller.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from slaclock.domain.policy import Policy
from slaclock.projections import clock_inputs
from slaclock.projections.batch import Batch
from slaclock.projections.derived_tables import rows_where
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.row_diff import Key, RowDiff, diff, live_rows
from slaclock.projections.runtime import tune_gc
from slaclock.projections.store import TicketStore
from slaclock.projections.ticket_rows import TERMS

SHARD = 1000  # tickets per shard: one read of their events, one marshal'ed answer
WORKERS_FROM = 4  # shards: fewer are computed in-process

PolicyFactory = Callable[[], Policy]


def worker_count(tickets: int, workers: int | None = None, shard: int = SHARD) -> int:
    """How many worker processes ``tickets`` tickets deserve (0: compute in-process);
    ``workers`` caps them (default: one per core)."""
    shards = -(-tickets // shard)
    if shards < WORKERS_FROM and workers is None:
        return 0
    wanted = workers if workers is not None else (os.cpu_count() or 1)
    return max(0, min(wanted, shards))


def compute_changes(
    store: TicketStore,
    policy_factory: PolicyFactory | None,
    ticket_ids: Sequence[str],
    workers: int = 0,
    shard: int = SHARD,
) -> Iterator[tuple[int, RowDiff]]:
    """(tickets, how their rows change) for ``ticket_ids``, ``shard`` tickets at a time, in
    order. ``workers`` processes compute them (0, or no ``policy_factory``: this process,
    under ``store.policy``)."""
    shards = [list(ticket_ids[i : i + shard]) for i in range(0, len(ticket_ids), shard)]
    if workers <= 0 or policy_factory is None:
        events = EventPages(store)
        for ids in shards:
            yield len(ids), shard_changes(store, events, ids)
        return
    method = start_method()
    context = multiprocessing.get_context(method)
    policy: Policy | PolicyFactory = store.policy if method == "fork" else policy_factory
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start,
        initargs=(store.url, policy, context.Lock()),
    ) as pool:
        waiting: deque[tuple[int, Future[bytes]]] = deque()
        pending = iter(shards)
        for ids in pending:
            waiting.append((len(ids), pool.submit(_changes, ids)))
            if len(waiting) >= 2 * workers:
                break
        while waiting:
            size, future = waiting.popleft()
            answer = future.result()
            ids = next(pending, None)
            if ids is not None:
                waiting.append((len(ids), pool.submit(_changes, ids)))
            tickets, clocks, work_logs, cycles, gone, moved = marshal.loads(answer)
            rows = Batch(tickets=tickets, clocks=clocks, work_logs=work_logs, cycles=cycles)
            yield size, RowDiff(rows, gone, {table: set(names) for table, names in moved})


def start_method() -> str:
    """``fork`` where it is safe (forking a process that runs other threads can copy a lock
    one of them holds), else ``spawn``."""
    forkable = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forkable and threading.active_count() == 1 else "spawn"


# ------------------------------------------------------------------ in the worker
_worker: dict[str, Any] = {}


def _start(url: str, policy: Policy | PolicyFactory, opening: Any) -> None:
    """``policy``: the caller's (forked) or how to build it (spawned). ``opening``: a lock
    the workers take one at a time to open the store (PostgreSQL answers "tuple
    concurrently updated" when two connections run the schema's ``CREATE ... IF NOT
    EXISTS`` at once)."""
    gc.freeze()  # forked: what the caller had (its store too) is never collected here
    tune_gc()  # a shard allocates a million short-lived objects: see the function
    with opening:
        store = TicketStore(url, policy if isinstance(policy, Policy) else policy())
    _worker["store"], _worker["events"] = store, EventPages(store)


def _changes(ticket_ids: list[str]) -> bytes:
    changes = shard_changes(_worker["store"], _worker["events"], ticket_ids)
    rows, moved = changes.rows, [(table, list(names)) for table, names in changes.moved.items()]
    return marshal.dumps(
        (rows.tickets, rows.clocks, rows.work_logs, rows.cycles, changes.gone, moved)
    )


def shard_changes(store: TicketStore, events: EventPages, ticket_ids: Sequence[str]) -> RowDiff:
    """How the rows of ``ticket_ids`` change: the tickets evaluated under ``store.policy``
    and their rows compared with the live ones, all read in one snapshot. Resolved tickets
    are evaluated from the clock inputs their rows keep (``TicketStore.rows_kept``); the
    others are folded from their events."""
    with snapshot(store) as cursor:
        kept = clock_inputs.read(cursor, store.dialect, ticket_ids)
        folded = [ticket_id for ticket_id in ticket_ids if ticket_id not in kept]
        tickets = events.load(cursor, [events.key_of(ticket_id) for ticket_id in folded])
        live = live_rows(cursor, store, folded, tickets)
        live_clocks = {
            table: rows_where(cursor, store.dialect, table, "ticket_id", [*kept])
            for table in ("sla_clocks", "sla_cycles")
        }
    changes = diff(store.rows_for(tickets), live)
    if kept:
        changes.add(_kept_changes(store, kept, live_clocks))
    return changes


def _kept_changes(
    store: TicketStore, kept: dict[str, clock_inputs.Kept], live_clocks: dict[str, list[Key]]
) -> RowDiff:
    """How the rows of tickets evaluated from their kept clock inputs change: their clock
    and cycle rows compared with ``live_clocks`` (by table); a ticket row comes back only
    if its terms moved (``TicketStore.rows_kept``), so those are the columns it changes."""
    rows = store.rows_kept(kept)
    changes = diff(rows, live_clocks)
    if rows.tickets:
        changes.moved["sla_tickets"] = set(TERMS)
    return changes
