"""API operations and their errors, as the Step Functions API Reference defines them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from ..conftest import ACCOUNT, REGION, ROLE, make_client, serve

SIMPLE = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}}


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_create_is_idempotent_for_same_definition_and_rejects_a_different_one(sfn, unique):
    arn = sfn.create(SIMPLE, unique)
    assert arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{unique}"
    assert sfn.create(SIMPLE, unique) == arn
    assert _code(lambda: sfn.create(WAITING, unique)) == "StateMachineAlreadyExists"


@pytest.mark.parametrize("bad", ["has space", "a/b", "brace{"])  # too long: tests/sfn/quotas
def test_invalid_names(sfn, bad):
    assert _code(lambda: sfn.create(SIMPLE, bad)) == "InvalidName"


def test_bad_arns_and_missing_resources(sfn):
    c = sfn.client
    assert _code(lambda: c.describe_state_machine(stateMachineArn="not-an-arn")) == "InvalidArn"
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Nope"
    assert _code(lambda: c.describe_state_machine(stateMachineArn=missing)) == "StateMachineDoesNotExist"
    assert _code(lambda: c.start_execution(stateMachineArn=missing)) == "StateMachineDoesNotExist"
    assert _code(lambda: c.describe_execution(executionArn="arn:aws:states:x")) == "InvalidArn"
    missing_execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Nope:run"
    assert _code(lambda: c.describe_execution(executionArn=missing_execution)) == "ExecutionDoesNotExist"
    assert _code(lambda: c.create_state_machine(name="R", definition=json.dumps(SIMPLE), roleArn="role")) == "InvalidArn"


def test_start_execution_name_idempotency(sfn, unique):
    arn = sfn.create(WAITING, unique)
    first = sfn.client.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')
    again = sfn.client.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')
    assert again["executionArn"] == first["executionArn"] and again["startDate"] == first["startDate"]
    assert _code(lambda: sfn.client.start_execution(stateMachineArn=arn, name="run-1", input='{"a":2}')) == "ExecutionAlreadyExists"
    sfn.client.stop_execution(executionArn=first["executionArn"], error="Op.Stop", cause="test")
    assert _code(lambda: sfn.client.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')) == "ExecutionAlreadyExists"
    assert _code(lambda: sfn.client.start_execution(stateMachineArn=arn, input="{bad")) == "InvalidExecutionInput"


def test_stop_execution_aborts_with_error_and_cause(sfn, unique):
    arn = sfn.create(WAITING, unique)
    execution = sfn.client.start_execution(stateMachineArn=arn)["executionArn"]
    stopped = sfn.client.stop_execution(executionArn=execution, error="Op.Stop", cause="by test")
    described = sfn.client.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Op.Stop", "by test")
    assert described["stopDate"] == stopped["stopDate"]
    types = [e["type"] for e in sfn.history(execution)]
    assert types[-2:] == ["WaitStateAborted", "ExecutionAborted"]


def test_list_executions_filter_and_pagination(sfn, unique):
    arn = sfn.create(SIMPLE, unique)
    arns = [sfn.client.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"] for i in range(5)]
    for execution in arns:
        sfn.wait(execution)
    page = sfn.client.list_executions(stateMachineArn=arn, maxResults=2)
    assert len(page["executions"]) == 2 and "nextToken" in page
    seen = [e["executionArn"] for e in page["executions"]]
    while "nextToken" in page:
        page = sfn.client.list_executions(stateMachineArn=arn, maxResults=2, nextToken=page["nextToken"])
        seen += [e["executionArn"] for e in page["executions"]]
    assert sorted(seen) == sorted(arns)
    assert sfn.client.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []
    assert len(sfn.client.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]) == 5
    assert _code(lambda: sfn.client.list_executions(stateMachineArn=arn, nextToken="garbage")) == "InvalidToken"


def test_history_pagination_reverse_order_and_hidden_data(sfn, unique):
    described = sfn.run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}},
                        {"secret": 1}, name=unique)
    arn = described["executionArn"]
    first = sfn.client.get_execution_history(executionArn=arn, maxResults=4)
    second = sfn.client.get_execution_history(executionArn=arn, maxResults=4, nextToken=first["nextToken"])
    assert [e["id"] for e in first["events"] + second["events"]] == [1, 2, 3, 4, 5, 6]
    reverse = sfn.client.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
    assert [e["id"] for e in reverse] == [6, 5, 4, 3, 2, 1]
    hidden = sfn.client.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert "input" not in hidden[0]["executionStartedEventDetails"]
    assert hidden[1]["stateEnteredEventDetails"] == {"name": "A", "inputDetails": {"truncated": False}}


def test_update_and_describe_state_machine_for_execution(sfn, unique):
    arn = sfn.create(WAITING, unique)
    execution = sfn.client.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.client.update_state_machine(stateMachineArn=arn, definition=json.dumps(SIMPLE))
    assert json.loads(sfn.client.describe_state_machine(stateMachineArn=arn)["definition"]) == SIMPLE
    for_execution = sfn.client.describe_state_machine_for_execution(executionArn=execution)
    assert json.loads(for_execution["definition"]) == WAITING
    sfn.client.stop_execution(executionArn=execution)


def test_list_and_delete_state_machines(sfn, unique):
    arns = [sfn.create(SIMPLE, f"{unique}-{i}") for i in range(3)]
    listed = []
    page = sfn.client.list_state_machines(maxResults=1)
    listed += page["stateMachines"]
    while "nextToken" in page:
        page = sfn.client.list_state_machines(maxResults=1, nextToken=page["nextToken"])
        listed += page["stateMachines"]
    assert set(arns) <= {m["stateMachineArn"] for m in listed}
    assert all(m["type"] == "STANDARD" for m in listed)
    sfn.client.delete_state_machine(stateMachineArn=arns[0])
    assert _code(lambda: sfn.client.describe_state_machine(stateMachineArn=arns[0])) == "StateMachineDoesNotExist"


def test_express_start_sync_execution(sfn, unique):
    arn = sfn.create({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "Output": "{% $states.input.n * 2 %}", "End": True}}}, unique, type_="EXPRESS")
    result = sfn.client.start_sync_execution(stateMachineArn=arn, input='{"n": 21}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == 42
    assert ":express:" in result["executionArn"]
    failed = sfn.client.start_sync_execution(stateMachineArn=sfn.create(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}, unique + "f", type_="EXPRESS"))
    assert (failed["status"], failed["error"]) == ("FAILED", "E")
    assert _code(lambda: sfn.client.list_executions(stateMachineArn=arn)) == "StateMachineTypeNotSupported"
    standard = sfn.create(SIMPLE, unique + "s")
    assert _code(lambda: sfn.client.start_sync_execution(stateMachineArn=standard)) == "StateMachineTypeNotSupported"


def test_test_state_operation(sfn):
    state = {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "Next": "Later"}
    result = sfn.client.test_state(definition=json.dumps(state), roleArn=ROLE, input='{"n": 4}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"doubled": 8}
    assert result["nextState"] == "Later"
    task = {"Type": "Task", "Resource": "arn:aws:states:::local:test", "Parameters": {"FailAttempts": 1, "Error": "E"},
            "Retry": [{"ErrorEquals": ["E"]}], "End": True}
    retriable = sfn.client.test_state(definition=json.dumps(task), roleArn=ROLE, input="{}")
    assert (retriable["status"], retriable["error"]) == ("RETRIABLE", "E")
    caught = {**task, "Retry": [], "Catch": [{"ErrorEquals": ["E"], "Next": "Handler"}]}
    result = sfn.client.test_state(definition=json.dumps(caught), roleArn=ROLE, input="{}")
    assert (result["status"], result["nextState"]) == ("CAUGHT_ERROR", "Handler")


def test_snapshot_round_trip_keeps_machines_and_finished_executions():
    server, holder = serve()
    try:
        client = make_client(server.url)
        arn = client.create_state_machine(name="Snap", definition=json.dumps(SIMPLE), roleArn=ROLE)["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=arn, input='{"v": 1}')["executionArn"]
        from ..conftest import SfnApi

        SfnApi(client, holder["service"], server).wait(execution)
        snapshot = json.loads(json.dumps(holder["service"].to_snapshot()))
        before = client.get_execution_history(executionArn=execution)["events"]
    finally:
        server.stop()
    server, holder = serve()
    try:
        server.run(_restore(holder["service"], snapshot))
        client = make_client(server.url)
        assert client.describe_execution(executionArn=execution)["output"] == '{"v":1}'
        assert client.get_execution_history(executionArn=execution)["events"] == before
        assert client.describe_state_machine(stateMachineArn=arn)["name"] == "Snap"
    finally:
        server.stop()


async def _restore(service, snapshot):
    service.restore_snapshot(snapshot)


def test_execution_name_is_reusable_90_days_after_it_closed(sfn, unique):
    # StartExecution (API Reference): "Names can be reused after 90 days."
    arn = sfn.create(SIMPLE, unique)
    first = sfn.client.start_execution(stateMachineArn=arn, name="again")["executionArn"]
    sfn.wait(first)
    assert _code(lambda: sfn.client.start_execution(stateMachineArn=arn, name="again")) == "ExecutionAlreadyExists"

    async def age(days: float) -> None:
        sfn.service.executions[first].stop_time -= days * 86400

    sfn.server.run(age(91))
    second = sfn.client.start_execution(stateMachineArn=arn, name="again")["executionArn"]
    assert second == first
    sfn.wait(second)
    listed = sfn.client.list_executions(stateMachineArn=arn)["executions"]
    assert [e["executionArn"] for e in listed] == [first]


def test_test_state_debug_inspection_data(sfn):
    # TestState (API Reference): DEBUG shows the data after InputPath, Parameters, the result,
    # ResultSelector and ResultPath.
    task = {"Type": "Task", "Resource": "arn:aws:states:::local:test", "InputPath": "$.payload",
            "Parameters": {"Result": {"n.$": "$.n"}}, "ResultSelector": {"doubled.$": "States.MathAdd($.n, $.n)"},
            "ResultPath": "$.out", "End": True}
    result = sfn.client.test_state(definition=json.dumps(task), roleArn=ROLE, input='{"payload": {"n": 5}}',
                                   inspectionLevel="DEBUG")
    data = result["inspectionData"]
    assert json.loads(data["afterInputPath"]) == {"n": 5}
    assert json.loads(data["afterParameters"]) == {"Result": {"n": 5}}
    assert json.loads(data["result"]) == {"n": 5}
    assert json.loads(data["afterResultSelector"]) == {"doubled": 10}
    assert json.loads(data["afterResultPath"]) == {"payload": {"n": 5}, "out": {"doubled": 10}}
    assert json.loads(result["output"]) == {"payload": {"n": 5}, "out": {"doubled": 10}}
    plain = sfn.client.test_state(definition=json.dumps(task), roleArn=ROLE, input='{"payload": {"n": 5}}')
    assert "inspectionData" not in plain


def test_state_machine_tags(sfn, unique):
    arn = sfn.client.create_state_machine(name=unique, definition=json.dumps(SIMPLE), roleArn=ROLE,
                                          tags=[{"key": "project", "value": "dsa"}])["stateMachineArn"]
    sfn.client.tag_resource(resourceArn=arn, tags=[{"key": "stage", "value": "local"}])
    sfn.client.untag_resource(resourceArn=arn, tagKeys=["project"])
    assert sfn.client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "stage", "value": "local"}]
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Nope"
    assert _code(lambda: sfn.client.list_tags_for_resource(resourceArn=missing)) == "ResourceNotFound"
