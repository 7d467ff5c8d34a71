"""The read-only HTTP API, the dashboard and the operator endpoints, in one FastAPI app.

:func:`create_app` is the bootstrap: it builds the state every request shares (an
:class:`~slaclock.api.dependencies.ApiState`) and assembles one router per area. Every answer
comes from the projections, with the same fields as the command line's ``--json``. Every
``/api`` route needs a bearer token: a customer token sees only that customer (other customers'
tickets answer 404, reports are filtered to it), an admin token sees everything.
"""

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from slaclock.api import (
    routes_dashboard,
    routes_hooks,
    routes_operations,
    routes_reports,
    routes_tickets,
)
from slaclock.api.cache import REPORT_CACHE_SECONDS, ReportCache
from slaclock.api.dependencies import ApiState
from slaclock.api.errors import install_error_handlers
from slaclock.api.follow import PolicyFollower
from slaclock.api.limits import REPORT_CONCURRENCY, ComputeLimiter
from slaclock.api.metrics import METRICS_CACHE_SECONDS, Metrics
from slaclock.domain.policy import Policy
from slaclock.projections.api_tokens import TokenStore
from slaclock.projections.store import TicketStore

DESCRIPTION = (
    "Read-only answers from slaclock's projections: tickets with their SLA clocks,"
    " the work queue, and monthly compliance and credit reports, each as of an"
    " instant. Send `Authorization: Bearer <token>` (see `slaclock token create`)."
)


def create_app(
    policy: Policy,
    store: TicketStore,
    *,
    policy_version: str | None = None,
    metrics_auth: bool = False,
    metrics_token: str | None = None,
    metrics_cache: float = METRICS_CACHE_SECONDS,
    report_cache: float = REPORT_CACHE_SECONDS,
    report_concurrency: int = REPORT_CONCURRENCY,
    hooks: routes_hooks.HookState | None = None,
    follower: PolicyFollower | None = None,
) -> FastAPI:
    """The app for one policy and store (both shared by all requests). Month reports are
    shared for ``report_cache`` seconds (:mod:`slaclock.api.cache`), the store's gauges for
    ``metrics_cache`` seconds; a token runs at most ``report_concurrency`` uncached report
    computations at once (:mod:`slaclock.api.limits`). ``/metrics`` needs ``metrics_token``
    (or an admin token) when it is set, an admin token with ``metrics_auth``. ``hooks``: the
    webhook receiver's state (``POST /hooks/SOURCE`` answers 404 without it). ``follower``:
    how answers follow configuration changes (default: the store's policy versions, from
    ``policy``; ``slaclock.api.follow``)."""
    app = FastAPI(title="slaclock API", version=_app_version(), description=DESCRIPTION)
    follower = follower or PolicyFollower(store, policy, policy_version)
    state = ApiState(
        follower=follower,
        store=store,
        tokens=TokenStore(store),
        metrics=Metrics(store, lambda: follower.current()[1], metrics_cache),
        reports=ReportCache(report_cache),
        limiter=ComputeLimiter(report_concurrency),
        metrics_auth=metrics_auth,
        metrics_token=metrics_token,
    )
    app.state.api = state
    app.state.hooks = hooks
    if hooks is not None:
        state.metrics.registry.register(hooks.counters)
    app.middleware("http")(state.metrics.middleware)
    install_error_handlers(app)
    app.include_router(routes_tickets.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_operations.router)
    app.include_router(routes_hooks.router)
    app.mount("/static", routes_dashboard.static_files(), name="static")
    app.include_router(routes_dashboard.router)
    return app


def _app_version() -> str:
    try:
        return version("slaclock")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
