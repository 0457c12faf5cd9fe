"""The runtime's AWS calls answered in process (toolkit.local.in_process) give what HTTP gives."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from toolkit.local import in_process


def _in_process_client(local_stack, service: str, **credentials):
    session = boto3.session.Session(region_name=local_stack.config.region,
                                    **(credentials or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}))
    client = session.client(service, endpoint_url=local_stack.endpoint_url)
    client.meta.events.register("before-send", in_process.transport(local_stack._gateway))
    return client


def _over_http(response: dict) -> bool:
    """aiohttp, the gateway's server, names itself in every answer; an in-process answer has no server."""
    return "server" in response["ResponseMetadata"]["HTTPHeaders"]


def test_s3_and_dynamodb_answers_match_the_endpoints(local_stack):
    bucket, body = f"inproc-{uuid.uuid4().hex[:8]}", "é\n".encode() * 5000
    s3, public = _in_process_client(local_stack, "s3"), local_stack.client("s3")
    created = s3.create_bucket(Bucket=bucket)
    assert not _over_http(created)
    s3.put_object(Bucket=bucket, Key="a/b c.json", Body=body, ContentType="application/json")
    got = public.get_object(Bucket=bucket, Key="a/b c.json")
    assert _over_http(got) and got["Body"].read() == body and got["ContentType"] == "application/json"
    mine = s3.get_object(Bucket=bucket, Key="a/b c.json")
    assert mine["Body"].read() == body and mine["ETag"] == got["ETag"]
    assert s3.head_object(Bucket=bucket, Key="a/b c.json")["ContentLength"] == len(body)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="nope")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"

    table = f"inproc-{uuid.uuid4().hex[:8]}"
    dynamodb = _in_process_client(local_stack, "dynamodb")
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName=table, Item={"k": {"S": "1"}, "v": {"N": "2"}})
    assert local_stack.client("dynamodb").get_item(TableName=table, Key={"k": {"S": "1"}})["Item"]["v"] == {"N": "2"}


def test_step_functions_requests_still_go_over_http(local_stack):
    sfn = _in_process_client(local_stack, "stepfunctions")
    assert _over_http(sfn.list_state_machines())


def test_a_roles_request_is_checked_against_its_policy(local_stack):
    suffix = uuid.uuid4().hex[:8]
    bucket = f"inproc-iam-{suffix}"
    local_stack.client("s3").create_bucket(Bucket=bucket)
    iam = local_stack.client("iam")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"inproc-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"inproc-{suffix}", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"}]}))
    creds = local_stack.client("sts").assume_role(RoleArn=role, RoleSessionName="in-process")["Credentials"]
    s3 = _in_process_client(local_stack, "s3", aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    s3.put_object(Bucket=bucket, Key="out/x", Body=b"1")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="elsewhere/x", Body=b"1")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "elsewhere/x" not in [o["Key"] for o in local_stack.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]
