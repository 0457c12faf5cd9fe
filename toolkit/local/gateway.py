"""The local stack's one endpoint: routes each request by the service named in its SigV4 signature.

``states`` goes to our Step Functions runtime, the Glue *job* operations to the local Glue runner
(both :class:`~sfn_runtime.api.awsjson.JsonService`), everything else (S3, DynamoDB, EventBridge,
Secrets Manager, IAM, STS, CloudWatch Logs, the Glue Data Catalog) to moto in-process, except
IAM's SimulatePrincipalPolicy, which moto lacks: the local IAM evaluator answers it
(:mod:`toolkit.local.iam.simulate`).

The service comes from the credential scope ``AKID/DATE/REGION/SERVICE/aws4_request`` of the
``Authorization`` header, or of a presigned URL's ``X-Amz-Credential`` (unsigned requests are
refused, see below). S3 virtual-host-style requests
(``bucket.localhost:PORT``, ``bucket.s3.localhost:PORT``, ``bucket.s3.REGION.localhost:PORT``)
are rewritten to path style here, so bucket names with dots work too.

``GET /_dsa/health`` answers with the state of each component (bucket names cannot hold ``_``,
so this path never shadows an S3 request).

Before routing, :meth:`Gateway._refusal` applies :mod:`toolkit.local.access`: loopback ``Host``
names only, SigV4-signed requests only (health excepted), CORS only for allow-listed origins.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

from aiohttp import web
from multidict import CIMultiDict

from sfn_runtime.api.awsjson import JsonService, ServiceError, json_handler
from toolkit.local.iam import simulate
from toolkit.local.iam.requests import RequestAuthorizer
from toolkit.local.access import (
    UNSIGNED_ROUTES,
    CorsPolicy,
    from_web_page,
    is_loopback_host,
    is_signed,
    strip_cors_headers,
)
from toolkit.local.moto_backend import MotoBridge, MotoResponse

__all__ = ["Gateway", "GLUE_JOB_OPERATIONS", "HEALTH_PATH", "signing_service", "virtual_host_bucket"]

HEALTH_PATH = "/_dsa/health"

#: The Glue operations served by the local Glue runner; the rest of Glue (the Data Catalog) is moto's.
GLUE_JOB_OPERATIONS = frozenset({
    "CreateJob", "GetJob", "GetJobs", "UpdateJob", "DeleteJob", "ListJobs",
    "StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun",
})

_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")


def signing_service(headers: Any, query: str) -> str | None:
    """The service a request is meant for: from the SigV4 scope of its header or presigned query, or None."""
    auth = headers.get("Authorization", "")
    match = _CREDENTIAL.search(auth)
    scope = match.group(1) if match else None
    if scope is None and "X-Amz-Credential" in query:
        scope = (parse_qs(query).get("X-Amz-Credential") or [None])[0]
    if scope:
        parts = scope.split("/")
        if len(parts) >= 5:
            return parts[-2].lower()
    return None


def _signing_region(headers: Any) -> str:
    """The region of a request's SigV4 scope (us-east-1 when it has none)."""
    match = _CREDENTIAL.search(headers.get("Authorization", ""))
    parts = match.group(1).split("/") if match else []
    return parts[-3] if len(parts) >= 5 else "us-east-1"


