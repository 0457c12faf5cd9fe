"""The Step Functions API served by our own runtime, as an AWS JSON protocol service.

:class:`StepFunctionsService` implements the operations boto3's ``stepfunctions`` client calls
(state machines, executions, history, task tokens, validation, TestState) with AWS's request and
response shapes and error names, including the Map Run operations and RedriveExecution.
Construct it inside the event loop that serves it: executions are asyncio tasks of that loop.
The service owns the engine's :class:`Runtime` (clock, quotas, task tokens, Task resources,
executions) and the Distributed Map runner; integrations plug in with :meth:`register_resource`
and give Distributed Map its AWS clients with :meth:`use_aws_clients`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from typing import Any, Callable

from sfn_runtime.api import map_runs as map_run_api
from sfn_runtime.api.awsjson import ServiceError, too_long
from sfn_runtime.api.logging_configuration import logging_configuration
from sfn_runtime.api.names import ArnBuilder, is_machine_arn, name_problem, parse_execution_arn, valid_role_arn
from sfn_runtime.api.pagination import page, paged
from sfn_runtime.api.teststate import run_test_state
from sfn_runtime.distributed.map_run import AwsCalls, DistributedMapRunner, MapRuns
from sfn_runtime.engine.callbacks import TokenError
from sfn_runtime.engine.clock import Clock
from sfn_runtime.engine.definition import (
    StateMachineDefinition,
    invalid_definition_message,
    parse_definition,
    problem_code,
)
from sfn_runtime.errors import DefinitionError
from sfn_runtime.engine.execution import MAP_RUN_CHILD_REASON, RUNNING, Execution
from sfn_runtime.engine.history import HistoryEvent
from sfn_runtime.engine.machine import StateMachineRevision
from sfn_runtime.engine.quotas import Quotas
from sfn_runtime.engine.resources import TaskResource
from sfn_runtime.engine.runtime import Runtime

NAME_REUSE_SECONDS = 90 * 86400
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


class StepFunctionsService:
    """In-process AWS Step Functions: state machines, executions and their history."""

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        time_scale: float = 1.0,
        quotas: Quotas | None = None,
        endpoint_url: str | None = None,
    ):
        self.region = region
        self.account_id = account_id
        self.endpoint_url = endpoint_url
        self.runtime = Runtime(region=region, account_id=account_id, clock=Clock(time_scale), quotas=quotas or Quotas())
        self.clock = self.runtime.clock
        self.quotas = self.runtime.quotas
        self.tokens = self.runtime.tokens
        self.executions: dict[str, Execution] = self.runtime.executions
        self.map_runs = MapRuns()
        self.distributed_map = DistributedMapRunner(self.runtime, self.map_runs)
        self.runtime.distributed_map = self.distributed_map
        self.arns = ArnBuilder(region, account_id)
        self.machines: dict[str, StateMachineRevision] = {}
        self.tags: dict[str, dict[str, str]] = {}  # state machine ARN -> tag key -> value
        self._by_machine: dict[str, list[Execution]] = {}
        self._loop = asyncio.get_running_loop()

    # ------------------------------------------------------------------ extension points
    def register_resource(self, resource: TaskResource) -> None:
        """Add a Task integration; later registrations win for the same service resource."""
        self.runtime.register_resource(resource)

    def use_aws_clients(self, clients: AwsCalls) -> None:
        """Let Distributed Map's ItemReader and ResultWriter call S3 with ``clients``."""
        self.distributed_map.use_clients(clients)

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, "op_" + operation, None)
        if method is None:
            raise ServiceError("UnknownOperationException", f"Operation {operation} is not supported by the local Step Functions runtime")
        return await method(params)

    async def close(self) -> None:
        """Stop every running execution and wait for them to end."""
        running = list(self.runtime.running)
        for execution in running:
            execution.stop("States.Runtime", "The local Step Functions service was closed")
        for execution in running:
            if execution.task is not None:
                await asyncio.gather(execution.task, return_exceptions=True)
        await self.runtime.flush_logs()

    # ------------------------------------------------------------------ state machines
    def _definition(self, text: Any) -> StateMachineDefinition:
        if not isinstance(text, str):
            raise ServiceError("ValidationException", "definition: must be a string")
        limit = self.quotas.max_definition_bytes
        if limit is not None and len(text.encode("utf-8")) > limit:
            raise too_long("definition", limit)
        try:
            return parse_definition(text)
        except DefinitionError as exc:
            raise ServiceError("InvalidDefinition", invalid_definition_message(exc)) from None

    def _name_problem(self, name: Any) -> str | None:
        """Why ``name`` is refused (InvalidName's text), or None; past 80 characters AWS answers
        ValidationException (its length constraint), raised here."""
        if isinstance(name, str) and len(name) > self.quotas.max_name_length:
            raise too_long("name", self.quotas.max_name_length, name)
        return name_problem(name, self.quotas.max_name_length)

    def _machine(self, arn: Any) -> StateMachineRevision:
        if not is_machine_arn(arn):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        machine = self.machines.get(arn)
        if machine is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    async def op_CreateStateMachine(self, params: dict) -> dict:
        name = params.get("name")
        problem = self._name_problem(name)
        if problem:
            raise ServiceError("InvalidName", f"Invalid Name: '{name}': {problem}")
        kind = params.get("type", "STANDARD")
        if kind not in ("STANDARD", "EXPRESS"):
            raise ServiceError("ValidationException", "type: must be STANDARD or EXPRESS")
        role_arn = params.get("roleArn")
        if not valid_role_arn(role_arn):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'roleArn' is not an IAM role ARN: {role_arn}")
        text = params.get("definition")
        definition = self._definition(text)
        logging = await logging_configuration(params.get("loggingConfiguration"), self.runtime.log_sink, role_arn,
                                              self.runtime.permissions)
        arn = self.arns.state_machine(name)
        existing = self.machines.get(arn)
        if existing is not None:
            if existing.definition_text == text and existing.role_arn == role_arn and existing.type == kind:
                return {"stateMachineArn": arn, "creationDate": existing.creation_date}
            raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
        now = self.clock.now()
        self.machines[arn] = StateMachineRevision(
            arn, name, kind, role_arn, text, definition, now, now, uuid.uuid4().hex,
            logging=logging.to_api(),
            tracing=params.get("tracingConfiguration") or {"enabled": False},
        )
        self._by_machine.setdefault(arn, [])
        self.tags[arn] = {tag["key"]: tag.get("value", "") for tag in params.get("tags") or []}
        return {"stateMachineArn": arn, "creationDate": now}

    async def op_UpdateStateMachine(self, params: dict) -> dict:
        machine = self._machine(params.get("stateMachineArn"))
        keys = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(key in params for key in keys):
            raise ServiceError("MissingRequiredParameter", "Specify at least one of definition, roleArn, loggingConfiguration, tracingConfiguration")
        changes: dict[str, Any] = {}
        if "definition" in params:
            changes["definition"] = self._definition(params["definition"])
            changes["definition_text"] = params["definition"]
        if "roleArn" in params:
            if not valid_role_arn(params["roleArn"]):
                raise ServiceError("InvalidArn", f"Invalid Arn: 'roleArn' is not an IAM role ARN: {params['roleArn']}")
            changes["role_arn"] = params["roleArn"]
        if "loggingConfiguration" in params:
            role_arn = changes.get("role_arn", machine.role_arn)
            config = await logging_configuration(params["loggingConfiguration"], self.runtime.log_sink, role_arn,
                                                 self.runtime.permissions)
            changes["logging"] = config.to_api()
        if "tracingConfiguration" in params:
            changes["tracing"] = params["tracingConfiguration"]
        now = self.clock.now()
        self.machines[machine.arn] = dataclasses.replace(machine, update_date=now, revision_id=uuid.uuid4().hex, **changes)
        return {"updateDate": now, "revisionId": self.machines[machine.arn].revision_id}

    async def op_DescribeStateMachine(self, params: dict) -> dict:
        machine = self._machine(params.get("stateMachineArn"))
        return {
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": machine.definition_text,
            "roleArn": machine.role_arn,
            "type": machine.type,
            "creationDate": machine.creation_date,
            "loggingConfiguration": machine.logging,
            "tracingConfiguration": machine.tracing,
            "revisionId": machine.revision_id,
        }

    async def op_DescribeStateMachineForExecution(self, params: dict) -> dict:
        execution = self._execution(params.get("executionArn"))
        machine = execution.machine
        out = {
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "definition": machine.definition_text,
            "roleArn": machine.role_arn,
            "updateDate": machine.update_date,
            "loggingConfiguration": machine.logging,
            "tracingConfiguration": machine.tracing,
            "revisionId": machine.revision_id,
        }
        if execution.map_run_arn:
            out["mapRunArn"] = execution.map_run_arn
        return out

    async def op_ListStateMachines(self, params: dict) -> dict:
        machines = sorted(self.machines.values(), key=lambda m: m.name)
        listed, token = page(machines, params, "ListStateMachines")
        items = [{"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date} for m in listed]
        return paged("stateMachines", items, token)

    async def op_DeleteStateMachine(self, params: dict) -> dict:
        arn = params.get("stateMachineArn")
        if not is_machine_arn(arn):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        self.machines.pop(arn, None)
        self.tags.pop(arn, None)
        return {}

    def _tagged(self, arn: Any) -> dict[str, str]:
        if arn not in self.tags:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
        return self.tags[arn]

    async def op_TagResource(self, params: dict) -> dict:
        tags = self._tagged(params.get("resourceArn"))
        tags.update({tag["key"]: tag.get("value", "") for tag in params.get("tags") or []})
        return {}

    async def op_UntagResource(self, params: dict) -> dict:
        tags = self._tagged(params.get("resourceArn"))
        for key in params.get("tagKeys") or []:
            tags.pop(key, None)
        return {}

    async def op_ListTagsForResource(self, params: dict) -> dict:
        tags = self._tagged(params.get("resourceArn"))
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}

    # ------------------------------------------------------------------ executions
    def start_execution(
        self,
        state_machine_arn: Any,
        input_text: Any = None,
        name: Any = None,
        *,
        map_run_arn: str | None = None,
        parent_arn: str | None = None,
    ) -> tuple[Execution, bool]:
        """Start (or, for the same name and input while running, return) an execution.

        Returns ``(execution, started)``; ``started`` is False for AWS's idempotent repeat.
        Raises ``ServiceError`` as StartExecution does. Used by the API and by integrations.
        """
        machine = self._machine(state_machine_arn)
        if name is None:
            name = str(uuid.uuid4())
        problem = self._name_problem(name)
        if problem:
            raise ServiceError("InvalidName", f"Invalid Name: '{name}': {problem}")
        input_text = "{}" if input_text is None else input_text
        if not isinstance(input_text, str):
            raise ServiceError("InvalidExecutionInput", "Invalid execution input: input must be a JSON string")
        limit = self.quotas.max_payload_bytes
        if limit is not None and len(input_text.encode("utf-8")) > limit:
            raise too_long("input", limit)  # AWS checks the length constraint before the JSON
        try:
            value = json.loads(input_text)
        except ValueError:
            raise ServiceError("InvalidExecutionInput", "Invalid execution input: the input is not valid JSON") from None
        express = machine.type == "EXPRESS"
        if express:
            arn = self.arns.express_execution(machine.name, name, str(uuid.uuid4()))
        else:
            arn = self.arns.execution(machine.name, name)
            existing = self.executions.get(arn)
            if existing is not None and not _name_reusable(existing, self.clock.now()):
                if existing.status == RUNNING and existing.input_text == input_text:
                    return existing, False
                raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            if existing is not None and existing in self._by_machine.get(existing.machine.arn, []):
                self._by_machine[existing.machine.arn].remove(existing)
        execution = Execution(self.runtime, machine, arn, name, value, input_text, express=express,
                              map_run_arn=map_run_arn, parent_arn=parent_arn)
        if not express:
            self.executions[arn] = execution
            self._by_machine.setdefault(machine.arn, []).append(execution)
        self.runtime.running.add(execution)
        execution.start()
        return execution, True

    def _execution(self, arn: Any) -> Execution:
        parsed = parse_execution_arn(arn)
        if parsed is None or parsed[2]:
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        execution = self.executions.get(arn)
        if execution is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    async def op_StartExecution(self, params: dict) -> dict:
        execution, _ = self.start_execution(params.get("stateMachineArn"), params.get("input"), params.get("name"))
        return {"executionArn": execution.arn, "startDate": execution.start_time}

    async def op_StartSyncExecution(self, params: dict) -> dict:
        machine = self._machine(params.get("stateMachineArn"))
        if machine.type != "EXPRESS":
            raise ServiceError("StateMachineTypeNotSupported", "StartSyncExecution supports only EXPRESS state machines")
        execution, _ = self.start_execution(machine.arn, params.get("input"), params.get("name"))
        await execution.wait()
        out: dict[str, Any] = {
            "executionArn": execution.arn,
            "stateMachineArn": machine.arn,
            "name": execution.name,
            "startDate": execution.start_time,
            "stopDate": execution.stop_time,
            "status": execution.status,
            "input": execution.input_text,
            "inputDetails": {"included": True},
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": max(100, int(((execution.stop_time or 0) - execution.start_time) * 1000)),
            },
        }
        if execution.output_text is not None:
            out["output"] = execution.output_text
            out["outputDetails"] = {"included": True}
        if execution.error:
            out["error"] = execution.error
        if execution.cause:
            out["cause"] = execution.cause
        return out

    async def op_DescribeExecution(self, params: dict) -> dict:
        return self._execution(params.get("executionArn")).describe()

    async def op_ListExecutions(self, params: dict) -> dict:
        machine_arn, map_run_arn = params.get("stateMachineArn"), params.get("mapRunArn")
        if (machine_arn is None) == (map_run_arn is None):
            raise ServiceError("ValidationException", "Specify exactly one of stateMachineArn and mapRunArn")
        status = params.get("statusFilter")
        if status is not None and status not in EXECUTION_STATUSES:
            raise ServiceError("ValidationException", f"statusFilter: '{status}' is not a valid execution status")
        redrive_filter = params.get("redriveFilter")
        if redrive_filter is not None and redrive_filter not in ("REDRIVEN", "NOT_REDRIVEN"):
            raise ServiceError("ValidationException", "redriveFilter: must be REDRIVEN or NOT_REDRIVEN")
        if machine_arn is not None:
            machine = self._machine(machine_arn)
            if machine.type == "EXPRESS":
                raise ServiceError("StateMachineTypeNotSupported", "ListExecutions is not supported by EXPRESS state machines")
            executions = list(self._by_machine.get(machine.arn, []))
        else:
            executions = [e for e in self.executions.values() if e.map_run_arn == map_run_arn]
        if status is not None:
            executions = [e for e in executions if e.status == status]
        if redrive_filter is not None:
            executions = [e for e in executions if (e.redrive_count > 0) == (redrive_filter == "REDRIVEN")]
        executions.sort(key=lambda e: e.start_time, reverse=True)
        listed, token = page(executions, params, "ListExecutions")
        return paged("executions", [e.summary() for e in listed], token)

    async def op_RedriveExecution(self, params: dict) -> dict:
        arn = params.get("executionArn")
        if isinstance(arn, str) and ":express:" in arn:
            raise ServiceError("ExecutionNotRedrivable", "Execution is an EXPRESS execution and cannot be redriven.")
        execution = self._execution(arn)
        reason = MAP_RUN_CHILD_REASON if execution.map_run_arn else execution.redrive_blocker()
        if reason:
            raise ServiceError("ExecutionNotRedrivable", reason)
        execution.redrive()
        return {"redriveDate": execution.redrive_date}

    async def op_StopExecution(self, params: dict) -> dict:
        execution = self._execution(params.get("executionArn"))
        if execution.status == RUNNING:
            execution.stop(params.get("error"), params.get("cause"))
            if execution.task is not None:
                await asyncio.gather(execution.task, return_exceptions=True)
        return {"stopDate": execution.stop_time or self.clock.now()}

    async def op_GetExecutionHistory(self, params: dict) -> dict:
        execution = self._execution(params.get("executionArn"))
        include = params.get("includeExecutionData", True)
        events: list[HistoryEvent] = execution.history.events
        count = len(events)
        order = range(count - 1, -1, -1) if params.get("reverseOrder") else range(count)
        listed, token = page(order, params, "GetExecutionHistory")  # a range: paging copies no events
        return paged("events", [events[index].to_api(include) for index in listed], token)

    # ------------------------------------------------------------------ Map Runs
    async def op_ListMapRuns(self, params: dict) -> dict:
        arn = params.get("executionArn")
        if isinstance(arn, str) and ":execution:" in arn and arn not in self.executions:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return map_run_api.list_map_runs(self.map_runs, params)

    async def op_DescribeMapRun(self, params: dict) -> dict:
        return map_run_api.describe_map_run(self.map_runs, params)

    async def op_UpdateMapRun(self, params: dict) -> dict:
        return map_run_api.update_map_run(self.map_runs, params)

    # ------------------------------------------------------------------ task tokens
    async def op_SendTaskSuccess(self, params: dict) -> dict:
        output = params.get("output")
        try:
            value = json.loads(output) if isinstance(output, str) else None
        except ValueError:
            raise ServiceError("InvalidOutput", "Invalid Output: the output is not valid JSON") from None
        if not isinstance(output, str):
            raise ServiceError("InvalidOutput", "Invalid Output: output must be a JSON string")
        return self._token_call(lambda: self.tokens.succeed(params.get("taskToken"), value))

    async def op_SendTaskFailure(self, params: dict) -> dict:
        return self._token_call(lambda: self.tokens.fail(params.get("taskToken"), params.get("error", ""), params.get("cause", "")))

    async def op_SendTaskHeartbeat(self, params: dict) -> dict:
        return self._token_call(lambda: self.tokens.heartbeat(params.get("taskToken")))

    @staticmethod
    def _token_call(action: Callable[[], None]) -> dict:
        try:
            action()
        except TokenError as exc:
            raise ServiceError(exc.code, str(exc)) from None
        return {}

    # ------------------------------------------------------------------ validation and TestState
    async def op_ValidateStateMachineDefinition(self, params: dict) -> dict:
        try:
            parse_definition(params.get("definition"))
        except DefinitionError as exc:
            diagnostic = {
                "severity": "ERROR",
                "code": problem_code(exc),
                "message": exc.message,
                "location": exc.path or "/",
            }
            return {"result": "FAIL", "diagnostics": [diagnostic], "truncated": False}
        return {"result": "OK", "diagnostics": [], "truncated": False}

    async def op_TestState(self, params: dict) -> dict:
        return await run_test_state(self.runtime, self.arns, params)

    # ------------------------------------------------------------------ persistence
    def to_snapshot(self) -> dict:
        """JSON-serialisable state machines and finished standard executions with their history."""
        machines = [
            {
                "arn": m.arn, "name": m.name, "type": m.type, "roleArn": m.role_arn, "definition": m.definition_text,
                "creationDate": m.creation_date, "updateDate": m.update_date, "revisionId": m.revision_id,
                "logging": m.logging, "tracing": m.tracing, "tags": self.tags.get(m.arn, {}),
            }
            for m in self.machines.values()
        ]
        executions = []
        for e in self.executions.values():
            if e.status == RUNNING:
                continue
            machine = e.machine
            executions.append({
                "arn": e.arn, "name": e.name, "machine": {
                    "arn": machine.arn, "name": machine.name, "type": machine.type, "roleArn": machine.role_arn,
                    "definition": machine.definition_text, "creationDate": machine.creation_date,
                    "updateDate": machine.update_date, "revisionId": machine.revision_id,
                    "logging": machine.logging, "tracing": machine.tracing,
                },
                "input": e.input_text, "status": e.status, "startTime": e.start_time, "stopTime": e.stop_time,
                "output": e.output_text, "error": e.error, "cause": e.cause, "mapRunArn": e.map_run_arn,
                "redriveCount": e.redrive_count, "redriveDate": e.redrive_date,
                "history": [[ev.id, ev.previous_id, ev.type, ev.timestamp, ev.details] for ev in e.history.events],
            })
        return {"version": 1, "stateMachines": machines, "executions": executions}

    def restore_snapshot(self, snapshot: dict) -> None:
        """Load what :meth:`to_snapshot` produced (replacing nothing that is running)."""
        for m in snapshot.get("stateMachines", []):
            self.machines[m["arn"]] = self._revision(m)
            self._by_machine.setdefault(m["arn"], [])
            self.tags[m["arn"]] = dict(m.get("tags", {}))
        for item in snapshot.get("executions", []):
            machine = self._revision(item["machine"])
            execution = Execution(self.runtime, machine, item["arn"], item["name"], json.loads(item["input"]), item["input"],
                                  map_run_arn=item.get("mapRunArn"))
            execution.status = item["status"]
            execution.start_time, execution.stop_time = item["startTime"], item["stopTime"]
            execution.output_text = item["output"]
            execution.output = json.loads(item["output"]) if item["output"] is not None else None
            execution.error, execution.cause = item["error"], item["cause"]
            execution.redrive_count, execution.redrive_date = item.get("redriveCount", 0), item.get("redriveDate")
            execution.history.events = [HistoryEvent(*event) for event in item["history"]]
            execution.done.set()
            self.executions[execution.arn] = execution
            self._by_machine.setdefault(machine.arn, []).append(execution)

    def _revision(self, m: dict) -> StateMachineRevision:
        return StateMachineRevision(
            m["arn"], m["name"], m["type"], m["roleArn"], m["definition"], parse_definition(m["definition"]),
            m["creationDate"], m["updateDate"], m["revisionId"], logging=m["logging"], tracing=m["tracing"],
        )


def _name_reusable(execution: Execution, now: float) -> bool:
    """AWS: an execution name can be used again 90 days after that execution closed."""
    return execution.stop_time is not None and now - execution.stop_time > NAME_REUSE_SECONDS


__all__ = ["StepFunctionsService"]
