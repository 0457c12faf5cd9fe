"""The Task plug-in point: how a Task state's Resource is invoked, plus a local testing resource.

Service integrations (HTTP Task, aws-sdk, states, glue, dynamodb) register a :class:`TaskResource`
with the service. The runtime parses the Resource ARN into the integration pattern
(request-response, ``.sync``, ``.sync:2``, ``.waitForTaskToken``), evaluates the arguments, calls
``invoke`` and, for ``.waitForTaskToken``, waits for SendTaskSuccess/Failure itself.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from sfn_runtime.engine.clock import Clock
from sfn_runtime.errors import StatesError

__all__ = [
    "ExecutionHandle",
    "TaskInvocation",
    "TaskResource",
    "ResourceRef",
    "parse_resource",
    "LocalTestResource",
    "LOCAL_TEST_RESOURCE",
]

_PATTERN_SUFFIXES = ((".waitForTaskToken", "waitForTaskToken"), (".sync:2", "sync:2"), (".sync", "sync"))
_OPTIMISED_PREFIX = "arn:aws:states:::"
# Integration ARNs carry the partition (arn:aws-cn:states:::..., arn:aws-us-gov:states:::...);
# plug-ins are registered under the aws partition's form, so lookups use that form.
_PARTITION_PREFIX = re.compile(r"^arn:aws[a-z-]*:states:::")

#: Built-in local-only testing aid (not an AWS resource): sleeps, heartbeats or fails on request.
LOCAL_TEST_RESOURCE = "arn:aws:states:::local:test"


@dataclass(frozen=True)
class ResourceRef:
    """A Task's Resource split the way history events and plug-ins need it."""

    resource: str  # as written in the definition
    service_resource: str  # without the integration-pattern suffix
    pattern: str  # "request-response" | "sync" | "sync:2" | "waitForTaskToken"
    resource_type: str  # history's resourceType, e.g. "states", "aws-sdk:s3", "lambda"
    resource_name: str  # history's resource, e.g. "startExecution.sync:2"


def parse_resource(resource: str) -> ResourceRef:
    """Split a Resource ARN into its service resource and integration pattern."""
    canonical = _PARTITION_PREFIX.sub(_OPTIMISED_PREFIX, resource)
    base, pattern, suffix = canonical, "request-response", ""
    for text, name in _PATTERN_SUFFIXES:
        if canonical.endswith(text):
            base, pattern, suffix = canonical[: -len(text)], name, text
            break
    if base.startswith(_OPTIMISED_PREFIX):
        kind, _, api = base[len(_OPTIMISED_PREFIX):].rpartition(":")
        return ResourceRef(resource, base, pattern, kind or api, api + suffix)
    parts = base.split(":")
    kind = parts[2] if len(parts) > 2 else base
    return ResourceRef(resource, base, pattern, kind, resource)


class ExecutionHandle(Protocol):
    """What a Task resource may use of the execution that calls it (an ``engine.execution.Execution``)."""

    arn: str
    name: str
    machine: Any  # the StateMachineRevision the execution runs
    clock: Clock

    def stop(self, error: str | None, cause: str | None) -> None:
        """Abort the execution (StopExecution)."""
        ...


@dataclass
class TaskInvocation:
    """One call of a Task's resource, with everything a plug-in needs."""

    resource: str
    service_resource: str
    pattern: str
    arguments: Any
    context: dict
    execution: ExecutionHandle
    task_token: str | None = None
    credentials: dict | None = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    on_heartbeat: Callable[[], None] | None = field(default=None, repr=False)
    on_submitted: Callable[[Any], None] | None = field(default=None, repr=False)

    def heartbeat(self) -> None:
        """Tell the runtime the task is alive (resets the HeartbeatSeconds timer)."""
        if self.on_heartbeat is not None:
            self.on_heartbeat()

    def submitted(self, response: Any) -> None:
        """Record TaskSubmitted with the service's first response (``.sync`` plug-ins, before they wait)."""
        if self.on_submitted is not None:
            self.on_submitted(response)


class TaskResource(Protocol):
    """A Task integration: claims service resources and invokes them."""

    def handles(self, service_resource: str) -> bool:
        """True if this plug-in serves ``service_resource`` (the ARN without pattern suffix)."""
        ...

    async def invoke(self, call: TaskInvocation) -> Any:
        """Run the task; return its result or raise ``StatesError(error, cause)``."""
        ...


class LocalTestResource:
    """``arn:aws:states:::local:test``: a local-only testing aid (AWS has no such resource).

    Arguments (all optional): ``SleepSeconds`` (definition time, scaled by the time scale),
    ``HeartbeatEverySeconds`` (heartbeat while sleeping), ``FailAttempts`` with ``Error`` and
    ``Cause`` (fail while the state's RetryCount is below it), ``Result`` (returned value;
    default: the arguments themselves). With ``.waitForTaskToken`` it returns at once and the
    task waits for SendTaskSuccess/Failure; with ``.sync`` it records TaskSubmitted first.
    """

    def handles(self, service_resource: str) -> bool:
        return service_resource == LOCAL_TEST_RESOURCE

    async def invoke(self, call: TaskInvocation) -> Any:
        args = call.arguments if isinstance(call.arguments, dict) else {}
        if call.pattern.startswith("sync"):
            call.submitted({"Submitted": True})
        clock = call.execution.clock
        sleep = float(args.get("SleepSeconds", 0) or 0)
        beat = args.get("HeartbeatEverySeconds")
        if beat:
            remaining = sleep
            while remaining > 0:
                step = min(float(beat), remaining)
                await clock.sleep(step)
                remaining -= step
                call.heartbeat()
        elif sleep:
            await clock.sleep(sleep)
        retry_count = call.context.get("State", {}).get("RetryCount", 0)
        if retry_count < int(args.get("FailAttempts", 0) or 0):
            raise StatesError(str(args.get("Error", "Local.TestFailure")), str(args.get("Cause", "")))
        await asyncio.sleep(0)
        return args.get("Result", call.arguments)
