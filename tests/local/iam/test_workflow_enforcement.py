"""IAM enforced on the local stack as AWS enforces it: a role missing one permission fails exactly
the state that needs it, with AWS's error; a full role runs the same workflow to the end."""

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


def _entered(sfn: Any, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


@pytest.fixture
def world(local_stack):
    """A table, a bucket, a child state machine and the ARNs a role for the parent needs."""
    cfg = local_stack.config
    suffix = uuid.uuid4().hex[:8]
    ddb, s3, sfn = (local_stack.client(n) for n in ("dynamodb", "s3", "stepfunctions"))
    table, bucket = f"iam-t-{suffix}", f"iam-b-{suffix}"
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    s3.create_bucket(Bucket=bucket)
    child_role = local_stack.client("iam").create_role(
        RoleName=f"iam-child-{suffix}", AssumeRolePolicyDocument=json.dumps({"Statement": []}))["Role"]["Arn"]
    child = sfn.create_state_machine(
        name=f"iam-child-{suffix}", roleArn=child_role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    prefix = f"arn:aws:states:{cfg.region}:{cfg.account_id}"
    return {
        "suffix": suffix, "table": table, "bucket": bucket, "child": child,
        "table_arn": f"arn:aws:dynamodb:{cfg.region}:{cfg.account_id}:table/{table}",
        "child_executions": f"{prefix}:execution:iam-child-{suffix}:*",
        "rule": f"arn:aws:events:{cfg.region}:{cfg.account_id}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
    }


def _definition(w: dict) -> dict:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Put",
        "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Arguments": {"TableName": w["table"], "Item": {"id": {"S": "one"}}}, "Next": "Write"},
            "Write": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                      "Arguments": {"Bucket": w["bucket"], "Key": "data/one.json", "Body": "{}"}, "Next": "Read"},
            "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                     "Arguments": {"Bucket": w["bucket"], "Key": "data/one.json"}, "Next": "Child"},
            "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                      "Arguments": {"StateMachineArn": w["child"], "Input": {}}, "End": True},
        },
    }


def _statements(w: dict) -> dict[str, tuple[str, str]]:
    """Every permission the workflow needs: name -> (action, resource)."""
    return {
        "dynamodb:PutItem": ("dynamodb:PutItem", w["table_arn"]),
        "s3:PutObject": ("s3:PutObject", f"arn:aws:s3:::{w['bucket']}/data/*"),
        "s3:GetObject": ("s3:GetObject", f"arn:aws:s3:::{w['bucket']}/data/*"),
        "states:StartExecution": ("states:StartExecution", w["child"]),
        "states:DescribeExecution": ("states:DescribeExecution", w["child_executions"]),
        "events:PutRule": ("events:PutRule", w["rule"]),
        "events:PutTargets": ("events:PutTargets", w["rule"]),
        "events:DescribeRule": ("events:DescribeRule", w["rule"]),
    }


def _start(local_stack, w: dict, role: str) -> tuple[Any, str]:
    sfn = local_stack.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"iam-wf-{uuid.uuid4().hex[:8]}", roleArn=role,
                                       definition=json.dumps(_definition(w)))["stateMachineArn"]
    return sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]


def test_the_full_role_runs_every_state(local_stack, world, make_role):
    role = make_role([{"Effect": "Allow", "Action": a, "Resource": r} for a, r in _statements(world).values()])
    sfn, arn = _start(local_stack, world, role)
    described = _wait(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    assert _entered(sfn, arn) == ["Put", "Write", "Read", "Child"]


@pytest.mark.parametrize("missing, state, error, cause", [
    ("dynamodb:PutItem", "Put", "DynamoDB.AccessDeniedException",
     "is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:"),
    ("s3:PutObject", "Write", "S3.AccessDeniedException", "is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::"),
    ("s3:GetObject", "Read", "S3.AccessDeniedException", "because no identity-based policy allows the s3:GetObject action"),
    ("states:StartExecution", "Child", "StepFunctions.AccessDeniedException", "states:StartExecution on resource"),
    ("states:DescribeExecution", "Child", "StepFunctions.AccessDeniedException", "states:DescribeExecution"),
    ("events:PutRule", "Child", "StepFunctions.AccessDeniedException", "is not authorized to create managed-rule."),
])
def test_a_role_missing_one_permission_fails_exactly_the_state_that_needs_it(
    local_stack, world, make_role, missing, state, error, cause
):
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for k, (a, r) in _statements(world).items() if k != missing]
    sfn, arn = _start(local_stack, world, make_role(statements))
    described = _wait(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == error
    assert cause in described["cause"]
    entered = _entered(sfn, arn)
    assert entered[-1] == state and entered == ["Put", "Write", "Read", "Child"][: len(entered)]


def test_an_explicit_deny_wins_and_says_so(local_stack, world, make_role):
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in _statements(world).values()]
    statements.append({"Effect": "Deny", "Action": "s3:Get*", "Resource": "*"})
    sfn, arn = _start(local_stack, world, make_role(statements))
    described = _wait(sfn, arn)
    assert described["status"] == "FAILED" and described["error"] == "S3.AccessDeniedException"
    assert "with an explicit deny in an identity-based policy" in described["cause"]
    assert _entered(sfn, arn)[-1] == "Read"


def test_an_attached_managed_policy_counts_like_an_inline_one(local_stack, world, make_role):
    iam = local_stack.client("iam")
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in _statements(world).values()]
    role = make_role(statements[1:])  # all but dynamodb:PutItem inline ...
    policy = iam.create_policy(PolicyName=f"iam-put-{world['suffix']}",
                               PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements[:1]}))
    iam.attach_role_policy(RoleName=role.rpartition("/")[2], PolicyArn=policy["Policy"]["Arn"])  # ... and it attached
    sfn, arn = _start(local_stack, world, role)
    assert _wait(sfn, arn)["status"] == "SUCCEEDED"


def test_a_role_that_does_not_exist_can_do_nothing(local_stack, world):
    role = f"arn:aws:iam::{local_stack.config.account_id}:role/no-such-role-{world['suffix']}"
    sfn, arn = _start(local_stack, world, role)
    described = _wait(sfn, arn)
    assert described["status"] == "FAILED" and described["error"] == "DynamoDB.AccessDeniedException"
