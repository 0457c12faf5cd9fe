"""AWS's JSON protocol (``awsJson1_0`` / ``awsJson1_1``) for the services this project serves itself.

A request is ``POST /`` with ``X-Amz-Target: <TargetPrefix>.<Operation>`` and a JSON body; a
reply is JSON, timestamps as epoch seconds; an error is an HTTP 4xx/5xx whose body holds
``{"__type": code, "message": text}``, which botocore turns into ``ClientError`` with that code.
Our Step Functions runtime and local Glue runner implement :class:`JsonService`; this module
turns them into aiohttp handlers.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Protocol

from aiohttp import web

__all__ = ["JsonService", "ServiceError", "json_handler", "dumps", "too_long"]


class ServiceError(Exception):
    """An API error in AWS's shape: its code (``__type``), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}")


def too_long(field: str, limit: int, value: str | None = None) -> ServiceError:
    """AWS's ValidationException for a member past its length constraint (the value is shown
    unless the member is sensitive, as AWS does for ``input`` and ``definition``)."""
    shown = f"Value '{value}' at" if value is not None else "Value at"
    return ServiceError("ValidationException", f"1 validation error detected: {shown} '{field}' failed to satisfy "
                                               f"constraint: Member must have length less than or equal to {limit}")


class JsonService(Protocol):
    """A service spoken to in AWS's JSON protocol."""

    async def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one API operation; raise :class:`ServiceError` for an API error."""
        ...


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON as AWS's JSON protocol sends it (datetimes as epoch seconds)."""
    return json.dumps(value, default=_default, separators=(",", ":"))


def json_handler(service: JsonService, content_type: str = "application/x-amz-json-1.0"):
    """An aiohttp handler that serves ``service`` in AWS's JSON protocol."""

    async def handle(request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        if not operation:
            return _error(ServiceError("UnknownOperationException", "missing X-Amz-Target header"), content_type)
        raw = await request.read()
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            return _error(ServiceError("SerializationException", "request body is not valid JSON"), content_type)
        if not isinstance(params, dict):
            return _error(ServiceError("SerializationException", "request body must be a JSON object"), content_type)
        try:
            result = await service.dispatch(operation, params)
        except ServiceError as exc:
            return _error(exc, content_type)
        return web.Response(text=dumps(result or {}), content_type=content_type)

    return handle


def _error(exc: ServiceError, content_type: str) -> web.Response:
    body = dumps({"__type": exc.code, "message": exc.message})
    return web.Response(status=exc.status, text=body, content_type=content_type)
