"""A schema registry behind credentials and TLS: basic auth (URL user info, or a user with the
password from the environment), a bearer token, a private CA; refused credentials and
untrusted certificates end ``consume`` with exit 4; no secret ever reaches a message.

The registry is the small Confluent-compatible server of tests/test_kafka_wire.py, over TLS
with a CA and server certificate made here with the ``openssl`` command. The end-to-end tests
consume through the real Kafka broker.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slaclock.consumers.avro import SCHEMA_DIR, schema_by_id, to_record
from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.kafka_wire import (
    RegistryUnavailable,
    SchemaResolver,
    WireDecoder,
    encode_record,
)
from slaclock.consumers.schema_registry import RegistryAccess, RegistrySettingError
from tests.kafka_helpers import (
    CONFIG,
    REPO,
    SLACLOCK,
    consume_args,
    create_topic,
    send_all,
    sqlite_store,
    unique,
)
from tests.test_kafka_wire import serve_registry, v2_value

USER, PASSWORD = "sla-reader", "s3cr:t@pass/wörd"
TOKEN = "tok-4f1d9c2a7e"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SCHEMA_ID = 31  # the registry's id for ticket_event.v2.avsc (not one of schemas/registry.json)
SCHEMAS = {SCHEMA_ID: SCHEMA_DIR / "ticket_event.v2.avsc"}
USER_INFO = "sla-reader:s3cr%3At%40pass%2Fw%C3%B6rd"  # USER:PASSWORD percent-encoded


# ------------------------------------------------------------------ certificates, servers
@dataclass
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A self-signed CA and a certificate it signed for 127.0.0.1 and localhost."""
    work = tmp_path_factory.mktemp("tls")
    ca, ca_key = work / "ca.pem", work / "ca.key"
    cert, key, csr, ext = work / "server.pem", work / "server.key", work / "server.csr", work / "x"
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *curve, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
             "-subj", "/CN=slaclock test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", *curve, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return Certificates(ca, cert, key)


@pytest.fixture
def basic_registry(certificates: Certificates) -> Iterator[str]:
    """An https registry that wants USER/PASSWORD (and forbids the user 'intruder')."""
    forbidden = "Basic " + base64.b64encode(f"intruder:{PASSWORD}".encode()).decode()
    server, url = serve_registry(
        SCHEMAS, certificates.server_context(), authorization=BASIC, forbidden=forbidden
    )
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def token_registry(certificates: Certificates) -> Iterator[str]:
    """An https registry that wants the bearer token TOKEN."""
    server, url = serve_registry(
        SCHEMAS, certificates.server_context(), authorization=f"Bearer {TOKEN}"
    )
    yield url
    server.shutdown()
    server.server_close()


def _with_user_info(url: str, user_info: str = USER_INFO) -> str:
    return url.replace("https://", f"https://{user_info}@")


# ------------------------------------------------------------------ settings
def test_user_info_is_percent_decoded_and_kept_out_of_url_and_repr() -> None:
    access = RegistryAccess.parse(f"https://{USER_INFO}@registry.example:8081/sr/")
    assert access.url == "https://registry.example:8081/sr"
    assert (access.username, access.password) == (USER, PASSWORD)
    assert access.headers()["Authorization"] == BASIC
    assert PASSWORD not in repr(access) and "s3cr" not in repr(access)
    token = RegistryAccess.parse("https://registry.example", token=TOKEN)
    assert token.headers()["Authorization"] == f"Bearer {TOKEN}" and TOKEN not in repr(token)


@pytest.mark.parametrize(
    ("url", "settings", "reason"),
    [
        (f"https://{USER_INFO}@h", {"token": TOKEN}, "a registry user or a token, not both"),
        ("https://h", {"password": PASSWORD}, "a registry password needs a user"),
        ("https://h", {"username": USER}, "has no password"),
        (f"https://{USER_INFO}@h", {"password": "other"}, "password is given twice"),
        (f"https://{USER_INFO}@h:80x", {}, "the port is not a number"),
        (f"https://{USER_INFO}@h/?key=1", {}, "no query or fragment"),
        (f"http://{USER_INFO}@h", {"cafile": "/ca.pem"}, "a CA file needs an https:// URL"),
        (f"ftp://{USER_INFO}@h", {}, "not an http:// or https:// URL"),
        ("https://h", {"token": f"{TOKEN} x"}, "the registry token is empty or has spaces"),
    ],
)
def test_unusable_settings_say_why_without_the_secret(
    url: str, settings: dict[str, str], reason: str
) -> None:
    with pytest.raises(RegistrySettingError) as raised:
        RegistryAccess.parse(url, **settings)
    assert reason in str(raised.value)
    for secret in (PASSWORD, "s3cr", TOKEN):
        assert secret not in str(raised.value)


