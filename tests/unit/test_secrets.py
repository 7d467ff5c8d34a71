"""Secrets are never printed: store URLs whatever their password holds, the store's password
from a file or the environment, Kafka passwords from files, registry URLs (issue 18 item 8)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slaclock.args import UsageError
from slaclock.cli import _parser, main
from slaclock.consumers.schema_registry import RegistryAccess, RegistrySettingError
from slaclock.kafka_options import client_config
from slaclock.projections.store_url import (
    PASSWORD_FILE_VARIABLE,
    StoreError,
    hide_password,
    redact,
    store_env,
)

SECRET = "Xq#7?/@:%zz[ "
"""A password holding every character that once broke the URL's parsing or redaction."""
URL = "postgresql://slaclock:{}@127.0.0.1:{}/slaclock"

passwords = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(passwords)
def test_redact_hides_any_password(password: str) -> None:
    url = URL.format(password, 5432)
    assert redact(url) == URL.format("***", 5432)
    assert redact(URL.format(quote(password, safe=""), 5432)) == URL.format("***", 5432)


@given(passwords.filter(lambda p: "%" not in p))
def test_a_password_is_read_whole_whatever_it_holds(password: str) -> None:
    env = store_env(URL.format(password, 5433) + "?schema=s")
    assert env["POSTGRES_PASSWORD"] == password
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("127.0.0.1", "5433")
    assert (env["POSTGRES_USER"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == (
        "slaclock",
        "slaclock",
        "s",
    )
    assert store_env(URL.format(quote(password, safe=""), 5433))["POSTGRES_PASSWORD"] == password


def test_urls_without_a_password_are_shown_as_given() -> None:
    for url in (
        "sqlite:///var/a@b.db",
        "postgresql://slaclock@127.0.0.1/db",
        "postgresql://127.0.0.1:5432/db?schema=a_b",
    ):
        assert redact(url) == url
    assert store_env("sqlite:///var/a@b.db")["SQLITE_DBNAME"] == "var/a@b.db"


@given(passwords.filter(lambda p: "%" not in p))
def test_an_at_sign_in_the_query_is_not_taken_for_user_info(password: str) -> None:
    url = URL.format(password, 5433) + "?schema=a@b"
    assert redact(url) == URL.format("***", 5433) + "?schema=a@b"
    env = store_env(url)
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("slaclock", password)
    assert (env["POSTGRES_HOST"], env["POSTGRES_SCHEMA"]) == ("127.0.0.1", "a@b")


def test_an_at_sign_in_the_query_of_a_url_without_user_info() -> None:
    for url in (
        "postgresql://127.0.0.1:5432/db?schema=a@b",
        "postgresql://db.example/db?connect_timeout=5&schema=x@y@z",
    ):
        assert redact(url) == url
        env = store_env(url)
        assert env["POSTGRES_USER"] == "postgres" and env["POSTGRES_SCHEMA"].count("@") >= 1
    assert store_env("postgresql://u@h/db?schema=a@b")["POSTGRES_HOST"] == "h"


@pytest.mark.parametrize(
    "url",
    [
        URL.format(SECRET, 99999),  # port out of range
        URL.format(SECRET, "port"),  # not a number
        "postgresql://slaclock:" + SECRET + "@[::1/slaclock",  # a bracket, no IPv6 address
        "postgresql://slaclock:" + SECRET + "@/slaclock",  # no host
        "mysql://slaclock:" + SECRET + "@127.0.0.1/slaclock",  # unknown scheme
        URL.format(SECRET, 5432) + "?connect_timeout=soon",
    ],
)
def test_a_bad_store_url_is_a_usage_error_without_its_password(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreError) as raised:
        store_env(url)
    assert "Xq" not in str(raised.value) and "***" in str(raised.value)
    # The command line says so in one line, exit code 2, no traceback.
    assert main(["--config", "examples/slaclock.toml", "--store", url, "tickets"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("slaclock: error: store ") and "Xq" not in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_drivers_message_has_the_password_hidden() -> None:
    url = URL.format(quote(SECRET, safe=""), 5432)
    text = f"auth failed for {SECRET!s} (as written: {quote(SECRET, safe='')})"
    assert "Xq" not in hide_password(url, text)


def test_the_store_password_comes_from_a_file_or_pgpassword(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = "postgresql://slaclock@127.0.0.1/slaclock"
    monkeypatch.delenv(PASSWORD_FILE_VARIABLE, raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    assert store_env(bare)["POSTGRES_PASSWORD"] == ""  # libpq reads PGPASSFILE itself then
    monkeypatch.setenv("PGPASSWORD", "from-env")
    assert store_env(bare)["POSTGRES_PASSWORD"] == "from-env"
    assert store_env(URL.format("in-url", 1))["POSTGRES_PASSWORD"] == "in-url"
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv(PASSWORD_FILE_VARIABLE, str(secret))
    assert store_env(bare)["POSTGRES_PASSWORD"] == SECRET
    assert store_env(URL.format(quote(SECRET, safe=""), 1))["POSTGRES_PASSWORD"] == SECRET
    with pytest.raises(StoreError, match="both in the URL and in") as raised:
        store_env(URL.format("other", 1))
    assert "Xq" not in str(raised.value) and "other" not in str(raised.value)
    monkeypatch.setenv(PASSWORD_FILE_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(StoreError, match=f"{PASSWORD_FILE_VARIABLE}: .*missing: No such file"):
        store_env(bare)


def test_a_store_password_on_the_command_line_of_serve_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLACLOCK_STORE", raising=False)
    url = URL.format(SECRET, 99999)
    assert main(["--config", "examples/slaclock.toml", "--store", url, "serve"]) == 2
    err = capsys.readouterr().err
    assert "warning: --store: the password is visible in the process list" in err
    assert "Xq" not in err
    monkeypatch.setenv("SLACLOCK_STORE", url)  # from the environment: no warning
    assert main(["--config", "examples/slaclock.toml", "serve"]) == 2
    assert "warning" not in capsys.readouterr().err


def _kafka(*argv: str) -> dict[str, object]:
    return client_config(_parser().parse_args(["consume", "--topic", "t", *argv]))


def test_kafka_passwords_come_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sasl, key = tmp_path / "sasl", tmp_path / "key"
    sasl.write_text("sasl-secret\n")
    key.write_text("key-secret")
    config = _kafka("--sasl-password-file", str(sasl), "--ssl-password-file", str(key))
    assert (config["sasl_plain_password"], config["ssl_password"]) == ("sasl-secret", "key-secret")
    monkeypatch.setenv("SLACLOCK_KAFKA_SASL_PASSWORD_FILE", str(sasl))
    assert _kafka()["sasl_plain_password"] == "sasl-secret"
    with pytest.raises(UsageError, match="--sasl-password: given both") as raised:
        _kafka("--sasl-password", "other")
    assert "secret" not in str(raised.value) and "other" not in str(raised.value)
    with pytest.raises(UsageError, match=r"--ssl-password-file .*nope: No such file"):
        _kafka("--ssl-password-file", str(tmp_path / "nope"))
    monkeypatch.delenv("SLACLOCK_KAFKA_SASL_PASSWORD_FILE")
    capsys.readouterr()
    assert _kafka("--sasl-password", "typed")["sasl_plain_password"] == "typed"
    err = capsys.readouterr().err
    assert "warning: --sasl-password is visible in the process list" in err
    assert "typed" not in err
    monkeypatch.setenv("SLACLOCK_KAFKA_SASL_PASSWORD", "typed")  # from the environment
    assert _kafka()["sasl_plain_password"] == "typed"
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["http://u:pa#ss@host:bad/", "http://u:pa/ss@host:bad/", "http://u:pa?ss@h:x"]
)
def test_a_registry_url_error_never_shows_its_password(url: str) -> None:
    with pytest.raises(RegistrySettingError) as raised:
        RegistryAccess.parse(url)
    assert "pa" not in str(raised.value).replace("port", "")
    good = RegistryAccess.parse(url.replace(":bad", "").replace(":x", ""))
    assert good.password is not None and good.password.startswith("pa")
