"""Objectives: a share of clocks met per month, and the tiered credit when it falls short.

"95 % of P1/P2 responses within target each month; below 95 % the customer gets 5 % of the
fee back, below 90 % 10 %." An :class:`Objective` is one such promise of a plan; given a
month's counts of met and breached clocks (or cycles) it answers with an :class:`Assessment`.
Shares are compared exactly (``met x 100 >= target x (met + breached)``), never as rounded
floats. Rules: docs/configuration.md (objectives) and docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from slaclock.domain.money import money

OBJECTIVE_METRICS: tuple[str, ...] = ("response", "intervention", "resolution", "next_reply")
"""The metrics an objective may count (ownership is internal: an OLA, never a credit)."""

_NO_CREDIT = Decimal(0)


@dataclass(frozen=True)
class CreditTier:
    """Below ``below`` percent attainment the credit is ``credit`` percent of the fee."""

    below: Decimal
    credit: Decimal


@dataclass(frozen=True)
class Objective:
    """``target`` percent of the ``metric``'s outcomes of ``priorities`` (None: every
    priority) met each month; fewer than ``minimum`` outcomes are not assessed."""

    metric: str
    priorities: tuple[int, ...] | None
    target: Decimal
    minimum: int = 1
    tiers: tuple[CreditTier, ...] = ()

    def counts(self, metric: str, priority: int | None) -> bool:
        """Whether an outcome of ``metric`` decided under ``priority`` counts here."""
        if metric != self.metric:
            return False
        return self.priorities is None or priority in self.priorities

    def assess(self, met: int, breached: int, monthly_fee: Decimal) -> Assessment:
        """The month's verdict on ``met`` and ``breached`` outcomes for a contract's fee."""
        decided = met + breached
        if decided < self.minimum or decided == 0:
            return Assessment(self, met, breached, False, False, None, Decimal("0.00"))
        achieved = met * 100 >= self.target * decided
        owed = [tier.credit for tier in self.tiers if tier.below * decided > met * 100]
        credit = max(owed, default=_NO_CREDIT)
        return Assessment(
            self, met, breached, True, achieved, credit, money(credit / 100 * monthly_fee)
        )

    @property
    def order(self) -> tuple[str, bool, tuple[int, ...]]:
        """How reports list objectives: by metric, then priorities (every priority first)."""
        return (self.metric, self.priorities is not None, self.priorities or ())


@dataclass(frozen=True)
class Assessment:
    """One objective's month: counts, whether assessed and achieved, the credit owed."""

    objective: Objective
    met: int
    breached: int
    assessed: bool
    achieved: bool
    credit: Decimal | None
    """Percent of the fee (None when not assessed)."""
    amount: Decimal

    @property
    def attainment(self) -> float | None:
        """met / (met + breached) to 4 decimals, None when not assessed."""
        return attainment(self.met, self.breached) if self.assessed else None


def attainment(met: int, breached: int) -> float | None:
    """The share of outcomes met, to 4 decimals (None when none was decided): the one
    definition the compliance report and objectives share."""
    decided = met + breached
    return round(met / decided, 4) if decided else None


def percent_text(percent: Decimal) -> str:
    """A percentage as its shortest decimal string: ``"12.5%"``, ``"0%"``, ``"95%"``."""
    text = format(percent.normalize(), "f")
    return f"{text}%"
