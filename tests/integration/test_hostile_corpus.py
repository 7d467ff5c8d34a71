"""The hostile corpus (``tests/fixtures/hostile``) at every entrance: ``ingest`` and
``translate`` on the command line, ``consume`` and ``consume --source`` on the real broker,
``POST /hooks/SOURCE`` on a real server. No traceback; each bad line rejected alone with its
reason (dead letter, or 422); the good lines around it stored as if alone."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from slaclock.consumers.source_intake import Payload, Translator
from tests.conftest import EVENTS, FIXTURES, Cli
from tests.e2e.test_api_harness import ApiServer
from tests.hostile import POLICY, assert_letters, corpus, interleave, run_ingest, stored
from tests.kafka_helpers import (
    REPO,
    consume_args,
    create_topic,
    read_topic,
    require_kafka,
    send_all,
    slaclock,
    unique,
)

HOOKS = FIXTURES / "sources" / "hooks"
LIFECYCLE = (HOOKS / "jira" / "payloads.jsonl").read_bytes().splitlines()[:10]  # 11th: bad


def jira_config(tmp_path: Path) -> Path:
    """The webhook lifecycles' policy with the Jira source ``jsd`` (no secret)."""
    path = tmp_path / "jira.toml"
    path.write_text(
        (HOOKS / "slaclock.toml").read_text() + (HOOKS / "jira" / "source.toml").read_text()
    )
    return path


def lifecycle_event_ids(config: Path) -> set[str]:
    from slaclock.config import load_sources

    translator = Translator(load_sources(config)["jsd"])
    return {e["event_id"] for body in LIFECYCLE for e in translator.translate(Payload(body, "x"))}


def stored_ids(store_url: str, config: Path) -> set[str]:
    from slaclock.config import load_policy
    from slaclock.projections.store import TicketStore

    store = TicketStore(store_url, load_policy(config)[0])
    try:
        return {f.event_id for t in store.get_tickets(store.ticket_ids()).values() for f in t.facts}
    finally:
        store.close()


