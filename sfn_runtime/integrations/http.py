"""The HTTP Task: ``arn:aws:states:::http:invoke``, calling an HTTPS API with a connection's auth.

Arguments as AWS documents them: ApiEndpoint, Method, Headers, QueryParameters, RequestBody,
Transform (RequestBodyEncoding NONE | URL_ENCODED, RequestEncodingOptions.ArrayFormat BRACKETS |
COMMAS | INDICES | REPEAT) and InvocationConfig.ConnectionArn (or the older
Authentication.ConnectionArn). The result is ``{StatusCode, StatusText, Headers, ResponseBody}``
with a JSON body parsed; a non-2xx answer fails with ``States.Http.StatusCode.NNN``; a request
that cannot connect, fails TLS verification, or gets no answer within AWS's 60 seconds, fails
with ``States.Http.Socket``.

Held to AWS's rules (docs: "Call HTTPS APIs in Step Functions workflows", service quotas):

- HTTPS only. An ``http://`` ApiEndpoint is refused before any connection is made, unless the
  runtime was given the explicit local opt-in ``HttpTaskSettings(allow_plain_http=True)``.
  AWS documents the HTTP Task as calling HTTPS APIs but not the error for an http:// endpoint;
  we fail with ``States.Runtime`` (the error AWS uses for a task that cannot be run as written).
- TLS is verified against the system's trusted CAs plus ``HttpTaskSettings.ca_file`` (the local
  stack passes the CA it made for its sample API).
- Redirects are not followed. AWS does not document following them; following would hand the
  connection's credentials to whatever host a ``Location`` names. A 3xx answer is a non-2xx
  answer: the task fails with ``States.Http.StatusCode.3xx`` and the response in the cause.
- The response body is read in chunks up to ``max_response_bytes`` (default the 256 KiB payload
  quota the task result must fit in); a longer body fails with ``States.DataLimitExceeded`` after
  at most that many bytes plus one chunk were read, so memory stays bounded whatever the server sends.

Before a call, the execution role must allow states:InvokeHTTPEndpoint on the state machine
(with the condition keys ``states:HTTPEndpoint`` and ``states:HTTPMethod``),
events:RetrieveConnectionCredentials on the connection and secretsmanager:GetSecretValue /
DescribeSecret on its secret (see :mod:`.authorization`).

All calls share one aiohttp session (one connection pool) per runtime.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp

from sfn_runtime.errors import StatesError
from sfn_runtime import jsontext
from sfn_runtime.authorization import AccessDenied, Permissions, iam_machine_arn
from sfn_runtime.integrations.connections import (Connection, ConnectionResolver, OutgoingRequest, https_problem,
                                                  read_at_most)

__all__ = ["HttpInvoke", "HttpTaskRequest", "HttpTaskSettings", "parse_request", "url_encode"]

RESOURCE = "arn:aws:states:::http:invoke"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
ARRAY_FORMATS = ("BRACKETS", "COMMAS", "INDICES", "REPEAT")
# AWS stops waiting for an HTTP Task's answer after 60 seconds (service quotas: HTTP Task duration).
REQUEST_TIMEOUT_SECONDS = 60.0
# The result has to fit in a state's payload (256 KiB), so no body beyond that can succeed.
MAX_RESPONSE_BYTES = 256 * 1024


@dataclass(frozen=True)
class HttpTaskSettings:
    """How the local HTTP Task reaches endpoints; the defaults are AWS's rules.

    ``ca_file``: a PEM bundle trusted in addition to the system's CAs (the local stack's CA).
    ``allow_plain_http``: an explicit local opt-in to call ``http://`` endpoints; never on AWS.
    """

    ca_file: str | None = None
    allow_plain_http: bool = False
    max_response_bytes: int = MAX_RESPONSE_BYTES
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ValueError(f"ca_file: {self.ca_file} is not a file")
        if self.max_response_bytes < 1:
            raise ValueError(f"max_response_bytes: must be at least 1, got {self.max_response_bytes}")
        if self.request_timeout_seconds <= 0:
            raise ValueError(f"request_timeout_seconds: must be greater than 0, got {self.request_timeout_seconds}")

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context: the system's CAs plus ``ca_file``."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


@dataclass(frozen=True)
class HttpTaskRequest:
    """An HTTP Task's arguments, checked."""

    endpoint: str
    method: str
    connection_arn: str
    headers: dict[str, str]
    query: list[tuple[str, str]]
    body: Any
    url_encoded: bool
    array_format: str


