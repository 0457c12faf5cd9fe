"""EventBridge connections for the HTTP Task: read the connection and its secret, apply its auth.

AWS keeps a connection's authorization parameters in a Secrets Manager secret owned by
EventBridge (``SecretArn`` in DescribeConnection); DescribeConnection itself shows only the
non-secret parts. We read both from the stack's own APIs, exactly where AWS keeps them, and
merge them (the secret wins). Key spelling differs between the two (``ApiKeyName`` in the API,
``api_key_name`` in the secret), so keys are compared case- and underscore-insensitively.

Authorization types: API_KEY (a header), BASIC (``Authorization: Basic``) and
OAUTH_CLIENT_CREDENTIALS (a token from the authorization endpoint, cached until it expires).
The connection's InvocationHttpParameters (headers, query string, body) are added to each call
and win over the task's own values for the same key, as AWS documents for the HTTP Task.

Secrets stay inside this module: nothing here logs them or puts them into an error cause.
The OAuth token endpoint is held to the HTTP Task's rules: HTTPS only (unless the runtime's local
plain-http opt-in is on) and no redirects followed, so the client secret goes to that host only.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from botocore.exceptions import ClientError

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.clients import AwsClients

__all__ = [
    "HttpParameter", "OAuthSettings", "Connection", "ConnectionResolver", "OutgoingRequest", "https_problem",
    "read_at_most",
]

# How long a connection read from the APIs is reused before it is read again.
CONNECTION_CACHE_SECONDS = 30.0
# Refresh an OAuth token this many seconds before the provider says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 10.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0
# A token answer is a small JSON object; anything larger is refused rather than held in memory.
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpParameter:
    """One header, query-string or body parameter of a connection."""

    key: str
    value: str
    is_secret: bool = False


@dataclass(frozen=True)
class OAuthSettings:
    """Where and how an OAUTH_CLIENT_CREDENTIALS connection asks for its token."""

    endpoint: str
    method: str
    client_id: str
    client_secret: str
    headers: tuple[HttpParameter, ...] = ()
    query: tuple[HttpParameter, ...] = ()
    body: tuple[HttpParameter, ...] = ()


@dataclass(frozen=True)
class Connection:
    """A connection's authorization, as needed to sign one HTTP Task request."""

    arn: str
    authorization_type: str
    state: str = "AUTHORIZED"
    secret_arn: str = ""  # where EventBridge keeps the authorization (its reader needs access to it)
    api_key_name: str = ""
    api_key_value: str = ""
    username: str = ""
    password: str = ""
    oauth: OAuthSettings | None = None
    headers: tuple[HttpParameter, ...] = ()
    query: tuple[HttpParameter, ...] = ()
    body: tuple[HttpParameter, ...] = ()


@dataclass
class OutgoingRequest:
    """The parts of an HTTP Task request that a connection may add to."""

    headers: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None  # a JSON object when the connection's body parameters may be merged


