"""State statuses read from a real execution's history, and the state graph drawn from its ASL.

A small workflow on the session's local stack has a state that succeeds, a Task retried once and
then caught, a state reached through the Catch and a state never reached.
"""

from __future__ import annotations

import json
import re
import time
import uuid

from toolkit.dashboard import execution as executions
from toolkit.dashboard.graph import COLOURS, workflow_svg

TABLE = "dashboard-missing-table"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"id": "x"}, "Next": "Read Item"},
        "Read Item": {
            "Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": TABLE, "Key": {"id": {"S.$": "$.id"}}},
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle Failure"}],
            "Next": "Never Here",
        },
        "Handle Failure": {"Type": "Pass", "End": True},
        "Never Here": {"Type": "Succeed"},
    },
}


def _run(local_stack, make_role) -> str:
    role = make_role([{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}])
    sfn = local_stack.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"dash-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION),
                                       roleArn=role)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    for _ in range(600):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return arn
        time.sleep(0.1)
    raise AssertionError("the execution did not end")


def test_statuses_retries_and_payloads_come_from_the_history(local_stack, make_role) -> None:
    arn = _run(local_stack, make_role)
    view = executions.read_execution(local_stack.client("stepfunctions"), arn)
    assert view.status == "SUCCEEDED" and view.definition == DEFINITION
    assert view.statuses() == {"Prepare": "succeeded", "Read Item": "caught", "Handle Failure": "succeeded"}
    (read,) = view.visits_of("Read Item")
    assert read.retries == 1
    assert read.error == "DynamoDB.ResourceNotFoundException" and "ResourceNotFoundException" in read.cause
    assert json.loads(read.input) == {"id": "x"}
    assert json.loads(view.visits_of("Prepare")[0].output) == {"id": "x"}
    assert view.map_runs == {}


def test_an_open_visit_is_running_then_failed_when_the_execution_ended() -> None:
    events = [{"type": "ExecutionStarted", "executionStartedEventDetails": {}},
              {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Slow", "input": "{}"}}]
    assert [v.status for v in executions.state_visits(events, "RUNNING")] == ["running"]
    ended = events + [{"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "E", "cause": "why"}}]
    (visit,) = executions.state_visits(ended, "FAILED")
    assert (visit.status, visit.error, visit.cause) == ("failed", "E", "why")


def _node(svg: str, name: str) -> str:
    match = re.search(r'<g id="[^"]*" class="node ([^"]*)">\s*<title>' + re.escape(name) + "</title>", svg)
    assert match, f"no node {name!r} in the SVG"
    return match.group(1).replace("&#45;", "-")


def test_the_graph_colours_each_state_by_its_status(local_stack, make_role) -> None:
    arn = _run(local_stack, make_role)
    view = executions.read_execution(local_stack.client("stepfunctions"), arn)
    svg = workflow_svg(view.definition, view.statuses())
    assert svg.startswith('<svg width="100%"') and "viewBox=" in svg  # scaled to its container
    assert "dsa-status-succeeded" in _node(svg, "Prepare")
    assert "dsa-status-caught" in _node(svg, "Read Item")
    assert "dsa-status-not-reached" in _node(svg, "Never Here")
    caught_fill, caught_border = COLOURS["caught"]
    read_item = svg[svg.index("<title>Read Item</title>"):]
    assert f'fill="{caught_fill}" stroke="{caught_border}"' in read_item[:400]
    assert svg.count(">catch</text>") == 1  # the Catch drawn as a labelled edge
