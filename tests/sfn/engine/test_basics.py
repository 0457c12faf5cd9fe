"""First conformance cases: Pass, Succeed, Fail, DescribeExecution and a history sequence through boto3."""

from __future__ import annotations

import json


def test_pass_result_path_jsonpath(sfn, unique):
    # "Pass workflow state" (AWS docs): Result placed at ResultPath "$.coords" keeps the input.
    definition = {
        "StartAt": "No-op",
        "States": {
            "No-op": {
                "Type": "Pass",
                "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                "ResultPath": "$.coords",
                "End": True,
            }
        },
    }
    described = sfn.run(definition, {"georefOf": "Home"}, name=unique)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }


def test_history_of_pass_then_succeed(sfn, unique):
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}},
    }
    described = sfn.run(definition, {"k": 1}, name=unique)
    events = sfn.history(described["executionArn"])
    assert [e["type"] for e in events] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited",
        "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["previousEventId"] for e in events] == [0, 1, 2, 3, 4, 5]
    assert events[1]["stateEnteredEventDetails"] == {"name": "A", "input": '{"k":1}', "inputDetails": {"truncated": False}}


def test_fail_state_fails_the_execution(sfn, unique):
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}}}
    described = sfn.run(definition, name=unique)
    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == ("ErrorA", "Kaiju attack")
