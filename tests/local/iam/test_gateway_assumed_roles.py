"""Requests signed with an assumed role's keys are held to that role at the gateway (S3, Logs);
requests signed with the operator's keys are not."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from toolkit.local.iam.requests import S3Request, logs_permission, s3_permissions


@pytest.fixture
def job_session(local_stack):
    """A boto3 session with the credentials of an assumed role that may read in/ and write out/ of one bucket."""
    suffix = uuid.uuid4().hex[:8]
    bucket = f"iam-gw-{suffix}"
    operator_s3 = local_stack.client("s3")
    operator_s3.create_bucket(Bucket=bucket)
    for key in ("in/a.json", "secret/b.json"):
        operator_s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    cfg = local_stack.config
    iam = local_stack.client("iam")
    name = f"iam-gw-{suffix}"
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/in/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": "in/*"}}},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{cfg.region}:{cfg.account_id}:log-group:/aws-glue/*"},
    ]}))
    creds = local_stack.client("sts").assume_role(RoleArn=role, RoleSessionName="job-run")["Credentials"]
    session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=cfg.region)
    return session, bucket


def test_assumed_role_may_do_what_its_policy_allows(local_stack, job_session):
    session, bucket = job_session
    s3 = session.client("s3", endpoint_url=local_stack.endpoint_url)
    assert s3.get_object(Bucket=bucket, Key="in/a.json")["Body"].read() == b"{}"
    s3.put_object(Bucket=bucket, Key="out/c.json", Body=b"[]")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="in/")["Contents"]] == ["in/a.json"]


@pytest.mark.parametrize("call", [
    lambda s3, b: s3.get_object(Bucket=b, Key="secret/b.json"),
    lambda s3, b: s3.put_object(Bucket=b, Key="in/overwrite.json", Body=b"x"),
    lambda s3, b: s3.list_objects_v2(Bucket=b, Prefix="secret/"),
    lambda s3, b: s3.delete_object(Bucket=b, Key="in/a.json"),
])
def test_assumed_role_is_refused_the_rest_with_s3s_access_denied(local_stack, job_session, call):
    session, bucket = job_session
    s3 = session.client("s3", endpoint_url=local_stack.endpoint_url)
    with pytest.raises(ClientError) as caught:
        call(s3, bucket)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied" and caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "assumed-role/iam-gw-" in error["Message"] and "/job-run is not authorized to perform: s3:" in error["Message"]
    assert local_stack.client("s3").get_object(Bucket=bucket, Key="in/a.json")["Body"].read() == b"{}"  # nothing changed


def test_assumed_role_logs_calls_are_authorised_on_their_log_group(local_stack, job_session):
    session, _ = job_session
    operator_logs = local_stack.client("logs")
    group, other = f"/aws-glue/jobs/{uuid.uuid4().hex[:6]}", f"/other/{uuid.uuid4().hex[:6]}"
    operator_logs.create_log_group(logGroupName=group)
    operator_logs.create_log_group(logGroupName=other)
    logs = session.client("logs", endpoint_url=local_stack.endpoint_url)
    logs.create_log_stream(logGroupName=group, logStreamName="run-1")
    logs.put_log_events(logGroupName=group, logStreamName="run-1", logEvents=[{"timestamp": 1, "message": "hi"}])
    with pytest.raises(ClientError) as caught:
        logs.create_log_stream(logGroupName=other, logStreamName="run-1")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError):
        logs.create_log_group(logGroupName="/aws-glue/new")  # not granted


def test_the_operators_keys_are_not_checked(local_stack, job_session):
    _, bucket = job_session
    assert local_stack.client("s3").get_object(Bucket=bucket, Key="secret/b.json")["Body"].read() == b"{}"


def test_s3_requests_map_to_the_actions_aws_authorises():
    def actions(method, bucket, key, query=None, headers=None, body=b""):
        return [(a, r) for a, r, _ in s3_permissions(S3Request(method, bucket, key, query or {}, headers or {}, body))]

    assert actions("GET", None, None) == [("s3:ListAllMyBuckets", "*")]
    assert actions("HEAD", "b", "k") == [("s3:GetObject", "arn:aws:s3:::b/k")]
    assert actions("GET", "b", None, {"list-type": ["2"]}) == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert actions("POST", "b", "k", {"uploads": [""]}) == [("s3:PutObject", "arn:aws:s3:::b/k")]
    assert actions("DELETE", "b", "k", {"uploadId": ["u"]}) == [("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]
    assert actions("PUT", "b", "k", headers={"x-amz-copy-source": "/src/a%20b"}) == [
        ("s3:PutObject", "arn:aws:s3:::b/k"), ("s3:GetObject", "arn:aws:s3:::src/a b")]
    body = b"<Delete><Object><Key>x/1</Key></Object><Object><Key>x/2</Key></Object></Delete>"
    assert actions("POST", "b", None, {"delete": [""]}, body=body) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/x/1"), ("s3:DeleteObject", "arn:aws:s3:::b/x/2")]
    assert logs_permission("Logs_20140328.PutLogEvents", b'{"logGroupName": "g", "logStreamName": "s"}',
                           partition="aws", region="r", account="1") == (
        "logs:PutLogEvents", "arn:aws:logs:r:1:log-group:g:log-stream:s")
