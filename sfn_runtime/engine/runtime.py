"""The runtime: what executions and states share, so the engine never reaches into the API layer.

One :class:`Runtime` per Step Functions service. It holds the clock, the quotas, the open task
tokens, the Task resources (service integrations), the Distributed Map runner, the permissions
every call a workflow makes is checked against, the table of executions (STANDARD ones by ARN,
and the set still running) and the sink execution logs go to (``engine.execution_logs``). The
API service owns one and hands it to every execution; states reach it as ``frame.runtime``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Protocol

from sfn_runtime.authorization import Permissions
from sfn_runtime.engine.callbacks import TaskTokens
from sfn_runtime.engine.clock import Clock
from sfn_runtime.engine.execution_logs import LoggingConfiguration, LogSink, log_lines, stream_name
from sfn_runtime.engine.quotas import Quotas
from sfn_runtime.engine.resources import LocalTestResource, TaskResource

__all__ = ["Runtime", "DistributedMapRunner"]

_log = logging.getLogger(__name__)


class DistributedMapRunner(Protocol):
    """Runs a Map state whose ItemProcessor's ProcessorConfig.Mode is DISTRIBUTED (a Map Run)."""

    def __call__(self, state: Any, raw: Any, data: Any, context: dict, frame: Any) -> Awaitable[Any]:
        """The Map state's result, from its raw input, effective input, context object and frame."""
        ...


class Runtime:
    """The clock, quotas, task tokens, Task resources, Map Run runner and executions of one service."""

    def __init__(self, *, region: str, account_id: str, clock: Clock, quotas: Quotas):
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.quotas = quotas
        self.tokens = TaskTokens()
        self.executions: dict[str, Any] = {}  # STANDARD executions by ARN (engine.execution.Execution)
        self.running: set[Any] = set()  # executions started through the API or redriven, not yet ended
        self.distributed_map: DistributedMapRunner | None = None
        self.permissions = Permissions(region=region, account=account_id)  # AllowAll until an authorizer is set
        self._resources: list[TaskResource] = [LocalTestResource()]
        self.log_sink: LogSink | None = None  # where loggingConfiguration sends history events
        self._log_writes: set[asyncio.Task] = set()

    def register_resource(self, resource: TaskResource) -> None:
        """Add a Task integration; later registrations win for the same service resource."""
        self._resources.insert(0, resource)

    def resource_for(self, service_resource: str) -> TaskResource | None:
        """The Task integration serving ``service_resource`` (the Resource without its pattern suffix)."""
        for resource in self._resources:
            if resource.handles(service_resource):
                return resource
        return None

    def execution_finished(self, execution: Any) -> None:
        """Called by an execution (``engine.execution.Execution``) as it ends: its logs go out."""
        self.running.discard(execution)
        self._send_logs(execution)

    def _send_logs(self, execution: Any) -> None:
        """Hand the events not yet logged to the sink, without making the execution wait (as AWS)."""
        config = LoggingConfiguration.from_api(execution.machine.logging)
        group = config.log_group_name
        if self.log_sink is None or config.level == "OFF" or group is None:
            return
        events = execution.history.events[execution.logged_events:]
        execution.logged_events += len(events)
        lines = log_lines(events, config, execution.arn, execution.redrive_count)
        if not lines:
            return
        stream = stream_name(execution.machine.name, execution.start_time)
        task = asyncio.get_running_loop().create_task(self._write_logs(group, stream, lines, execution.arn))
        self._log_writes.add(task)
        task.add_done_callback(self._log_writes.discard)

    async def _write_logs(self, group: str, stream: str, lines: list, execution_arn: str) -> None:
        assert self.log_sink is not None
        try:
            await self.log_sink.write(group, stream, lines)
        except Exception as exc:  # a lost log must not fail anything else (AWS: delivery is best effort)
            _log.warning("could not write the logs of %s to %s: %s", execution_arn, group, exc)

    async def flush_logs(self) -> None:
        """Wait until every log write started so far has ended."""
        while self._log_writes:
            await asyncio.gather(*list(self._log_writes), return_exceptions=True)
