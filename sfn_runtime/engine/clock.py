"""Time for the local runtime: real timestamps, with durations scaled by a time scale.

``time_scale`` multiplies every Wait, Retry interval and timeout (0.01 runs them 100x faster) so
tests exercise real retry schedules quickly. Definitions are unchanged; history timestamps show
the scaled waits as they really happened. At time scale 0 every wait is instant and timeouts are
not enforced (none could ever be met).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time


class Clock:
    """Wall-clock timestamps plus scaled sleeping."""

    def __init__(self, time_scale: float = 1.0):
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.time_scale = time_scale

    @staticmethod
    def now() -> float:
        """Current time as epoch seconds."""
        return time.time()

    def scaled(self, seconds: float) -> float:
        """How many real seconds a definition's ``seconds`` last locally."""
        return max(0.0, seconds * self.time_scale)

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of definition time."""
        await asyncio.sleep(self.scaled(seconds))


def iso_timestamp(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds, as the context object shows times (``...T20:14:13.192Z``)."""
    seconds = int(epoch)
    parts = time.gmtime(seconds)
    millis = int((epoch - seconds) * 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (parts[:6] + (millis,))


def to_datetime(epoch: float) -> dt.datetime:
    """Epoch seconds as an aware UTC datetime (the API renders these as epoch seconds)."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
