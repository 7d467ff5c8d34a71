"""The credit ledger as stored: its entries, and the months closed with a frozen statement.

Entries are appended with the batch that posted them (``projections.ledger`` computes them);
a closed month keeps the statement it was closed with, so that later corrections post into
open months instead of changing what a customer was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slaclock.projections.event_pages import EventPages, lock_writers
from slaclock.projections.event_store import EventStore
from slaclock.projections.ledger import LedgerEntry
from slaclock.projections.tables import INSERT_LEDGER, LEDGER_COLUMNS


class LedgerBook:
    """Reads of the ledger and of the closed months, and closing a month."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def entries(
        self, posted_month: str | None = None, customer: str | None = None
    ) -> list[LedgerEntry]:
        where, params = ["1 = 1"], []
        if posted_month is not None:
            where.append("posted_month = ?")
            params.append(posted_month)
        if customer is not None:
            where.append("customer_id = ?")
            params.append(customer)
        rows = self.store.query(
            f"SELECT {LEDGER_COLUMNS} FROM {{p}}sla_ledger WHERE {' AND '.join(where)}"
            " ORDER BY posted_month, breached_at, entry_id",
            params,
        )
        return [LedgerEntry.from_row(row) for row in rows]

    def open_credits(self, ticket_ids: Sequence[str]) -> dict[str, dict[tuple[str, int], Any]]:
        """Per ticket, its credit entries not yet reversed, by (metric, breached_at)."""
        found: dict[str, dict[tuple[str, int], Any]] = {}
        for start in range(0, len(ticket_ids), 500):
            chunk = list(ticket_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT {LEDGER_COLUMNS} FROM {{p}}sla_ledger l WHERE ticket_id IN ({marks})"
                " AND kind = 'credit' AND NOT EXISTS (SELECT 1 FROM {p}sla_ledger r"
                " WHERE r.refers_to = l.entry_id)",
                chunk,
            )
            for row in rows:
                entry = LedgerEntry.from_row(row)
                found.setdefault(entry.ticket_id, {})[(entry.metric, entry.breached_at)] = entry
        return found

    def standing_objectives(self) -> list[LedgerEntry]:
        """Objective credits not yet reversed (``projections.objective_ledger``)."""
        rows = self.store.query(
            f"SELECT {LEDGER_COLUMNS} FROM {{p}}sla_ledger l WHERE kind = 'objective'"
            " AND NOT EXISTS (SELECT 1 FROM {p}sla_ledger r WHERE r.refers_to = l.entry_id)"
            " ORDER BY entry_id"
        )
        return [LedgerEntry.from_row(row) for row in rows]

    def count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) AS n FROM {p}sla_ledger")[0]["n"])

    def post(self, entries: Sequence[LedgerEntry]) -> None:
        """Append entries posted outside an ingest batch (``ledger close``)."""
        if not entries:
            return
        with self.store.write() as cursor:
            cursor.executemany(
                self.store.dialect.sql(INSERT_LEDGER), [entry.row() for entry in entries]
            )

    def closed_months(self) -> set[str]:
        return {row["month"] for row in self.store.query("SELECT month FROM {p}sla_closed_months")}

    def closed_statement(self, month: str) -> tuple[str, int] | None:
        """(frozen statement JSON, closed_at) of a closed month."""
        rows = self.store.query(
            "SELECT statement, closed_at FROM {p}sla_closed_months WHERE month = ?", [month]
        )
        return (rows[0]["statement"], rows[0]["closed_at"]) if rows else None

    def close_month(self, month: str, freeze: Callable[[], str], closed_at: int) -> bool:
        """Freeze ``month``'s statement, ``freeze()`` (its JSON); False when it was already
        closed. The transaction holds the writers' lock from before the statement is
        computed to the close's commit: every batch stored before it is in the statement,
        and every batch stored after it sees the month closed (``Batch.write`` reads the
        closed months under the same lock and posts into the first open month), so no entry
        posts into a closed month that no statement shows."""
        sql = self.store.dialect.sql
        with self.store.write() as cursor:
            lock_writers(cursor, self.store, EventPages(self.store))
            cursor.execute(sql("SELECT 1 FROM {p}sla_closed_months WHERE month = ?"), [month])
            if cursor.fetchall():
                return False
            statement = freeze()  # read through other connections: what was committed
            cursor.execute(
                sql("INSERT INTO {p}sla_closed_months VALUES (?, ?, ?)"),
                [month, closed_at, statement],
            )
        return True
