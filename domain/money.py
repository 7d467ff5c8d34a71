"""Money as invoices show it: exact decimals, rounded half-up to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(amount: Decimal) -> Decimal:
    """Round an amount half-up to cents, the way credits are invoiced."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
