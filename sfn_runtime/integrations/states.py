"""Step Functions calling Step Functions: ``states:startExecution`` and ``aws-sdk:sfn:*``, in-process.

``arn:aws:states:::states:startExecution`` in every pattern AWS offers:

* request-response: ``{ExecutionArn, StartDate}`` as soon as the child has started;
* ``.sync``: waits for the child and returns its description with ``Output`` as a JSON string;
* ``.sync:2``: the same with ``Input`` and ``Output`` as JSON;
* ``.waitForTaskToken``: starts the child (the runtime then waits for SendTaskSuccess/Failure).

A child that does not succeed fails the task with ``States.TaskFailed`` and its description as
the cause. When the parent's task is stopped (StopExecution of the parent, a timeout) while it
waits with ``.sync``, the child is stopped too. Children are awaited in the same asyncio loop:
a waiting parent costs no thread. When the child's input holds
``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` (as AWS asks callers to pass ``$$.Execution.Id``),
the child records its parent.

``arn:aws:states:::aws-sdk:sfn:ACTION`` (e.g. ``startSyncExecution`` for EXPRESS children) is
served by calling the local service's own operation directly rather than through HTTP, so a
waiting call holds no worker thread either; results use PascalCase keys and errors are named
``Sfn.<Name>Exception`` as for every aws-sdk integration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sfn_runtime.api.awsjson import ServiceError
from sfn_runtime.engine.clock import iso_timestamp
from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.awssdk import error_name

__all__ = ["StartExecutionIntegration", "SfnSdkIntegration", "STARTED_BY"]

RESOURCE = "arn:aws:states:::states:startExecution"
SDK_PREFIX = "arn:aws:states:::aws-sdk:sfn:"
STARTED_BY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
_DATE_KEYS = {"startDate", "stopDate", "creationDate", "updateDate", "redriveDate", "timestamp"}


def _millis(epoch: float | None) -> int | None:
    return None if epoch is None else int(round(epoch * 1000))


def _input_text(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def describe_child(execution: Any, parsed: bool) -> dict[str, Any]:
    """The child's description as ``.sync`` (``parsed=False``) or ``.sync:2`` returns it."""
    out: dict[str, Any] = {
        "ExecutionArn": execution.arn,
        "Input": execution.input if parsed else execution.input_text,
        "InputDetails": {"Included": True},
        "Name": execution.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": _millis(execution.start_time),
        "StateMachineArn": execution.machine.arn,
        "Status": execution.status,
        "StopDate": _millis(execution.stop_time),
    }
    if execution.status == "SUCCEEDED":
        out["Output"] = execution.output if parsed else execution.output_text
        out["OutputDetails"] = {"Included": True}
    if execution.error:
        out["Error"] = execution.error
    if execution.cause:
        out["Cause"] = execution.cause
    return out


class StartExecutionIntegration:
    """``states:startExecution`` (request-response, ``.sync``, ``.sync:2``, ``.waitForTaskToken``)."""

    def __init__(self, service: Any):
        self._service = service

    def handles(self, service_resource: str) -> bool:
        return service_resource == RESOURCE

    async def invoke(self, call: Any) -> Any:
        args = call.arguments
        if not isinstance(args, dict):
            raise StatesError("States.Runtime", "states:startExecution: the arguments must be a JSON object")
        machine_arn = args.get("StateMachineArn")
        if not isinstance(machine_arn, str):
            raise StatesError("States.Runtime", "states:startExecution: StateMachineArn is required")
        input_value = args.get("Input")
        parent_arn = input_value.get(STARTED_BY) if isinstance(input_value, dict) else None
        try:
            execution, _ = self._service.start_execution(
                machine_arn, _input_text(input_value), args.get("Name"),
                parent_arn=parent_arn if isinstance(parent_arn, str) else None,
            )
        except ServiceError as exc:
            raise StatesError(error_name("StepFunctions", exc.code), exc.message) from None
        started = {"ExecutionArn": execution.arn, "StartDate": _millis(execution.start_time)}
        if call.pattern in ("request-response", "waitForTaskToken"):
            return started
        call.submitted(started)  # TaskSubmitted, then wait for the child
        try:
            await execution.wait()
        except asyncio.CancelledError:
            # The parent's task is being stopped: stop the child as AWS does for .sync.
            execution.stop("States.Aborted", f"The parent execution {call.execution.arn} stopped waiting")
            raise
        description = describe_child(execution, parsed=call.pattern == "sync:2")
        if execution.status != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps(describe_child(execution, False), separators=(",", ":")))
        return description


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _pascal(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if key in _DATE_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso_timestamp(value)
    if isinstance(value, dt.datetime):  # e.g. DescribeMapRun's startDate
        return iso_timestamp(value.timestamp())
    return value


class SfnSdkIntegration:
    """``aws-sdk:sfn:ACTION`` answered by the local service itself (no HTTP, no thread)."""

    def __init__(self, service: Any):
        self._service = service

    def handles(self, service_resource: str) -> bool:
        return service_resource.startswith(SDK_PREFIX)

    async def invoke(self, call: Any) -> Any:
        if call.pattern != "request-response":
            raise StatesError("States.Runtime", f"{call.resource}: aws-sdk integrations support only request-response")
        action = call.service_resource[len(SDK_PREFIX):]
        operation = action[:1].upper() + action[1:]
        params = _camel(call.arguments or {})
        if not isinstance(params, dict):
            raise StatesError("States.Runtime", f"{call.resource}: the parameters must be a JSON object")
        try:
            answer = await self._service.dispatch(operation, params)
        except ServiceError as exc:
            if exc.code == "UnknownOperationException":
                raise StatesError("States.Runtime", f"aws-sdk: sfn has no action {action!r}") from None
            raise StatesError(error_name("Sfn", exc.code), exc.message) from None
        return _pascal(answer)
