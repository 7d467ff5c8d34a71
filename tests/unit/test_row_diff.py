"""A large recompute keeps only the rows that changed and the keys of the rows gone
(``projections.row_diff.diff``): what its switch writes into the live tables."""

from __future__ import annotations

from slaclock.projections.batch import Batch
from slaclock.projections.derived_tables import columns
from slaclock.projections.row_diff import diff
from slaclock.projections.ticket_rows import TERMS


def _ticket(ticket_id: str, priority: int) -> tuple:
    return (ticket_id, "acme", "acme/gold", "gold", priority, 100, 200, 300, 0, None, None)


def _clock(ticket_id: str, metric: str, deadline: int, paused: bool | int = 0) -> tuple:
    return (ticket_id, metric, "acme", "acme/gold", 2, 3600, "office", 100, deadline,
            None, None, 60, 100, paused, None, 0, None)  # fmt: skip


def _work_log(event_id: str, ticket_id: str, minutes: int) -> tuple:
    return (event_id, ticket_id, "acme", "2025-01-02T10:00:00+01:00", 100, minutes, "remote", "a")


def test_unchanged_rows_are_left_out_and_changed_ones_kept() -> None:
    live = {
        "sla_tickets": [_ticket("T-1", 2), _ticket("T-2", 2)],
        "sla_clocks": [_clock("T-1", "response", 500), _clock("T-2", "response", 500)],
        "sla_work_logs": [_work_log("w-1", "T-1", 30)],
    }
    new = Batch(
        tickets=[_ticket("T-1", 2), _ticket("T-2", 2)],
        clocks=[_clock("T-1", "response", 500), _clock("T-2", "response", 900)],
        work_logs=[_work_log("w-1", "T-1", 30)],
    )
    changes = diff(new, live)
    assert changes.rows.tickets == [] and changes.rows.work_logs == []
    assert changes.rows.clocks == [_clock("T-2", "response", 900)]
    assert changes.gone == []
    assert changes.moved == {"sla_clocks": {"deadline"}}  # what the switch sets


def test_new_rows_are_kept_and_rows_the_new_ones_lack_are_gone() -> None:
    live = {
        "sla_tickets": [_ticket("T-1", 2)],
        "sla_clocks": [_clock("T-1", "response", 500), _clock("T-1", "resolution", 900)],
        "sla_work_logs": [_work_log("w-1", "T-1", 30)],
    }
    new = Batch(
        tickets=[_ticket("T-1", 1)],
        clocks=[_clock("T-1", "response", 500), _clock("T-1", "intervention", 700)],
        work_logs=[],
    )
    changes = diff(new, live)
    assert changes.rows.tickets == [_ticket("T-1", 1)]
    assert changes.rows.clocks == [_clock("T-1", "intervention", 700)]
    assert sorted(changes.gone) == [
        ("sla_clocks", "T-1", "T-1", "resolution"),
        ("sla_work_logs", "T-1", "w-1", None),
    ]
    assert changes.moved == {"sla_tickets": {"priority"}}  # a new row moves no column


def test_a_boolean_equals_the_integer_the_database_returns() -> None:
    live = {"sla_clocks": [_clock("T-1", "response", 500, paused=1)]}
    changes = diff(Batch(clocks=[_clock("T-1", "response", 500, paused=True)]), live)
    assert changes.rows.clocks == [] and changes.gone == []


def test_the_moved_columns_of_many_shards_add_up() -> None:
    live = {"sla_clocks": [_clock("T-1", "response", 500), _clock("T-2", "response", 500)]}
    first = diff(Batch(clocks=[_clock("T-1", "response", 900)]), live)
    second = diff(Batch(clocks=[_clock("T-2", "response", 500, paused=1)]), live)
    first.add(second)
    assert first.moved == {"sla_clocks": {"deadline", "paused"}}
    assert len(first.rows.clocks) == 2


def test_the_terms_a_policy_decides_are_where_ticket_rows_have_them() -> None:
    assert columns("sla_tickets")[2:5] == TERMS  # as ticket_rows.created_ticket_row puts them
