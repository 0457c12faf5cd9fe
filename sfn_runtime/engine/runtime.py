"""The runtime: what executions and states share, so the engine never reaches into the API layer.

One :class:`Runtime` per Step Functions service. It holds the clock, the quotas, the open task
tokens, the Task resources (service integrations), the Distributed Map runner and the table of
executions (STANDARD ones by ARN, and the set still running). The API service owns one and hands
it to every execution; states reach it as ``frame.runtime``.
"""

from __future__ import annotations

from typing import Any, Awaitable, Protocol

from sfn_runtime.engine.callbacks import TaskTokens
from sfn_runtime.engine.clock import Clock
from sfn_runtime.engine.quotas import Quotas
from sfn_runtime.engine.resources import ExecutionHandle, LocalTestResource, TaskResource

__all__ = ["Runtime", "DistributedMapRunner"]


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
        self._resources: list[TaskResource] = [LocalTestResource()]

    def register_resource(self, resource: TaskResource) -> None:
        """Add a Task integration; later registrations win for the same service resource."""
        self._resources.insert(0, resource)

    def resource_for(self, service_resource: str) -> TaskResource | None:
        """The Task integration serving ``service_resource`` (the Resource without its pattern suffix)."""
        for resource in self._resources:
            if resource.handles(service_resource):
                return resource
        return None

    def execution_finished(self, execution: ExecutionHandle) -> None:
        """Called by an execution as it ends."""
        self.running.discard(execution)
