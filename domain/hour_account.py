"""Support-hour accounts: work logged on tickets, billed in increments against a monthly credit.

The seed contracts describe the account like a current account: every month a fixed hour
credit is paid in, unused credit accumulates, and an agreed overdraft lets a busy month use
more, to be paid back by quieter months. Effort is billed in increments (15 or 10 minutes, a
started increment counts in full); an on-site visit bills at least its first full hour. When a
ticket's response clock breached, a plan may waive the billable effort of that ticket ("you pay
nothing for that ticket's time").

Everything is integer minutes, so balances are exact and a statement can be recomputed from
the same work logs at any time with the same result. The functions here are pure: the caller
selects the logs (one customer, the months asked for) and decides which logs are waived, since
that depends on the ticket's response clock, which this module does not see.

Two rules go beyond the wording of the contracts and are choices of this module:

- **Beyond the overdraft limit.** Work is never refused or dropped: the month records every
  line and bills it. The part of the balance below ``-overdraft_limit`` is reported as
  ``over_limit_minutes``; it is invoiced at the hourly rate with that month's statement and
  therefore *not* carried forward (the next month opens at exactly ``-overdraft_limit``),
  so the same minutes are never both invoiced and repaid from later credit.
- **No rollover.** With ``rollover=False`` a positive closing balance lapses
  (``lapsed_minutes``) and the next month opens at zero; a negative one is still carried,
  because an overdraft is paid back by later months either way.

So for every month ``carried_forward = closing + over_limit - lapsed`` and the next month's
opening balance is this month's ``carried_forward``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slaclock.domain.facts import WORK_LOGGED

__all__ = ["WORK_LOGGED", "AccountTerms", "BillingRule", "Statement", "WorkLog", "month_statements"]

Mode = Literal["on_site", "remote"]

"""The event type that carries one ``WorkLog`` (see docs/hour-accounts.md)."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _is_int(value: object) -> bool:
    """``bool`` is an ``int`` subclass; a flag passed as a number of minutes is a bug."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class BillingRule:
    """How worked minutes become billed minutes, as the plan's contract states it.

    ``increment_minutes``: the billing step; a started step counts as a whole one (so 1 minute
    bills one increment), and 0 minutes bill 0. ``on_site_minimum_minutes``: an on-site visit
    bills at least this much ("the first full hour"), and beyond it the rounded-up time. With
    the minimum a multiple of the increment (60 and 15, 60 and 10) this is the same as "the
    first hour, then increments for every further minute". ``waive_on_response_breach``: the
    plan's credit rule is that a ticket whose response clock breached is not billed.
    """

    increment_minutes: int
    on_site_minimum_minutes: int
    waive_on_response_breach: bool

    def __post_init__(self) -> None:
        if not _is_int(self.increment_minutes) or self.increment_minutes <= 0:
            raise ValueError(f"increment_minutes: {self.increment_minutes!r} is not an int > 0")
        if not _is_int(self.on_site_minimum_minutes) or self.on_site_minimum_minutes < 0:
            raise ValueError(
                f"on_site_minimum_minutes: {self.on_site_minimum_minutes!r} is not an int >= 0"
            )

    def billable_minutes(self, minutes: int, on_site: bool) -> int:
        """Minutes to bill for ``minutes`` worked: rounded up to the increment, then the
        on-site minimum (on-site only). 0 minutes bill 0, on site too: nothing happened."""
        if not _is_int(minutes) or minutes < 0:
            raise ValueError(f"minutes: {minutes!r} is not an int >= 0")
        if minutes == 0:
            return 0
        step = self.increment_minutes
        rounded = -(-minutes // step) * step
        return max(self.on_site_minimum_minutes, rounded) if on_site else rounded


@dataclass(frozen=True)
class AccountTerms:
    """A customer's hour account as agreed in the contract.

    ``monthly_credit_minutes`` is paid in at the start of every month. The balance may go down
    to ``-overdraft_limit_minutes``; below that the excess is invoiced (see the module doc).
    ``opening_balance_minutes`` is the balance at the start of the first month asked for (a
    carried balance from before slaclock, or from an earlier closed statement); it may be
    negative. ``rollover``: whether unused credit accumulates (the seed contract: it does).
    """

    monthly_credit_minutes: int
    overdraft_limit_minutes: int
    opening_balance_minutes: int = 0
    rollover: bool = True

    def __post_init__(self) -> None:
        if not _is_int(self.monthly_credit_minutes) or self.monthly_credit_minutes < 0:
            raise ValueError(
                f"monthly_credit_minutes: {self.monthly_credit_minutes!r} is not an int >= 0"
            )
        if not _is_int(self.overdraft_limit_minutes) or self.overdraft_limit_minutes < 0:
            raise ValueError(
                f"overdraft_limit_minutes: {self.overdraft_limit_minutes!r} is not an int >= 0"
            )
        if not _is_int(self.opening_balance_minutes):
            raise ValueError(
                f"opening_balance_minutes: {self.opening_balance_minutes!r} is not an int"
            )


@dataclass(frozen=True)
class WorkLog:
    """One ``ticket.work_logged`` event: ``minutes`` of work on ``ticket_id`` by ``actor``.

    ``waived_reason`` is set by the caller when the billing rule waives this log (the
    ticket's response clock breached); the text is shown on the statement line.
    """

    ticket_id: str
    event_id: str
    occurred_at: datetime
    minutes: int
    on_site: bool
    actor: str
    waived_reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("ticket_id", "event_id", "actor"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: {value!r} is not a non-empty string")
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at: {self.occurred_at.isoformat()} has no UTC offset")
        if not _is_int(self.minutes) or self.minutes <= 0:
            raise ValueError(f"minutes: {self.minutes!r} is not an int > 0")
        if self.waived_reason is not None and (
            not isinstance(self.waived_reason, str) or not self.waived_reason.strip()
        ):
            raise ValueError("waived_reason: empty; use None for a billed log")

    @property
    def mode(self) -> Mode:
        return "on_site" if self.on_site else "remote"


@dataclass(frozen=True)
class StatementLine:
    """One work log as the customer sees it: who helped, when, where, how long, what it cost.

    ``billable_minutes`` is what the rule makes of the worked time; ``billed_minutes`` is what
    the account is charged (0 when waived) and ``waived_minutes`` what was waived, so
    ``billed + waived == billable`` on every line.
    """

    event_id: str
    occurred_at: datetime
    ticket_id: str
    actor: str
    on_site: bool
    worked_minutes: int
    billable_minutes: int
    billed_minutes: int
    waived_minutes: int
    waived_reason: str | None

    @property
    def date(self) -> date:
        """The local date in the statement's zone (``occurred_at`` is already in it)."""
        return self.occurred_at.date()

    @property
    def mode(self) -> Mode:
        return "on_site" if self.on_site else "remote"

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "date": self.date.isoformat(),
            "ticket_id": self.ticket_id,
            "actor": self.actor,
            "mode": self.mode,
            "worked_minutes": self.worked_minutes,
            "billable_minutes": self.billable_minutes,
            "billed_minutes": self.billed_minutes,
            "waived_minutes": self.waived_minutes,
            "waived_reason": self.waived_reason,
        }


