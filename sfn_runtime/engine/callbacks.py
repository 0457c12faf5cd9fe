"""Task tokens for ``.waitForTaskToken``: issue, await, and complete by SendTaskSuccess/Failure/Heartbeat.

The runtime, not each plug-in, owns this waiting: a Task issues a token, the plug-in sends it
somewhere, and the state waits here until an API call settles the token or a timeout fires.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from sfn_runtime.errors import StatesError

_MAX_TOKEN_LENGTH = 1024
_CLOSED_MEMORY = 10_000


class TokenError(Exception):
    """A token API call cannot be honoured; ``code`` is the API error name."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass
class PendingTask:
    """A task waiting for its token to be settled."""

    token: str
    future: asyncio.Future
    on_heartbeat: Callable[[], None] | None = field(default=None)


class TaskTokens:
    """The open task tokens of one service."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingTask] = {}
        self._timed_out: OrderedDict[str, None] = OrderedDict()

    def issue(self) -> PendingTask:
        """A new token and the future its task awaits."""
        token = secrets.token_urlsafe(96)
        pending = PendingTask(token, asyncio.get_running_loop().create_future())
        self._pending[token] = pending
        return pending

    def close(self, token: str, timed_out: bool = False) -> None:
        """Forget a token (its task finished, failed, or timed out)."""
        self._pending.pop(token, None)
        if timed_out:
            self._timed_out[token] = None
            while len(self._timed_out) > _CLOSED_MEMORY:
                self._timed_out.popitem(last=False)

    def _find(self, token: Any) -> PendingTask:
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
            raise TokenError("InvalidToken", "Invalid Token: the task token is malformed")
        pending = self._pending.get(token)
        if pending is None:
            if token in self._timed_out:
                raise TokenError("TaskTimedOut", "Task Timed Out: the task for this token has timed out")
            raise TokenError("TaskDoesNotExist", "Task does not exist anymore")
        return pending

    def succeed(self, token: Any, output: Any) -> None:
        pending = self._find(token)
        if not pending.future.done():
            pending.future.set_result(output)

    def fail(self, token: Any, error: str, cause: str) -> None:
        pending = self._find(token)
        if not pending.future.done():
            pending.future.set_exception(StatesError(error, cause, located=True))  # SendTaskFailure's words, as sent

    def heartbeat(self, token: Any) -> None:
        pending = self._find(token)
        if pending.on_heartbeat is not None:
            pending.on_heartbeat()
