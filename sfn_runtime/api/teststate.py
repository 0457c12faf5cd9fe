"""TestState: run one state on its own and report its output, next state and inspection data.

As the API Reference describes: the state runs once (a Retry is not carried out: a matching
retrier makes the status RETRIABLE), a Catch that handles the error gives CAUGHT_ERROR, and with
``inspectionLevel`` DEBUG or TRACE the response shows the data after each processing step.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sfn_runtime.api.awsjson import ServiceError
from sfn_runtime.api.names import ArnBuilder
from sfn_runtime.engine.dataflow import NO_RESULT, JsonPathFlow
from sfn_runtime.engine.definition import invalid_definition_message, parse_single_state
from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.engine.execution import Execution, Frame
from sfn_runtime.engine.machine import StateMachineRevision
from sfn_runtime.engine.retry import first_match
from sfn_runtime.engine.runtime import Runtime
from sfn_runtime.engine.states import Pass, Recoverable, State

_FAILURE_EVENTS = {"TaskFailed", "TaskTimedOut", "ParallelStateFailed", "MapStateFailed", "EvaluationFailed"}
MACHINE_NAME = "TestStateMachine"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def run_test_state(runtime: Runtime, arns: ArnBuilder, params: dict) -> dict:
    """The TestState operation, run on the service's ``runtime`` (its integrations and clock)."""
    text = params.get("definition")
    try:
        state = parse_single_state(json.loads(text) if isinstance(text, str) else None)
    except ValueError:
        raise ServiceError("InvalidDefinition", "Invalid State Machine Definition: the state is not valid JSON") from None
    except DefinitionError as exc:
        raise ServiceError("InvalidDefinition", invalid_definition_message(exc)) from None
    try:
        value = json.loads(params.get("input") or "{}")
        variables = json.loads(params.get("variables") or "{}")
    except ValueError:
        raise ServiceError("InvalidExecutionInput", "Invalid input or variables: not valid JSON") from None
    if not isinstance(variables, dict):
        raise ServiceError("ValidationException", "variables: must be a JSON object")
    retriers = state.retriers if isinstance(state, Recoverable) else ()
    if retriers:
        state = dataclasses.replace(state, retriers=())
    machine = StateMachineRevision(
        arns.state_machine(MACHINE_NAME), MACHINE_NAME, "STANDARD", params.get("roleArn", ""),
        text, None, 0.0, 0.0, "",  # type: ignore[arg-type]  # no definition: one state runs alone
    )
    execution = Execution(runtime, machine, arns.execution(MACHINE_NAME, "TestState"), "TestState",
                          value, params.get("input") or "{}")
    scope = dict(variables)
    frame = Frame(execution, scope, scope, 0)
    frame.entered_time = runtime.clock.now()
    debug = params.get("inspectionLevel", "INFO") in ("DEBUG", "TRACE")
    try:
        output, next_state = await state.run(frame, value)
    except StatesError as err:
        status = "RETRIABLE" if first_match(retriers, err.error) >= 0 else "FAILED"
        out: dict[str, Any] = {"error": err.error, "cause": err.cause, "status": status}
        if debug:
            out["inspectionData"] = await _inspection(state, frame, execution, value, variables)
        return out
    caught = any(event.type in _FAILURE_EVENTS for event in execution.history.events)
    out = {"output": _dumps(output), "status": "CAUGHT_ERROR" if caught else "SUCCEEDED"}
    if next_state is not None:
        out["nextState"] = next_state
    if debug:
        out["inspectionData"] = await _inspection(state, frame, execution, value, variables)
    return out


async def _inspection(state: State, frame: Frame, execution: Execution, raw: Any, variables: dict) -> dict:
    """The data after each processing step, recomputed from the state's compiled fields and its history."""
    data: dict[str, Any] = {"input": _dumps(raw), "variables": _dumps(dict(frame.scope))}
    context = frame.context(state)
    flow = state.flow
    try:
        if isinstance(flow, JsonPathFlow):
            data["afterInputPath"] = _dumps(flow.effective_input(raw, context, variables))
            if flow.parameters is not None:
                data["afterParameters"] = _dumps(await flow.arguments(raw, context, variables))
        elif flow.arguments_template is not None:
            data["afterArguments"] = _dumps(await flow.arguments(raw, context, variables))
        result = await _result(state, execution, raw, context, variables)
        if result is not None:
            data["result"] = _dumps(result)
            if isinstance(flow, JsonPathFlow):
                selected = await flow.select(result, context, variables)
                data["afterResultSelector"] = _dumps(selected)
                data["afterResultPath"] = _dumps(_after_result_path(flow, raw, selected))
    except StatesError:
        pass  # the step that failed is reported as the error; later steps have no data
    return data


async def _result(state: State, execution: Execution, raw: Any, context: dict, variables: dict) -> Any:
    for event in execution.history.events:
        if event.type == "TaskSucceeded":
            return event.details["output"]
    if isinstance(state, Pass) and isinstance(state.flow, JsonPathFlow):
        return state.result if state.result is not NO_RESULT else await state.flow.arguments(raw, context, variables)
    return None


def _after_result_path(flow: JsonPathFlow, raw: Any, result: Any) -> Any:
    if flow.result_null:
        return raw
    return result if flow.result_path is None else flow.result_path.write(raw, result)
