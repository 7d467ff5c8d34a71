"""The ``serve``, ``queue`` and ``token`` commands (HTTP API, work queue, API tokens).

``register`` adds them to the command line's parser; ``handle`` runs one with the policy and
store the command line opened. Exit codes as everywhere (``slaclock.exit_codes``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slaclock import alert_commands, exit_codes, serve_hooks
from slaclock.api import params
from slaclock.api.cache import REPORT_CACHE_SECONDS
from slaclock.api.limits import METRICS_CACHE_SECONDS, REPORT_CONCURRENCY
from slaclock.args import UsageError, one_secret
from slaclock.config import LoadedPolicy, policy_from_text
from slaclock.output import table
from slaclock.projections.answers import queries_for
from slaclock.projections.api_tokens import TokenStore
from slaclock.projections.queue import ORDERS, queue_json, work_queue
from slaclock.projections.store import TicketStore

COMMANDS = ("serve", "queue", "token")
METRICS_TOKEN_ENV = "SLACLOCK_METRICS_TOKEN"
METRICS_TOKEN_FILE_ENV = "SLACLOCK_METRICS_TOKEN_FILE"
TOKEN_ID = re.compile(r"[0-9a-f]{10}")
"""A token's public id (``projections.api_tokens``): the only part of a token ever printed."""


def register(commands: Any) -> None:
    """Add ``serve``, ``queue`` and ``token`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("serve", help="run the read-only HTTP API and dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--metrics-auth", action="store_true", help="/metrics needs an admin token")
    alert_commands.add_deliver_option(p)
    p.add_argument(
        "--metrics-token",
        default=os.environ.get(METRICS_TOKEN_ENV),
        metavar="TOKEN",
        help="/metrics needs this bearer token (or an admin token); visible in the process"
        f" list: prefer --metrics-token-file or env {METRICS_TOKEN_ENV}",
    )
    p.add_argument(
        "--metrics-token-file",
        default=os.environ.get(METRICS_TOKEN_FILE_ENV),
        metavar="PATH",
        help=f"file holding the /metrics token (env {METRICS_TOKEN_FILE_ENV})",
    )
    p.add_argument(
        "--metrics-cache",
        type=float,
        default=METRICS_CACHE_SECONDS,
        metavar="SECONDS",
        help="serve the store gauges read by one scrape to the next ones for this long"
        f" (0 = read on every scrape; default {METRICS_CACHE_SECONDS:g})",
    )
    p.add_argument(
        "--report-cache",
        type=float,
        default=REPORT_CACHE_SECONDS,
        metavar="SECONDS",
        help="share each month report between identical requests for this long (its as_of"
        f" says which instant it describes; 0 = always compute; default {REPORT_CACHE_SECONDS:g})",
    )
    p.add_argument(
        "--report-concurrency",
        type=int,
        default=REPORT_CONCURRENCY,
        metavar="N",
        help="uncached report computations one token may run at once; more are answered 429"
        f" with Retry-After (0 = no limit; default {REPORT_CONCURRENCY})",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default warning)",
    )
    serve_hooks.add_options(p)

    p = commands.add_parser("queue", help="open tickets in the order they should be worked")
    p.add_argument(
        "--order",
        choices=ORDERS,
        default="priority",
        help="priority: contract first, then priority, then arrival (default);"
        " deadline: earliest deadline first",
    )
    p.add_argument("--customer")
    p.add_argument("--as-of", help="answer as of this instant (RFC 3339; default now)")
    p.add_argument("--limit", type=int, help="show only the first N tickets")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("token", help="API bearer tokens")
    tokens = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tokens.add_parser("create", help="create a token and print it (once)")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", help="the token sees only this customer")
    who.add_argument("--admin", action="store_true", help="the token sees every customer")
    who.add_argument(
        "--source",
        metavar="NAME",
        help="the token may only deliver webhooks of [sources.NAME] (POST /hooks/NAME) and"
        " reads nothing: for a relay in front of a helpdesk",
    )
    c.add_argument("--label", help="a note to recognise the token by")
    c.add_argument("--json", action="store_true")
    r = tokens.add_parser(
        "revoke", help="revoke a token by its id, or the token itself read from stdin"
    )
    r.add_argument(
        "token",
        metavar="ID",
        nargs="?",
        default="-",
        help="the token's id (`token list`); - or nothing: read the token from stdin",
    )
    r.add_argument("--json", action="store_true")
    listing = tokens.add_parser("list", help="list tokens (ids and scopes, never the tokens)")
    listing.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    try:
        if args.command == "serve":
            return _serve(args, loaded, store)
        if args.command == "queue":
            return _queue(args, loaded, store)
        return _token(args, loaded, store)
    except params.ApiError as exc:
        name, _, problem = exc.detail.partition(": ")
        print(f"slaclock: error: --{name.replace('_', '-')}: {problem}", file=sys.stderr)
        return exit_codes.USAGE


def _writer_store(url: str, loaded: LoadedPolicy) -> TicketStore:
    """The webhook writer's own connection (the store is already adopted): rows of the
    configuration's version only (``PolicyMoved`` otherwise, see ``serve_hooks``)."""
    store = TicketStore(url, loaded.policy)
    store.version = loaded.version
    return store


def _adopt_file(url: str, loaded: LoadedPolicy) -> None:
    """Apply a changed configuration file to the store (``serve``: in a thread)."""
    from slaclock.bootstrap import adopt

    store, _ = adopt(url, loaded, go_on=True)
    store.close()