@dataclass(frozen=True)
class Statement:
    """One month of one hour account (``Stundenkontoauszug``).

    ``closing_balance_minutes = opening + credit - billed``: the balance after this month's
    work, which may lie below the overdraft limit. ``over_limit_minutes`` is how far it does
    (invoiced, not carried); ``lapsed_minutes`` is unused credit that does not roll over;
    ``carried_forward_minutes`` is what the next month opens with.
    ``overdraft_repaid_minutes`` is how much of a negative opening balance the month paid
    back, net: the amount by which the debt shrank (0 when it grew), because the contract
    pays an overdraft back "by lower use in the following months", not by the credit alone.
    """

    month: str
    timezone: str
    opening_balance_minutes: int
    credit_minutes: int
    lines: tuple[StatementLine, ...]
    worked_minutes: int
    billed_minutes: int
    waived_minutes: int
    closing_balance_minutes: int
    overdraft_limit_minutes: int
    over_limit_minutes: int
    overdraft_repaid_minutes: int
    lapsed_minutes: int
    carried_forward_minutes: int

    def as_dict(self) -> dict[str, Any]:
        """The statement as JSON-ready data (the shape docs/hour-accounts.md specifies)."""
        return {
            "month": self.month,
            "timezone": self.timezone,
            "opening_balance_minutes": self.opening_balance_minutes,
            "credit_minutes": self.credit_minutes,
            "lines": [line.as_dict() for line in self.lines],
            "worked_minutes": self.worked_minutes,
            "billed_minutes": self.billed_minutes,
            "waived_minutes": self.waived_minutes,
            "closing_balance_minutes": self.closing_balance_minutes,
            "overdraft_limit_minutes": self.overdraft_limit_minutes,
            "over_limit_minutes": self.over_limit_minutes,
            "overdraft_repaid_minutes": self.overdraft_repaid_minutes,
            "lapsed_minutes": self.lapsed_minutes,
            "carried_forward_minutes": self.carried_forward_minutes,
        }


