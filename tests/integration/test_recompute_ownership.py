"""Only the holder of the recompute lease touches a recompute's shadow tables: a recompute
that stalled beyond its lease and then failed leaves the new owner's tables alone (SQLite
and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from slaclock.config import parse_policy
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.rebuild import new_table_statements
from slaclock.projections.recompute import SHADOW, Shadow, recompute_beside
from slaclock.projections.recompute_lease import acquire
from slaclock.projections.row_diff import gone_table
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS, Cli


def _shadow_tables(store: TicketStore) -> int:
    if store.dialect.name == "postgres":
        rows = store.query(
            "SELECT COUNT(*) AS n FROM information_schema.tables"
            " WHERE table_schema = ? AND table_name LIKE ?",
            [store.datastore.schema, "sla_%_next"],
        )
    else:
        rows = store.query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE ?", ["sla_%_next"]
        )
    return int(rows[0]["n"])


def test_a_recompute_that_lost_its_lease_leaves_the_new_owners_shadow_tables(
    store_url: str, tmp_path: Path
) -> None:
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    loaded = parse_policy(CONFIG.read_text(), str(CONFIG))
    store = TicketStore(store_url, loaded.policy)
    seconds = 0.3
    try:
        assert acquire(store, "first", "v2", seconds) is None
        with snapshot(store) as cursor:
            mark = EventPages(store).last_position(cursor)

        made: list[int] = []

        def stall_then_fail(done: int, total: int) -> None:
            time.sleep(seconds + 0.2)  # the first owner's lease expires ...
            assert acquire(store, "second", "v2", 60) is None  # ... and is taken over
            with store.write() as cursor:  # the new owner's run makes its shadow tables
                for table in ("sla_tickets", "sla_clocks", "sla_cycles", "sla_work_logs"):
                    cursor.execute(store.dialect.sql(f"DROP TABLE IF EXISTS {{p}}{table}{SHADOW}"))
                cursor.execute(store.dialect.sql(f"DROP TABLE IF EXISTS {{p}}sla_gone{SHADOW}"))
                for statement in [*new_table_statements(store, SHADOW)[0], gone_table(SHADOW)]:
                    cursor.execute(store.dialect.sql(statement))
            made.append(_shadow_tables(store))
            raise RuntimeError("the first recompute fails after all")

        first = Shadow("first", "v2", seconds, progress=stall_then_fail, shard=2)
        with pytest.raises(RuntimeError, match="fails after all"):
            recompute_beside(store, set(store.ticket_ids()), mark, first, lambda c, n: None)
        assert made and made[0] >= 4  # tickets, clocks, work logs, gone (and cycles)
        assert _shadow_tables(store) == made[0]  # the second owner's tables are still there
    finally:
        store.close()
