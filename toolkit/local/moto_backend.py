"""moto, in-process: S3, DynamoDB, EventBridge, Secrets Manager, IAM, STS, CloudWatch Logs, Glue catalog.

The gateway hands each request for these services to moto's WSGI application (the same one
``moto_server`` serves), translated from aiohttp to a WSGI environ and run on a small thread pool
so the gateway's event loop never blocks on moto.

moto keeps its state in module-level backends: every :class:`MotoBridge` in one process shares
it, so two local stacks in one process see the same buckets and tables.
"""

from __future__ import annotations

import asyncio
import functools
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = ["MotoBridge", "MotoResponse"]

# Hop-by-hop headers belong to one connection; aiohttp writes its own.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


@dataclass
class MotoResponse:
    """What moto answered: status code, headers (in order, repeats allowed) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    content_length: str | None


class MotoBridge:
    """Calls moto's WSGI application for one request at a time on a thread pool.

    ``account_id`` is sent to moto with every request (its ``x-moto-account-id`` header), so the
    resources moto creates carry the stack's account id in their ARNs whatever the access key.
    """

    def __init__(self, *, account_id: str, threads: int = 8):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.account_id = account_id
        self._app = DomainDispatcherApplication(create_backend_app)
        # moto's dispatcher finds a request's backend by trying every service's URL patterns
        # under one lock: most of moto's time under load. The gateway already knows the
        # service, so the backend app found for a (service, X-Amz-Target prefix) is kept.
        self._apps: dict[tuple[str, str], Any] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="moto")

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The threads moto runs on (an event loop hands its requests to them)."""
        return self._pool

    async def call(
        self,
        *,
        method: str,
        raw_path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str,
        server_port: int,
        service: str | None = None,
    ) -> MotoResponse:
        """Run one request through moto without blocking the calling event loop.

        ``service`` is the SigV4 service name when the caller knows it (a faster dispatch).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(
            self.call_blocking, method=method, raw_path=raw_path, query_string=query_string, headers=headers,
            body=body, host=host, server_port=server_port, service=service))

    def call_blocking(
        self,
        *,
        method: str,
        raw_path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str,
        server_port: int,
        service: str | None = None,
    ) -> MotoResponse:
        """:meth:`call` in the calling thread (a worker's: moto may take a while, never on an event loop)."""
        environ = self._environ(method, raw_path, query_string, headers, body, host, server_port)
        key = (service, environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]) if service else None
        return self._call_wsgi(environ, key)

    def close(self) -> None:
        """Stop the worker threads (waits for requests in flight)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ internals
    def _environ(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str,
        server_port: int,
    ) -> dict[str, Any]:
        from moto.core.request import (
            PRESERVED_HEADER_NAMES_ENVIRON_KEY,
            environ_key_for_header,
            should_preserve_original_header_name,
        )

        # PEP 3333: PATH_INFO is the decoded path, its UTF-8 bytes carried as latin-1 text.
        path_info = unquote(raw_path).encode("utf-8").decode("latin-1")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path_info,
            "QUERY_STRING": query_string,
            "RAW_URI": raw_path + (f"?{query_string}" if query_string else ""),
            "REQUEST_URI": raw_path + (f"?{query_string}" if query_string else ""),
            "SERVER_NAME": host.rsplit(":", 1)[0],
            "SERVER_PORT": str(server_port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_MOTO_ACCOUNT_ID": self.account_id,
        }
        preserved: dict[str, str] = {}
        values: dict[str, list[str]] = {}
        for name, value in headers:
            lower = name.lower()
            if lower in ("content-length", "transfer-encoding", "x-moto-account-id", "host"):
                continue  # the body arrives whole (de-chunked), with its length set above
            if "_" in name and not should_preserve_original_header_name(name):
                continue  # as a WSGI server does: X_Foo must not pass for X-Foo
            key = environ_key_for_header(name)
            if "_" in name:
                preserved.setdefault(key, name)
            values.setdefault(key, []).append(value)
        for key, parts in values.items():
            environ[key] = ",".join(parts)
        environ["HTTP_HOST"] = host
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        return environ

    def _backend_app(self, environ: dict[str, Any], key: tuple[str, str] | None) -> Any:
        if key is None:
            return self._app
        app = self._apps.get(key)
        if app is None:
            app = self._apps[key] = self._app.get_application(environ)
        return app

    def _call_wsgi(self, environ: dict[str, Any], key: tuple[str, str] | None = None) -> MotoResponse:
        started: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = response_headers
            return lambda data: None

        result = self._backend_app(environ, key)(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        kept = [(k, v) for k, v in started["headers"] if k.lower() not in _HOP_BY_HOP]
        length = next((v for k, v in started["headers"] if k.lower() == "content-length"), None)
        return MotoResponse(started["status"], kept, body, length)
