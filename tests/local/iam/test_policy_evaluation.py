"""The policy evaluator against the rules of AWS's policy evaluation logic, one rule per test."""

from __future__ import annotations

import json

import pytest

from toolkit.local.iam.policy import Decision, evaluate, normalise_context

MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:agg"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(policies, action, resource, context=None, boundary=None) -> Decision:
    return evaluate(policies, action, resource, normalise_context(context), boundary).decision


def test_nothing_allows_means_implicit_deny():
    assert decide([], "s3:GetObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY


def test_deny_wins_over_allow_across_policies():
    policies = [doc(allow("s3:*")), doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})]
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::b/k") is Decision.EXPLICIT_DENY
    assert decide(policies, "s3:PutObject", "arn:aws:s3:::b/k") is Decision.ALLOW


def test_actions_match_case_insensitively_with_wildcards():
    policies = [doc(allow(["dynamodb:get*", "states:Describe?xecution"]))]
    assert decide(policies, "dynamodb:GetItem", "x") is Decision.ALLOW
    assert decide(policies, "states:DescribeExecution", "x") is Decision.ALLOW
    assert decide(policies, "dynamodb:PutItem", "x") is Decision.IMPLICIT_DENY


def test_resources_match_case_sensitively_and_dots_are_literal():
    policies = [doc(allow("s3:GetObject", "arn:aws:s3:::work.bucket/parts/*"))]
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::work.bucket/parts/a/b.json") is Decision.ALLOW
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::workXbucket/parts/a") is Decision.IMPLICIT_DENY
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::work.bucket/PARTS/a") is Decision.IMPLICIT_DENY


def test_not_action_and_not_resource():
    policies = [doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})]
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::open/k") is Decision.ALLOW
    assert decide(policies, "s3:GetObject", "arn:aws:s3:::secret/k") is Decision.IMPLICIT_DENY
    assert decide(policies, "iam:PassRole", "*") is Decision.IMPLICIT_DENY


def test_http_endpoint_condition_keys_as_step_functions_documents_them():
    policy = doc(allow("states:InvokeHTTPEndpoint", MACHINE, Condition={
        "StringEquals": {"states:HTTPMethod": "GET"},
        "StringLike": {"states:HTTPEndpoint": ["https://api.example.com/*", "https://127.0.0.1:*/*"]},
    }))
    ok = {"states:HTTPEndpoint": "https://api.example.com/v1/x", "states:HTTPMethod": "GET"}
    assert decide([policy], "states:InvokeHTTPEndpoint", MACHINE, ok) is Decision.ALLOW
    other_host = {**ok, "states:HTTPEndpoint": "https://evil.example.net/v1/x"}
    assert decide([policy], "states:InvokeHTTPEndpoint", MACHINE, other_host) is Decision.IMPLICIT_DENY
    post = {**ok, "states:HTTPMethod": "POST"}
    assert decide([policy], "states:InvokeHTTPEndpoint", MACHINE, post) is Decision.IMPLICIT_DENY
    # A conditioned Allow whose condition fails does not apply; it is no explicit deny.
    assert decide([policy, doc(allow("states:*"))], "states:InvokeHTTPEndpoint", MACHINE, post) is Decision.ALLOW


def test_condition_keys_are_case_insensitive_and_missing_keys_do_not_match():
    policy = doc(allow("s3:ListBucket", Condition={"StringLike": {"S3:Prefix": "parts/*"}}))
    assert decide([policy], "s3:ListBucket", "b", {"s3:prefix": "parts/x"}) is Decision.ALLOW
    assert decide([policy], "s3:ListBucket", "b") is Decision.IMPLICIT_DENY