def _fail(message: str) -> StatesError:
    return StatesError("States.Runtime", f"HTTP Task: {message}")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def parse_request(arguments: Any, *, allow_plain_http: bool = False) -> HttpTaskRequest:
    """Check an HTTP Task's arguments; raise ``States.Runtime`` naming the field at fault.

    ``http://`` endpoints are refused unless ``allow_plain_http`` (a local opt-in).
    """
    if not isinstance(arguments, dict):
        raise _fail("the arguments must be a JSON object")
    endpoint = arguments.get("ApiEndpoint")
    if not isinstance(endpoint, str) or not urlsplit(endpoint).hostname:
        raise _fail("ApiEndpoint must be an absolute https URL")
    if (problem := https_problem(endpoint, allow_plain_http)) is not None:
        raise _fail(f"ApiEndpoint {problem}")
    method = arguments.get("Method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _fail(f"Method must be one of {', '.join(METHODS)}")
    invocation = arguments.get("InvocationConfig") or arguments.get("Authentication") or {}
    connection_arn = invocation.get("ConnectionArn") if isinstance(invocation, dict) else None
    if not isinstance(connection_arn, str) or not connection_arn:
        raise _fail("InvocationConfig.ConnectionArn is required")
    headers = arguments.get("Headers") or {}
    if not isinstance(headers, dict):
        raise _fail("Headers must be a JSON object")
    query_in = arguments.get("QueryParameters") or {}
    if not isinstance(query_in, dict):
        raise _fail("QueryParameters must be a JSON object")
    query: list[tuple[str, str]] = []
    for key, value in query_in.items():
        values = value if isinstance(value, list) else [value]
        query.extend((str(key), _text(v)) for v in values)
    transform = arguments.get("Transform") or {}
    if not isinstance(transform, dict):
        raise _fail("Transform must be a JSON object")
    encoding = transform.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _fail("Transform.RequestBodyEncoding must be NONE or URL_ENCODED")
    array_format = (transform.get("RequestEncodingOptions") or {}).get("ArrayFormat", "INDICES")
    if array_format not in ARRAY_FORMATS:
        raise _fail(f"Transform.RequestEncodingOptions.ArrayFormat must be one of {', '.join(ARRAY_FORMATS)}")
    return HttpTaskRequest(
        endpoint=endpoint,
        method=method.upper(),
        connection_arn=connection_arn,
        headers={str(k): _text(v) for k, v in headers.items()},
        query=query,
        body=arguments.get("RequestBody"),
        url_encoded=encoding == "URL_ENCODED",
        array_format=array_format,
    )


def url_encode(body: Any, array_format: str = "INDICES") -> str:
    """``application/x-www-form-urlencoded`` text of a JSON object, arrays written as ``array_format`` says."""
    if not isinstance(body, dict):
        raise _fail("RequestBody must be a JSON object to be URL_ENCODED")
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        _flatten(str(key), value, array_format, pairs)
    return urlencode(pairs)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _flatten(prefix: str, value: Any, array_format: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}[{key}]", inner, array_format, out)
    elif isinstance(value, list):
        if array_format == "COMMAS" and all(not isinstance(v, (dict, list)) for v in value):
            out.append((prefix, ",".join(_scalar(v) for v in value)))
            return
        for index, inner in enumerate(value):
            name = {"BRACKETS": f"{prefix}[]", "INDICES": f"{prefix}[{index}]"}.get(array_format, prefix)
            _flatten(name, inner, array_format, out)
    else:
        out.append((prefix, _scalar(value)))


def _status_text(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class HttpInvoke:
    """The ``http:invoke`` task resource; owns the runtime's shared HTTP client session."""

    def __init__(self, connections: ConnectionResolver, *, max_connections: int = 1000,
                 permissions: Permissions | None = None, settings: HttpTaskSettings | None = None):
        self._connections = connections
        self._permissions = permissions or Permissions()
        self._max_connections = max_connections
        self.settings = settings or HttpTaskSettings()
        self._session: aiohttp.ClientSession | None = None

    def handles(self, service_resource: str) -> bool:
        return service_resource == RESOURCE

    def session(self) -> aiohttp.ClientSession:
        """The shared client session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections,
                                             ssl=self.settings.ssl_context())
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_seconds)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def invoke(self, call: Any) -> Any:
        if call.pattern != "request-response":
            raise _fail(f"the HTTP Task supports only the request-response pattern, not {call.pattern}")
        spec = parse_request(call.arguments, allow_plain_http=self.settings.allow_plain_http)
        if self._permissions.enforced:
            self._authorize_endpoint(call.execution, spec)
            self._authorize_connection(call.execution, await self._connections.get(spec.connection_arn))
        return await self.send(spec)

    def _authorize_endpoint(self, execution: Any, spec: HttpTaskRequest) -> None:
        """states:InvokeHTTPEndpoint on the state machine, with the condition keys AWS documents for it."""
        machine_arn = iam_machine_arn(execution.machine.arn)
        context = {"states:HTTPEndpoint": spec.endpoint, "states:HTTPMethod": spec.method}
        try:
            self._permissions.check(execution, "states:InvokeHTTPEndpoint", machine_arn, context)
        except AccessDenied:
            # The cause is AWS's own text, as quoted in serverless-operations/serverless-step-functions#599;
            # the error name is not documented: States.Runtime (the task cannot run at all) is inferred.
            raise StatesError(
                "States.Runtime",
                f"AWS Step Functions is not authorized to perform states:InvokeHTTPEndpoint on API Endpoint "
                f"{spec.endpoint}. Ensure that the StateMachine role contains the states:InvokeHTTPEndpoint "
                "permission for the given API Endpoint",
            ) from None

    def _authorize_connection(self, execution: Any, connection: Connection) -> None:
        """events:RetrieveConnectionCredentials on the connection, GetSecretValue/DescribeSecret on its secret."""
        checks = [("events:RetrieveConnectionCredentials", connection.arn)]
        if connection.secret_arn:
            checks += [("secretsmanager:GetSecretValue", connection.secret_arn),
                       ("secretsmanager:DescribeSecret", connection.secret_arn)]
        for action, resource in checks:
            try:
                self._permissions.check(execution, action, resource)
            except AccessDenied as denied:
                # Events.ConnectionResource.AccessDenied is the error AWS reports when the role cannot read the
                # connection's credentials (HTTP Task "Connection errors"; also vimson.co's write-up of it).
                raise StatesError("Events.ConnectionResource.AccessDenied", denied.message) from None

    async def send(self, spec: HttpTaskRequest) -> dict[str, Any]:
        """Send one request and return the HTTP Task result (or raise its error)."""
        session = self.session()
        connection = await self._connections.get(spec.connection_arn)
        parts = urlsplit(spec.endpoint)
        outgoing = OutgoingRequest(
            headers=dict(spec.headers),
            query=(parse_qsl(parts.query, keep_blank_values=True) if parts.query else []) + list(spec.query),
            body=spec.body,
        )
        await self._connections.apply(connection, outgoing, session, allow_plain_http=self.settings.allow_plain_http)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        # Never follow a redirect: it would carry the connection's credentials to another host.
        kwargs: dict[str, Any] = {"headers": outgoing.headers, "params": outgoing.query, "allow_redirects": False}
        if outgoing.body is not None and spec.method not in ("GET", "HEAD"):
            if spec.url_encoded:
                kwargs["data"] = url_encode(outgoing.body, spec.array_format)
                _default_header(outgoing.headers, "Content-Type", "application/x-www-form-urlencoded")
            elif isinstance(outgoing.body, str):
                kwargs["data"] = outgoing.body.encode()
                _default_header(outgoing.headers, "Content-Type", "text/plain; charset=utf-8")
            else:
                kwargs["data"] = json.dumps(outgoing.body, separators=(",", ":")).encode()
                _default_header(outgoing.headers, "Content-Type", "application/json; charset=utf-8")
        try:
            async with session.request(spec.method, url, **kwargs) as response:
                raw = await _read_capped(response, self.settings.max_response_bytes, spec)
                result = _result(response, raw)
        except asyncio.TimeoutError:
            raise StatesError("States.Http.Socket", f"{spec.method} {spec.endpoint}: no answer within the timeout") from None
        except aiohttp.ClientError as exc:
            raise StatesError("States.Http.Socket", f"{spec.method} {spec.endpoint}: {exc.__class__.__name__}") from None
        status = result["StatusCode"]
        if status // 100 != 2:
            if status == 401 and connection.oauth is not None:
                self._connections.forget(spec.connection_arn)  # the next attempt fetches a new token
            raise StatesError(f"States.Http.StatusCode.{status}", json.dumps(result, separators=(",", ":")))
        return result


async def _read_capped(response: aiohttp.ClientResponse, cap: int, spec: HttpTaskRequest) -> bytes:
    """The body; ``States.DataLimitExceeded`` once it passes ``cap`` bytes (nothing more is read)."""
    raw = await read_at_most(response, cap)
    if raw is None:
        declared = f" (Content-Length {response.content_length})" if response.content_length is not None else ""
        raise StatesError(
            "States.DataLimitExceeded",
            f"{spec.method} {spec.endpoint}: the response body{declared} exceeds the {cap} bytes a task result may hold",
        )
    return raw


def _default_header(headers: dict[str, str], name: str, value: str) -> None:
    if not any(k.lower() == name.lower() for k in headers):
        headers[name] = value


def _result(response: aiohttp.ClientResponse, raw: bytes) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        headers.setdefault(str(name), []).append(value)  # a plain str: aiohttp's are CIMultiDict keys
    text = raw.decode(response.charset or "utf-8", errors="replace")
    body: Any = text
    if "json" in (response.content_type or "") and text:
        try:
            body = jsontext.loads(text)
        except ValueError:
            body = text
    return {
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": response.status,
        "StatusText": _status_text(response.status, response.reason),
    }
