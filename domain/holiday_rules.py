"""Which dates a business calendar is closed: public holidays and extra closed dates.

Holidays come from the pinned ``holidays`` package, looked up one year at a time (cached), with
country, subdivision and categories checked up front so that a configuration error names the
bad value. :class:`ClosedDates` joins a holiday rule with a calendar's own closed dates; the
interval engine in :mod:`domain.calendar` asks it for a year's closed dates and explanations
ask it why a day is closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import holidays as holidays_lib
from holidays import registry

__all__ = ["ClosedDates", "HolidayRule"]


@lru_cache(maxsize=1024)
def _holidays_for_year(
    country: str, subdivision: str | None, categories: tuple[str, ...], year: int
) -> dict[date, str]:
    """Build one year of holidays once; callers get copies.

    Built per year (``years=year``) instead of relying on the package's ``expand=True``
    mutation during lookups, so results never depend on which lookups ran before.
    Dates outside ``year`` are dropped: the package already places an observed day that
    falls in the previous year (e.g. US New Year observed on Dec 31) into that year.
    """
    try:
        table = holidays_lib.country_holidays(
            country,
            subdiv=subdivision,
            years=year,
            categories=categories or None,
        )
    except NotImplementedError:
        # The package signals unknown countries/subdivisions this way; callers expect
        # ValueError like every other configuration error.
        raise _unknown_holiday_error(country, subdivision) from None
    except (ValueError, KeyError) as exc:
        raise ValueError(
            f'holidays "{country}": unsupported category in {list(categories)}: {exc}'
        ) from None
    return {day: str(name) for day, name in table.items() if day.year == year}


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    """The country codes (and upper-case aliases such as ``UK``) the package knows, read
    from its registry: ``holidays.list_supported_countries()`` gives the same codes but
    imports every country's module to list subdivisions too (0.2 s at each start-up)."""
    return frozenset(
        code for names in registry.COUNTRIES.values() for code in names[1:] if code.isupper()
    )


def _unknown_holiday_error(country: str, subdivision: str | None) -> ValueError:
    if country not in _supported_countries():
        return ValueError(f'unknown holiday country "{country}"')
    return ValueError(f'unknown subdivision "{subdivision}" for holiday country "{country}"')


@lru_cache(maxsize=256)
def _entity_class(country: str) -> type:
    """The holidays class for ``country`` (validating the country code)."""
    if country not in _supported_countries():
        raise ValueError(f'unknown holiday country "{country}"')
    return type(holidays_lib.country_holidays(country, years=()))


@lru_cache(maxsize=1024)
def _resolve_subdivision(country: str, subdivision: str | None) -> str | None:
    """Map a subdivision to the package's spelling (case-insensitive, aliases allowed)."""
    if subdivision is None:
        return None
    entity = _entity_class(country)
    known: list[str] = list(getattr(entity, "subdivisions", ()))
    known += list(getattr(entity, "subdivisions_aliases", {}) or {})
    known += list(getattr(entity, "_deprecated_subdivisions", ()) or ())
    if subdivision in known:
        return subdivision
    folded = subdivision.strip().casefold()
    for candidate in known:
        if candidate.casefold() == folded:
            return candidate
    raise ValueError(f'unknown subdivision "{subdivision}" for holiday country "{country}"')


@dataclass(frozen=True)
class HolidayRule:
    """Public holidays of one country (optionally one subdivision) from ``holidays``.

    Uses the package's defaults, so observed/substitute days are included for countries
    that have them.  ``categories`` is passed through as given: a non-empty value
    *replaces* the default ("public"), so list "public" too to keep public holidays.
    The country code is upper-cased and the subdivision matched case-insensitively,
    because config files are written by people.
    """

    country: str
    subdivision: str | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.country, str) or not self.country.strip():
            raise ValueError(f"holidays: bad country {self.country!r}")
        object.__setattr__(self, "country", self.country.strip().upper())
        if self.subdivision is not None:
            # TOML may give a number (French departments such as 57); the package wants text.
            object.__setattr__(self, "subdivision", str(self.subdivision).strip())
        categories = self.categories
        if isinstance(categories, str):
            categories = (categories,)
        object.__setattr__(self, "categories", tuple(str(c).strip().lower() for c in categories))

    def validate(self) -> None:
        """Raise ``ValueError`` naming an unknown country, subdivision or category."""
        entity = _entity_class(self.country)
        _resolve_subdivision(self.country, self.subdivision)
        supported = tuple(getattr(entity, "supported_categories", ()))
        for category in self.categories:
            if category not in supported:
                raise ValueError(
                    f'unknown holiday category "{category}" for country "{self.country}"'
                    f" (supported: {', '.join(supported)})"
                )

    def dates(self, year: int) -> dict[date, str]:
        """Holidays in ``year`` as ``date -> name`` (names of shared dates joined by "; ")."""
        subdivision = _resolve_subdivision(self.country, self.subdivision)
        return dict(_holidays_for_year(self.country, subdivision, self.categories, year))


@dataclass(frozen=True)
class ClosedDates:
    """The dates a calendar is closed: the holidays of ``holidays`` plus ``extra`` dates."""

    holidays: HolidayRule | None
    extra: frozenset[date]

    @classmethod
    def build(
        cls, calendar: str, holidays: HolidayRule | None, closed: Iterable[date]
    ) -> ClosedDates:
        """Validate the holiday rule and the closed dates of the calendar named ``calendar``."""
        if holidays is not None:
            holidays.validate()
        extra: set[date] = set()
        for day in closed:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"calendar {calendar}: closed date must be a date, got {day!r}")
            extra.add(day)
        return cls(holidays, frozenset(extra))

    def in_year(self, year: int) -> set[date]:
        """Every closed date in ``year``."""
        closed = {d for d in self.extra if d.year == year}
        if self.holidays is not None:
            closed.update(self.holidays.dates(year))
        return closed

    def reason(self, day: date) -> str | None:
        """The holiday name, ``"closed"`` for an extra closed date, or ``None``."""
        if self.holidays is not None:
            name = self.holidays.dates(day.year).get(day)
            if name is not None:
                return name
        if day in self.extra:
            return "closed"
        return None
