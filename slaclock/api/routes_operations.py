"""The operator routes: Prometheus metrics (optionally behind a token), liveness and
readiness."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from slaclock.api import models
from slaclock.api.dependencies import ERRORS, Credentials, State, metrics_access

router = APIRouter()


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=PlainTextResponse,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
        401: ERRORS[401],
    },
)
def prometheus_metrics(state: State, credentials: Credentials) -> Response:
    """Prometheus metrics: request latencies per route and store gauges."""
    metrics_access(state, credentials)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", tags=["operations"], response_model=models.Health)
def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    response_model=models.Health,
    responses={503: ERRORS[503]},
)
def readyz(state: State) -> Any:
    """The store answers."""
    state.store.policy_version()  # reads the store's meta table: raises (503) if unreachable
    return {"status": "ready"}