def virtual_host_bucket(host: str) -> str | None:
    """The bucket named by an S3 virtual-host-style Host header, or None for path style."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name in ("localhost", "s3.localhost") or re.match(r"^s3\.[a-z0-9-]+\.localhost$", name):
        return None
    # Prefer the longest known suffix: "a.b.s3.localhost" is bucket "a.b", not "a.b.s3".
    for pattern in (r"^(?P<bucket>.+)\.s3\.[a-z0-9-]+\.localhost$", r"^(?P<bucket>.+)\.s3\.localhost$",
                    r"^(?P<bucket>.+)\.localhost$"):
        match = re.match(pattern, name)
        if match:
            return match.group("bucket")
    return None


_HEALTH_AUTH = "AWS4-HMAC-SHA256 Credential=health/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"


def _local_port(request: web.Request) -> int:
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sock[1]) if sock else 0


def _origin_path(raw_target: str) -> str:
    """The path of a request target as sent, also when it came in absolute form (through a proxy)."""
    target = raw_target.split("?", 1)[0]
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target


@dataclass
class _Components:
    """The services the gateway routes to; ``states``/``glue`` are attached once the URL is known."""

    moto: MotoBridge
    iam: RequestAuthorizer | None = None  # checks requests signed with an assumed role's keys
    states: JsonService | None = None
    glue: JsonService | None = None
    handlers: dict[str, Any] = field(default_factory=dict)


class Gateway:
    """The aiohttp application of the one endpoint."""

    def __init__(self, moto: MotoBridge, iam: RequestAuthorizer | None = None, *,
                 cors: CorsPolicy | None = None, bound_host: str = "127.0.0.1"):
        self._parts = _Components(moto=moto, iam=iam)
        self._cors = cors or CorsPolicy()
        # A stack bound to a non-loopback address is reached by that address: accept it as a Host.
        self._extra_hosts = () if bound_host in ("", "0.0.0.0", "::") else (bound_host,)

    def attach(self, *, states: JsonService | None = None, glue: JsonService | None = None) -> None:
        """Plug in the services we run ourselves (called on the gateway's loop after start)."""
        if states is not None:
            self._parts.states = states
            self._parts.handlers["states"] = json_handler(states, "application/x-amz-json-1.0")
        if glue is not None:
            self._parts.glue = glue
            self._parts.handlers["glue"] = json_handler(glue, "application/x-amz-json-1.1")

    async def health(self, port: int) -> dict[str, str]:
        """Each component and whether it is serving (moto answers a real STS call)."""
        reply = await self._parts.moto.call(
            method="POST", raw_path="/", query_string="", host=f"127.0.0.1:{port}", server_port=port,
            headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", _HEALTH_AUTH)],
            body=b"Action=GetCallerIdentity&Version=2011-06-15",
        )
        return {
            "gateway": "up",
            "moto": "up" if reply.status == 200 else "down",
            "states": "up" if self._parts.states is not None else "down",
            "glue": "up" if self._parts.glue is not None else "down",
        }

    def app(self) -> web.Application:
        application = web.Application(client_max_size=5 * 1024**3)
        application.router.add_route("*", "/{tail:.*}", self._handle)
        return application

    # ------------------------------------------------------------ internals
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        response = await self._route(request)
        self._apply_cors(request, response)
        return response

    async def _route(self, request: web.Request) -> web.StreamResponse:
        if request.path == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return web.json_response(await self.health(_local_port(request)))
        service = signing_service(request.headers, request.raw_path.partition("?")[2])
        if service == "states":
            return await self._own("states", request)
        if service == "glue":
            operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
            if operation in GLUE_JOB_OPERATIONS:
                return await self._own("glue", request)
        if service == "iam" and request.method == "POST":
            form = parse_qs((await request.read()).decode("utf-8", "replace"))
            if form.get("Action") == [simulate.ACTION]:
                status, body = simulate.simulate_principal_policy(form, _signing_region(request.headers))
                return web.Response(status=status, body=body, content_type="text/xml")
        return await self._to_moto(request, service)

    async def _own(self, name: str, request: web.Request) -> web.StreamResponse:
        handler = self._parts.handlers.get(name)
        if handler is None:
            error = ServiceError("ServiceUnavailable", f"the local {name} service is not running", 503)
            return web.json_response({"__type": error.code, "message": error.message}, status=error.status)
        try:
            return await handler(request)
        except RecursionError:
            return await _too_deep(name, request)

    async def _to_moto(self, request: web.Request, service: str | None) -> web.StreamResponse:
        port = _local_port(request)
        body = await request.read()
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(self._parts.moto.pool, functools.partial(
            self.moto_reply, method=request.method, raw_path=_origin_path(request.raw_path),
            query=request.raw_path.partition("?")[2],  # as sent: no decoding round trip
            headers=list(request.headers.items()), body=body,
            host=request.headers.get("Host") or f"127.0.0.1:{port}", port=port, service=service))
        response = web.Response(status=reply.status, body=reply.body)
        for name, value in strip_cors_headers(reply.headers):
            response.headers.add(name, value)
        if request.method == "HEAD" and reply.content_length is not None:
            response.headers["Content-Length"] = reply.content_length
        return response

    @staticmethod
    def serves_in_moto(service: str | None, headers: Any) -> bool:
        """Whether moto answers a request for ``service`` (not our Step Functions, Glue jobs or IAM simulation)."""
        if service in ("states", "iam"):  # IAM: SimulatePrincipalPolicy is ours; the rest is rare enough for HTTP
            return False
        if service == "glue":
            return headers.get("X-Amz-Target", "").rpartition(".")[2] not in GLUE_JOB_OPERATIONS
        return True

    def moto_reply(self, *, method: str, raw_path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                   host: str, port: int, service: str | None) -> MotoResponse:
        """A moto-bound request answered in the calling thread (never the event loop's): S3
        virtual-host names to path style, the IAM check of a role's request, then moto."""
        if service in ("s3", None):
            bucket = virtual_host_bucket(host)
            if bucket is not None:  # to path style, on a host moto reads as path style
                raw_path = "/" + quote(bucket, safe="") + (raw_path if raw_path != "/" else "")
                host = f"127.0.0.1:{port}"
        if self._parts.iam is not None:
            denial = self._parts.iam.check(service=service, method=method, raw_path=raw_path, query=query,
                                           headers=CIMultiDict(headers), body=body)
            if denial is not None:
                return MotoResponse(denial.status, [("Content-Type", denial.content_type)], denial.body,
                                    str(len(denial.body)))
        return self._parts.moto.call_blocking(method=method, raw_path=raw_path, query_string=query, headers=headers,
                                              body=body, host=host, server_port=port, service=service)

    # ------------------------------------------------------------ access (see toolkit.local.access)
    def _refusal(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to a request that may not go further, or None: host, origin, then signature."""
        host = request.headers.get("Host", "")
        if not is_loopback_host(host, self._extra_hosts):
            return _refuse(request, "InvalidHost", f"Host {host[:100]!r} is not a loopback name of this stack")
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if self._cors.allows(origin):
                assert origin is not None
                return web.Response(status=200, headers=self._cors.preflight_headers(origin, request.headers))
            return _refuse(request, "AccessDenied", "CORS is not enabled for this origin")
        if from_web_page(request.method, request.headers) and not self._cors.allows(origin):
            return _refuse(request, "AccessDenied",
                           f"requests from web pages are refused (origin {str(origin)[:100]!r} is not allow-listed)")
        if (request.method, request.path) in UNSIGNED_ROUTES:
            return None
        if not is_signed(request.headers, request.raw_path.partition("?")[2]):
            return _refuse(request, "MissingAuthenticationToken",
                           "the request is not signed with AWS Signature Version 4 (any credentials will do)")
        return None

    def _apply_cors(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if self._cors.allows(origin):
            assert origin is not None
            response.headers.update(self._cors.response_headers(origin))


# AWS's error for a JSON document nested deeper than our parser goes, by the operation it was sent to.
_TOO_DEEP_ERRORS = {
    "CreateStateMachine": "InvalidDefinition", "UpdateStateMachine": "InvalidDefinition",
    "TestState": "InvalidDefinition", "StartExecution": "InvalidExecutionInput",
    "StartSyncExecution": "InvalidExecutionInput", "SendTaskSuccess": "InvalidOutput",
}


async def _too_deep(service: str, request: web.Request) -> web.Response:
    """400 with the operation's own error for an over-deep JSON document, instead of a 500."""
    operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
    default = "InvalidInputException" if service == "glue" else "ValidationException"
    code = _TOO_DEEP_ERRORS.get(operation, default) if service == "states" else default
    if operation == "TestState" and _deeper_field(await request.read(), "input", "definition") == "input":
        code = "InvalidExecutionInput"
    message = f"{operation or 'request'}: a JSON document is nested too deeply to be read"
    return web.json_response({"__type": code, "message": message}, status=400)


def _deeper_field(body: bytes, *names: str) -> str | None:
    """Which of the string fields ``names`` of a (shallow) JSON body holds the deepest document."""
    try:
        params = json.loads(body)
    except (ValueError, RecursionError):
        return None
    depths = {n: _nesting(params[n]) for n in names if isinstance(params, dict) and isinstance(params.get(n), str)}
    return max(depths, key=depths.__getitem__) if depths else None


def _nesting(text: str) -> int:
    """How deep brackets nest in a JSON text, without recursion (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse(request: web.Request, code: str, message: str) -> web.Response:
    """403 in the request's protocol: JSON for X-Amz-Target APIs, else an XML error body."""
    if "X-Amz-Target" in request.headers:
        body = {"__type": code, "message": message}
        return web.json_response(body, status=403, headers={"x-amzn-ErrorType": code})
    xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
           f"<Message>{escape(message)}</Message></Error>")
    return web.Response(status=403, text=xml, content_type="application/xml")
