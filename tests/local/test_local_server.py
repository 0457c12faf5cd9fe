"""BackgroundServer: a port can be bound again right after its server stopped (issue 16, item 3)."""

from __future__ import annotations

import http.client

import pytest
from aiohttp import web

from toolkit.local.server import BackgroundServer, PortInUseError


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _ok)
    return app


def test_a_stopped_servers_port_can_be_bound_again_at_once():
    """The server closes its kept-alive connections on stop, leaving them in TIME_WAIT on its side:
    without SO_REUSEADDR the next bind fails for about 60 s."""
    first = BackgroundServer(_app, port=0).start()
    port = first.port
    connections = []
    for _ in range(3):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().read() == b"ok"  # kept alive: the server will close it
        connections.append(connection)
    first.stop()
    for connection in connections:
        connection.close()
    with BackgroundServer(_app, port=port) as second:
        reply = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        reply.request("GET", "/")
        assert reply.getresponse().read() == b"ok"
        reply.close()
        # Address reuse is not port sharing: a second listener on a live port still fails.
        with pytest.raises(PortInUseError):
            BackgroundServer(_app, port=second.port).start()
