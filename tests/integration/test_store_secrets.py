"""The store's password on real PostgreSQL, wherever it comes from (the URL, whatever it
holds; a file; PGPASSWORD; libpq's password file), and ``token revoke`` that takes the token
from stdin and never prints it back (issue 18 item 8)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from slaclock.config import load_policy
from slaclock.projections.store import TicketStore
from slaclock.projections.store_url import PASSWORD_FILE_VARIABLE
from tests.conftest import CONFIG, Cli

SECRET = "Xq#7?/@:zz"


def _password_used(url: str) -> str:
    """The password libpq connected with (the test server trusts any)."""
    store = TicketStore(url, load_policy(CONFIG)[0])
    try:
        with store.datastore.get_connection() as conn:
            return str(conn.info.password)
    finally:
        store.close()


@pytest.mark.postgres
def test_the_password_reaches_postgresql_from_each_place(
    postgres_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (PASSWORD_FILE_VARIABLE, "PGPASSWORD", "PGPASSFILE"):
        monkeypatch.delenv(name, raising=False)
    user, host = postgres_store.split("://", 1)[1].split("@", 1)
    with_password = f"postgresql://{user}:{SECRET}@{host}"
    assert _password_used(with_password) == SECRET  # unencoded, '#', '?', '/', '@' and all
    assert _password_used(f"postgresql://{user}:{quote(SECRET, safe='')}@{host}") == SECRET

    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:*:from-pgpass\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert _password_used(postgres_store) == "from-pgpass"
    monkeypatch.setenv("PGPASSWORD", "from-pgpassword")
    assert _password_used(postgres_store) == "from-pgpassword"
    secret = tmp_path / "store-password"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv(PASSWORD_FILE_VARIABLE, str(secret))
    assert _password_used(postgres_store) == SECRET

    # The command line opens the same store with the password from the file alone.
    cli = Cli(CONFIG, postgres_store, tmp_path)
    done = cli.run("tickets")
    assert done.returncode == 0, done.stderr


def test_token_revoke_reads_the_token_from_stdin_and_never_prints_it(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    first, second = (cli.json("token", "create", "--customer", "acme") for _ in range(2))
    done = cli.run("token", "revoke", stdin=first["token"] + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"revoked {first['token_id']}\n"
    again = cli.run("token", "revoke", "-", stdin=first["token"] + "\n")
    assert again.returncode == 1
    assert first["token"] not in again.stdout + again.stderr
    assert again.stderr == "slaclock: token: no active token with this id or token\n"
    by_id = cli.run("token", "revoke", second["token_id"])
    assert (by_id.returncode, by_id.stdout) == (0, f"revoked {second['token_id']}\n")
    # A token given on the command line by mistake is revoked, and not printed either.
    third = cli.json("token", "create", "--admin")
    typed = cli.run("token", "revoke", third["token"])
    assert typed.returncode == 0 and third["token"] not in typed.stdout + typed.stderr
    unknown = cli.run("token", "revoke", "--json", third["token"])
    assert unknown.returncode == 1 and third["token"] not in unknown.stdout + unknown.stderr
    assert [r["revoked_at"] is not None for r in cli.json("token", "list")] == [True] * 3
