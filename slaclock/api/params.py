"""Checking what a request asks for. Every problem is an :class:`ApiError` whose message starts
with the parameter it is about (``"as_of: ..."``), answered as a 4xx, never a 500."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from slaclock.config import ConfigError, policy_from_text
from slaclock.domain.instants import InstantError, parse_instant, parse_month
from slaclock.domain.policy import Policy
from slaclock.projections import answers
from slaclock.projections.queries import Queries
from slaclock.projections.store import TicketStore

MAX_ID = 128


class ApiError(Exception):
    """An answer other than 200, with a message for the client."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def bad(parameter: str, problem: str) -> ApiError:
    return ApiError(422, f"{parameter}: {problem}")


def instant(text: str | None, parameter: str) -> datetime | None:
    """An RFC 3339 timestamp with a UTC offset in the supported range (see
    ``domain.instants``; None: not given)."""
    if text is None:
        return None
    try:
        return parse_instant(text)
    except InstantError as exc:
        raise bad(parameter, str(exc)) from None


def month(text: str | None, parameter: str = "month") -> str | None:
    """A ``YYYY-MM`` month in the supported years (None: not given)."""
    if text is None:
        return None
    try:
        return parse_month(text)
    except InstantError as exc:
        raise bad(parameter, str(exc)) from None


def identifier(text: str | None, parameter: str) -> str | None:
    """A ticket or customer id: 1 to 128 characters, no control characters."""
    if text is None:
        return None
    if not text or len(text) > MAX_ID:
        raise bad(parameter, f"must be 1 to {MAX_ID} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise bad(parameter, "must not contain control characters")
    return text


def month_index(text: str) -> int:
    return int(text[:4]) * 12 + int(text[5:]) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class Moment:
    """The instant a question is asked about (``as_of``) and, once the store can answer it,
    what was known at another instant (``known_at``: only events recorded by then)."""

    as_of: datetime
    known_at: datetime | None = None

    @property
    def epoch(self) -> int:
        return int(self.as_of.timestamp())


def moment(as_of: str | None, known_at: str | None) -> Moment:
    parsed = instant(as_of, "as_of") or datetime.now(UTC).replace(microsecond=0)
    return Moment(parsed, instant(known_at, "known_at"))


def queries_for(
    store: TicketStore, policy: Policy, at: Moment, version: str | None = None
) -> Queries:
    """The queries that answer at ``at`` (as the command line's; see projections.answers)."""
    known = int(at.known_at.timestamp()) if at.known_at is not None else None
    try:
        return answers.queries_for(store, policy, version, known, policy_from_text)
    except ConfigError as exc:  # a stored policy this version cannot read any more
        raise ApiError(501, f"known_at: {exc}") from None