def https_problem(url: str, allow_plain_http: bool = False) -> str | None:
    """Why ``url`` may not be called (the HTTP Task calls HTTPS only), or None when it may.

    ``allow_plain_http`` is the local opt-in that also admits ``http://``.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_plain_http):
        return None
    return f"must use https (the HTTP Task calls HTTPS endpoints only), got {scheme or 'no scheme'}://"


async def read_at_most(response: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The body read chunk by chunk, or None (and the connection dropped) once it passes ``cap`` bytes.

    Memory stays bounded by ``cap`` plus one chunk whatever the server sends.
    """
    if response.content_length is not None and response.content_length > cap:
        response.close()
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > cap:
            response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {_norm(str(k)): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _params(block: Any, name: str) -> tuple[HttpParameter, ...]:
    items = (block or {}).get(name) or []
    return tuple(
        HttpParameter(str(p.get("key", "")), str(p.get("value", "")), bool(p.get("isvaluesecret", False)))
        for p in items
        if isinstance(p, dict) and p.get("key")
    )


def parse_connection(arn: str, description: dict[str, Any], secret: dict[str, Any]) -> Connection:
    """Build a :class:`Connection` from DescribeConnection's answer and the secret's JSON."""
    auth_type = str(description.get("AuthorizationType", ""))
    described = _normalise(description.get("AuthParameters") or {})
    # The API nests per type (ApiKeyAuthParameters...); the secret stores the type's keys flat.
    flat: dict[str, Any] = {}
    for key, value in described.items():
        if key == "invocationhttpparameters":
            flat[key] = value
        elif isinstance(value, dict):
            flat = _deep_merge(flat, value)
    merged = _deep_merge(flat, _normalise(secret))
    invocation = merged.get("invocationhttpparameters") or {}
    common = dict(
        arn=arn,
        authorization_type=auth_type,
        state=str(description.get("ConnectionState", "AUTHORIZED")),
        headers=_params(invocation, "headerparameters"),
        query=_params(invocation, "querystringparameters"),
        body=_params(invocation, "bodyparameters"),
    )
    if auth_type == "API_KEY":
        return Connection(
            api_key_name=str(merged.get("apikeyname", "")), api_key_value=str(merged.get("apikeyvalue", "")), **common
        )
    if auth_type == "BASIC":
        return Connection(username=str(merged.get("username", "")), password=str(merged.get("password", "")), **common)
    if auth_type == "OAUTH_CLIENT_CREDENTIALS":
        client = merged.get("clientparameters") or {}
        extra = merged.get("oauthhttpparameters") or {}
        oauth = OAuthSettings(
            endpoint=str(merged.get("authorizationendpoint", "")),
            method=str(merged.get("httpmethod", "POST")).upper(),
            client_id=str(client.get("clientid", merged.get("clientid", ""))),
            client_secret=str(client.get("clientsecret", merged.get("clientsecret", ""))),
            headers=_params(extra, "headerparameters"),
            query=_params(extra, "querystringparameters"),
            body=_params(extra, "bodyparameters"),
        )
        return Connection(oauth=oauth, **common)
    raise StatesError("States.Runtime", f"connection {arn} has an unsupported AuthorizationType {auth_type!r}")


@dataclass
class _Token:
    value: str
    token_type: str
    expires_at: float


class ConnectionResolver:
    """Reads connections from the stack's EventBridge and Secrets Manager and applies their auth."""

    def __init__(self, clients: AwsClients, *, cache_seconds: float = CONNECTION_CACHE_SECONDS):
        self._clients = clients
        self._cache_seconds = cache_seconds
        self._connections: dict[str, tuple[float, Connection]] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def get(self, arn: str) -> Connection:
        """The connection named by ``arn``, read at most once per cache period."""
        cached = self._connections.get(arn)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        async with self._lock(arn):
            cached = self._connections.get(arn)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            connection = await self._read(arn)
            self._connections[arn] = (time.monotonic() + self._cache_seconds, connection)
            return connection

    async def _read(self, arn: str) -> Connection:
        name = _connection_name(arn)
        try:
            description = await self._clients.call("events", "describe_connection", Name=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise StatesError("States.Runtime", f"could not read connection {arn}: {code}") from None
        secret: dict[str, Any] = {}
        secret_arn = description.get("SecretArn")
        if secret_arn:
            try:
                value = await self._clients.call("secretsmanager", "get_secret_value", SecretId=secret_arn)
                secret = json.loads(value.get("SecretString") or "{}")
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "ClientError")
                raise StatesError("States.Runtime", f"could not read the secret of connection {arn}: {code}") from None
            except ValueError:
                raise StatesError("States.Runtime", f"the secret of connection {arn} is not JSON") from None
        connection = parse_connection(arn, description, secret)
        return dataclasses.replace(connection, secret_arn=str(secret_arn or ""))

    def forget(self, arn: str) -> None:
        """Drop what is cached for ``arn`` (its description and OAuth token)."""
        self._connections.pop(arn, None)
        for key in [k for k in self._tokens if k[0] == arn]:
            del self._tokens[key]

    async def apply(self, connection: Connection, request: OutgoingRequest, session: aiohttp.ClientSession,
                    *, allow_plain_http: bool = False) -> None:
        """Add the connection's authorization and invocation parameters to ``request``."""
        if connection.authorization_type == "API_KEY":
            _set_header(request.headers, connection.api_key_name, connection.api_key_value)
        elif connection.authorization_type == "BASIC":
            pair = f"{connection.username}:{connection.password}".encode()
            _set_header(request.headers, "Authorization", "Basic " + base64.b64encode(pair).decode())
        elif connection.oauth is not None:
            token = await self._token(connection, session, allow_plain_http)
            _set_header(request.headers, "Authorization", f"{token.token_type} {token.value}")
        for p in connection.headers:
            _set_header(request.headers, p.key, p.value)
        if connection.query:
            keys = {p.key for p in connection.query}
            request.query = [(k, v) for k, v in request.query if k not in keys]
            request.query.extend((p.key, p.value) for p in connection.query)
        if connection.body:
            if request.body is None:
                request.body = {}
            if isinstance(request.body, dict):
                request.body = {**request.body, **{p.key: p.value for p in connection.body}}

    async def _token(self, connection: Connection, session: aiohttp.ClientSession, allow_plain_http: bool) -> _Token:
        oauth = connection.oauth
        assert oauth is not None
        key = (connection.arn, oauth.client_id)
        token = self._tokens.get(key)
        if token and token.expires_at > time.monotonic():
            return token
        async with self._lock("token:" + connection.arn):
            token = self._tokens.get(key)
            if token and token.expires_at > time.monotonic():
                return token
            token = await _request_token(connection.arn, oauth, session, allow_plain_http)
            self._tokens[key] = token
            return token


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    for existing in [k for k in headers if k.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def _connection_name(arn: str) -> str:
    # arn:aws:events:REGION:ACCOUNT:connection/NAME/UUID
    match = re.match(r"^arn:[\w-]+:events:[\w-]+:\d{12}:connection/([.\-_A-Za-z0-9]{1,64})(/.*)?$", arn or "")
    if not match:
        raise StatesError("States.Runtime", f"ConnectionArn {arn!r} is not an EventBridge connection ARN")
    return match.group(1)


async def _request_token(arn: str, oauth: OAuthSettings, session: aiohttp.ClientSession,
                         allow_plain_http: bool) -> _Token:
    """Ask the authorization endpoint for a client-credentials token (HTTPS, no redirects)."""
    problem = https_problem(oauth.endpoint, allow_plain_http)
    if problem is not None:
        raise StatesError("States.Runtime", f"connection {arn}: the AuthorizationEndpoint {problem}")
    pair = f"{oauth.client_id}:{oauth.client_secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    headers.update({p.key: p.value for p in oauth.headers})
    query = [(p.key, p.value) for p in oauth.query]
    form = {"grant_type": "client_credentials", "client_id": oauth.client_id, "client_secret": oauth.client_secret}
    form.update({p.key: p.value for p in oauth.body})
    kwargs: dict[str, Any] = {"headers": headers, "params": query, "allow_redirects": False}
    if oauth.method == "GET":
        kwargs["params"] = query + [(k, v) for k, v in form.items() if k != "client_secret"]
    else:
        kwargs["data"] = form
    failure = f"OAuth token request for connection {arn} failed"
    try:
        async with session.request(oauth.method, oauth.endpoint, **kwargs) as response:
            raw = await read_at_most(response, MAX_TOKEN_ANSWER_BYTES)
            if response.status // 100 != 2:
                raise StatesError("States.Http.StatusCode.401", f"{failure}: the authorization endpoint answered {response.status}")
            if raw is None:
                raise StatesError("States.Http.StatusCode.401",
                                  f"{failure}: the answer is over {MAX_TOKEN_ANSWER_BYTES} bytes")
            data = json.loads(raw)
    except StatesError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise StatesError("States.Http.Socket", f"{failure}: {exc.__class__.__name__}") from None
    if not isinstance(data, dict) or not data.get("access_token"):
        raise StatesError("States.Http.StatusCode.401", f"{failure}: no access_token in the answer")
    lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME_SECONDS)
    token_type = str(data.get("token_type") or "Bearer")
    if token_type.lower() == "bearer":
        token_type = "Bearer"
    expires_at = time.monotonic() + max(0.0, lifetime - min(TOKEN_EXPIRY_MARGIN_SECONDS, lifetime / 2))
    return _Token(str(data["access_token"]), token_type, expires_at)