def _serve(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    import uvicorn

    from slaclock.api.app import create_app
    from slaclock.api.follow import PolicyFollower
    from slaclock.api.hooks import HookConfigError
    from slaclock.projections.runtime import tune_gc_for_serving

    if not 0 <= args.port <= 65535:
        print(f"slaclock: error: --port: {args.port} is not a port", file=sys.stderr)
        return exit_codes.USAGE
    for option in ("report_cache", "metrics_cache"):
        if getattr(args, option) < 0:
            name = option.replace("_", "-")
            print(f"slaclock: error: --{name}: must be 0 or more seconds", file=sys.stderr)
            return exit_codes.USAGE
    if args.report_concurrency < 0:
        print("slaclock: error: --report-concurrency: must be 0 or more", file=sys.stderr)
        return exit_codes.USAGE
    metrics_token = one_secret(
        args.metrics_token, args.metrics_token_file, "--metrics-token", METRICS_TOKEN_ENV
    )
    if metrics_token is not None and not metrics_token.strip():
        print("slaclock: error: --metrics-token: empty", file=sys.stderr)
        return exit_codes.USAGE
    try:
        hooks, close_hooks = serve_hooks.hook_state(
            args, loaded, lambda: _writer_store(args.store, loaded)
        )
    except HookConfigError as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    follower = PolicyFollower(
        store, loaded.policy, loaded.version, args.config, partial(_adopt_file, args.store)
    )
    app = create_app(
        loaded.policy,
        store,
        policy_version=loaded.version,
        metrics_auth=args.metrics_auth,
        metrics_token=metrics_token.strip() if metrics_token else None,
        metrics_cache=args.metrics_cache,
        report_cache=args.report_cache,
        report_concurrency=args.report_concurrency,
        hooks=hooks,
        follower=follower.start(),
    )
    # Short requests should not queue for the GIL behind a report being computed on another
    # thread (CPython hands the GIL over every 5 ms by default).
    sys.setswitchinterval(0.0005)
    tune_gc_for_serving()
    try:
        with alert_commands.delivering(args.store, loaded, not args.no_deliver):
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        close_hooks()
    return exit_codes.OK


def _queue(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    policy = loaded.policy
    as_of = params.instant(args.as_of, "as_of") or datetime.now(UTC).replace(microsecond=0)
    if args.limit is not None and args.limit < 1:
        print("slaclock: error: --limit: must be at least 1", file=sys.stderr)
        return exit_codes.USAGE
    queries = queries_for(store, policy, loaded.version, None, policy_from_text)
    items = work_queue(queries, int(as_of.timestamp()), args.order, args.customer)
    shown = items[: args.limit] if args.limit else items
    data = queue_json(shown, as_of, args.order, policy, total=len(items))
    if args.json:
        print(json.dumps(data, indent=1))
        return exit_codes.OK
    rows = [
        [
            i["position"],
            i["ticket_id"],
            i["customer_id"],
            i["plan"] or "-",
            i["priority"],
            i["created_at"],
            i["next_deadline"] or "-",
            "-" if i["remaining_seconds"] is None else i["remaining_seconds"],
            i["risk"] or "-",
            " ".join(f"{m}={c['status']}" for m, c in i["clocks"].items()) or "-",
        ]
        for i in data["items"]
    ]
    print(
        f"queue by {args.order} as of {data['as_of']} ({data['total']} open)\n"
        + table(
            [
                "#",
                "ticket",
                "customer",
                "plan",
                "priority",
                "created_at",
                "next_deadline",
                "remaining_s",
                "risk",
                "open clocks",
            ],
            rows,
        )
    )
    return exit_codes.OK


def _revoke(args: argparse.Namespace, tokens: TokenStore) -> int:
    """Revoke by id, or the token read from stdin (never from the command line, where
    ``ps`` shows it); what is printed names token ids only, never what was given."""
    given = sys.stdin.readline().strip() if args.token == "-" else args.token
    done = tokens.revoke(given) if given else []
    if args.json:
        print(json.dumps({"revoked": bool(done)}))
    if not done:
        what = f"token {given!r}" if TOKEN_ID.fullmatch(given) else "token"
        print(f"slaclock: {what}: no active token with this id or token", file=sys.stderr)
        return exit_codes.NOT_FOUND
    if not args.json:
        print("\n".join(f"revoked {token_id}" for token_id in done))
    return exit_codes.OK


def _token(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    tokens = TokenStore(store)
    if args.token_command == "create":
        if args.customer is not None:
            params.identifier(args.customer, "customer")
        if args.source is not None and args.source not in loaded.sources:
            raise UsageError(f"--source: the configuration has no [sources.{args.source}]")
        token, record = tokens.create(
            customer=args.customer, admin=args.admin, label=args.label, source=args.source
        )
        if args.json:
            print(json.dumps({"token": token, **record.as_dict()}, indent=1))
        else:
            print(token)
            print(
                f"token {record.token_id} ({record.scope}): shown once, only its hash is stored",
                file=sys.stderr,
            )
        return exit_codes.OK
    if args.token_command == "revoke":
        return _revoke(args, tokens)
    records = tokens.list()
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=1))
        return exit_codes.OK
    print(
        table(
            ["id", "scope", "label", "created_at", "revoked_at"],
            [
                [
                    r.token_id,
                    r.scope,
                    r.label or "-",
                    r.created_at,
                    r.revoked_at or "-",
                ]
                for r in records
            ],
        )
    )
    return exit_codes.OK
