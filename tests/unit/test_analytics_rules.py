"""The analytics SQL keeps the domain's rules: a clock row's status, breach instant and
outcome month as ``ClockSnapshot.view`` and the reports' month (in the plan calendar's
zone) give them, for any row (hypothesis, on SQLite)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.clocks import ClockSnapshot
from slaclock.projections.analytics_sql import plain
from slaclock.projections.analytics_terms import write_terms
from slaclock.projections.queries import MONTH_MARGIN, month_bounds
from slaclock.projections.tables import ANALYTICS_TABLES, TABLES, Dialect
from tests.helpers import contract_policy

SQLITE = Dialect("sqlite")
POLICY = contract_policy()
CONTRACT = next(c for c in POLICY.contracts if c.plan.calendar.zone.key != "UTC")
ZONE = CONTRACT.plan.calendar.zone
BASE = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())  # DST starts in the span
SPAN = 400 * 86400


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    for statement in (*TABLES, *ANALYTICS_TABLES):
        db.execute(SQLITE.sql(statement))
    write_terms(db.cursor(), SQLITE, POLICY, "test")
    db.execute(
        "INSERT INTO sla_tickets (ticket_id, customer_id, contract, plan, priority, created_at,"
        " last_fact_at, last_recorded_at, pending) VALUES ('T', ?, ?, ?, 1, 0, 0, 0, 0)",
        [CONTRACT.customer, CONTRACT.key, CONTRACT.plan.name],
    )
    return db


DB = _database()


def _month_start(index: int) -> int:
    return int(datetime(2025 + (2 + index) // 12, (2 + index) % 12 + 1, 1, tzinfo=ZONE).timestamp())


@st.composite
def _instant(draw: st.DrawFn, after: int) -> int:
    """An instant after ``after``: anywhere, or within two hours of a month's start."""
    near = draw(st.integers(0, 25).map(_month_start)) + draw(st.integers(-7200, 7200))
    return draw(st.sampled_from([after + draw(st.integers(0, SPAN)), max(after, near)]))


@st.composite
def clocks(draw: st.DrawFn) -> tuple[ClockSnapshot, int]:
    started = draw(_instant(BASE))
    stopped = draw(st.none() | _instant(started))
    breach = draw(st.none() | _instant(started))
    if stopped is not None and breach is not None and breach >= stopped:
        breach = None  # a breach is recorded only before the stop
    paused = stopped is None and draw(st.booleans())
    clock = ClockSnapshot(
        metric="response", priority=1, target_seconds=3600, calendar="x", started_at=started,
        deadline=breach, stopped_at=stopped, breach_at=breach, accrued=0,
        running_since=None, paused=paused,
    )  # fmt: skip
    return clock, draw(_instant(BASE))


@settings(max_examples=300, deadline=None)
@given(clocks())
def test_status_breach_and_month_are_the_domains(case: tuple[ClockSnapshot, int]) -> None:
    clock, now = case
    DB.execute("DELETE FROM sla_clocks")
    DB.execute(
        "INSERT INTO sla_clocks (ticket_id, metric, customer_id, contract, priority,"
        " target_seconds, calendar, started_at, deadline, stopped_at, breach_at, accrued,"
        " running_since, paused) VALUES ('T', 'response', ?, ?, 1, 3600, 'x', ?, ?, ?, ?, 0,"
        " NULL, ?)",
        [CONTRACT.customer, CONTRACT.key, clock.started_at, clock.deadline, clock.stopped_at,
         clock.breach_at, int(clock.paused)],
    )  # fmt: skip
    row = DB.execute(plain("clocks", SQLITE, str(now))).fetchone()
    view = clock.view(now, lambda a, b: 0)
    assert row["status"] == view.status
    assert row["breached_at"] == view.breached_at
    decided = view.breached_at if view.status == "breached" else view.stopped_at
    at = decided if view.status in ("met", "breached") else now
    month = datetime.fromtimestamp(at, UTC).astimezone(ZONE).strftime("%Y-%m-01")
    assert row["period_month"] == month
    # an export's window of that month (in UTC, widened by the zones' offsets) keeps the row
    start, end = month_bounds(month[:7], ZoneInfo("UTC"))
    window = (start - MONTH_MARGIN, end + MONTH_MARGIN)
    windowed = DB.execute(plain("clocks", SQLITE, str(now), window)).fetchone()
    assert windowed is not None and dict(windowed) == dict(row)
