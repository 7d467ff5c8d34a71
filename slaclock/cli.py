"""The ``slaclock`` command line: the parser, the dispatch to a command, and the exit code.

Each group of commands lives in its own module with a ``register`` (its sub-parsers) and a
``handle`` (run one); this module only reads the configuration, opens the store through
``slaclock.bootstrap`` and turns errors into one line on stderr and an exit code
(``slaclock.exit_codes``), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial

from slaclock import (
    account_commands,
    alert_commands,
    analytics_commands,
    api_commands,
    calendar_commands,
    dead_letter_commands,
    exit_codes,
    ingest_commands,
    kafka_commands,
    policy_commands,
    query_commands,
    replay_commands,
    source_commands,
    versions,
)
from slaclock.args import NotFound, UsageError, valid_text
from slaclock.bootstrap import RecomputeBusy, open_store, policy_factory
from slaclock.config import ConfigError, read_policy
from slaclock.consumers.decode_worker import DecodeWorkerError
from slaclock.consumers.errors import FatalSourceError
from slaclock.projections.batch import PolicyMoved
from slaclock.projections.event_store import StoreError, StoreUnavailable, store_failures
from slaclock.projections.runtime import tune_gc
from slaclock.projections.store_url import PASSWORD_FILE_VARIABLE, credentials

STORE_COMMANDS = (
    ingest_commands,
    account_commands,
    query_commands,
    api_commands,
    replay_commands,
    dead_letter_commands,
    policy_commands,
    analytics_commands,
    alert_commands,
)
"""The command groups that run with the store open; each has ``handle(args, loaded, store)``."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slaclock", description="Event-sourced SLA clocks, compliance and credits."
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("SLACLOCK_CONFIG", "slaclock.toml"),
        help="configuration file (env SLACLOCK_CONFIG; default ./slaclock.toml)",
    )
    parser.add_argument(
        "--store",
        default=os.environ.get("SLACLOCK_STORE", "sqlite:///slaclock.db"),
        help="sqlite:///PATH or postgresql://user@host:port/db (env SLACLOCK_STORE); the"
        f" password from env {PASSWORD_FILE_VARIABLE} (a file), PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument(
        "--version", action="version", version=versions.text(), help="print the versions and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest_commands.register(commands)
    account_commands.register(commands)
    query_commands.register(commands)
    calendar_commands.register(commands)
    kafka_commands.register(commands)
    api_commands.register(commands)
    replay_commands.register(commands)
    dead_letter_commands.register(commands)
    policy_commands.register(commands)
    source_commands.register(commands)
    analytics_commands.register(commands)
    alert_commands.register(commands)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    if (answer := versions.requested(sys.argv[1:] if argv is None else argv)) is not None:
        print(answer)
        return exit_codes.OK
    args = valid_text(_parser().parse_args(argv))
    _warn_visible_password(args)
    try:
        return _run_command(args)
    except store_failures() as exc:  # lost during the command: its transaction was rolled back
        raise StoreUnavailable.of(args.store, exc) from None


def _warn_visible_password(args: argparse.Namespace) -> None:
    """A long-running command with the store's password typed on its command line: any user
    can read it there (``ps``) for as long as it runs."""
    if args.command not in ("serve", "consume") or args.store == os.environ.get("SLACLOCK_STORE"):
        return
    if credentials(args.store)[1] is not None:
        print(
            f"slaclock: warning: --store: the password is visible in the process list; give it"
            f" in {PASSWORD_FILE_VARIABLE} (a file), PGPASSWORD or SLACLOCK_STORE instead",
            file=sys.stderr,
        )


def _run_command(args: argparse.Namespace) -> int:
    if args.command == "publish":  # needs neither the configuration nor the store
        return kafka_commands.handle(args, None, None)
    loaded = read_policy(args.config)
    if args.command == "consume":  # opens the store itself, retrying while it is away
        store_factory = partial(open_store, args.store, loaded, go_on=True)
        factory = policy_factory(loaded, args.config)
        deliver = not args.no_deliver
        with alert_commands.delivering(args.store, loaded, deliver, woken=True) as wake:
            return kafka_commands.handle(args, loaded.policy, store_factory, factory, wake)
    if args.command in calendar_commands.COMMANDS:
        return calendar_commands.handle(args, loaded.policy)
    if args.command in source_commands.COMMANDS:  # translate: needs no store
        return source_commands.handle(args, loaded)
    group = next(g for g in STORE_COMMANDS if args.command in g.COMMANDS)
    store = open_store(args.store, loaded, go_on=args.command == "serve")
    try:
        return group.handle(args, loaded, store)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    tune_gc()
    try:
        code = run(argv)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.USAGE
    except StoreUnavailable as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.STORE_UNAVAILABLE
    except NotFound as exc:
        print(f"slaclock: {exc}", file=sys.stderr)
        code = exit_codes.NOT_FOUND
    except DecodeWorkerError as exc:  # the batches before it are stored and counted
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.FAILED
    except FatalSourceError as exc:  # retrying cannot cure it; the stored offsets are intact
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.SOURCE_FATAL
    except PolicyMoved as exc:  # the batches before the refused one are stored
        print(f"slaclock: error: {exc}; the last batch was not stored: run again", file=sys.stderr)
        code = exit_codes.POLICY_MOVED
    except RecomputeBusy as exc:
        print(f"slaclock: {exc}", file=sys.stderr)
        code = exit_codes.RECOMPUTE_BUSY
    except KeyboardInterrupt:
        code = exit_codes.INTERRUPTED
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
