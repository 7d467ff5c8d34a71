"""The ticket routes: who a token is, tickets a page at a time, one ticket, why its clocks came
out as they did, and the work queue. Answers have the command line's ``--json`` fields."""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from slaclock.api import models, params
from slaclock.api.dependencies import ERRORS, AsOf, Customer, KnownAt, State, Who, scoped
from slaclock.api.params import ApiError
from slaclock.projections.answers import explain_answer
from slaclock.projections.queue import queue_json, ticket_snapshot, tickets_page, work_queue
from slaclock.projections.render import ticket_json

router = APIRouter()


@router.get("/api/me", response_model=models.Me, responses=ERRORS, tags=["api"])
def me(who: Who) -> Any:
    """Who this token is: one customer, or admin."""
    return {"token_id": who.token_id, "customer_id": who.customer_id, "admin": who.admin}


@router.get("/api/tickets", response_model=models.TicketPage, responses=ERRORS, tags=["api"])
def list_tickets(
    request: Request,
    state: State,
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
            max_length=params.MAX_ID,
        ),
    ] = None,
) -> Any:
    """Tickets created by `as_of`, ordered by id, a page at a time, with their clocks."""
    customer = scoped(who, customer)
    after = params.identifier(after, "after")
    at, queries = state.reader(as_of, known_at)
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


@router.get(
    "/api/tickets/{ticket_id:path}/explain",
    response_model=models.Explanation,
    responses=ERRORS,
    tags=["api"],
)
def explain_ticket(
    state: State,
    who: Who,
    ticket_id: Annotated[str, PathParam(description="the ticket id")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Any:
    """Why each clock of a ticket came out as it did: the ticket with, per clock, its
    timeline (counted, outside hours, weekend, holiday, closed, paused) and notes."""
    ticket_id = params.identifier(ticket_id, "ticket_id") or ""
    at, queries = state.reader(as_of, known_at)
    # A customer token: another customer's ticket is never loaded (found as fast as none).
    answer = explain_answer(state.store, queries, ticket_id, at.as_of, who.customer_id)
    if answer is None or not who.sees(answer[0]):
        raise ApiError(404, f"ticket {ticket_id!r}: not found as of {at.as_of.isoformat()}")
    return JSONResponse(answer[1])


@router.get(
    "/api/tickets/{ticket_id:path}",
    response_model=models.Ticket,
    responses=ERRORS,
    tags=["api"],
)
def one_ticket(
    state: State,
    who: Who,
    ticket_id: Annotated[str, PathParam(description="the ticket id")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Any:
    """One ticket with its clocks (404 when unknown, or another customer's)."""
    ticket_id = params.identifier(ticket_id, "ticket_id") or ""
    at, queries = state.reader(as_of, known_at)
    # A customer token: another customer's ticket is never evaluated (found as fast as none).
    snapshot = ticket_snapshot(queries, ticket_id, at.epoch, who.customer_id)
    if snapshot is None or not who.sees(snapshot.customer_id):
        raise ApiError(404, f"ticket {ticket_id!r}: not found as of {at.as_of.isoformat()}")
    return JSONResponse(ticket_json(snapshot, at.as_of, queries, queries.policy))


@router.get(
    "/api/queue",
    response_model=models.Queue,
    responses=ERRORS,
    tags=["api"],
)
def queue(
    state: State,
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
    at, queries = state.reader(as_of, known_at)
    items = work_queue(queries, at.epoch, order, customer)
    page = items[offset : offset + limit]
    return JSONResponse(
        queue_json(page, at.as_of, order, queries.policy, offset=offset, total=len(items))
    )
