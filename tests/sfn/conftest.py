"""Fixtures for the Step Functions runtime's tests: a served API and a boto3 client; for the
service integrations and Distributed Map, a real moto server (S3, DynamoDB, EventBridge, Secrets
Manager), an echo HTTPS server (its certificate from :data:`TEST_CA`, which the runtime under test
is told to trust, as the local stack does), and boto3 clients pointed at them.

The service is created inside the server's event loop (it owns asyncio objects), served over
real HTTP on loopback through the AWS JSON protocol, and closed at teardown.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterator

import boto3
import hypothesis  # noqa: F401  -- imported before jsonata raises the recursion limit; CPython 3.11's
# AST validator otherwise fails ("recursion depth mismatch") when pytest rewrites it afterwards.
import pytest
from aiohttp import web
from botocore.config import Config
from moto.server import ThreadedMotoServer

from sfn_runtime.api.awsjson import json_handler
from sfn_runtime.integrations.http import HttpTaskSettings
from toolkit.local.server import BackgroundServer
from toolkit.local.tls import LocalCa
from sfn_runtime.engine.quotas import Quotas
from sfn_runtime.api.service import StepFunctionsService

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocalRole"
TIME_SCALE = 0.01  # Wait/Retry/timeouts run 100x faster

# One CA for every test server of this session; the HTTP Task under test trusts it.
TEST_CA = LocalCa()
_ca_file: list[str] = []


def ca_file() -> str:
    """The path of TEST_CA's PEM (written once per session)."""
    if not _ca_file:
        path = Path(tempfile.mkdtemp(prefix="sfn-test-ca-")) / "ca.pem"
        _ca_file.append(str(TEST_CA.write_pem(path)))
    return _ca_file[0]


def http_settings(**changes: Any) -> HttpTaskSettings:
    """HTTP Task settings as the local stack gives them: AWS's rules, trusting TEST_CA."""
    return HttpTaskSettings(ca_file=ca_file(), **changes)


@dataclass
class SfnApi:
    """A served runtime: its boto3 client, the service object and helpers for the tests."""

    client: Any
    service: StepFunctionsService
    server: BackgroundServer

    def create(self, definition: dict | str, name: str = "Machine", type_: str = "STANDARD") -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self.client.create_state_machine(name=name, definition=text, roleArn=ROLE, type=type_)["stateMachineArn"]

    def run(self, definition: dict, input_: Any = None, name: str = "Machine", timeout: float = 20.0) -> dict:
        """Create (or reuse) a state machine, run it to the end, return DescribeExecution."""
        arn = self.create(definition, name)
        started = self.client.start_execution(stateMachineArn=arn, input=json.dumps({} if input_ is None else input_))
        return self.wait(started["executionArn"], timeout)

    def wait(self, execution_arn: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"execution still running after {timeout}s")
            time.sleep(0.01)

    def history(self, execution_arn: str, **kwargs: Any) -> list[dict]:
        events: list[dict] = []
        token = None
        while True:
            extra = {"nextToken": token} if token else {}
            page = self.client.get_execution_history(executionArn=execution_arn, maxResults=1000, **kwargs, **extra)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events


def serve(time_scale: float = TIME_SCALE, quotas: Quotas | None = None) -> tuple[BackgroundServer, dict]:
    """Start a server whose app routes POST / to a StepFunctionsService made in its own loop."""
    holder: dict = {}

    async def app_factory() -> web.Application:
        service = StepFunctionsService(region=REGION, account_id=ACCOUNT, time_scale=time_scale, quotas=quotas)
        holder["service"] = service
        app = web.Application()
        app.router.add_post("/", json_handler(service))

        async def close(_: web.Application) -> None:
            await service.close()

        app.on_cleanup.append(close)
        return app

    return BackgroundServer(app_factory, name="sfn-test").start(), holder


def make_client(url: str) -> Any:
    return boto3.client(
        "stepfunctions", endpoint_url=url, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),  # StartSyncExecution adds "sync-"
    )


