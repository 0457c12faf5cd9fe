"""states:startExecution in every pattern, aws-sdk:sfn, and nesting, through the served API."""

from __future__ import annotations

import json
import time

import pytest

CHILD = {
    "QueryLanguage": "JSONata",
    "StartAt": "Echo",
    "States": {"Echo": {"Type": "Pass", "Output": "{% {'got': $states.input.n, 'doubled': $states.input.n * 2} %}", "End": True}},
}
FAILING_CHILD = {
    "QueryLanguage": "JSONata",
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "Child.Broke", "Cause": "on purpose"}},
}
WAITING_CHILD = {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 100000, "End": True}}}


def parent(resource: str, child_arn: str, extra_input: str = "") -> dict:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": resource,
                "Arguments": {
                    "StateMachineArn": child_arn,
                    "Input": "{% {'n': $states.input.n, 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID': $states.context.Execution.Id"
                    + extra_input
                    + "} %}",
                },
                "End": True,
            }
        },
    }


@pytest.fixture(scope="module")
def child(stack):
    return stack.machine("states-child", CHILD)


def test_request_response_returns_arn_and_start_date(stack, child):
    described = stack.run(stack.machine("states-rr", parent("arn:aws:states:::states:startExecution", child)), {"n": 2})
    output = json.loads(described["output"])
    assert set(output) == {"ExecutionArn", "StartDate"}
    assert isinstance(output["StartDate"], int)
    child_run = stack.wait(output["ExecutionArn"])
    assert json.loads(child_run["input"])["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == described["executionArn"]
    assert json.loads(child_run["output"]) == {"got": 2, "doubled": 4}


def test_sync_returns_output_as_string_and_sync2_as_json(stack, child):
    sync = stack.run(stack.machine("states-sync", parent("arn:aws:states:::states:startExecution.sync", child)), {"n": 3})
    sync2 = stack.run(stack.machine("states-sync2", parent("arn:aws:states:::states:startExecution.sync:2", child)), {"n": 3})
    one, two = json.loads(sync["output"]), json.loads(sync2["output"])
    assert one["Status"] == two["Status"] == "SUCCEEDED"
    assert json.loads(one["Output"]) == {"got": 3, "doubled": 6}
    assert two["Output"] == {"got": 3, "doubled": 6}
    assert two["Input"]["n"] == 3 and isinstance(one["Input"], str)
    assert {"ExecutionArn", "StartDate", "StopDate", "StateMachineArn", "Name"} <= set(one)
    types = [e["type"] for e in stack.history(sync2["executionArn"])]
    assert types[types.index("TaskStarted"):types.index("TaskSucceeded") + 1] == ["TaskStarted", "TaskSubmitted", "TaskSucceeded"]


def test_failed_child_fails_the_sync_task_with_its_description(stack):
    failing = stack.machine("states-failing-child", FAILING_CHILD)
    described = stack.run(stack.machine("states-sync-fail", parent("arn:aws:states:::states:startExecution.sync:2", failing)), {"n": 1})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["Status"] == "FAILED" and cause["Error"] == "Child.Broke"


def test_unknown_state_machine_is_named_as_aws_names_it(stack):
    missing = f"arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    described = stack.run(stack.machine("states-missing", parent("arn:aws:states:::states:startExecution", missing)), {"n": 1})
    assert described["error"] == "StepFunctions.StateMachineDoesNotExistException"


def _child_of(stack, machine_arn: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = stack.sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError("the child never started")


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_wait_for_task_token_completed_from_outside(stack, outcome):
    waiting = stack.machine(f"states-token-child-{outcome}", WAITING_CHILD)
    definition = parent("arn:aws:states:::states:startExecution.waitForTaskToken", waiting, ", 'token': $states.context.Task.Token")
    arn = stack.sfn.start_execution(stateMachineArn=stack.machine(f"states-token-{outcome}", definition), input='{"n": 9}')["executionArn"]
    token = json.loads(stack.sfn.describe_execution(executionArn=_child_of(stack, waiting)["executionArn"])["input"])["token"]
    if outcome == "success":
        stack.sfn.send_task_success(taskToken=token, output='{"approved": true}')
    else:
        stack.sfn.send_task_failure(taskToken=token, error="Review.Rejected", cause="no")
    described = stack.wait(arn)
    if outcome == "success":
        assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"approved": True}
    else:
        assert described["status"] == "FAILED" and described["error"] == "Review.Rejected"


def test_stopping_the_parent_stops_its_sync_child(stack):
    waiting = stack.machine("states-stop-child", WAITING_CHILD)
    arn = stack.sfn.start_execution(
        stateMachineArn=stack.machine("states-stop-parent", parent("arn:aws:states:::states:startExecution.sync", waiting)), input='{"n": 1}'
    )["executionArn"]
    child_arn = _child_of(stack, waiting)["executionArn"]
    stack.sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="test")
    assert stack.wait(arn)["status"] == "ABORTED"
    assert stack.wait(child_arn, timeout=10)["status"] == "ABORTED"


def test_aws_sdk_start_sync_execution_runs_an_express_child(stack):
    express = stack.machine("states-express-child", CHILD, kind="EXPRESS")
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
                "Arguments": {"StateMachineArn": express, "Input": "{% $string({'n': 21}) %}"},
                "Output": "{% {'status': $states.result.Status, 'out': $parse($states.result.Output)} %}",
                "End": True,
            }
        },
    }
    described = stack.run(stack.machine("states-sdk-sync", definition))
    assert json.loads(described["output"]) == {"status": "SUCCEEDED", "out": {"got": 21, "doubled": 42}}


def test_aws_sdk_sfn_errors_are_named_sfn(stack):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                "Arguments": {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:nope:nope"},
                "End": True,
            }
        },
    }
    described = stack.run(stack.machine("states-sdk-error", definition))
    assert described["error"] == "Sfn.ExecutionDoesNotExistException"


def test_nested_sync2_three_levels_with_more_waiters_than_threads(stack):
    leaf = stack.machine("nest-leaf", {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 5, "End": True}}})

    def level(name: str, child_arn: str) -> str:
        return stack.machine(
            name,
            {
                "QueryLanguage": "JSONata",
                "StartAt": "Down",
                "States": {
                    "Down": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::states:startExecution.sync:2",
                        "Arguments": {"StateMachineArn": child_arn, "Input": {}},
                        "Output": "{% {'depth': ($exists($states.result.Output.depth) ? $states.result.Output.depth : 0) + 1} %}",
                        "End": True,
                    }
                },
            },
        )

    middle = level("nest-middle", leaf)
    top = level("nest-top", middle)
    # 60 top executions -> 120 executions waiting on children at once: far more than any worker pool.
    arns = [stack.sfn.start_execution(stateMachineArn=top, input="{}")["executionArn"] for _ in range(60)]
    results = [stack.wait(arn, timeout=60) for arn in arns]
    assert {r["status"] for r in results} == {"SUCCEEDED"}
    assert {json.loads(r["output"])["depth"] for r in results} == {2}
