"""Authentication of the sample API, one mode per EventBridge connection authorization type.

- ``api_key``: the key on a configurable header (default ``x-api-key``), as an API_KEY
  connection sends ``ApiKeyName: ApiKeyValue``.
- ``basic``: ``Authorization: Basic base64(user:password)``, as a BASIC connection sends.
- ``oauth``: OAuth 2.0 client credentials. ``{base}/oauth/token`` (POST, GET or PUT, since a
  connection's ``HttpMethod`` may be any of them) takes the client id and secret in a Basic
  ``Authorization`` header, or as ``client_id``/``client_secret`` in a form or JSON body or the
  query string; ``grant_type``, if sent, must be ``client_credentials`` (a connection sends it
  only when configured to, so its absence is accepted). It returns ``{"access_token",
  "token_type": "Bearer", "expires_in"}``; data calls need ``Authorization: Bearer <token>``
  and an expired or unknown token gets 401, which makes EventBridge fetch a new one.
- ``none``: no check.

Secrets are compared in constant time, never logged, never echoed, and hidden from ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import math
import secrets
import threading
import time
from typing import Callable, Mapping

from toolkit.errors import ToolkitError

__all__ = ["AUTH_MODES", "AuthConfig", "AuthError", "Authenticator"]

AUTH_MODES = ("none", "api_key", "basic", "oauth")


class AuthError(Exception):
    """A request's credentials are missing or wrong; the message never holds a secret."""

    def __init__(self, code: str, message: str, status: int = 401):
        self.code = code
        self.message = message
        self.status = status
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """How the sample API authenticates data calls. Build with the class methods."""

    mode: str = "none"
    header: str = "x-api-key"
    secret: str = dataclasses.field(default="", repr=False)
    username: str = ""
    client_id: str = ""
    token_ttl: float = 3600.0

    def __post_init__(self) -> None:
        if self.mode not in AUTH_MODES:
            raise ToolkitError(f"auth.mode: must be one of {', '.join(AUTH_MODES)}, got {self.mode!r}")
        if self.mode != "none" and not self.secret:
            raise ToolkitError(f"auth: the {self.mode} mode needs a non-empty secret")
        if self.mode == "api_key" and not self.header.strip():
            raise ToolkitError("auth.header: must name an HTTP header")
        if self.mode == "basic" and (not self.username or ":" in self.username):
            raise ToolkitError("auth.username: must be non-empty and hold no ':'")
        if self.mode == "oauth" and not self.client_id:
            raise ToolkitError("auth.client_id: must be non-empty")
        if self.token_ttl <= 0:
            raise ToolkitError(f"auth.token_ttl: must be > 0 seconds, got {self.token_ttl!r}")

    @classmethod
    def none(cls) -> "AuthConfig":
        return cls()

    @classmethod
    def api_key(cls, key: str, header: str = "x-api-key") -> "AuthConfig":
        return cls(mode="api_key", header=header, secret=key)

    @classmethod
    def basic(cls, username: str, password: str) -> "AuthConfig":
        return cls(mode="basic", username=username, secret=password)

    @classmethod
    def oauth(cls, client_id: str, client_secret: str, token_ttl: float = 3600.0) -> "AuthConfig":
        return cls(mode="oauth", client_id=client_id, secret=client_secret, token_ttl=token_ttl)

    def describe(self) -> str:
        """One line naming the mode, free of secrets (for start-up messages)."""
        return {
            "none": "no authentication",
            "api_key": f"API key on header {self.header}",
            "basic": f"HTTP Basic as user {self.username}",
            "oauth": f"OAuth client credentials for client {self.client_id} (POST /oauth/token)",
        }[self.mode]


class Authenticator:
    """Checks data calls against an :class:`AuthConfig` and issues OAuth tokens."""

    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, headers: Mapping[str, str]) -> None:
        """Raise :class:`AuthError` unless the headers carry valid credentials."""
        cfg = self.config
        if cfg.mode == "api_key":
            given = headers.get(cfg.header)
            if given is None:
                raise AuthError("MissingCredentials", f"missing API key header {cfg.header}")
            if not _same(given, cfg.secret):
                raise AuthError("InvalidCredentials", f"wrong API key on header {cfg.header}")
        elif cfg.mode == "basic":
            user, password = _basic(headers.get("Authorization"))
            if user is None:
                raise AuthError("MissingCredentials", "missing Basic Authorization header")
            if not (_same(user, cfg.username) & _same(password or "", cfg.secret)):
                raise AuthError("InvalidCredentials", "wrong user name or password")
        elif cfg.mode == "oauth":
            value = headers.get("Authorization", "")
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("MissingCredentials", "missing Bearer token in Authorization header")
            with self._lock:
                expires = self._tokens.get(token.strip())
            if expires is None:
                raise AuthError("InvalidToken", "unknown access token")
            if self._clock() >= expires:
                raise AuthError("ExpiredToken", "access token expired")

    def issue_token(self, headers: Mapping[str, str], form: Mapping[str, str]) -> dict[str, object]:
        """The token endpoint: credentials from Basic auth or the form; returns the token reply."""
        cfg = self.config
        if cfg.mode != "oauth":
            raise AuthError("unsupported", "this sample API is not configured for OAuth", status=404)
        grant = form.get("grant_type")
        if grant is not None and grant != "client_credentials":
            raise AuthError("unsupported_grant_type", "grant_type must be client_credentials", status=400)
        client_id, client_secret = _basic(headers.get("Authorization"))
        if client_id is None:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if client_id is None or client_secret is None:
            raise AuthError("invalid_client", "missing client credentials")
        if not (_same(client_id, cfg.client_id) & _same(client_secret, cfg.secret)):
            raise AuthError("invalid_client", "wrong client id or secret")
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + cfg.token_ttl
        return {"access_token": token, "token_type": "Bearer", "expires_in": math.ceil(cfg.token_ttl)}

    def expire_tokens(self) -> None:
        """Make every issued token expired now (tests of token refresh)."""
        with self._lock:
            now = self._clock()
            self._tokens = {t: min(e, now) for t, e in self._tokens.items()}


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _basic(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""  # present but unreadable: a wrong credential, not a missing one
    user, _, password = decoded.partition(":")
    return user, password