def test_negated_operators_match_a_missing_key_and_if_exists_passes_it():
    deny = doc(allow("*"), {"Effect": "Deny", "Action": "*", "Resource": "*",
                            "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}})
    assert decide([deny], "s3:GetObject", "x", {"aws:RequestedRegion": "eu-west-1"}) is Decision.EXPLICIT_DENY
    assert decide([deny], "s3:GetObject", "x", {"aws:RequestedRegion": "us-east-1"}) is Decision.ALLOW
    assert decide([deny], "s3:GetObject", "x") is Decision.EXPLICIT_DENY
    if_exists = doc(allow("s3:GetObject", Condition={"StringEqualsIfExists": {"s3:ExistingObjectTag/t": "a"}}))
    assert decide([if_exists], "s3:GetObject", "x") is Decision.ALLOW
    assert decide([if_exists], "s3:GetObject", "x", {"s3:ExistingObjectTag/t": "b"}) is Decision.IMPLICIT_DENY


def test_numeric_date_bool_null_ip_and_arn_operators():
    cases = [
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, {"s3:max-keys": "11"}),
        ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
         {"aws:CurrentTime": "2026-01-01T00:00:00Z"}, {"aws:CurrentTime": "2019-12-31T23:59:59Z"}),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, {"aws:SecureTransport": False}),
        ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"}, {}),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, {"aws:SourceIp": "11.0.0.1"}),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:states:*:000000000000:stateMachine:*"}},
         {"aws:SourceArn": MACHINE}, {"aws:SourceArn": "arn:aws:states:us-east-1:111111111111:stateMachine:agg"}),
    ]
    for condition, yes, no in cases:
        policy = doc(allow("s3:GetObject", Condition=condition))
        assert decide([policy], "s3:GetObject", "x", yes) is Decision.ALLOW, condition
        assert decide([policy], "s3:GetObject", "x", no) is Decision.IMPLICIT_DENY, condition


def test_set_qualifiers_for_multivalued_keys():
    any_value = doc(allow("s3:GetObject", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}))
    all_values = doc(allow("s3:GetObject", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}))
    assert decide([any_value], "s3:GetObject", "x", {"aws:TagKeys": ["z", "b"]}) is Decision.ALLOW
    assert decide([any_value], "s3:GetObject", "x", {"aws:TagKeys": ["z"]}) is Decision.IMPLICIT_DENY
    assert decide([any_value], "s3:GetObject", "x") is Decision.IMPLICIT_DENY
    assert decide([all_values], "s3:GetObject", "x", {"aws:TagKeys": ["a", "b"]}) is Decision.ALLOW
    assert decide([all_values], "s3:GetObject", "x", {"aws:TagKeys": ["a", "z"]}) is Decision.IMPLICIT_DENY
    assert decide([all_values], "s3:GetObject", "x") is Decision.ALLOW  # AWS: true when the key is absent


def test_policy_variables_in_resources():
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*"),
                 allow("s3:PutObject", "arn:aws:s3:::b/${*}literal"))
    assert decide([policy], "s3:GetObject", "arn:aws:s3:::b/home/ann/f", {"aws:username": "ann"}) is Decision.ALLOW
    assert decide([policy], "s3:GetObject", "arn:aws:s3:::b/home/bob/f", {"aws:username": "ann"}) is Decision.IMPLICIT_DENY
    assert decide([policy], "s3:GetObject", "arn:aws:s3:::b/home/ann/f") is Decision.IMPLICIT_DENY
    assert decide([policy], "s3:PutObject", "arn:aws:s3:::b/*literal") is Decision.ALLOW
    assert decide([policy], "s3:PutObject", "arn:aws:s3:::b/xliteral") is Decision.IMPLICIT_DENY


def test_permissions_boundary_must_allow_too():
    identity = [doc(allow("s3:*"))]
    boundary = doc(allow("s3:GetObject"))
    assert decide(identity, "s3:GetObject", "x", boundary=boundary) is Decision.ALLOW
    result = evaluate(identity, "s3:PutObject", "x", {}, boundary)
    assert result.decision is Decision.IMPLICIT_DENY and result.policy_type == "permissions boundary"


@pytest.mark.parametrize("operator", ["StringEqualsSometimes", "Foo:StringEquals"])
def test_an_operator_aws_does_not_define_never_matches(operator):
    policy = doc(allow("s3:GetObject", Condition={operator: {"aws:username": "ann"}}))
    assert decide([policy], "s3:GetObject", "x", {"aws:username": "ann"}) is Decision.IMPLICIT_DENY
