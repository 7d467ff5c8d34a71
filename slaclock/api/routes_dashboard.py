"""The dashboard: one static page (with strict security headers) served for every dashboard
path, its assets under ``/static``; none of it is in the OpenAPI document."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """The dashboard's assets, for ``app.mount("/static", ...)`` (a router cannot mount)."""
    return StaticFiles(directory=STATIC)


def _page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", headers=_PAGE_HEADERS)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/dashboard")
def dashboard_login() -> FileResponse:
    return _page()


@router.get("/dashboard/{customer}")
def dashboard(customer: str) -> FileResponse:
    return _page()