@pytest.fixture(scope="module")
def sfn() -> Iterator[SfnApi]:
    server, holder = serve()
    try:
        yield SfnApi(make_client(server.url), holder["service"], server)
    finally:
        server.stop()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A state machine name unique to the test."""
    return "".join(ch for ch in request.node.name if ch.isalnum())[:70] + str(int(time.time() * 1000) % 100000)


class EchoServer(BackgroundServer):
    """A real HTTPS server (plain HTTP with ``tls=False``) that answers with what it received.

    ``/echo`` returns the request (method, path, query pairs, headers, body text) as JSON;
    ``/status/{code}`` answers with that status; ``/hang`` does not answer for 30 s;
    ``/oauth/token`` issues client-credentials tokens (client ``cid`` / ``csecret``) and counts them;
    ``/redirect?to=URL&status=302`` redirects; ``/big?bytes=N`` streams N bytes of a JSON string.
    Every request is recorded in :attr:`received` (path and headers).
    """

    def __init__(self, tls: bool = True) -> None:
        super().__init__(self._app, name="echo-server", ssl_context=TEST_CA.server_context() if tls else None)
        self.received: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self.token_lifetime = 3600
        self._counter = itertools.count(1)

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/big", self._big)
        app.router.add_route("*", "/status/{code}", self._status)
        app.router.add_get("/hang", self._hang)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/text", self._text)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.received.append({"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}})
        return await handler(request)

    async def _redirect(self, request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def _big(self, request: web.Request) -> web.StreamResponse:
        """A JSON string of ``bytes`` bytes, streamed in 1 MiB writes with no Content-Length."""
        size = int(request.query["bytes"])
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"x" * (1024 * 1024)
        await response.write(b'"')
        sent = 2
        try:
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                await response.write(piece)
                sent += len(piece)
            await response.write(b'"')
        except (ConnectionError, RuntimeError):
            return response  # the client hung up: that is what a capped reader does
        await response.write_eof()
        return response

    async def _echo(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": [[k, v] for k, v in request.query.items()],
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": (await request.read()).decode(),
            }
        )

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.json_response({"error": f"status {code}"}, status=code)

    async def _hang(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    async def _text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain words", content_type="text/plain")

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        pair = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
        if pair != "cid:csecret" or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        token = f"tok-{next(self._counter)}"
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime})


@pytest.fixture(scope="session")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def aws(moto_url):
    """A factory of boto3 clients for the moto server."""

    def client(name: str):
        return boto3.client(
            name,
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return client


@pytest.fixture(scope="session")
def echo():
    with EchoServer() as server:
        yield server


# ACCOUNT (above) is moto's account too: connection ARNs it issues carry it
STACK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn-tests"


class SfnStack:
    """The local Step Functions runtime with every integration, served over HTTP, with boto3 helpers."""

    def __init__(self, moto_url: str, time_scale: float = 0.01, settings: HttpTaskSettings | None = None):
        self.moto_url = moto_url
        self.settings = settings or http_settings()
        self.time_scale = time_scale
        self.service = None
        self.integrations = None
        self.server = BackgroundServer(self._app, name="sfn-under-test")

    async def _app(self) -> web.Application:
        from sfn_runtime.api.awsjson import json_handler
        from sfn_runtime.integrations import register_all
        from sfn_runtime.api.service import StepFunctionsService

        self.service = StepFunctionsService(
            region=REGION, account_id=ACCOUNT, time_scale=self.time_scale, endpoint_url=self.moto_url
        )
        self.integrations = register_all(self.service, http_settings=self.settings)
        app = web.Application()
        app.router.add_post("/", json_handler(self.service))

        async def cleanup(_app: web.Application) -> None:
            await self.service.close()
            await self.integrations.close()

        app.on_cleanup.append(cleanup)
        return app

    def start(self) -> "SfnStack":
        self.server.start()
        self.sfn = boto3.client(
            "stepfunctions", endpoint_url=self.server.url, region_name=REGION,
            aws_access_key_id="test", aws_secret_access_key="test",
        )
        return self

    def stop(self) -> None:
        self.server.stop()

    def machine(self, name: str, definition: dict, kind: str = "STANDARD") -> str:
        import json

        return self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=STACK_ROLE, type=kind
        )["stateMachineArn"]

    def run(self, machine_arn: str, value=None, timeout: float = 60.0) -> dict:
        """Start an execution and wait until it ends; its DescribeExecution answer."""
        import json
        import time

        arn = self.sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(value or {}))["executionArn"]
        return self.wait(arn, timeout)

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_arn} still running after {timeout} s")
            time.sleep(0.02)

    def history(self, execution_arn: str) -> list[dict]:
        paginator = self.sfn.get_paginator("get_execution_history")
        return [e for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]]


@pytest.fixture(scope="module")
def stack(moto_url):
    sfn_stack = SfnStack(moto_url).start()
    yield sfn_stack
    sfn_stack.stop()
