"""The shape of ``slaclock.toml``: pydantic models that refuse unknown keys and wrong types.

Only the shape lives here; what the values mean (calendars that exist, durations, countries)
is checked by ``slaclock.config`` when it builds the domain's ``Policy``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["response", "intervention", "resolution", "next_reply"]
"""A metric with targets per priority (``targets.METRIC``)."""
AnyMetric = Literal["response", "intervention", "resolution", "next_reply", "ownership"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HolidaysConfig(_Strict):
    country: str
    subdivision: str | None = None
    categories: list[str] = []


class CalendarConfig(_Strict):
    timezone: str
    hours: dict[str, str | list[str]]
    holidays: HolidaysConfig | None = None
    closed: list[date] = []


class WithinConfig(_Strict):
    within: str
    calendar: str


class CreditsConfig(_Strict):
    metrics: list[AnyMetric] = ["response"]
    per_breach: str | float | int | None = None
    cap: str | float | int | None = None


class CreditTierConfig(_Strict):
    below: str | float | int
    credit: str | float | int


class ObjectiveConfig(_Strict):
    metric: str  # checked by slaclock.config (names the key, and why ownership cannot be)
    priorities: list[int] | None = None
    target: str | float | int
    minimum: int = 1
    credits: list[CreditTierConfig] = []


class HoursConfig(_Strict):
    increment: str
    on_site_minimum: str = "0m"
    monthly_credit: str
    overdraft_limit: str = "0m"
    rollover: bool = True
    waive_on_response_breach: bool = False


class EscalationConfig(_Strict):
    level: int
    at: str | int
    notify: list[str] = Field(min_length=1)
    metrics: list[AnyMetric] | None = None
    priorities: list[int] | None = None


class PlanConfig(_Strict):
    calendar: str | None = None
    targets: dict[Metric, dict[str, str | WithinConfig]] = {}
    service_level: str | None = None
    day_starts: str | None = None
    timezone: str | None = None
    holidays: HolidaysConfig | None = None
    pausable: list[AnyMetric] = []
    on_reprioritise: Literal["recalculate", "restart"] = "recalculate"
    credits: CreditsConfig | None = None
    warnings: list[str | int] = ["75%", "90%"]
    hours: HoursConfig | None = None
    escalations: list[EscalationConfig] = []
    ownership: dict[str, dict[str, str | WithinConfig]] = {}
    """group -> priority -> target; "*" for any other group or priority."""
    objectives: list[ObjectiveConfig] = []


class ContractConfig(_Strict):
    customer: str = Field(min_length=1)
    plan: str
    valid_from: date = Field(alias="from")
    monthly_fee: Decimal
    opening_hour_balance: str = "0m"


class FileConfig(_Strict):
    currency: str = "EUR"
    default_priority: int = 3
    priorities: list[int] = [1, 2, 3, 4]
    calendars: dict[str, CalendarConfig] = {}
    plans: dict[str, PlanConfig] = {}
    contracts: list[ContractConfig] = []
    sources: dict[str, Any] = {}  # checked by consumers.source_config (no clock moves)
    notifiers: dict[str, Any] = {}  # checked by consumers.notifier_config (no clock moves)
