"""Enforcement is on by default; DSA_LOCAL_IAM=off or LocalStack(iam=False) turns it off."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from toolkit.local.iam import enforced_by_default
from toolkit.local.stack import LocalStack


@pytest.mark.parametrize("value, expected", [(None, True), ("on", True), ("off", False), ("OFF", False), ("0", False)])
def test_the_environment_switch(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DSA_LOCAL_IAM", raising=False)
    else:
        monkeypatch.setenv("DSA_LOCAL_IAM", value)
    assert enforced_by_default() is expected


def _run_without_a_role(stack: LocalStack) -> dict:
    sfn = stack.client("stepfunctions")
    definition = {"StartAt": "Read", "States": {"Read": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "End": True}}}
    role = f"arn:aws:iam::{stack.config.account_id}:role/never-created-{uuid.uuid4().hex[:6]}"
    machine = sfn.create_state_machine(name=f"flag-{uuid.uuid4().hex[:8]}", roleArn=role,
                                       definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return described


def test_enforced_by_default_and_off_on_request(local_stack, monkeypatch):
    monkeypatch.delenv("DSA_LOCAL_IAM", raising=False)
    described = _run_without_a_role(local_stack)
    assert described["status"] == "FAILED" and described["error"] == "S3.AccessDeniedException"
    assert "s3:ListAllMyBuckets" in described["cause"]
    with LocalStack(port=0, sample_api=False, iam=False) as lenient:
        assert _run_without_a_role(lenient)["status"] == "SUCCEEDED"
