"""A running ``slaclock serve`` follows configuration changes: one applied by another process
(the store adopted a new policy version) and one to its own configuration file; its answers
move from the old version to the new one, never back, and then agree with the command
line's."""

from __future__ import annotations

import time
from pathlib import Path

from slaclock.config import parse_policy
from tests.conftest import AS_OF, CONFIG, Cli
from tests.e2e.test_api_harness import ApiServer, prepare_store

TICKET = "T-3002"  # plan 'professional': its P1 response target moves with the changes
FASTER = ('{ 1 = "3h", 2 = "6h"', '{ 1 = "30m", 2 = "6h"')
FASTEST = ('{ 1 = "3h", 2 = "6h"', '{ 1 = "20m", 2 = "6h"')


def _versions_until(server: ApiServer, version: str, seen: list[str]) -> dict:
    """Ask for the ticket until it is answered under ``version`` (recording every version
    answered under); that answer."""
    deadline = time.monotonic() + 60
    while True:
        answer = server.json(f"/api/tickets/{TICKET}", as_of=AS_OF)
        if not seen or seen[-1] != answer["policy_version"]:
            seen.append(answer["policy_version"])
        if answer["policy_version"] == version:
            return answer
        assert time.monotonic() < deadline, (seen, server.log.read_text())
        time.sleep(0.2)


def _metrics_version(server: ApiServer) -> str:
    """The policy version ``/metrics`` shows (``slaclock_info``)."""
    response = server.get("/metrics")
    assert response.status_code == 200
    line = next(ln for ln in response.text.splitlines() if ln.startswith("slaclock_info{"))
    return line.split('policy_version="', 1)[1].split('"', 1)[0]


def _unversioned(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("policy_version", "policy_pending")}


def test_serve_follows_a_change_applied_elsewhere_and_its_own_file(tmp_path: Path) -> None:
    config = tmp_path / "slaclock.toml"
    config.write_text(CONFIG.read_text())
    cli = Cli(config, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    server = ApiServer(cli, prepare_store(cli))
    try:
        seen: list[str] = []
        old = _versions_until(server, parse_policy(config.read_text(), "x").version, seen)

        changed = tmp_path / "changed.toml"  # another process applies a change
        changed.write_text(CONFIG.read_text().replace(*FASTER))
        other = Cli(changed, cli.store, tmp_path)
        new_version = other.json("policy", "status")["policy_version"]
        answer = _versions_until(server, new_version, seen)
        cli_answer = other.json("ticket", TICKET, "--as-of", AS_OF)
        assert answer == cli_answer != old
        assert _metrics_version(server) == new_version  # /metrics follows too
        assert _unversioned(answer) != _unversioned(old)

        config.write_text(CONFIG.read_text().replace(*FASTEST))  # its own file changes
        newest = parse_policy(config.read_text(), "x").version
        answer = _versions_until(server, newest, seen)
        assert Cli(config, cli.store, tmp_path).json("policy", "status")["policy_version"] == newest
        assert answer == Cli(config, cli.store, tmp_path).json("ticket", TICKET, "--as-of", AS_OF)
        assert seen == [old["policy_version"], new_version, newest]  # never back
        assert _metrics_version(server) == newest
    finally:
        server.stop()
