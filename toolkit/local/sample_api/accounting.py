"""Request accounting: how often each page of each location was asked for.

Redrive and retry tests count fetches per page; the counts cover every request that reached a
data endpoint (including ones answered with an error or a fault), keyed by
``(location_id, endpoint, state, offset)`` (state and offset are None for get-summary, and
for get-data values that are not valid).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import NamedTuple

__all__ = ["RequestKey", "RequestCounts", "RequestCounter"]


class RequestKey(NamedTuple):
    location_id: str
    endpoint: str
    state: str | None = None
    offset: int | None = None


@dataclasses.dataclass(frozen=True)
class RequestCounts:
    """A snapshot of the counts: the total and one count per :class:`RequestKey`."""

    total: int
    by_key: dict[RequestKey, int]

    def get(self, location_id: str, endpoint: str, state: str | None = None, offset: int | None = None) -> int:
        return self.by_key.get(RequestKey(location_id, endpoint, state, offset), 0)

    def for_location(self, location_id: str) -> int:
        return sum(n for key, n in self.by_key.items() if key.location_id == location_id)

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total,
                "requests": [{**key._asdict(), "count": n} for key, n in sorted(
                    self.by_key.items(), key=lambda kv: tuple("" if v is None else str(v) for v in kv[0]))]}


class RequestCounter:
    """Thread-safe counters, incremented on the server's loop and read from any thread."""

    def __init__(self) -> None:
        self._counts: dict[RequestKey, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    def add(self, key: RequestKey) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            self._total += 1

    def snapshot(self) -> RequestCounts:
        with self._lock:
            return RequestCounts(self._total, dict(self._counts))

    def reset(self) -> None:
        with self._lock:
            self._counts = {}
            self._total = 0
