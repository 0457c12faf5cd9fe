"""Fixtures for the Step Functions runtime's conformance suite: a served API and a boto3 client.

The service is created inside the server's event loop (it owns asyncio objects), served over
real HTTP on loopback through the AWS JSON protocol, and closed at teardown.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterator

import boto3
import hypothesis  # noqa: F401  -- imported before jsonata raises the recursion limit; CPython 3.11's
# AST validator otherwise fails ("recursion depth mismatch") when pytest rewrites it afterwards.
import pytest
from aiohttp import web
from botocore.config import Config

from toolkit.local.awsjson import json_handler
from toolkit.local.server import BackgroundServer
from toolkit.local.sfn.quotas import Quotas
from toolkit.local.sfn.service import StepFunctionsService

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocalRole"
TIME_SCALE = 0.01  # Wait/Retry/timeouts run 100x faster


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
