"""IAM for the HTTP Task (states:InvokeHTTPEndpoint with its condition keys, the connection and
its secret) and for Distributed Map (child starts, ItemReader, ResultWriter) on the local stack."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest


def _wait(sfn: Any, arn: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.05)
    return described


@pytest.fixture
def http_world(local_stack):
    cfg, api = local_stack.config, local_stack.sample_api
    suffix = uuid.uuid4().hex[:8]
    key = api.auth.secret if api.auth.mode == "api_key" else "any-key"
    connection = local_stack.client("events").create_connection(
        Name=f"iam-http-{suffix}", AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": cfg.api_key_header, "ApiKeyValue": key}},
    )["ConnectionArn"]
    name = f"iam-http-{suffix}"
    return {
        "name": name, "connection": connection, "url": f"{api.url}/{api.location_ids()[0]}/get-summary",
        "machine": f"arn:aws:states:{cfg.region}:{cfg.account_id}:stateMachine:{name}",
        "secrets": f"arn:aws:secretsmanager:{cfg.region}:{cfg.account_id}:secret:events!connection/*",
        "api": api.url, "key": key,
    }


def _http_statements(w: dict, endpoint_pattern: str, method: str = "GET") -> list[dict]:
    return [
        {"Effect": "Allow", "Action": "states:InvokeHTTPEndpoint", "Resource": w["machine"],
         "Condition": {"StringEquals": {"states:HTTPMethod": method}, "StringLike": {"states:HTTPEndpoint": endpoint_pattern}}},
        {"Effect": "Allow", "Action": "events:RetrieveConnectionCredentials", "Resource": w["connection"]},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": w["secrets"]},
    ]


def _run_http(local_stack, w: dict, role: str) -> dict:
    sfn = local_stack.client("stepfunctions")
    definition = {"QueryLanguage": "JSONata", "StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Arguments": {"ApiEndpoint": w["url"], "Method": "GET", "InvocationConfig": {"ConnectionArn": w["connection"]}},
        "Output": "{% $states.result.StatusCode %}", "End": True}}}
    machine = sfn.create_state_machine(name=w["name"], roleArn=role, definition=json.dumps(definition))["stateMachineArn"]
    return _wait(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])


def test_http_task_runs_when_the_endpoint_matches_the_policy(local_stack, http_world, make_role):
    described = _run_http(local_stack, http_world, make_role(_http_statements(http_world, f"{http_world['api']}/*")))
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == 200


@pytest.mark.parametrize("pattern, method", [("https://api.example.com/*", "GET"), ("{api}/*", "POST")])
def test_http_task_is_refused_outside_the_policy_endpoint_or_method(local_stack, http_world, make_role, pattern, method):
    role = make_role(_http_statements(http_world, pattern.format(api=http_world["api"]), method))
    described = _run_http(local_stack, http_world, role)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert described["cause"] == (
        f"AWS Step Functions is not authorized to perform states:InvokeHTTPEndpoint on API Endpoint {http_world['url']}. "
        "Ensure that the StateMachine role contains the states:InvokeHTTPEndpoint permission for the given API Endpoint")


@pytest.mark.parametrize("dropped", ["events:RetrieveConnectionCredentials", "secretsmanager:GetSecretValue"])
def test_http_task_needs_the_connection_and_its_secret(local_stack, http_world, make_role, dropped):
    statements = _http_statements(http_world, f"{http_world['api']}/*")
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != dropped] or ["none:None"]
    described = _run_http(local_stack, http_world, make_role(statements))
    assert described["status"] == "FAILED"
    assert described["error"] == "Events.ConnectionResource.AccessDenied"
    assert f"is not authorized to perform: {dropped}" in described["cause"]
    assert http_world["key"] not in described["cause"]  # no secret in the cause


@pytest.fixture
def map_world(local_stack):
    cfg = local_stack.config
    suffix = uuid.uuid4().hex[:8]
    bucket = f"iam-map-{suffix}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/items.json", Body=json.dumps([{"n": i} for i in range(5)]).encode())
    name = f"iam-map-{suffix}"
    return {"bucket": bucket, "name": name,
            "machine": f"arn:aws:states:{cfg.region}:{cfg.account_id}:stateMachine:{name}"}


def _map_statements(w: dict) -> dict[str, dict]:
    return {
        "states:StartExecution": {"Effect": "Allow", "Action": "states:StartExecution", "Resource": w["machine"]},
        "s3:GetObject": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{w['bucket']}/in/*"},
        "s3:PutObject": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{w['bucket']}/out/*"},
    }


def _run_map(local_stack, w: dict, role: str) -> dict:
    sfn = local_stack.client("stepfunctions")
    definition = {"QueryLanguage": "JSONata", "StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Arguments": {"Bucket": w["bucket"], "Key": "in/items.json"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": w["bucket"], "Prefix": "out"}},
        "End": True}}}
    machine = sfn.create_state_machine(name=w["name"], roleArn=role, definition=json.dumps(definition))["stateMachineArn"]
    return _wait(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])


def test_distributed_map_runs_with_its_documented_permissions(local_stack, map_world, make_role):
    described = _run_map(local_stack, map_world, make_role(list(_map_statements(map_world).values())))
    assert described["status"] == "SUCCEEDED", described


@pytest.mark.parametrize("missing, error", [
    ("s3:GetObject", "States.ItemReaderFailed"),
    ("states:StartExecution", "States.Runtime"),
    ("s3:PutObject", "States.ResultWriterFailed"),
])
def test_distributed_map_fails_with_the_error_of_the_step_that_lacks_permission(
    local_stack, map_world, make_role, missing, error
):
    statements = [s for k, s in _map_statements(map_world).items() if k != missing]
    described = _run_map(local_stack, map_world, make_role(statements))
    assert described["status"] == "FAILED"
    assert described["error"] == error
    assert f"is not authorized to perform: {missing}" in described["cause"]