def month_of(instant: datetime, zone: ZoneInfo) -> str:
    """``YYYY-MM`` of an aware instant read in ``zone``: the contract's months are local."""
    local = instant.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def _check_months(months: Sequence[str]) -> None:
    """Months must be ``YYYY-MM`` and consecutive, so that each opening balance is the
    previous month's carry-forward and no month's credit is skipped."""
    if not months:
        raise ValueError("months: empty")
    previous: tuple[int, int] | None = None
    for text in months:
        match = _MONTH.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"months: {text!r} is not YYYY-MM")
        current = (int(match.group(1)), int(match.group(2)))
        if previous is not None:
            year, month = previous
            expected = (year + 1, 1) if month == 12 else (year, month + 1)
            if current != expected:
                raise ValueError(
                    f"months: {text!r} does not follow {previous[0]:04d}-{previous[1]:02d}"
                )
        previous = current


def _line(log: WorkLog, rule: BillingRule, zone: ZoneInfo) -> StatementLine:
    billable = rule.billable_minutes(log.minutes, log.on_site)
    if log.waived_reason is not None and not rule.waive_on_response_breach:
        # Refuse rather than guess: silently billing a waived log, or silently waiving under a
        # rule that does not waive, would both put a wrong number on an invoice.
        raise ValueError(
            f"{log.event_id}: waived ({log.waived_reason}) but the billing rule does not waive"
        )
    waived = billable if log.waived_reason is not None else 0
    return StatementLine(
        event_id=log.event_id,
        occurred_at=log.occurred_at.astimezone(zone),
        ticket_id=log.ticket_id,
        actor=log.actor,
        on_site=log.on_site,
        worked_minutes=log.minutes,
        billable_minutes=billable,
        billed_minutes=billable - waived,
        waived_minutes=waived,
        waived_reason=log.waived_reason,
    )


def month_statements(
    terms: AccountTerms,
    rule: BillingRule,
    logs: Iterable[WorkLog],
    months: Sequence[str],
    zone: ZoneInfo,
) -> list[Statement]:
    """One statement per month of ``months`` (consecutive ``YYYY-MM``), in that order.

    Each log belongs to the month of its ``occurred_at`` in ``zone``; lines are ordered by
    ``(occurred_at, event_id)``, so the result depends only on the set of logs, never on the
    order they are given in (events arrive in any order). Raises ``ValueError`` on a duplicate
    ``event_id`` (deduplication is the caller's job; counting a redelivery twice would bill
    the customer twice) and on a log outside ``months`` (it would silently miss every
    balance; the caller selects the logs of the months it asks for).
    """
    _check_months(months)
    by_month: dict[str, list[WorkLog]] = {month: [] for month in months}
    seen: set[str] = set()
    for log in logs:
        if log.event_id in seen:
            raise ValueError(f"{log.event_id}: duplicate event_id")
        seen.add(log.event_id)
        month = month_of(log.occurred_at, zone)
        if month not in by_month:
            raise ValueError(
                f"{log.event_id}: occurred in {month} ({zone.key}), "
                f"outside {months[0]}..{months[-1]}"
            )
        by_month[month].append(log)

    statements: list[Statement] = []
    opening = terms.opening_balance_minutes
    limit = terms.overdraft_limit_minutes
    for month in months:
        ordered = sorted(by_month[month], key=lambda log: (log.occurred_at, log.event_id))
        lines = tuple(_line(log, rule, zone) for log in ordered)
        billed = sum(line.billed_minutes for line in lines)
        credit = terms.monthly_credit_minutes
        closing = opening + credit - billed
        over_limit = max(0, -limit - closing)
        lapsed = 0 if terms.rollover else max(0, closing)
        debt = max(0, -opening)
        repaid = min(debt, max(0, closing - opening))
        carried = closing + over_limit - lapsed
        statements.append(
            Statement(
                month=month,
                timezone=zone.key,
                opening_balance_minutes=opening,
                credit_minutes=credit,
                lines=lines,
                worked_minutes=sum(line.worked_minutes for line in lines),
                billed_minutes=billed,
                waived_minutes=sum(line.waived_minutes for line in lines),
                closing_balance_minutes=closing,
                overdraft_limit_minutes=limit,
                over_limit_minutes=over_limit,
                overdraft_repaid_minutes=repaid,
                lapsed_minutes=lapsed,
                carried_forward_minutes=carried,
            )
        )
        opening = carried
    return statements
