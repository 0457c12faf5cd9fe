"""The local IAM reuses a decision only while the role's policies are the same and no policy
depends on the clock: a changed policy, or a time that has passed, is decided afresh."""

from __future__ import annotations

import json
import time

import pytest

from sfn_runtime.authorization import AccessDenied
from toolkit.local.iam import IamAuthorizer

OBJECT = "arn:aws:s3:::work/parts/a.json"


def _authorizer(local_stack) -> IamAuthorizer:
    return IamAuthorizer(account_id=local_stack.config.account_id, region=local_stack.config.region)


def test_a_changed_policy_is_decided_afresh(local_stack, make_role) -> None:
    arn = make_role([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::work/*"}])
    authorizer = _authorizer(local_stack)
    for _ in range(2):  # the second time from the reused decision
        authorizer.authorize(arn, "s3:PutObject", OBJECT)
    name = arn.rpartition("/")[2]
    policy = local_stack.client("iam").list_role_policies(RoleName=name)["PolicyNames"][0]
    local_stack.client("iam").put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::other/*"}]}))
    with pytest.raises(AccessDenied, match="no identity-based policy allows the s3:PutObject action"):
        authorizer.authorize(arn, "s3:PutObject", OBJECT)


def test_a_policy_on_the_clock_is_decided_at_every_request(local_stack, make_role) -> None:
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    arn = make_role([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
                      "Condition": {"DateLessThan": {"aws:CurrentTime": until}}}])
    authorizer = _authorizer(local_stack)
    authorizer.authorize(arn, "s3:PutObject", OBJECT)
    time.sleep(2.1)
    with pytest.raises(AccessDenied):
        authorizer.authorize(arn, "s3:PutObject", OBJECT)
