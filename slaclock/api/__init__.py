"""slaclock's read-only HTTP API, dashboard and operator endpoints (``slaclock serve``).

The app lives in :mod:`slaclock.api.app` (``create_app``); importing this package does not
import FastAPI, so the other commands start as fast as before.
"""
