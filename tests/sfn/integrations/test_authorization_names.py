"""The IAM action and resource ARN the runtime asks about for each call, as AWS names them."""

from __future__ import annotations

import pytest

from sfn_runtime.authorization import iam_machine_arn, partition_of, sdk_action, sdk_resource


@pytest.mark.parametrize("service, action, expected", [
    ("s3", "getObject", "s3:GetObject"),
    ("s3", "listObjectsV2", "s3:ListBucket"),
    ("s3", "headObject", "s3:GetObject"),
    ("sfn", "startSyncExecution", "states:StartSyncExecution"),
    ("sfn", "describeMapRun", "states:DescribeMapRun"),
    ("dynamodb", "query", "dynamodb:Query"),
    ("glue", "startJobRun", "glue:StartJobRun"),
    ("cloudwatchlogs", "putLogEvents", "logs:PutLogEvents"),
    ("eventbridge", "putEvents", "events:PutEvents"),
])
def test_sdk_actions(service, action, expected):
    assert sdk_action(service, action) == expected


@pytest.mark.parametrize("service, params, expected", [
    ("s3", {"Bucket": "b", "Key": "k/1.json"}, "arn:aws-cn:s3:::b/k/1.json"),
    ("s3", {"Bucket": "b", "Prefix": "p/"}, "arn:aws-cn:s3:::b"),
    ("dynamodb", {"TableName": "t"}, "arn:aws-cn:dynamodb:r:1:table/t"),
    ("glue", {"JobName": "j"}, "arn:aws-cn:glue:r:1:job/j"),
    ("sfn", {"mapRunArn": "arn:aws-cn:states:r:1:mapRun:m/l:x"}, "arn:aws-cn:states:r:1:mapRun:m/l:x"),
    ("sqs", {"QueueUrl": "q"}, "*"),
])
def test_sdk_resources(service, params, expected):
    assert sdk_resource(service, params, partition="aws-cn", region="r", account="1") == expected


def test_map_run_children_are_seen_as_their_parent_state_machine():
    assert iam_machine_arn("arn:aws:states:r:1:stateMachine:agg/Locations") == "arn:aws:states:r:1:stateMachine:agg"
    assert iam_machine_arn("arn:aws:states:r:1:stateMachine:agg") == "arn:aws:states:r:1:stateMachine:agg"
    assert partition_of("arn:aws-us-gov:states:r:1:execution:a:b") == "aws-us-gov" and partition_of("x") == "aws"
