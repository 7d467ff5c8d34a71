"""The read-only HTTP API, the dashboard and the operator endpoints, in one FastAPI app.

Every answer comes from the projections (the read model and ``projections.render``), with the
same fields as the command line's ``--json``. Every ``/api`` route needs a bearer token: a
customer token sees only that customer (other customers' tickets answer 404, reports are
filtered to it), an admin token sees everything.
"""

import csv
import io
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from domain.explain import explain
from domain.policy import Policy
from projections.queries import Queries
from projections.queue import queue_json, ticket_snapshot, tickets_page, work_queue
from projections.render import explain_json, ticket_json
from projections.reports import compliance, month_outcomes
from projections.store import TicketStore
from slaclock.api import models
from slaclock.api import params as P
from slaclock.api.answers import compliance_answer, credits_answer
from slaclock.api.cache import REPORT_CACHE_SECONDS, ReportCache
from slaclock.api.metrics import Metrics
from slaclock.api.params import ApiError, Moment
from slaclock.api.tokens import Principal, TokenStore

log = logging.getLogger("slaclock.api")
STATIC = Path(__file__).parent / "static"
MAX_MONTHS = 24
_STORE_ERRORS = (PersistenceError, psycopg.Error, sqlite3.Error)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Error, "description": "no token, or an unknown or revoked token"},
    404: {"model": models.Error, "description": "not found (or not this token's customer)"},
    422: {"model": models.Error, "description": "a parameter is not valid; detail names it"},
    501: {"model": models.Error, "description": "known_at is not supported by this store yet"},
    503: {"model": models.Error, "description": "the store is not reachable"},
}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
}

