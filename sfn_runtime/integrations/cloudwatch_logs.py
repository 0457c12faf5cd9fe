"""The runtime's log sink on CloudWatch Logs: execution history events as log events.

Implements ``sfn_runtime.engine.execution_logs.LogSink`` with the integrations' boto3 clients
(``AwsClients``), so on the local stack the events land in its CloudWatch Logs and an operator
reads them with ``logs.filter_log_events`` as on AWS.
"""

from __future__ import annotations

from typing import Sequence

from botocore.exceptions import ClientError

from sfn_runtime.engine.execution_logs import LogLine
from sfn_runtime.integrations.clients import AwsClients

__all__ = ["CloudWatchLogsSink"]

# PutLogEvents takes at most 10,000 events and 1,048,576 bytes (26 bytes of overhead per event).
_MAX_BATCH_EVENTS = 10_000
_MAX_BATCH_BYTES = 1_048_576
_EVENT_OVERHEAD = 26


class CloudWatchLogsSink:
    """Writes log streams with CreateLogStream and PutLogEvents."""

    def __init__(self, clients: AwsClients):
        self.clients = clients

    async def log_group_exists(self, name: str) -> bool:
        found = await self.clients.call("logs", "describe_log_groups", logGroupNamePrefix=name)
        return any(group["logGroupName"] == name for group in found.get("logGroups", []))

    async def write(self, group_name: str, stream: str, lines: Sequence[LogLine]) -> None:
        try:
            await self.clients.call("logs", "create_log_stream", logGroupName=group_name, logStreamName=stream)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        for batch in _batches(lines):
            await self.clients.call("logs", "put_log_events", logGroupName=group_name, logStreamName=stream,
                                    logEvents=[{"timestamp": line.timestamp_ms, "message": line.message} for line in batch])


def _batches(lines: Sequence[LogLine]) -> list[list[LogLine]]:
    """Split ``lines`` into PutLogEvents calls within its count and byte quotas."""
    batches: list[list[LogLine]] = []
    current: list[LogLine] = []
    size = 0
    for line in lines:
        cost = len(line.message.encode("utf-8")) + _EVENT_OVERHEAD
        if current and (len(current) >= _MAX_BATCH_EVENTS or size + cost > _MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(line)
        size += cost
    if current:
        batches.append(current)
    return batches
