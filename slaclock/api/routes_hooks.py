"""``POST /hooks/SOURCE``: a helpdesk's webhook in, 202 once the change is durable.

In order: an unknown source is 404; a body announced larger than the limit is 413 before a
byte of it is read (and one that turns out larger while it is read, too); a source with a
secret needs the vendor's signature (``consumers.webhook_signatures``), one without needs an
admin bearer token or a token scoped to this source (``token create --source``), else 401
(403 for a token scoped to another source) — nothing of such a body is stored, it is counted
and logged without it. The body then goes to the one intake writer (``slaclock.api.hooks``):
202 when it is stored (or acknowledged by the broker with ``serve --publish-topic``), also for
a redelivery that adds nothing; 422 with the reason when it cannot be mapped (it is
dead-lettered too).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from slaclock.api import models
from slaclock.api.dependencies import Credentials, authenticate
from slaclock.api.errors import STORE_ERRORS
from slaclock.api.hooks import HookCounters, HookSource, IntakeWriter
from slaclock.api.params import ApiError
from slaclock.consumers.webhook_signatures import SignatureError, delivery_id, verify
from slaclock.projections.api_tokens import TokenStore

log = logging.getLogger("slaclock.api.hooks")


@dataclass(frozen=True)
class HookState:
    """What the webhook route needs, built by ``slaclock serve``."""

    sources: dict[str, HookSource]
    writer: IntakeWriter
    counters: HookCounters
    payload: Any
    """The payload type: ``payload(body, origin, delivery_id)``."""
    max_body: int
    max_age: float | None = None
    publishing: bool = False
    """True with ``--publish-topic``: a failure to deliver is the broker's (503)."""


router = APIRouter(tags=["webhooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Error, "description": "bad or missing signature, or no admin token"},
    403: {"model": models.Error, "description": "a token scoped to another source"},
    404: {"model": models.Error, "description": "no source of this name"},
    413: {"model": models.Error, "description": "the body is larger than the limit"},
    422: {"model": models.Error, "description": "the payload cannot be mapped; detail says why"},
    503: {"model": models.Error, "description": "the store or the broker did not take it"},
}


@router.post(
    "/hooks/{source}",
    status_code=202,
    responses=_ERRORS,
    summary="Receive a helpdesk's webhook for a configured source",
)
async def receive(source: str, request: Request, credentials: Credentials) -> JSONResponse:
    hooks: HookState | None = getattr(request.app.state, "hooks", None)
    if hooks is None or source not in hooks.sources:
        raise ApiError(404, f"source {source!r}: not found")
    found = hooks.sources[source]
    counters = hooks.counters
    counters.delivery(source, "received")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > hooks.max_body:
        return _too_large(counters, source, hooks.max_body)
    if found.secret is None:
        tokens: TokenStore = request.app.state.api.tokens
        await run_in_threadpool(_admin, tokens, credentials, counters, source, request)
    body = await _read(request, hooks.max_body)
    if body is None:
        return _too_large(counters, source, hooks.max_body)
    if found.secret is not None:
        _check_signature(found, body, request, counters, hooks.max_age)
    payload = hooks.payload(body, f"POST /hooks/{source}", delivery_id(found.kind, request.headers))
    try:
        taken = await asyncio.wrap_future(hooks.writer.submit(source, payload))
    except STORE_ERRORS:
        counters.delivery(source, "failed")
        raise
    except Exception as exc:
        counters.delivery(source, "failed")
        if not hooks.publishing:
            raise  # a bug: logged, 500
        log.warning("hooks/%s: not durable: %s: %s", source, type(exc).__name__, exc)
        raise ApiError(503, "event topic: the broker did not acknowledge, try again") from None
    counters.taken(source, taken)
    if taken.reason is not None:
        raise ApiError(422, taken.reason)
    return JSONResponse(
        {
            "source": source,
            "delivery_id": payload.delivery_id,
            "emitted": taken.emitted,
            "accepted": taken.accepted,
            "duplicates": taken.duplicates,
        },
        status_code=202,
    )


def _admin(
    tokens: TokenStore,
    credentials: Any,
    counters: HookCounters,
    source: str,
    request: Request,
) -> None:
    """A source without a secret takes deliveries only with an admin token or a token
    scoped to this source."""
    try:
        who = authenticate(tokens, credentials)
    except ApiError:
        _unauthorised(counters, source, request, "no admin token")
        raise
    if who.source == source:
        return
    if who.source is not None:
        _unauthorised(counters, source, request, f"token {who.token_id} is for {who.source}")
        raise ApiError(403, f"authorization: token {who.token_id} may only deliver {who.source}")
    if not who.admin:
        _unauthorised(counters, source, request, f"token {who.token_id} is not an admin token")
        raise ApiError(401, "authorization: an admin token is required (the source has no secret)")


def _check_signature(
    found: HookSource,
    body: bytes,
    request: Request,
    counters: HookCounters,
    max_age: float | None,
) -> None:
    assert found.secret is not None
    try:
        verify(
            found.kind,
            found.secret,
            body,
            request.headers,
            now=datetime.now(UTC),
            max_age=max_age,
        )
    except SignatureError as exc:
        _unauthorised(counters, found.name, request, exc.reason)
        raise ApiError(401, f"signature: {exc.reason}") from None


def _unauthorised(counters: HookCounters, source: str, request: Request, reason: str) -> None:
    counters.delivery(source, "unauthorised")
    client = request.client.host if request.client else "?"
    log.warning("hooks/%s: unauthorised delivery from %s: %s", source, client, reason)


def _too_large(counters: HookCounters, source: str, limit: int) -> JSONResponse:
    counters.delivery(source, "too_large")
    return JSONResponse(
        {"detail": f"body: larger than {limit} bytes"},
        status_code=413,
        headers={"Connection": "close"},
    )


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than ``limit`` (not read any further)."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