# ------------------------------------------------------------------ the client
def test_basic_auth_and_bearer_token_over_tls_resolve_schema_ids(
    certificates: Certificates, basic_registry: str, token_registry: str
) -> None:
    ca = str(certificates.ca)
    for access in (
        RegistryAccess.parse(basic_registry, username=USER, password=PASSWORD, cafile=ca),
        RegistryAccess.parse(_with_user_info(basic_registry), cafile=ca),
        RegistryAccess.parse(token_registry, token=TOKEN, cafile=ca),
    ):
        decoded = WireDecoder(SchemaResolver(access)).decode(v2_value(SCHEMA_ID), "t/0/0")
        assert decoded.error is None and decoded.data is not None
        assert decoded.data["ticket_id"] == "T-1"


def _fatal(access: RegistryAccess) -> str:
    with pytest.raises(FatalSourceError) as raised:
        SchemaResolver(access).writer_schema(SCHEMA_ID)
    message = str(raised.value)
    assert access.url in message and "@" not in message
    for secret in (PASSWORD, "s3cr", "wrong-one", TOKEN, "wrong-token"):
        assert secret not in message
    return message


def test_refused_credentials_and_untrusted_certificates_are_fatal(
    certificates: Certificates, basic_registry: str, token_registry: str
) -> None:
    ca = str(certificates.ca)
    wrong = RegistryAccess.parse(basic_registry, username=USER, password="wrong-one", cafile=ca)
    assert f"HTTP 401: the user {USER!r} was refused" in _fatal(wrong)
    intruder = RegistryAccess.parse(
        basic_registry, username="intruder", password=PASSWORD, cafile=ca
    )
    assert "HTTP 403: the user 'intruder' may not read schemas" in _fatal(intruder)
    none = RegistryAccess.parse(token_registry, cafile=ca)
    assert "wants credentials and none were given" in _fatal(none)
    token = RegistryAccess.parse(token_registry, token="wrong-token", cafile=ca)
    assert "HTTP 401: the bearer token was refused" in _fatal(token)
    untrusted = RegistryAccess.parse(basic_registry, username=USER, password=PASSWORD)
    assert "TLS certificate does not verify against the system's CAs" in _fatal(untrusted)


def test_a_registry_in_trouble_is_transient_and_named_without_user_info() -> None:
    server, url = serve_registry(SCHEMAS, status=503)
    try:
        resolver = SchemaResolver(_with_user_info(url), timeout=5)
        with pytest.raises(RegistryUnavailable) as raised:
            resolver.writer_schema(SCHEMA_ID)
    finally:
        server.shutdown()
        server.server_close()
    assert str(raised.value) == f"schema registry {url}: HTTP 503; retrying"


def test_the_decoding_process_gets_the_credentials_without_a_command_line(
    certificates: Certificates, basic_registry: str
) -> None:
    from slaclock.consumers.decode_worker import WireDecodeProcess
    from tests.helpers import contract_policy

    ca = str(certificates.ca)
    good = RegistryAccess.parse(basic_registry, username=USER, password=PASSWORD, cafile=ca)
    wrong = RegistryAccess.parse(basic_registry, username=USER, password="wrong-one", cafile=ca)
    for access, fails in ((good, False), (wrong, True)):
        process = WireDecodeProcess(contract_policy, access)
        try:
            cmdline = Path(f"/proc/{process._worker.pid}/cmdline").read_bytes()
            assert b"s3cr" not in cmdline and b"wrong-one" not in cmdline
            process.submit([v2_value(SCHEMA_ID)], ["t/0/0"])
            if fails:
                with pytest.raises(FatalSourceError, match="HTTP 401"):
                    process.result()
            else:
                assert [f.event_id for *_, f in process.result().facts] == ["evt-1"]
        finally:
            process.close()


# ------------------------------------------------------------------ end to end, on Kafka
def _topic_with_one_v2_event() -> str:
    topic = create_topic(unique("registry-auth"))
    event = {
        "event_id": "ra-1",
        "type": "ticket.created",
        "ticket_id": "RA-1",
        "occurred_at": "2025-09-01T09:00:00+02:00",
        "customer_id": "acme",
    }
    name, record = to_record(event)
    send_all([(b"RA-1", encode_record(schema_by_id(2), SCHEMA_ID, (name, record)))], topic)
    return topic


