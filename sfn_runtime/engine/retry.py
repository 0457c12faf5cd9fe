"""Retry and Catch: matching an error name against ErrorEquals, and the retry back-off schedule.

Rules from AWS's "Handling errors in Step Functions workflows": ``States.ALL`` matches any error
name but not the terminal ``States.Runtime`` or ``States.DataLimitExceeded``; ``States.TaskFailed``
matches any error name except ``States.Timeout``; ``States.Runtime`` is never retried or caught.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

_NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


def error_matches(error_equals: tuple[str, ...], error: str) -> bool:
    """True if a retrier's or catcher's ErrorEquals covers ``error``."""
    if error == RUNTIME:
        return False
    for name in error_equals:
        if name == error:
            return True
        if name == ALL and error not in _NOT_MATCHED_BY_ALL:
            return True
        if name == TASK_FAILED and error not in _NOT_MATCHED_BY_ALL and error != TIMEOUT:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Retrier:
    """One entry of a state's Retry field."""

    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_strategy: str = "NONE"

    def delay(self, retry_number: int) -> float:
        """Seconds (definition time) before retry ``retry_number`` (0 for the first retry)."""
        delay = self.interval_seconds * (self.backoff_rate ** retry_number)
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        if self.jitter_strategy == "FULL":
            delay = random.uniform(0, delay)
        return delay


@dataclass(frozen=True, slots=True)
class Catcher:
    """One entry of a state's Catch field; ``result_path``/``output``/``assign`` are compiled forms."""

    error_equals: tuple[str, ...]
    next: str
    result_path: Any = None  # JSONPath: Path, or None for ResultPath null; default "$"
    discard_result: bool = False  # JSONPath ResultPath: null
    output: Any = None  # JSONata Template or None (default: the error output)
    assign: Any = None  # payload template / JSONata template or None


def first_match(entries: tuple, error: str) -> int:
    """Index of the first retrier/catcher whose ErrorEquals covers ``error``, or -1."""
    for index, entry in enumerate(entries):
        if error_matches(entry.error_equals, error):
            return index
    return -1