# Documented formats (checked by slaclock.api.params, whose messages name the parameter).
DATE_TIME: dict[str, Any] = {"format": "date-time"}
MONTH: dict[str, Any] = {"pattern": r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$"}

# Query parameters shared by the routes (the same names and meaning everywhere).
AsOf = Annotated[
    str | None,
    Query(
        description="answer as of this instant: RFC 3339 with offset (default: now)",
        examples=["2025-10-06T12:00:00+02:00"],
        json_schema_extra=DATE_TIME,
    ),
]
KnownAt = Annotated[
    str | None,
    Query(
        description="answer with only the events recorded by this instant (RFC 3339 with"
        " offset); answered 501 until the store supports it",
        json_schema_extra=DATE_TIME,
    ),
]
Customer = Annotated[
    str | None,
    Query(
        description="one customer (admin tokens; a customer token may only name its own)",
        min_length=1,
        max_length=P.MAX_ID,
    ),
]
Month = Annotated[
    str,
    Query(description="YYYY-MM, in each plan calendar's time zone", json_schema_extra=MONTH),
]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to download")]


def create_app(
    policy: Policy,
    store: TicketStore,
    *,
    policy_version: str | None = None,
    metrics_auth: bool = False,
    report_cache: float = REPORT_CACHE_SECONDS,
) -> FastAPI:
    """The app for one policy and store (both shared by all requests); month reports are
    shared for ``report_cache`` seconds (see :mod:`slaclock.api.cache`)."""
    try:
        app_version = version("slaclock")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        app_version = "0"
    app = FastAPI(
        title="slaclock API",
        version=app_version,
        description=(
            "Read-only answers from slaclock's projections: tickets with their SLA clocks,"
            " the work queue, and monthly compliance and credit reports, each as of an"
            " instant. Send `Authorization: Bearer <token>` (see `slaclock token create`)."
        ),
    )
    tokens = TokenStore(store)
    metrics = Metrics(store, policy_version)
    reports = ReportCache(report_cache)
    app.state.reports = reports
    app.state.store, app.state.policy, app.state.tokens = store, policy, tokens
    app.middleware("http")(metrics.middleware)
    _install_error_handlers(app)

    bearer = HTTPBearer(
        auto_error=False, description="a token from `slaclock token create`", scheme_name="token"
    )

    def principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Principal:
        if credentials is None:
            raise ApiError(401, "authorization: a bearer token is required")
        found = tokens.verify(credentials.credentials)
        if found is None:
            raise ApiError(401, "authorization: unknown or revoked token")
        return found

    Who = Annotated[Principal, Depends(principal)]

    def scoped(who: Principal, customer: str | None) -> str | None:
        """The customer a request may see: its own for a customer token."""
        customer = P.identifier(customer, "customer")
        if who.admin:
            return customer
        if customer is None or customer == who.customer_id:
            return who.customer_id
        raise ApiError(404, f"customer {customer!r}: not found")

    def reader(as_of: str | None, known_at: str | None) -> tuple[Moment, Queries]:
        at = P.moment(as_of, known_at)
        return at, P.queries_for(store, policy, at, policy_version)

    def month_report(
        answer: Callable[[Queries, str, datetime, str | None], dict[str, Any]],
        month: str,
        customer: str | None,
        as_of: str | None,
        known_at: str | None,
    ) -> dict[str, Any]:
        """A month report, shared with identical requests (``slaclock.api.cache``)."""
        P.moment(as_of, known_at)  # a bad parameter is an error, not a cache key

        def compute() -> dict[str, Any]:
            at, queries = reader(as_of, known_at)
            return answer(queries, month, at.as_of, customer)

        key = (answer.__name__, month, customer, as_of, known_at)
        return reports.get(key, compute)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ the API
    @app.get("/api/me", response_model=models.Me, responses=ERRORS, tags=["api"])
    def me(who: Who) -> Any:
        """Who this token is: one customer, or admin."""
        return {"token_id": who.token_id, "customer_id": who.customer_id, "admin": who.admin}

    @app.get("/api/tickets", response_model=models.TicketPage, responses=ERRORS, tags=["api"])
    def list_tickets(
        request: Request,
        who: Who,
        customer: Customer = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        limit: Annotated[int, Query(ge=1, le=500, description="tickets per page")] = 50,
        after: Annotated[
            str | None,
            Query(
                description="the last ticket id of the previous page",
                min_length=1,
                max_length=P.MAX_ID,
            ),
        ] = None,
    ) -> Any:
        """Tickets created by `as_of`, ordered by id, a page at a time, with their clocks."""
        customer = scoped(who, customer)
        after = P.identifier(after, "after")
        at, queries = reader(as_of, known_at)
        page, total = tickets_page(queries, at.epoch, customer=customer, after=after, limit=limit)
        items = [ticket_json(s, at.as_of, queries, queries.policy) for s in page]
        next_after = items[-1]["ticket_id"] if len(items) == limit else None
        next_url = None
        if next_after is not None:
            query = {k: v for k, v in request.query_params.items() if k != "after"}
            next_url = f"{request.url.path}?{urlencode({**query, 'after': next_after})}"
        return JSONResponse(
            {
                "as_of": at.as_of.isoformat(),
                "customer_id": customer,
                "total": total,
                "limit": limit,
                "items": items,
                "next_after": next_after,
                "next": next_url,
            }
        )

    @app.get(
        "/api/tickets/{ticket_id:path}/explain",
        response_model=models.Explanation,
        responses=ERRORS,
        tags=["api"],
    )
    def explain_ticket(
        who: Who,
        ticket_id: Annotated[str, PathParam(description="the ticket id")],
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> Any:
        """Why each clock of a ticket came out as it did: the ticket with, per clock, its
        timeline (counted, outside hours, weekend, holiday, closed, paused) and notes."""
        ticket_id = P.identifier(ticket_id, "ticket_id") or ""
        at, queries = reader(as_of, known_at)
        ticket = store.load_ticket(ticket_id)
        facts = None
        if ticket is not None:
            known = getattr(queries, "known_at", None)
            facts = ticket.facts if known is None else ticket.facts_known_at(known)
        found = explain(ticket_id, facts, queries.policy, at.epoch) if facts else None
        if found is None or not who.sees(found[0].customer_id):
            raise ApiError(404, f"ticket {ticket_id!r}: not found as of {at.as_of.isoformat()}")
        return JSONResponse(explain_json(found[0], found[1], at.as_of, queries))

    @app.get(
        "/api/tickets/{ticket_id:path}",
        response_model=models.Ticket,
        responses=ERRORS,
        tags=["api"],
    )
    def one_ticket(
        who: Who,
        ticket_id: Annotated[str, PathParam(description="the ticket id")],
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> Any:
        """One ticket with its clocks (404 when unknown, or another customer's)."""
        ticket_id = P.identifier(ticket_id, "ticket_id") or ""
        at, queries = reader(as_of, known_at)
        snapshot = ticket_snapshot(queries, ticket_id, at.epoch)
        if snapshot is None or not who.sees(snapshot.customer_id):
            raise ApiError(404, f"ticket {ticket_id!r}: not found as of {at.as_of.isoformat()}")
        return JSONResponse(ticket_json(snapshot, at.as_of, queries, queries.policy))

    @app.get(
        "/api/queue",
        response_model=models.Queue,
        responses=ERRORS,
        tags=["api"],
    )
    def queue(
        who: Who,
        order: Annotated[
            Literal["priority", "deadline"],
            Query(
                description="priority: contract first, then priority, then arrival;"
                " deadline: earliest deadline first"
            ),
        ] = "priority",
        customer: Customer = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> Any:
        """Open tickets in the order they should be worked."""
        customer = scoped(who, customer)
        at, queries = reader(as_of, known_at)
        items = work_queue(queries, at.epoch, order, customer)
        page = items[offset : offset + limit]
        return JSONResponse(
            queue_json(page, at.as_of, order, queries.policy, offset=offset, total=len(items))
        )

    @app.get(
        "/api/reports/compliance",
        response_model=models.Compliance,
        responses={**ERRORS, **CSV_RESPONSE},
        tags=["api"],
    )
    def compliance_report(
        who: Who,
        month: Month,
        customer: Customer = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        format: Format = "json",
    ) -> Any:
        """Met and breached clocks per customer, metric and deciding priority in a month."""
        the_month = P.month(month) or ""
        customer = scoped(who, customer)
        data = month_report(compliance_answer, the_month, customer, as_of, known_at)
        if format == "csv":
            header = ["month", "as_of", "customer_id", "metric", "priority", "met", "breached"]
            lines = [
                [
                    the_month,
                    data["as_of"],
                    r["customer_id"],
                    r["metric"],
                    r["priority"],
                    r["met"],
                    r["breached"],
                    r["attainment"],
                ]
                for r in data["rows"]
            ]
            return _csv([*header, "attainment"], lines, f"compliance_{the_month}", customer)
        return JSONResponse(data)

    @app.get(
        "/api/reports/credits",
        response_model=models.Credits,
        responses={**ERRORS, **CSV_RESPONSE},
        tags=["api"],
    )
    def credits_report(
        who: Who,
        month: Month,
        customer: Customer = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        format: Format = "json",
    ) -> Any:
        """Credits owed per customer in a month: entries, subtotal, cap and total."""
        the_month = P.month(month) or ""
        customer = scoped(who, customer)
        data = month_report(credits_answer, the_month, customer, as_of, known_at)
        if format == "csv":
            header = [
                "month",
                "as_of",
                "currency",
                "customer_id",
                "line",
                "ticket_id",
                "metric",
                "breached_at",
                "amount",
            ]
            lines: list[list[Any]] = []
            head = [the_month, data["as_of"], data["currency"]]
            for c in data["customers"]:
                entries = [("entry", e) for e in c["entries"]]
                entries += [(f"adjustment:{a.get('kind')}", a) for a in c.get("adjustments", [])]
                for line, e in entries:
                    lines.append(
                        [
                            *head,
                            c["customer_id"],
                            line,
                            e.get("ticket_id"),
                            e.get("metric"),
                            e.get("breached_at"),
                            e.get("amount"),
                        ]
                    )
                for line in ("subtotal", "cap", "total"):
                    lines.append([*head, c["customer_id"], line, "", "", "", c[line] or ""])
            return _csv(header, lines, f"credits_{the_month}", customer)
        return JSONResponse(data)

    @app.get(
        "/api/reports/attainment",
        response_model=models.Attainment,
        responses=ERRORS,
        tags=["api"],
    )
    def attainment(
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
        """Compliance month by month (at most 24), with totals per metric: the dashboard's
        chart."""
        customer = scoped(who, customer)
        last = P.month(to_month, "to")
        first = P.month(from_month, "from")
        at, queries = reader(as_of, known_at)
        end = P.month_index(last or at.as_of.strftime("%Y-%m"))
        start = P.month_index(first) if first else end - 5
        if start > end:
            raise P.bad("from", f"{P.month_name(start)} is after to ({P.month_name(end)})")
        if end - start + 1 > MAX_MONTHS:
            raise P.bad("from", f"at most {MAX_MONTHS} months from `from` to `to`")
        if start < P.month_index(f"{P.FIRST_YEAR}-01"):
            raise P.bad("from", f"{P.month_name(start)} is before {P.FIRST_YEAR}")
        months = []
        for index in range(start, end + 1):
            name = P.month_name(index)
            rows = compliance(month_outcomes(queries, name, at.epoch, customer))
            totals: dict[str, dict[str, Any]] = {}
            for r in rows:
                t = totals.setdefault(r.metric, {"met": 0, "breached": 0})
                t["met"] += r.met
                t["breached"] += r.breached
            for t in totals.values():
                done = t["met"] + t["breached"]
                t["attainment"] = round(t["met"] / done, 4) if done else None
            months.append({"month": name, "rows": [r.as_dict() for r in rows], "metrics": totals})
        return JSONResponse(
            {
                "as_of": at.as_of.isoformat(),
                "customer_id": customer,
                "from": P.month_name(start),
                "to": P.month_name(end),
                "months": months,
            }
        )

    # ---------------------------------------------------------------- operators
    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=PlainTextResponse,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
            401: ERRORS[401],
        },
    )
    def prometheus_metrics(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Response:
        """Prometheus metrics: request latencies per route and store gauges."""
        if metrics_auth:
            who = principal(credentials)
            if not who.admin:
                raise ApiError(401, "authorization: /metrics needs an admin token")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["operations"], response_model=models.Health)
    def healthz() -> Any:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=models.Health,
        responses={503: ERRORS[503]},
    )
    def readyz() -> Any:
        """The store answers."""
        store.query("SELECT COUNT(*) AS n FROM {p}sla_meta")
        return {"status": "ready"}

    # ---------------------------------------------------------------- dashboard
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html", headers=_PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_login() -> FileResponse:
        return page()

    @app.get("/dashboard/{customer}", include_in_schema=False)
    def dashboard(customer: str) -> FileResponse:
        return page()

    return app


_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

_FORMULA = re.compile(r"^[=+\-@\t\r]")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and _FORMULA.match(text):
        return "'" + text
    return text


def _csv(header: list[str], rows: Iterable[list[Any]], stem: str, customer: str | None) -> Any:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    name = stem if customer is None else f"{stem}_{_FILENAME.sub('_', customer)[:60]}"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _error(status: int, detail: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="slaclock"'} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.detail)

    def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            where = [str(part) for part in err.get("loc", ()) if part not in ("query", "path")]
            problems.append(f"{'.'.join(where) or 'request'}: {err.get('msg', 'invalid')}")
        return _error(422, "; ".join(problems) or "request: invalid")

    def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    def on_store(request: Request, exc: Exception) -> Response:
        log.warning("store unavailable: %s", exc)
        return _error(503, "store: unavailable, try again later")

    def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error (logged by the server)")

    handlers: list[tuple[Any, Callable[[Request, Exception], Response]]] = [
        (ApiError, on_api_error),
        (RequestValidationError, on_validation),
        (StarletteHTTPException, on_http),
        *((kind, on_store) for kind in _STORE_ERRORS),
        (Exception, on_unexpected),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, handler)
