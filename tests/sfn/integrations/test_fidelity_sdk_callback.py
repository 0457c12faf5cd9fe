"""AWS SDK integrations with Wait for Callback (issue 17, category 5).

AWS ("Integrating services with Step Functions", the supported-patterns table): AWS SDK
integrations support Request Response and, in Standard workflows, Wait for a Callback with Task
Token (``.waitForTaskToken``); Express workflows support Request Response only.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from ..conftest import make_client


@pytest.fixture(scope="module")
def table(aws):
    name = f"sdk-callback-{uuid.uuid4().hex[:8]}"
    aws("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    aws("dynamodb").delete_table(TableName=name)


def _machine(table: str) -> dict:
    return {"QueryLanguage": "JSONata", "StartAt": "Park", "States": {"Park": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
        "Arguments": {"TableName": table, "Item": {"id": {"S": "{% $states.input.id %}"},
                                                   "token": {"S": "{% $states.context.Task.Token %}"}}},
        "TimeoutSeconds": 600, "End": True}}}


def test_standard_workflow_waits_for_the_token_the_sdk_call_handed_out(stack, aws, table):
    ddb = aws("dynamodb")
    arn = stack.sfn.start_execution(stateMachineArn=stack.machine("sdk-callback", _machine(table)),
                                    input=json.dumps({"id": "job-1"}))["executionArn"]

    def worker() -> None:  # the party the token was handed to: reads it where the task put it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            item = ddb.get_item(TableName=table, Key={"id": {"S": "job-1"}}).get("Item")
            if item:
                stack.sfn.send_task_success(taskToken=item["token"]["S"], output=json.dumps({"done": "job-1"}))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=worker)
    thread.start()
    described = stack.wait(arn)
    thread.join()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"done": "job-1"}
    types = [e["type"] for e in stack.history(arn)]
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded")


def test_express_workflow_refuses_wait_for_callback(stack, table):
    machine = stack.machine("sdk-callback-express", _machine(table), kind="EXPRESS")
    client = make_client(stack.server.url)  # without the "sync-" host prefix boto3 adds
    described = client.start_sync_execution(stateMachineArn=machine, input=json.dumps({"id": "job-2"}))
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert ".waitForTaskToken" in described["cause"]
