"""Execution history written to CloudWatch Logs, as a state machine's loggingConfiguration asks.

AWS (Developer Guide, "Using CloudWatch Logs to log execution history in Step Functions" and
"Log levels"): with a level other than OFF, each history event of an execution is one log event
in the configured log group, a JSON object with ``id``, ``type``, ``details``,
``previous_event_id``, ``event_timestamp``, ``execution_arn`` and ``redrive_count`` (numbers as
strings, as AWS writes them), in log streams named ``states/<state machine>/<yyyy-mm-dd-hh-mm>/<id>``.
ERROR logs the events that report a failure, FATAL only the execution's own failure, abort
or timeout; ``includeExecutionData`` false leaves inputs, outputs, parameters and assigned
values out. An input or output above 248 KiB is cut and its ``...Details.truncated`` is true.

The engine does not talk to CloudWatch Logs itself: it hands the messages to a :class:`LogSink`
(``Runtime.log_sink``; ``sfn_runtime.integrations.cloudwatch_logs`` provides one). Events are
written when the execution ends (and again after a redrive, only the new ones); AWS streams
them while the execution runs.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from sfn_runtime.engine.history import HistoryEvent, render_details

__all__ = ["LogSink", "LoggingConfiguration", "LogLine", "log_lines", "stream_name", "wanted", "LEVELS"]

LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
# AWS cuts an escaped input or output above 248 KB (CloudWatch Logs' event size quota).
MAX_LOGGED_PAYLOAD_BYTES = 248 * 1024
_FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


@dataclass(frozen=True)
class LoggingConfiguration:
    """A state machine's validated loggingConfiguration."""

    level: str = "OFF"
    include_execution_data: bool = False
    log_group_arn: str | None = None  # ends with ":*" as AWS requires

    @property
    def log_group_name(self) -> str | None:
        """The group's name: the ARN's ``log-group:`` part without the ``:*`` qualifier."""
        if self.log_group_arn is None:
            return None
        return self.log_group_arn.split(":log-group:", 1)[1].removesuffix(":*")

    def to_api(self) -> dict[str, Any]:
        """As DescribeStateMachine returns it."""
        out: dict[str, Any] = {"level": self.level, "includeExecutionData": self.include_execution_data}
        if self.log_group_arn is not None:
            out["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": self.log_group_arn}}]
        return out

    @classmethod
    def from_api(cls, value: dict[str, Any]) -> "LoggingConfiguration":
        """From an already validated API shape (see ``sfn_runtime.api.logging_configuration``)."""
        destinations = value.get("destinations") or []
        arn = destinations[0]["cloudWatchLogsLogGroup"]["logGroupArn"] if destinations else None
        return cls(value.get("level", "OFF"), bool(value.get("includeExecutionData", False)), arn)


@dataclass(frozen=True)
class LogLine:
    """One CloudWatch Logs event: milliseconds since the epoch and the message."""

    timestamp_ms: int
    message: str


class LogSink(Protocol):
    """Where execution logs go (CloudWatch Logs on AWS; the local stack's in tests)."""

    async def log_group_exists(self, name: str) -> bool:
        """Whether the log group exists (CreateStateMachine refuses a missing one)."""
        ...

    async def write(self, group_name: str, stream: str, lines: Sequence[LogLine]) -> None:
        """Append ``lines`` (in time order) to ``stream`` of ``group_name``, creating the stream."""
        ...


def wanted(event_type: str, level: str) -> bool:
    """Whether ``level`` logs events of ``event_type`` (the Developer Guide's "Log levels" table)."""
    if level == "ALL":
        return True
    if level == "FATAL":
        return event_type in _FATAL_EVENTS
    if level == "ERROR":
        return event_type.endswith(("Failed", "Aborted", "TimedOut")) or event_type == "FailStateEntered"
    return False


def stream_name(machine_name: str, started: float) -> str:
    """A new log stream's name as AWS makes them: ``states/<machine>/<yyyy-mm-dd-hh-mm>/<8 hex>``."""
    stamp = time.strftime("%Y-%m-%d-%H-%M", time.gmtime(started))
    return f"states/{machine_name}/{stamp}/{secrets.token_hex(4)}"


def log_lines(events: Sequence[HistoryEvent], config: LoggingConfiguration, execution_arn: str,
              redrive_count: int) -> list[LogLine]:
    """The log events ``config`` asks for, one per history event, in time order."""
    lines: list[LogLine] = []
    last_ms = 0
    for event in events:
        if not wanted(event.type, config.level):
            continue
        details = render_details(event.details or {}, config.include_execution_data)
        _truncate(details)
        message = {
            "id": str(event.id),
            "type": event.type,
            "details": details,
            "previous_event_id": str(event.previous_id),
            "event_timestamp": str(int(event.timestamp * 1000)),
            "execution_arn": execution_arn,
            "redrive_count": str(redrive_count),
        }
        last_ms = max(last_ms, int(event.timestamp * 1000))  # PutLogEvents wants time order
        lines.append(LogLine(last_ms, json.dumps(message, separators=(",", ":"), ensure_ascii=False)))
    return lines


def _truncate(details: dict[str, Any]) -> None:
    """Cut an input or output above AWS's 248 KiB and say so in its ``...Details``."""
    for name in ("input", "output"):
        text = details.get(name)
        if isinstance(text, str) and len(text.encode("utf-8")) > MAX_LOGGED_PAYLOAD_BYTES:
            details[name] = text.encode("utf-8")[:MAX_LOGGED_PAYLOAD_BYTES].decode("utf-8", "ignore")
            details[name + "Details"] = {"truncated": True}
