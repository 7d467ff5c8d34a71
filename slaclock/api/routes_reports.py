"""The month report routes: compliance and credits (JSON or CSV, shared for a few seconds by
identical requests) and attainment month by month, the dashboard's chart."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from slaclock.api import models, params
from slaclock.api.answers import compliance_answer, credits_answer, ownership_answer
from slaclock.api.csv_download import compliance_csv, credits_csv
from slaclock.api.dependencies import ERRORS, AsOf, Customer, KnownAt, State, Who, scoped
from slaclock.domain.instants import FIRST_YEAR
from slaclock.projections.month_counts import month_counts
from slaclock.projections.objectives import by_contract, month_objectives
from slaclock.projections.render import objectives_json
from slaclock.projections.reports import compliance_rows, metric_totals

MAX_MONTHS = 24

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
}
# A documented format (checked by slaclock.api.params, whose messages name the parameter).
MONTH: dict[str, Any] = {"pattern": r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$"}

Month = Annotated[
    str,
    Query(description="YYYY-MM, in each plan calendar's time zone", json_schema_extra=MONTH),
]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to download")]

router = APIRouter()


@router.get(
    "/api/reports/compliance",
    response_model=models.Compliance,
    responses={**ERRORS, **CSV_RESPONSE},
    tags=["api"],
)
def compliance_report(
    state: State,
    who: Who,
    month: Month,
    customer: Customer = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format: Format = "json",
) -> Any:
    """Met and breached clocks per customer, metric and deciding priority in a month."""
    the_month = params.month(month) or ""
    customer = scoped(who, customer)
    data = state.month_report(who, compliance_answer, the_month, customer, as_of, known_at)
    if format == "csv":
        return compliance_csv(data, the_month, customer)
    return JSONResponse(data)


Group = Annotated[str | None, Query(description="only this group (1-128 characters)")]


@router.get(
    "/api/reports/ownership",
    response_model=models.Ownership,
    responses=ERRORS,
    tags=["api"],
)
def ownership_report(
    state: State,
    who: Who,
    month: Month,
    group: Group = None,
    customer: Customer = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Any:
    """Met and breached ownership cycles per group and deciding priority in a month: of
    every customer's tickets for an admin token, of its own tickets for a customer's."""
    the_month = params.month(month) or ""
    customer = scoped(who, customer)
    the_group = params.identifier(group, "group")

    def answer(queries: Any, month: str, at: Any, customer: str | None) -> dict[str, Any]:
        return ownership_answer(queries, month, at, the_group, customer)

    answer.__name__ = f"ownership_answer {the_group!r}"  # the shared-answer cache's key
    data = state.month_report(who, answer, the_month, customer, as_of, known_at)
    return JSONResponse(data)


@router.get(
    "/api/reports/credits",
    response_model=models.Credits,
    responses={**ERRORS, **CSV_RESPONSE},
    tags=["api"],
)
def credits_report(
    state: State,
    who: Who,
    month: Month,
    customer: Customer = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format: Format = "json",
) -> Any:
    """Credits owed per customer in a month: entries, subtotal, cap and total."""
    the_month = params.month(month) or ""
    customer = scoped(who, customer)
    data = state.month_report(who, credits_answer, the_month, customer, as_of, known_at)
    if format == "csv":
        return credits_csv(data, the_month, customer)
    return JSONResponse(data)


@router.get(
    "/api/reports/attainment",
    response_model=models.Attainment,
    responses=ERRORS,
    tags=["api"],
)
def attainment(
    state: State,
    who: Who,
    customer: Customer = None,
    from_month: Annotated[
        str | None,
        Query(
            alias="from",
            description="first month, YYYY-MM (default: 5 before `to`)",
            json_schema_extra=MONTH,
        ),
    ] = None,
    to_month: Annotated[
        str | None,
        Query(
            alias="to",
            description="last month, YYYY-MM (default: the month of as_of)",
            json_schema_extra=MONTH,
        ),
    ] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Any:
    """Compliance month by month (at most 24), with totals per metric and, when plans have
    objectives, each customer's objectives: the dashboard's chart."""
    customer = scoped(who, customer)
    last = params.month(to_month, "to")
    first = params.month(from_month, "from")
    at, queries = state.reader(as_of, known_at)
    end = params.month_index(last or at.as_of.strftime("%Y-%m"))
    start = params.month_index(first) if first else end - 5
    _check_months(start, end)
    months = []
    with state.limiter.slot(who.token_id):  # never cached: always counts
        for index in range(start, end + 1):
            name = params.month_name(index)
            counts = month_counts(queries, name, at.epoch, customer)
            rows = compliance_rows(counts)
            totals = metric_totals(rows)
            month_data = {"month": name, "rows": [r.as_dict() for r in rows], "metrics": totals}
            objectives = month_objectives(queries.policy, name, by_contract(counts), customer)
            if objectives is not None:
                month_data["objectives"] = objectives_json(objectives)
            months.append(month_data)
    return JSONResponse(
        {
            "as_of": at.as_of.isoformat(),
            "customer_id": customer,
            "from": params.month_name(start),
            "to": params.month_name(end),
            "months": months,
        }
    )


def _check_months(start: int, end: int) -> None:
    """Refuse a range of month indexes that is reversed, too long or starts too early."""
    if start > end:
        raise params.bad(
            "from", f"{params.month_name(start)} is after to ({params.month_name(end)})"
        )
    if end - start + 1 > MAX_MONTHS:
        raise params.bad("from", f"at most {MAX_MONTHS} months from `from` to `to`")
    if start < params.month_index(f"{FIRST_YEAR}-01"):
        raise params.bad("from", f"{params.month_name(start)} is before {FIRST_YEAR}")
