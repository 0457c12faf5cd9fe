"""Run an aiohttp application on loopback in a background thread with its own event loop.

Every local server of the project (the sample third-party API, the gateway of the local stack,
test servers) is started through :class:`BackgroundServer`, so start-up, port selection,
"address already in use" errors and shutdown behave the same everywhere. With an
``ssl_context`` the server speaks HTTPS and its :attr:`url` says so.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import threading
from concurrent.futures import Future
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

from aiohttp import web

__all__ = ["BackgroundServer", "PortInUseError"]

T = TypeVar("T")


class PortInUseError(RuntimeError):
    """The requested port is taken by another process."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        super().__init__(f"port {port} on {host} is already in use")


class BackgroundServer:
    """An aiohttp app served on ``host:port`` from a daemon thread.

    ``port=0`` picks a free port; :attr:`port` holds the real one once :meth:`start` returns.
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        app_factory: Callable[[], web.Application | Awaitable[web.Application]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "server",
        ssl_context: ssl.SSLContext | None = None,
    ):
        self._app_factory = app_factory
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        started: Future[None] = Future()
        self._thread = threading.Thread(target=self._serve, args=(started,), name=self.name, daemon=True)
        self._thread.start()
        started.result(timeout=timeout)  # re-raises PortInUseError and start-up failures
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the server's loop from another thread and wait for its result."""
        if self.loop is None:
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self.loop is None or self._thread is None:
            return
        if self.loop.is_running() and self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
        self.loop = None
        self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ internals
    def _serve(self, started: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # report to the starting thread, then end this one
            started.set_exception(exc)
            loop.run_until_complete(self._cleanup())
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_until_complete(self._wait_for_stop())
        finally:
            loop.run_until_complete(self._cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        self._stopped = asyncio.Event()
        app = self._app_factory()
        if asyncio.iscoroutine(app) or isinstance(app, Awaitable):
            app = await app  # type: ignore[misc]
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # SO_REUSEADDR: a port whose last server just closed its connections (left in TIME_WAIT)
        # can be bound again at once; a port another socket listens on still fails (EADDRINUSE).
        # Never SO_REUSEPORT, which would let two stacks share a port.
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, reuse_port=False,
                           backlog=1024, ssl_context=self.ssl_context)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port) from None
            raise
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def _wait_for_stop(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
