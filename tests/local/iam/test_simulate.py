"""SimulatePrincipalPolicy on the local stack (moto lacks it): the local IAM evaluator answers."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def test_decisions_for_each_action_and_resource_with_context(local_stack, make_role):
    arn = make_role([
        {"Effect": "Allow", "Action": "states:InvokeHTTPEndpoint", "Resource": "*",
         "Condition": {"StringLike": {"states:HTTPEndpoint": "https://api.example.com/*"},
                       "StringEquals": {"states:HTTPMethod": "GET"}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
    ])
    iam = local_stack.client("iam")

    def decide(actions, resources, endpoint="https://api.example.com/x", method="GET"):
        entries = [{"ContextKeyName": "states:HTTPEndpoint", "ContextKeyValues": [endpoint], "ContextKeyType": "string"},
                   {"ContextKeyName": "states:HTTPMethod", "ContextKeyValues": [method], "ContextKeyType": "string"}]
        found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, ResourceArns=resources,
                                              ContextEntries=entries)["EvaluationResults"]
        return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in found]

    assert decide(["s3:GetObject"], ["arn:aws:s3:::b/k", "arn:aws:s3:::b/secret/k", "arn:aws:s3:::c/k"]) == [
        ("s3:GetObject", "arn:aws:s3:::b/k", "allowed"),
        ("s3:GetObject", "arn:aws:s3:::b/secret/k", "explicitDeny"),
        ("s3:GetObject", "arn:aws:s3:::c/k", "implicitDeny")]
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:m"
    assert decide(["states:InvokeHTTPEndpoint"], [machine])[0][2] == "allowed"
    assert decide(["states:InvokeHTTPEndpoint"], [machine], endpoint="https://evil.example/x")[0][2] == "implicitDeny"
    assert decide(["states:InvokeHTTPEndpoint"], [machine], method="POST")[0][2] == "implicitDeny"


def test_unknown_roles_and_other_principals_are_refused(local_stack):
    iam = local_stack.client("iam")
    with pytest.raises(ClientError) as missing:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::000000000000:role/nobody",
                                      ActionNames=["s3:GetObject"])
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as user:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::000000000000:user/someone",
                                      ActionNames=["s3:GetObject"])
    assert user.value.response["Error"]["Code"] == "InvalidInput"
