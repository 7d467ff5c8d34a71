"""A local webhook receiver for the alert delivery tests: records every request, and can fail
some (500, 429 with ``Retry-After``, or no answer until the sender times out)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = Callable[[int], str]
"""Request number (from 0) -> "ok", "500", "429" or "hang"."""


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: str
    started: float = 0.0
    finished: float = 0.0

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


def signature_holds(received: Received, secret: bytes) -> bool:
    """The receiver's side of the signature (docs/alerts.md)."""
    timestamp = received.headers["X-Slaclock-Timestamp"].encode()
    expected = hmac.new(secret, timestamp + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers["X-Slaclock-Signature"], f"sha256={expected}")


def every_third_fails(n: int) -> str:
    """A third of the requests fail: 500, 429 + Retry-After or a hang, in turn."""
    if n % 3:
        return "ok"
    return ("500", "429", "hang")[(n // 3) % 3]


class Receiver:
    def __init__(self, fault: Fault = lambda n: "ok", hang_seconds: float = 1.5) -> None:
        self.fault = fault
        self.hang_seconds = hang_seconds
        self.received: list[Received] = []
        self.statuses = {"ok": 200, "500": 500, "429": 429}
        """What each answer is (a test may add its own, e.g. ``"404": 404``)."""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-request (a test kills it while its threads
                    # send): a receiver never sees a truncated request as one.
                    self.close_connection = True
                    return
                with receiver.lock:
                    n = len(receiver.received)
                    what = receiver.fault(n)
                    received = Received(dict(self.headers), body, what, time.monotonic())
                    receiver.received.append(received)
                if what == "hang":
                    time.sleep(receiver.hang_seconds)
                    received.finished = time.monotonic()
                    self.close_connection = True
                    return
                received.finished = time.monotonic()
                self.send_response(receiver.statuses[what])
                if what == "429":
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def overlapping(self) -> list[str]:
        """Keys of deliveries two requests carried at the same time."""
        by_key: dict[str, list[Received]] = {}
        for r in self.received:
            by_key.setdefault(r.headers["Idempotency-Key"], []).append(r)
        clashes = []
        for key, requests in by_key.items():
            spans = sorted((r.started, r.finished) for r in requests)
            if any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)):
                clashes.append(key)
        return clashes

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.answered == "ok"]


@contextmanager
def receiving(fault: Fault = lambda n: "ok", hang_seconds: float = 1.5) -> Iterator[Receiver]:
    receiver = Receiver(fault, hang_seconds)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
