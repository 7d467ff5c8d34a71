"""``consume``'s schema registry options: URL, credentials and CA file, from the command line
and the environment.

Secrets never come from a plain command-line value, since any user can read a process's
arguments (``ps``): the password comes from ``SLACLOCK_SCHEMA_REGISTRY_PASSWORD`` or a file,
the bearer token from ``SLACLOCK_SCHEMA_REGISTRY_TOKEN`` or a file. A password in the URL's
user info is accepted (percent-encoded), with a warning when the URL was typed on the command
line rather than given in ``SLACLOCK_SCHEMA_REGISTRY_URL``.
"""

from __future__ import annotations

import argparse
import logging
import os
import urllib.parse

from slaclock.args import UsageError, secret_file
from slaclock.consumers.schema_registry import RegistryAccess, RegistrySettingError

URL_ENV = "SLACLOCK_SCHEMA_REGISTRY_URL"
USER_ENV = "SLACLOCK_SCHEMA_REGISTRY_USER"
PASSWORD_ENV = "SLACLOCK_SCHEMA_REGISTRY_PASSWORD"
PASSWORD_FILE_ENV = "SLACLOCK_SCHEMA_REGISTRY_PASSWORD_FILE"
TOKEN_ENV = "SLACLOCK_SCHEMA_REGISTRY_TOKEN"
TOKEN_FILE_ENV = "SLACLOCK_SCHEMA_REGISTRY_TOKEN_FILE"
CA_ENV = "SLACLOCK_SCHEMA_REGISTRY_CA"


def add_options(p: argparse.ArgumentParser) -> None:
    """The credential and TLS options beside ``--schema-registry URL``."""
    g = p.add_argument_group(
        "schema registry credentials (secrets only from the environment or files)"
    )
    g.add_argument(
        "--schema-registry-user",
        default=os.environ.get(USER_ENV),
        metavar="NAME",
        help=f"basic auth user (env {USER_ENV}; or user info in the URL); the password comes "
        f"from env {PASSWORD_ENV} or --schema-registry-password-file",
    )
    g.add_argument(
        "--schema-registry-password-file",
        default=os.environ.get(PASSWORD_FILE_ENV),
        metavar="PATH",
        help=f"file holding the basic auth password (env {PASSWORD_FILE_ENV})",
    )
    g.add_argument(
        "--schema-registry-token-file",
        default=os.environ.get(TOKEN_FILE_ENV),
        metavar="PATH",
        help=f"file holding a bearer token (env {TOKEN_FILE_ENV}; or the token in env {TOKEN_ENV})",
    )
    g.add_argument(
        "--schema-registry-ca",
        default=os.environ.get(CA_ENV),
        metavar="PATH",
        help=f"CA certificates (PEM) to verify the registry's TLS certificate with, instead of "
        f"the system's (env {CA_ENV})",
    )


def registry_access(args: argparse.Namespace) -> RegistryAccess | None:
    """The registry to resolve schema ids with, or None for ``schemas/registry.json``;
    :class:`UsageError` (never naming a secret) if the settings cannot work."""
    url = args.schema_registry
    if not url:
        return None
    password = _secret(args.schema_registry_password_file, PASSWORD_ENV, "password")
    token = _secret(args.schema_registry_token_file, TOKEN_ENV, "token")
    if token is not None:
        token = token.strip()
    try:
        access = RegistryAccess.parse(
            url,
            username=args.schema_registry_user or None,
            password=password,
            token=token,
            cafile=args.schema_registry_ca or None,
        )
        access.ssl_context()  # an unreadable CA file is a usage error, now
    except RegistrySettingError as exc:
        raise UsageError(f"--schema-registry: {exc}") from None
    log = logging.getLogger("slaclock.kafka")
    if urllib.parse.urlsplit(url).password is not None and url != os.environ.get(URL_ENV):
        log.warning(
            "the registry password in --schema-registry is visible in the process list; "
            "give it in %s or %s instead",
            PASSWORD_ENV,
            URL_ENV,
        )
    if (access.username or access.token) and access.url.startswith("http://"):
        log.warning("registry credentials go unencrypted to %s: prefer https://", access.url)
    return access


def _secret(path: str | None, env: str, what: str) -> str | None:
    """A secret from its file (the file wins over the variable) or its variable. A file's
    final line break is not part of it."""
    if path:
        return secret_file(path, f"schema registry {what} file")
    return os.environ.get(env) or None
