"""Fixtures for the service-integration tests: a real moto server (S3, DynamoDB, EventBridge,
Secrets Manager), an echo HTTP server, and boto3 clients pointed at them."""

from __future__ import annotations

import asyncio
import base64
import itertools

import boto3
import pytest
from aiohttp import web
from moto.server import ThreadedMotoServer

from toolkit.local.server import BackgroundServer

REGION = "us-east-1"


class EchoServer(BackgroundServer):
    """A real HTTP server that answers with what it received.

    ``/echo`` returns the request (method, path, query pairs, headers, body text) as JSON;
    ``/status/{code}`` answers with that status; ``/hang`` does not answer for 30 s;
    ``/oauth/token`` issues client-credentials tokens (client ``cid`` / ``csecret``) and counts them.
    """

    def __init__(self) -> None:
        super().__init__(self._app, name="echo-server")
        self.tokens_issued = 0
        self._counter = itertools.count(1)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_route("*", "/status/{code}", self._status)
        app.router.add_get("/hang", self._hang)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/text", self._text)
        return app

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
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})


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
