"""Optimised DynamoDB item actions (against moto) and glue:startJobRun(.sync) (against the local
stack's real Glue runner), through the served Step Functions API."""

from __future__ import annotations

import json
import uuid

import pytest


def task(resource: str, arguments: dict, **extra) -> dict:
    return {"Type": "Task", "Resource": resource, "Arguments": arguments, **extra}


@pytest.fixture(scope="module")
def table(aws):
    name = f"sfn-ddb-{uuid.uuid4().hex[:8]}"
    aws("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_put_update_get_delete_item(stack, table):
    key = {"pk": {"S": "task-1"}}
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Put",
        "States": {
            "Put": task("arn:aws:states:::dynamodb:putItem", {"TableName": table, "Item": {"pk": {"S": "task-1"}, "status": {"S": "RUNNING"}}}, Next="Update"),
            "Update": task(
                "arn:aws:states:::dynamodb:updateItem",
                {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "SET #s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": "SUCCEEDED"}},
                    "ReturnValues": "ALL_NEW",
                },
                Assign={"updated": "{% $states.result.Attributes.status.S %}"},
                Next="Get",
            ),
            "Get": task("arn:aws:states:::dynamodb:getItem", {"TableName": table, "Key": key}, Assign={"got": "{% $states.result.Item %}"}, Next="Delete"),
            "Delete": task(
                "arn:aws:states:::dynamodb:deleteItem",
                {"TableName": table, "Key": key},
                Output="{% {'updated': $updated, 'got': $got, 'status': $states.result.SdkHttpMetadata.HttpStatusCode} %}",
                End=True,
            ),
        },
    }
    described = stack.run(stack.machine("ddb-crud", definition))
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "updated": "SUCCEEDED",
        "got": {"pk": {"S": "task-1"}, "status": {"S": "SUCCEEDED"}},
        "status": 200,
    }


def test_conditional_check_failure_and_unused_attribute_name_are_named(stack, table):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Seed",
        "States": {
            "Seed": task("arn:aws:states:::dynamodb:putItem", {"TableName": table, "Item": {"pk": {"S": "dup"}}}, Next="Again"),
            "Again": task(
                "arn:aws:states:::dynamodb:putItem",
                {"TableName": table, "Item": {"pk": {"S": "dup"}}, "ConditionExpression": "attribute_not_exists(pk)"},
                Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "Unused", "Assign": {"first": "{% $states.errorOutput.Error %}"}}],
                End=True,
            ),
            # The original sample's defect: a name declared but not used; DynamoDB rejects it.
            "Unused": task(
                "arn:aws:states:::dynamodb:updateItem",
                {
                    "TableName": table,
                    "Key": {"pk": {"S": "dup"}},
                    "UpdateExpression": "SET #CsvUrl = :u",
                    "ExpressionAttributeNames": {"#CsvUrl": "csv_url", "#errorCsvUrl": "error_csv_url"},
                    "ExpressionAttributeValues": {":u": {"S": "s3://x"}},
                },
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done", "Output": "{% {'first': $first, 'second': $states.errorOutput.Error} %}"}],
                End=True,
            ),
            "Done": {"Type": "Succeed"},
        },
    }
    described = stack.run(stack.machine("ddb-errors", definition))
    assert json.loads(described["output"]) == {
        "first": "DynamoDB.ConditionalCheckFailedException",
        "second": "DynamoDB.ValidationException",
    }


GOOD_SCRIPT = "import sys\nprint('consolidated', sys.argv[1:])\n"
BAD_SCRIPT = "raise RuntimeError('no parts for this task')\n"


@pytest.mark.slow
def test_glue_start_job_run_sync_waits_and_fails_with_the_run(local_stack, glue_role, make_role):
    s3, glue, sfn = (local_stack.client(n) for n in ("s3", "glue", "stepfunctions"))
    bucket = f"glue-sync-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    jobs = {}
    for kind, body in (("good", GOOD_SCRIPT), ("bad", BAD_SCRIPT)):
        s3.put_object(Bucket=bucket, Key=f"{kind}.py", Body=body.encode())
        name = f"sync-{kind}-{uuid.uuid4().hex[:6]}"
        glue.create_job(Name=name, Role=glue_role, Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{kind}.py"})
        jobs[kind] = name
    cfg = local_stack.config
    role = make_role([{"Effect": "Allow",  # what AWS documents for glue:startJobRun.sync
                       "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                       "Resource": f"arn:aws:glue:{cfg.region}:{cfg.account_id}:job/*"}])
    outcomes = {}
    for kind, name in jobs.items():
        definition = {
            "QueryLanguage": "JSONata",
            "StartAt": "Run",
            "States": {"Run": task("arn:aws:states:::glue:startJobRun.sync", {"JobName": name, "Arguments": {"--task_id": "t-1"}}, End=True)},
        }
        arn = sfn.create_state_machine(name=f"glue-{kind}-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        import time

        deadline = time.monotonic() + 120
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        outcomes[kind] = described
    good = json.loads(outcomes["good"]["output"])
    assert good["JobRunState"] == "SUCCEEDED" and good["JobName"] == jobs["good"]
    assert good["Arguments"] == {"--task_id": "t-1"}
    assert outcomes["bad"]["status"] == "FAILED" and outcomes["bad"]["error"] == "States.TaskFailed"
    cause = json.loads(outcomes["bad"]["cause"])
    assert cause["JobRunState"] == "FAILED" and "no parts for this task" in cause.get("ErrorMessage", "")
