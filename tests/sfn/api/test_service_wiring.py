"""The service alone (no integrations registered) serves Distributed Map, Map Runs and redrive:
they are part of the runtime, not patched in by the integrations."""

from __future__ import annotations

import pytest

LOCAL_TEST = "arn:aws:states:::local:test"


def distributed_map(item_reader: dict | None = None) -> dict:
    state: dict = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double",
            "States": {"Double": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": True}},
        },
        "End": True,
    }
    if item_reader is None:
        state["Items"] = "{% $states.input.items %}"
    else:
        state["ItemReader"] = item_reader
    return {"QueryLanguage": "JSONata", "StartAt": "Fan", "States": {"Fan": state}}


def test_distributed_map_and_map_runs_without_integrations(sfn):
    done = sfn.run(distributed_map(), {"items": [1, 2, 3]}, name="WiringMap")
    assert done["status"] == "SUCCEEDED" and done["output"] == "[2,4,6]"
    runs = sfn.client.list_map_runs(executionArn=done["executionArn"])["mapRuns"]
    described = sfn.client.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert described["status"] == "SUCCEEDED" and described["executionCounts"]["succeeded"] == 3
    # An execution that does not exist has no Map Runs to list: AWS answers ExecutionDoesNotExist.
    missing = done["executionArn"].rsplit(":", 1)[0] + ":NoSuchExecution"
    with pytest.raises(sfn.client.exceptions.ExecutionDoesNotExist):
        sfn.client.list_map_runs(executionArn=missing)


def test_item_reader_without_integrations_fails_with_a_cause(sfn):
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Arguments": {"Bucket": "b", "Key": "k.json"}}
    done = sfn.run(distributed_map(reader), {}, name="WiringReader")
    assert done["status"] == "FAILED" and done["error"] == "States.Runtime"
    assert "ItemReader" in done["cause"]


def test_redrive_without_integrations(sfn):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": LOCAL_TEST,
                "Arguments": {"FailAttempts": "{% $states.input.fail %}", "Error": "Flaky", "Result": "ok"},
                "End": True,
            }
        },
    }
    failed = sfn.run(definition, {"fail": 1}, name="WiringRedrive")
    assert failed["status"] == "FAILED" and failed["redriveStatus"] == "REDRIVABLE"
    sfn.client.redrive_execution(executionArn=failed["executionArn"])
    again = sfn.wait(failed["executionArn"])
    # The Task fails again (RetryCount restarts at 0), so the redrive is recorded but not successful.
    assert again["redriveCount"] == 1 and "redriveDate" in again
    listed = sfn.client.list_executions(stateMachineArn=failed["stateMachineArn"], redriveFilter="REDRIVEN")
    assert [e["executionArn"] for e in listed["executions"]] == [failed["executionArn"]]
