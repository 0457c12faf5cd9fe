"""aws-sdk integrations called directly against a real moto server: parameter casing, result
shape and AWS's error names."""

from __future__ import annotations

import asyncio

import pytest

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.awssdk import AwsSdkIntegration, error_name, parse_resource
from sfn_runtime.integrations.clients import AwsClients

REGION = "us-east-1"


def run(moto_url, calls):
    async def main():
        clients = AwsClients(region=REGION, endpoint_url=moto_url)
        sdk = AwsSdkIntegration(clients)
        out = []
        try:
            for resource, arguments in calls:
                try:
                    out.append(await sdk.call(resource, arguments))
                except StatesError as exc:
                    out.append(exc)
        finally:
            clients.close()
        return out

    return asyncio.run(main())


@pytest.fixture(scope="module")
def table(aws):
    ddb = aws("dynamodb")
    ddb.create_table(
        TableName="sdk-items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield "sdk-items"
    ddb.delete_table(TableName="sdk-items")


def test_dynamodb_put_get_and_conditional_check_error(moto_url, table):
    put = ("arn:aws:states:::aws-sdk:dynamodb:putItem", {"TableName": table, "Item": {"id": {"S": "a"}, "n": {"N": "1"}}})
    conditional = (
        "arn:aws:states:::aws-sdk:dynamodb:putItem",
        {"TableName": table, "Item": {"id": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(id)"},
    )
    get = ("arn:aws:states:::aws-sdk:dynamodb:getItem", {"TableName": table, "Key": {"id": {"S": "a"}}})
    put_result, error, got = run(moto_url, [put, conditional, get])
    assert put_result == {}
    assert isinstance(error, StatesError) and error.error == "DynamoDb.ConditionalCheckFailedException"
    assert got == {"Item": {"id": {"S": "a"}, "n": {"N": "1"}}}


def test_s3_put_and_get_object_body_and_no_such_key(aws, moto_url):
    aws("s3").create_bucket(Bucket="sdk-bucket")
    put = ("arn:aws:states:::aws-sdk:s3:putObject", {"Bucket": "sdk-bucket", "Key": "k.json", "Body": "{\"a\": 1}"})
    get = ("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "sdk-bucket", "Key": "k.json"})
    missing = ("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "sdk-bucket", "Key": "nope"})
    listing = ("arn:aws:states:::aws-sdk:s3:listObjectsV2", {"Bucket": "sdk-bucket"})
    _, got, error, listed = run(moto_url, [put, get, missing, listing])
    assert got["Body"] == '{"a": 1}'
    assert got["ContentLength"] == 8
    assert isinstance(got["LastModified"], str) and got["LastModified"].endswith("Z")
    assert error.error == "S3.NoSuchKeyException"
    assert [o["Key"] for o in listed["Contents"]] == ["k.json"]
    assert set(listed["Contents"][0]) >= {"Key", "Size", "LastModified", "ETag"}


def test_camel_case_api_members_take_pascal_case_parameters(moto_url):
    # Secrets Manager members are PascalCase already; Step Functions' are camelCase (stateMachineArn).
    [error] = run(
        moto_url,
        [("arn:aws:states:::aws-sdk:sfn:describeExecution", {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e"})],
    )
    # moto's sfn answers; what matters is the parameter was accepted and the error named as AWS does.
    assert error.error == "Sfn.ExecutionDoesNotExistException"


def test_unknown_action_and_field(moto_url):
    bad_action, bad_field = run(
        moto_url,
        [
            ("arn:aws:states:::aws-sdk:s3:fetchEverything", {}),
            ("arn:aws:states:::aws-sdk:s3:listBuckets", {"Colour": "red"}),
        ],
    )
    assert bad_action.error == "States.Runtime" and "fetchEverything" in bad_action.cause
    assert bad_field.error == "States.Runtime" and "Colour" in bad_field.cause


def test_error_names():
    assert error_name("S3", "NoSuchKey") == "S3.NoSuchKeyException"
    assert error_name("S3", "BucketAlreadyExists") == "S3.BucketAlreadyExistsException"
    assert error_name("DynamoDb", "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException") == (
        "DynamoDb.ResourceNotFoundException"
    )
    assert parse_resource("arn:aws:states:::aws-sdk:sfn:startExecution").boto_service == "stepfunctions"
    assert parse_resource("arn:aws:states:::aws-sdk:dynamodb:getItem").error_prefix == "DynamoDb"