def _consume(
    store: str, topic: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACLOCK_SCHEMA")}
    args = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--log-level", "debug")
    return subprocess.run(
        [*SLACLOCK, "--config", str(CONFIG), "--store", store, *args, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**environment, **(env or {})},
    )


def _stored(store: str) -> Any:
    proc = subprocess.run(
        [*SLACLOCK, "--config", str(CONFIG), "--store", store, "ticket", "RA-1", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (PASSWORD, "s3cr", USER_INFO, TOKEN, "wrong-one", BASIC[6:]):
            assert secret not in text


@pytest.mark.parametrize("decoder", ["process", "inline"])
def test_consume_with_basic_auth_from_the_environment_and_a_ca_file(
    tmp_path: Path, certificates: Certificates, basic_registry: str, decoder: str
) -> None:
    store, topic = sqlite_store(tmp_path), _topic_with_one_v2_event()
    proc = _consume(
        store,
        topic,
        *("--decoder", decoder, "--schema-registry", basic_registry),
        *("--schema-registry-user", USER, "--schema-registry-ca", str(certificates.ca)),
        env={"SLACLOCK_SCHEMA_REGISTRY_PASSWORD": PASSWORD},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["accepted"] == 1
    assert _stored(store)["ticket_id"] == "RA-1"
    _assert_no_secret(proc.stdout, proc.stderr)


def test_consume_with_a_bearer_token_file(
    tmp_path: Path, certificates: Certificates, token_registry: str
) -> None:
    store, topic = sqlite_store(tmp_path), _topic_with_one_v2_event()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    proc = _consume(
        store,
        topic,
        *("--schema-registry", token_registry, "--schema-registry-token-file", str(token_file)),
        env={"SLACLOCK_SCHEMA_REGISTRY_CA": str(certificates.ca)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _stored(store)["ticket_id"] == "RA-1"
    _assert_no_secret(proc.stdout, proc.stderr)


def test_user_info_in_the_url_works_and_never_shows(
    tmp_path: Path, certificates: Certificates, basic_registry: str
) -> None:
    store, topic = sqlite_store(tmp_path), _topic_with_one_v2_event()
    health = tmp_path / "health"
    proc = _consume(
        store,
        topic,
        *("--schema-registry", _with_user_info(basic_registry), "--health-file", str(health)),
        env={"SLACLOCK_SCHEMA_REGISTRY_CA": str(certificates.ca)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _stored(store)["ticket_id"] == "RA-1"
    assert "visible in the process list" in proc.stderr  # typed on the command line
    _assert_no_secret(proc.stdout, proc.stderr, health.read_text())


@pytest.mark.parametrize("decoder", ["process", "inline"])
def test_refused_credentials_end_consume_with_exit_4_naming_the_url_only(
    tmp_path: Path, certificates: Certificates, basic_registry: str, decoder: str
) -> None:
    store, topic = sqlite_store(tmp_path), _topic_with_one_v2_event()
    health = tmp_path / "health"
    proc = _consume(
        store,
        topic,
        *("--decoder", decoder, "--health-file", str(health)),
        "--schema-registry",
        _with_user_info(basic_registry, f"{USER}:wrong-one"),
        env={"SLACLOCK_SCHEMA_REGISTRY_CA": str(certificates.ca)},
    )
    assert proc.returncode == 4, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        f"slaclock: error: schema registry {basic_registry}: HTTP 401: the user {USER!r} was "
        "refused; fix it and start again"
    )
    assert "Traceback" not in proc.stderr and _stored(store) is None
    _assert_no_secret(proc.stdout, proc.stderr, health.read_text() if health.exists() else "")


def test_an_untrusted_certificate_ends_consume_with_exit_4_and_a_bad_ca_file_is_a_usage_error(
    tmp_path: Path, basic_registry: str
) -> None:
    store, topic = sqlite_store(tmp_path), _topic_with_one_v2_event()
    env = {"SLACLOCK_SCHEMA_REGISTRY_PASSWORD": PASSWORD}
    registry = ("--schema-registry", basic_registry, "--schema-registry-user", USER)
    proc = _consume(store, topic, *registry, env=env)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "its TLS certificate does not verify" in proc.stderr.strip().splitlines()[-1]
    missing = str(tmp_path / "no-such-ca.pem")
    proc = _consume(store, topic, *registry, "--schema-registry-ca", missing, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"slaclock: error: --schema-registry: CA file {missing}: No such file or directory"
    )
    _assert_no_secret(proc.stderr)


# ------------------------------------------------------------------ the command-line side
def _options(**given: str | None) -> Any:
    import argparse

    defaults = {
        "schema_registry": "https://registry.example",
        "schema_registry_user": None,
        "schema_registry_password_file": None,
        "schema_registry_token_file": None,
        "schema_registry_ca": None,
    }
    return argparse.Namespace(**{**defaults, **given})


def test_secrets_come_from_files_or_the_environment_never_from_a_plain_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from slaclock.args import UsageError
    from slaclock.registry_options import registry_access

    monkeypatch.setenv("SLACLOCK_SCHEMA_REGISTRY_PASSWORD", "from-the-environment")
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")
    access = registry_access(_options(schema_registry_user=USER))
    assert access is not None and access.password == "from-the-environment"
    access = registry_access(
        _options(schema_registry_user=USER, schema_registry_password_file=str(secret_file))
    )
    assert access is not None and access.password == PASSWORD  # the file wins, line break cut
    missing = str(tmp_path / "nothing")
    with pytest.raises(UsageError, match=f"password file {missing}: No such file"):
        registry_access(_options(schema_registry_user=USER, schema_registry_password_file=missing))
    caplog.set_level("WARNING", logger="slaclock.kafka")
    registry_access(_options(schema_registry="http://registry.example", schema_registry_user=USER))
    assert "credentials go unencrypted to http://registry.example" in caplog.text
    assert registry_access(_options(schema_registry=None)) is None
    assert "from-the-environment" not in caplog.text
