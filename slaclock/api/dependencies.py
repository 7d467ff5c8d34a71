"""What the routers share: the app's state, the caller's token, and the common parameters.

``create_app`` builds one :class:`ApiState` and keeps it on ``app.state``; routes receive it,
and the :class:`~projections.api_tokens.Principal` of the bearer token, through FastAPI's
dependency injection (``State``, ``Who``). The query parameter and error declarations live here
too, so that every route documents the same names and answers in the OpenAPI document.
"""

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from slaclock.api import models, params
from slaclock.api.cache import ReportCache
from slaclock.api.follow import PolicyFollower
from slaclock.api.limits import ComputeLimiter
from slaclock.api.metrics import Metrics
from slaclock.api.params import ApiError, Moment
from slaclock.domain.policy import Policy
from slaclock.projections.answers import consistently
from slaclock.projections.api_tokens import Principal, TokenStore, token_hash
from slaclock.projections.queries import Queries
from slaclock.projections.store import TicketStore

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Error, "description": "no token, or an unknown or revoked token"},
    403: {"model": models.Error, "description": "a token for one source's webhooks only"},
    404: {"model": models.Error, "description": "not found (or not this token's customer)"},
    422: {"model": models.Error, "description": "a parameter is not valid; detail names it"},
    501: {"model": models.Error, "description": "known_at is not supported by this store yet"},
    503: {"model": models.Error, "description": "the store is not reachable"},
}

# A documented format (checked by slaclock.api.params, whose messages name the parameter).
DATE_TIME: dict[str, Any] = {"format": "date-time"}

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
        max_length=params.MAX_ID,
    ),
]

Answer = Callable[[Queries, str, datetime, str | None], dict[str, Any]]
"""A month report's answer: (queries, month, as_of, customer) -> JSON."""


@dataclass(frozen=True)
class ApiState:
    """Everything the routes share, built once by ``create_app``."""

    follower: PolicyFollower
    store: TicketStore
    tokens: TokenStore
    metrics: Metrics
    reports: ReportCache
    limiter: ComputeLimiter
    metrics_auth: bool
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        return self.follower.current()[0]

    def reader(self, as_of: str | None, known_at: str | None) -> tuple[Moment, Queries]:
        """The instant asked about and the queries that answer for it (under the policy
        version the store's read model is of, see ``slaclock.api.follow``)."""
        at = params.moment(as_of, known_at)
        policy, version = self.follower.current()
        return at, params.queries_for(self.store, policy, at, version)

    def month_report(
        self,
        who: Principal,
        answer: Answer,
        month: str,
        customer: str | None,
        as_of: str | None,
        known_at: str | None,
    ) -> dict[str, Any]:
        """A month report, shared with identical requests (``slaclock.api.cache``); one
        computed for this request counts against the token's limit (``slaclock.api.limits``)."""
        params.moment(as_of, known_at)  # a bad parameter is an error, not a cache key
        policy, version = self.follower.current()

        def compute() -> dict[str, Any]:
            at = params.moment(as_of, known_at)
            return consistently(  # type: ignore[no-any-return]
                lambda: params.queries_for(self.store, policy, at, version),
                lambda queries: answer(queries, month, at.as_of, customer),
            )

        key = (answer.__name__, month, customer, as_of, known_at, version)
        guard = partial(self.limiter.slot, who.token_id)
        return self.reports.get(key, compute, guard)  # type: ignore[no-any-return]


async def api_state(request: Request) -> ApiState:
    """The app's :class:`ApiState` (async: it only reads ``app.state``, no thread needed)."""
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(api_state)]

bearer = HTTPBearer(
    auto_error=False, description="a token from `slaclock token create`", scheme_name="token"
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def authenticate(tokens: TokenStore, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The principal of a bearer token; 401 when there is none or it is unknown or revoked."""
    if credentials is None:
        raise ApiError(401, "authorization: a bearer token is required")
    found = tokens.verify(credentials.credentials)
    if found is None:
        raise ApiError(401, "authorization: unknown or revoked token")
    return found


def metrics_access(state: ApiState, credentials: HTTPAuthorizationCredentials | None) -> None:
    """``/metrics``: open, unless ``serve --metrics-token`` (that token, or an admin token)
    or ``--metrics-auth`` (an admin token) asks for a token; 401 otherwise."""
    if state.metrics_token is None and not state.metrics_auth:
        return
    if state.metrics_token is not None and credentials is not None:
        given = token_hash(credentials.credentials)  # compared in constant time
        if hmac.compare_digest(given, token_hash(state.metrics_token)):
            return
    who = reader(authenticate(state.tokens, credentials))
    if not who.admin:
        raise ApiError(401, "authorization: /metrics needs the metrics token or an admin token")


def reader(who: Principal) -> Principal:
    """``who``, unless it is a token for one source's webhooks: 403, before anything else
    is read (such a token reads nothing, not even which customers exist)."""
    if who.source is not None:
        raise ApiError(
            403, f"authorization: token {who.token_id} may only deliver webhooks of {who.source}"
        )
    return who


def principal(state: State, credentials: Credentials) -> Principal:
    return reader(authenticate(state.tokens, credentials))


Who = Annotated[Principal, Depends(principal)]


def scoped(who: Principal, customer: str | None) -> str | None:
    """The customer a request may see: its own for a customer token."""
    customer = params.identifier(customer, "customer")
    if who.admin:
        return customer
    if who.customer_id is None:  # neither admin nor a customer's: sees nobody
        raise ApiError(403, f"authorization: token {who.token_id} reads no customer")
    if customer is None or customer == who.customer_id:
        return who.customer_id
    raise ApiError(404, f"customer {customer!r}: not found")
