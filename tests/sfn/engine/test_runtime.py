"""The engine runs executions on a Runtime alone: no API service, no integrations."""

from __future__ import annotations

import asyncio
import json

from sfn_runtime.engine.clock import Clock
from sfn_runtime.engine.definition import parse_definition
from sfn_runtime.engine.execution import Execution
from sfn_runtime.engine.machine import StateMachineRevision
from sfn_runtime.engine.quotas import Quotas
from sfn_runtime.engine.runtime import Runtime

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:alone"
DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Wait for token",
    "States": {
        "Wait for token": {
            "Type": "Task",
            "Resource": "arn:aws:states:::local:test.waitForTaskToken",
            "Arguments": {"token": "{% $states.context.Task.Token %}"},
            "Output": "{% $states.result.doubled %}",
            "End": True,
        }
    },
}


async def _run() -> tuple[Execution, Runtime]:
    runtime = Runtime(region="us-east-1", account_id="123456789012", clock=Clock(0.0), quotas=Quotas())
    text = json.dumps(DEFINITION)
    machine = StateMachineRevision(ARN, "alone", "STANDARD", "arn:aws:iam::123456789012:role/r", text,
                                   parse_definition(text), 0.0, 0.0, "1")
    execution = Execution(runtime, machine, ARN.replace("stateMachine", "execution") + ":one", "one", {}, "{}")
    runtime.running.add(execution)
    execution.start()
    scheduled = []
    while not scheduled:
        await asyncio.sleep(0)
        scheduled = [e for e in execution.history.events if e.type == "TaskSubmitted"]
    # the task token was issued by the runtime, not by an API service
    runtime.tokens.succeed(scheduled[0].details["output"]["token"], {"doubled": 42})
    await execution.wait()
    return execution, runtime


def test_an_execution_runs_on_the_runtime_alone():
    execution, runtime = asyncio.run(_run())
    assert execution.status == "SUCCEEDED" and execution.output == 42
    assert execution not in runtime.running  # the runtime's bookkeeping, not a service's
    assert execution.describe()["redriveStatus"] == "NOT_REDRIVABLE"
