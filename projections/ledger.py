"""The credit ledger: append-only entries posted when a breach becomes known.

A breach becomes known when its breach alert is raised (the watermark passed the deadline);
then a ``credit`` entry is posted for a credited metric. If late facts withdraw the breach, a
``reversal`` entry with the opposite amount is posted, referring to the credit. Entries are
never updated or deleted. A closed month's statement is frozen: an entry that concerns a
closed month is posted into the first open month after it, as an *adjustment*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from slaclock.domain.alerts import BREACH, Alert
from slaclock.domain.clocks import TicketSnapshot
from slaclock.domain.policy import Policy


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    entry_id: str
    posted_at: int
    customer_id: str
    contract: str
    ticket_id: str
    metric: str
    breached_at: int
    month: str
    posted_month: str
    kind: str
    amount: Decimal
    refers_to: str | None
    policy_version: str | None
    attainment: str | None = None
    """For an objective's credit (``kind`` ``objective``): the attainment it was computed
    from, e.g. ``"0.6"``; None for per-breach entries."""

    @property
    def adjustment(self) -> bool:
        return self.posted_month != self.month

    def row(self) -> tuple:
        return (
            self.entry_id, self.posted_at, self.customer_id, self.contract, self.ticket_id,
            self.metric, self.breached_at, self.month, self.posted_month, self.kind,
            str(self.amount), self.refers_to, self.policy_version, self.attainment,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: Mapping) -> LedgerEntry:
        return cls(
            entry_id=row["entry_id"],
            posted_at=row["posted_at"],
            customer_id=row["customer_id"],
            contract=row["contract"],
            ticket_id=row["ticket_id"],
            metric=row["metric"],
            breached_at=row["breached_at"],
            month=row["month"],
            posted_month=row["posted_month"],
            kind=row["kind"],
            amount=Decimal(row["amount"]),
            refers_to=row["refers_to"],
            policy_version=row["policy_version"],
            attainment=row["attainment"],
        )


def month_of(instant: int, snapshot: TicketSnapshot) -> str:
    """The month of an instant in the timezone of the ticket's plan calendar."""
    assert snapshot.contract is not None
    zone = snapshot.contract.plan.calendar.zone
    return datetime.fromtimestamp(instant, UTC).astimezone(zone).strftime("%Y-%m")


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def first_open(month: str, closed: set[str]) -> str:
    """``month`` itself if open, else the first month after it that is not closed."""
    while month in closed:
        month = next_month(month)
    return month


def post(
    ticket_id: str,
    version: int,
    snapshot: TicketSnapshot | None,
    raised: Iterable[Alert],
    withdrawn: Iterable[Alert],
    open_credits: Mapping[tuple[str, int], LedgerEntry],
    closed: set[str],
    posted_at: int,
    policy_version: str | None,
) -> list[LedgerEntry]:
    """Ledger entries for one ticket's raised and withdrawn breach alerts.

    ``open_credits`` maps (metric, breached_at) to the ticket's credits not yet reversed;
    ``version`` (the ticket aggregate's version) makes entry ids unique and deterministic.
    """
    return [
        *_reversals(ticket_id, version, withdrawn, open_credits, closed, posted_at, policy_version),
        *_credits(ticket_id, version, snapshot, raised, closed, posted_at, policy_version),
    ]


def _reversals(
    ticket_id: str,
    version: int,
    withdrawn: Iterable[Alert],
    open_credits: Mapping[tuple[str, int], LedgerEntry],
    closed: set[str],
    posted_at: int,
    policy_version: str | None,
) -> list[LedgerEntry]:
    """A reversal of each withdrawn breach's credit not yet reversed."""
    entries: list[LedgerEntry] = []
    for alert in withdrawn:
        credit = open_credits.get((alert.metric, alert.at))
        if alert.kind != BREACH or credit is None:
            continue
        entries.append(
            LedgerEntry(
                entry_id=f"{ticket_id}:{alert.metric}:{alert.at}:reversal:{version}",
                posted_at=posted_at,
                customer_id=credit.customer_id,
                contract=credit.contract,
                ticket_id=ticket_id,
                metric=alert.metric,
                breached_at=alert.at,
                month=credit.month,
                posted_month=first_open(credit.month, closed),
                kind="reversal",
                amount=-credit.amount,
                refers_to=credit.entry_id,
                policy_version=policy_version,
            )
        )
    return entries


def _credits(
    ticket_id: str,
    version: int,
    snapshot: TicketSnapshot | None,
    raised: Iterable[Alert],
    closed: set[str],
    posted_at: int,
    policy_version: str | None,
) -> list[LedgerEntry]:
    """A credit for each raised breach of a metric the ticket's plan credits."""
    entries: list[LedgerEntry] = []
    contract = snapshot.contract if snapshot else None
    rule = contract.plan.credits if contract else None
    for alert in raised:
        if alert.kind != BREACH or rule is None or not rule.credits(alert.metric):
            continue
        assert contract is not None and snapshot is not None
        month = month_of(alert.at, snapshot)
        entries.append(
            LedgerEntry(
                entry_id=f"{ticket_id}:{alert.metric}:{alert.at}:credit:{version}",
                posted_at=posted_at,
                customer_id=snapshot.customer_id,
                contract=contract.key,
                ticket_id=ticket_id,
                metric=alert.metric,
                breached_at=alert.at,
                month=month,
                posted_month=first_open(month, closed),
                kind="credit",
                amount=rule.amount(contract.monthly_fee),
                refers_to=None,
                policy_version=policy_version,
            )
        )
    return entries


def month_still_open(policy: Policy, month: str, now: int) -> tuple[str, datetime] | None:
    """The time zone, and the month's end there, in which ``month`` (``YYYY-MM``) has not
    yet ended at ``now`` (epoch seconds): the latest-ending of every plan's calendars (UTC
    without plans); None once it has ended in all. A month is frozen only when it is over
    everywhere a plan counts it."""
    zones = {
        calendar.zone.key: calendar.zone
        for plan in policy.plans.values()
        for calendar in (
            plan.calendar,
            *(target.calendar for row in plan.targets.values() for target in row.values()),
        )
    } or {"UTC": ZoneInfo("UTC")}
    year, number = (int(part) for part in month.split("-"))
    latest: tuple[str, datetime] | None = None
    for key, zone in sorted(zones.items()):
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
        if end.timestamp() > now and (latest is None or end > latest[1]):
            latest = (key, end)
    return latest
