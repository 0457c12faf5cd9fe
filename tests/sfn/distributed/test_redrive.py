"""RedriveExecution through the served API: a failed Map Run finishes after the API's faults
stop, each failed item runs once more and no succeeded item runs again; a top-level failure
resumes at the failed state; AWS's eligibility errors and the redrive fields."""

from __future__ import annotations

import json
import uuid

import pytest

from toolkit.local.sample_api import AuthConfig, DatasetParams, FaultPlan, FaultRule, SampleApi

from ..integrations.test_http_task import make_connection
from ..conftest import TEST_CA

KEY = "redrive-key"


@pytest.fixture(scope="module")
def api():
    with SampleApi(dataset=DatasetParams(seed=11, locations=10), auth=AuthConfig.api_key(KEY), port=0, ca=TEST_CA) as sample:
        yield sample


def fetch_map(connection: str) -> dict:
    child = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Summary",
        "States": {
            "Summary": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {"ApiEndpoint": "{% $states.input.url %}", "Method": "GET", "InvocationConfig": {"ConnectionArn": connection}},
                "Output": "{% $states.result.ResponseBody.states %}",
                "End": True,
            }
        },
    }
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Assign": {"prepared": "{% $count($states.input.urls) %}"}, "Next": "Fan"},
            "Fan": {
                "Type": "Map",
                "Items": "{% $states.input.urls %}",
                "ItemSelector": {"url": "{% $states.context.Map.Item.Value %}"},
                "ItemProcessor": child,
                "MaxConcurrency": 1,
                "ToleratedFailureCount": 1,
                "Output": "{% {'pages': $count($states.result), 'prepared': $prepared} %}",
                "End": True,
            },
        },
    }


def test_map_run_redrive_reruns_only_failed_children(stack, api, aws):
    connection = make_connection(aws, "redrive-api", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": KEY}})
    locations = api.location_ids()
    broken = locations[-2:]  # last in the item order: everything before them has finished when they fail
    api.set_faults(FaultPlan(seed=3, rules=(FaultRule(kind="error", status=500, locations=tuple(broken)),)))
    api.reset_counts()
    machine = stack.machine("redrive-map", fetch_map(connection))
    urls = [f"{api.url}/{loc}/get-summary" for loc in locations]
    try:
        first = stack.run(machine, {"urls": urls})
    finally:
        api.set_faults(FaultPlan())
    assert first["status"] == "FAILED" and first["error"] == "States.ExceedToleratedFailureThreshold"
    assert first["redriveStatus"] == "REDRIVABLE"
    before = api.request_counts()
    api.reset_counts()

    stack.sfn.redrive_execution(executionArn=first["executionArn"])
    second = stack.wait(first["executionArn"])
    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"]) == {"pages": len(locations), "prepared": len(locations)}
    assert second["redriveCount"] == 1 and "redriveDate" in second

    after = api.request_counts()
    assert after.total == len(broken)  # only the failed items ran again ...
    assert {loc: after.for_location(loc) for loc in locations} == {loc: int(loc in broken) for loc in locations}
    assert {loc: before.for_location(loc) for loc in locations} == dict.fromkeys(locations, 1)

    runs = stack.sfn.list_map_runs(executionArn=first["executionArn"])["mapRuns"]
    assert len(runs) == 1  # the same Map Run, redriven
    run = stack.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "SUCCEEDED" and run["redriveCount"] == 1
    assert run["itemCounts"]["succeeded"] == len(locations)
    children = stack.sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
    assert len(children) == len(locations) and {c["status"] for c in children} == {"SUCCEEDED"}
    types = [e["type"] for e in stack.history(first["executionArn"])]
    assert types.count("ExecutionRedriven") == 1 and types.count("MapRunRedriven") == 1
    assert types.count("PassStateEntered") == 1  # the successful Prepare step did not run again


def test_top_level_redrive_resumes_at_the_failed_state(stack, aws):
    table = f"redrive-{uuid.uuid4().hex[:8]}"
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Note",
        "States": {
            "Note": {"Type": "Pass", "Assign": {"seen": "{% $states.input.n %}"}, "Next": "Read"},
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Arguments": {"TableName": table, "Key": {"pk": {"S": "a"}}},
                "Output": "{% {'item': $states.result.Item.pk.S, 'seen': $seen} %}",
                "End": True,
            },
        },
    }
    first = stack.run(stack.machine("redrive-top", definition), {"n": 7})
    assert first["status"] == "FAILED" and first["error"] == "DynamoDB.ResourceNotFoundException"
    ddb = aws("dynamodb")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    stack.sfn.redrive_execution(executionArn=first["executionArn"])
    second = stack.wait(first["executionArn"])
    assert second["status"] == "SUCCEEDED"
    assert json.loads(second["output"]) == {"item": "a", "seen": 7}
    assert second["executionArn"] == first["executionArn"] and second["input"] == first["input"]
    events = stack.history(first["executionArn"])
    types = [e["type"] for e in events]
    assert types.count("PassStateEntered") == 1 and types.count("TaskStateEntered") == 2
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven") < types.index("ExecutionSucceeded")
    redriven = stack.sfn.list_executions(stateMachineArn=second["stateMachineArn"], redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in redriven] == [first["executionArn"]]
    assert redriven[0]["redriveCount"] == 1


def test_eligibility_errors(stack):
    ok = stack.run(stack.machine("redrive-ok", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    assert ok["redriveStatus"] == "NOT_REDRIVABLE"
    assert ok["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."
    with pytest.raises(stack.sfn.exceptions.ExecutionNotRedrivable):
        stack.sfn.redrive_execution(executionArn=ok["executionArn"])
    waiting = stack.machine("redrive-running", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}})
    arn = stack.sfn.start_execution(stateMachineArn=waiting)["executionArn"]
    with pytest.raises(stack.sfn.exceptions.ExecutionNotRedrivable):
        stack.sfn.redrive_execution(executionArn=arn)
    stack.sfn.stop_execution(executionArn=arn)
    with pytest.raises(stack.sfn.exceptions.ExecutionDoesNotExist):
        stack.sfn.redrive_execution(executionArn=arn + "x")
