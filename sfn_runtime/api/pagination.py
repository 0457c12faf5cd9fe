"""Pagination of every List* operation and GetExecutionHistory: maxResults and opaque nextTokens.

As AWS's API Reference describes: ``maxResults`` is 0 (the default page size) to 1000; a response
with more to come carries a ``nextToken`` that the next call passes back unchanged. Tokens are
opaque: here base64 of the operation and the offset, so a token from one operation is refused
(InvalidToken) by another.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Sequence, TypeVar

from sfn_runtime.api.awsjson import ServiceError

__all__ = ["page", "paged"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


def page(items: Sequence[T], params: dict[str, Any], operation: str) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` by the request's maxResults/nextToken, and the token of the next page."""
    size = params.get("maxResults") or DEFAULT_PAGE_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or size > MAX_PAGE_SIZE:
        raise ServiceError("ValidationException", f"maxResults: must be between 0 and {MAX_PAGE_SIZE}")
    start = _offset(params.get("nextToken"), operation)
    end = start + size
    next_token = _token(operation, end) if end < len(items) else None
    return items[start:end], next_token


def paged(key: str, entries: list[Any], token: str | None) -> dict[str, Any]:
    """A response body: ``{key: entries}`` plus ``nextToken`` when there is a next page."""
    body: dict[str, Any] = {key: entries}
    if token:
        body["nextToken"] = token
    return body


def _token(operation: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"operation": operation, "offset": offset}).encode()).decode()


def _offset(token: Any, operation: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()).decode())
        start = int(decoded["offset"])
        if decoded["operation"] != operation or start < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ServiceError("InvalidToken", "Invalid Token: the nextToken is not valid") from None
    return start
