"""A Confluent-compatible schema registry: where it is, how to log in, whom to trust.

:class:`RegistryAccess` is a plain picklable value (URL, basic auth or bearer token, CA file),
so the decoding process receives it through its pipe, never on a command line; credentials stay
out of its ``repr`` and every message. :class:`RegistryClient` fetches one writer schema and
sorts the failures: transient ones (:class:`RegistryUnavailable`, retried) from those retrying
cannot cure (:class:`~consumers.errors.FatalSourceError`). Redirects are not followed.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from slaclock.consumers.errors import FatalSourceError
from slaclock.projections.store_url import credentials


class RegistryUnavailable(Exception):
    """The schema registry did not answer (transient: retry the batch, do not dead-letter)."""


class RegistrySettingError(ValueError):
    """The registry's URL or credentials cannot be used as given (a usage error)."""


@dataclass(frozen=True)
class RegistryAccess:
    """A registry's URL without user info, and how to authenticate to it and trust it."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        cafile: str | None = None,
    ) -> RegistryAccess:
        """``url`` may carry ``user:password@`` (percent-encoded); a user or password given
        both there and separately must agree. :class:`RegistrySettingError` names what is
        wrong, never a credential."""
        in_user, in_password, bare = credentials(url.strip())  # a password may hold '#', '/'
        split = urllib.parse.urlsplit(bare)
        safe = urllib.parse.urlunsplit((split.scheme, split.netloc, split.path.rstrip("/"), "", ""))
        if split.scheme not in ("http", "https") or not split.hostname:
            raise RegistrySettingError(f"{safe or '(empty)'}: not an http:// or https:// URL")
        try:
            split.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise RegistrySettingError(f"{safe}: the port is not a number") from None
        if split.query or split.fragment:
            raise RegistrySettingError(f"{safe}: a registry URL has no query or fragment")
        if cafile and split.scheme != "https":
            raise RegistrySettingError(f"{safe}: a CA file needs an https:// URL")
        user = _agree(safe, "user", _unquoted(in_user), username)
        secret = _agree(safe, "password", _unquoted(in_password), password)
        if secret is not None and not user:
            raise RegistrySettingError(f"{safe}: a registry password needs a user")
        if user and secret is None:
            raise RegistrySettingError(f"{safe}: registry user {user!r} has no password")
        if user and ":" in user:
            raise RegistrySettingError(f"{safe}: a registry user name cannot contain ':'")
        if user and token:
            raise RegistrySettingError(f"{safe}: give a registry user or a token, not both")
        if token is not None and not _usable_token(token):
            raise RegistrySettingError(f"{safe}: the registry token is empty or has spaces")
        return cls(safe, user or None, secret if user else None, token or None, cafile or None)

    def headers(self) -> dict[str, str]:
        """The request headers: ``Accept`` and, with credentials, ``Authorization``."""
        headers = {"Accept": "application/vnd.schemaregistry.v1+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        return headers

    def ssl_context(self) -> ssl.SSLContext:
        """Certificate verification against the CA file, or the system's CAs without one;
        :class:`RegistrySettingError` if the CA file cannot be read."""
        try:
            return ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise RegistrySettingError(f"CA file {self.cafile}: {reason}") from None


def _usable_token(token: str) -> bool:
    """Non-empty and printable without spaces (it goes into an HTTP header as it is)."""
    return bool(token) and not any(c.isspace() or not c.isprintable() for c in token)


def _unquoted(part: str | None) -> str | None:
    return urllib.parse.unquote(part) if part is not None else None


def _agree(url: str, what: str, in_url: str | None, given: str | None) -> str | None:
    if in_url is not None and given is not None and in_url != given:
        raise RegistrySettingError(f"{url}: the registry {what} is given twice, differently")
    return in_url if in_url is not None else given


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: credentials go to the configured host and nowhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class RegistryClient:
    """Writer schemas from a registry, one ``GET`` per schema id (the caller caches)."""

    def __init__(self, access: RegistryAccess, *, timeout: float = 10.0) -> None:
        self.access = access
        self.timeout = timeout
        https = urllib.request.HTTPSHandler(context=access.ssl_context())
        self._opener = urllib.request.build_opener(https, _NoRedirect())

    def schema(self, schema_id: int) -> dict[str, Any] | None:
        """The registry's answer for ``schema_id`` (``{"schema": ..., ...}``), None if it
        does not know the id."""
        url = f"{self.access.url}/schemas/ids/{schema_id}"
        request = urllib.request.Request(url, headers=self.access.headers())
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise self._refused(exc.code) from None
        except (OSError, ValueError) as exc:  # URLError, timeouts, bad JSON
            if isinstance(getattr(exc, "reason", exc), ssl.SSLCertVerificationError):
                raise self._untrusted(getattr(exc, "reason", exc)) from None
            raise RegistryUnavailable(f"schema registry {url}: {_reason(exc)}") from None
        if not isinstance(body, dict):
            raise RegistryUnavailable(f"schema registry {url}: the answer is not a JSON object")
        return body

    def _refused(self, code: int) -> Exception:
        where = f"schema registry {self.access.url}: HTTP {code}"
        if code in (401, 403):
            if not (self.access.username or self.access.token):
                return FatalSourceError(
                    f"{where}: the registry wants credentials and none were given (user info "
                    "in the URL, SLACLOCK_SCHEMA_REGISTRY_USER and _PASSWORD, or a token)"
                )
            kind = "bearer token" if self.access.token else f"user {self.access.username!r}"
            verdict = "was refused" if code == 401 else "may not read schemas"
            return FatalSourceError(f"{where}: the {kind} {verdict}; fix it and start again")
        if 300 <= code < 400:
            return FatalSourceError(
                f"{where}: a redirect, which slaclock does not follow with credentials; "
                "give the URL it points to"
            )
        return RegistryUnavailable(f"{where}; retrying")

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> FatalSourceError:
        hint = "the CA file given" if self.access.cafile else "the system's CAs"
        return FatalSourceError(
            f"schema registry {self.access.url}: its TLS certificate does not verify against "
            f"{hint} ({exc.verify_message or exc.reason}); give its CA with --schema-registry-ca"
        )


def _reason(exc: BaseException) -> str:
    """An error's own words, without the URL (urllib wraps the real cause in ``reason``)."""
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__