def test_ingest_rejects_each_corpus_line_alone(store_url: str, tmp_path: Path) -> None:
    lines, expected = interleave(EVENTS.read_bytes().splitlines(), corpus("events"))
    (tmp_path / "all.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    good_store = f"sqlite:///{tmp_path / 'good.db'}"
    good = run_ingest(good_store, tmp_path, str(EVENTS))
    letters = tmp_path / "dead.jsonl"
    argv = ["--decoder", "process", "--dead-letter", str(letters)]  # the decoding process too
    got = run_ingest(store_url, tmp_path, str(tmp_path / "all.jsonl"), *argv)
    bad = len(expected) - expected.count(None)
    assert got["rejected"] == good["rejected"] + bad
    assert (got["accepted"], got["duplicates"]) == (good["accepted"], good["duplicates"])
    found = [json.loads(line) for line in letters.read_text().splitlines()]
    source = str(tmp_path / "all.jsonl")
    assert_letters(
        [(x["source"], x["reason"]) for x in found], expected, lambda n: f"{source}:{n + 1}"
    )
    assert stored(store_url, POLICY) == stored(good_store, POLICY)


def test_translate_rejects_each_corpus_payload_alone(tmp_path: Path) -> None:
    config = jira_config(tmp_path)
    lines, expected = interleave(LIFECYCLE, corpus("jira"))
    (tmp_path / "all.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    letters = tmp_path / "dead.jsonl"
    command = [sys.executable, "-m", "slaclock", "--config", str(config), "translate", "jsd"]
    done = subprocess.run(
        [*command, str(tmp_path / "all.jsonl"), "--dead-letter", str(letters), "--json"],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr.decode(errors="replace"), done.stderr
    assert done.returncode == 0, done.stderr
    emitted = {json.loads(line)["event_id"] for line in done.stdout.splitlines()}
    assert emitted == lifecycle_event_ids(config)
    found = [json.loads(line) for line in letters.read_text().splitlines()]
    source = str(tmp_path / "all.jsonl")
    assert_letters(
        [(x["source"], x["reason"]) for x in found], expected, lambda n: f"{source}:{n + 1}"
    )


@pytest.mark.kafka
def test_consume_rejects_each_corpus_message_alone(postgres_store: str, tmp_path: Path) -> None:
    """Slaclock events into PostgreSQL (``consume``, the decoding process), then Jira payloads
    (``consume --source``): every bad message dead-lettered with its reason, no poison pill."""
    require_kafka()
    runs = [
        (
            postgres_store,
            REPO / "examples" / "slaclock.toml",
            EVENTS.read_bytes().splitlines(),
            "events",
            (),
        ),
        (
            f"sqlite:///{tmp_path / 'jira.db'}",
            jira_config(tmp_path),
            LIFECYCLE,
            "jira",
            ("--source", "jsd"),
        ),
    ]
    for store, config, good, name, extra in runs:
        lines, expected = interleave(good, corpus(name))
        topic, dlq = create_topic(unique(f"corpus-{name}")), unique(f"corpus-{name}-dlq")
        send_all([(None, line) for line in lines], topic)
        args = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--dead-letter-topic", dlq)
        if not extra:
            args += ["--clock", "event", "--decoder", "process"]
        got = slaclock(store, *args, *extra, config=config, traceback_free=True)
        bad = len(expected) - expected.count(None)
        assert got["dead_lettered"] == bad, got
        letters = read_topic(dlq, expect=bad)
        found = [
            (dict(x.headers)["source"].decode(), dict(x.headers)["reason"].decode())
            for x in letters
        ]
        assert_letters(found, expected, lambda n, topic=topic: f"{topic}/0/{n}")
        if extra:
            assert stored_ids(store, config) == lifecycle_event_ids(config)
        else:
            good_store = f"sqlite:///{tmp_path / 'good.db'}"
            run_ingest(good_store, tmp_path, str(EVENTS))
            assert stored(store, POLICY) == stored(good_store, POLICY)


def test_webhooks_reject_each_corpus_body_alone(postgres_store: str, tmp_path: Path) -> None:
    """Each lifecycle delivery posted together with a few bad bodies (one delivery group
    when the writer takes them together): good ones 202, bad ones 422 with their reason
    and a dead letter, and the ticket gets exactly the lifecycle's events."""
    config = jira_config(tmp_path)
    cli = Cli(config, postgres_store, tmp_path)
    server = ApiServer(cli, {"admin": cli.run("token", "create", "--admin").stdout.strip()})
    bad = corpus("jira") + [(body, "") for body, _ in corpus("events")]  # "": any reason
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}

    def post(body: bytes) -> httpx.Response:
        return server.client.post("/hooks/jsd", content=body, headers=headers)

    answers: list[tuple[httpx.Response, str | None]] = []
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for number, body in enumerate(LIFECYCLE):
                group = [(body, None), *bad[number * 4 : number * 4 + 4]]
                if number == len(LIFECYCLE) - 1:
                    group += bad[number * 4 + 4 :]
                responses = pool.map(post, [b for b, _ in group])
                answers += zip(responses, [r for _, r in group], strict=True)
        for response, reason in answers:
            assert "Traceback" not in response.text
            if reason is None:
                assert response.status_code == 202, response.text
            else:
                assert response.status_code == 422, response.text
                assert response.json()["detail"].startswith(reason), response.text
        letters = cli.json("dead-letters")  # one per distinct body (the id hashes its bytes)
        details = {r.json()["detail"] for r, reason in answers if reason is not None}
        assert {letter["reason"] for letter in letters} == details
        assert stored_ids(postgres_store, config) == lifecycle_event_ids(config)
        assert "Traceback" not in server.log.read_text(errors="replace")  # nor in its log
    finally:
        server.stop()
