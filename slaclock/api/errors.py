"""How failures become answers: every error is ``{"detail": ...}`` JSON with its status.

Parameter problems name the parameter (422), a 401 carries the bearer challenge, an unreachable
store is a 503 (logged, no details to the client), and anything unexpected a logged 500.
"""

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from slaclock.api.params import ApiError

log = logging.getLogger("slaclock.api")
STORE_ERRORS = (PersistenceError, psycopg.Error, sqlite3.Error)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="slaclock"', **(headers or {})}
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.detail, exc.headers)


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


def install_error_handlers(app: FastAPI) -> None:
    handlers: list[tuple[Any, Callable[[Request, Exception], Response]]] = [
        (ApiError, on_api_error),
        (RequestValidationError, on_validation),
        (StarletteHTTPException, on_http),
        *((kind, on_store) for kind in STORE_ERRORS),
        (Exception, on_unexpected),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, handler)
