"""slaclock's read-only HTTP API, dashboard and operator endpoints (``slaclock serve``)."""

from slaclock.api.app import create_app

__all__ = ["create_app"]
