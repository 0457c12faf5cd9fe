"""Every routed service through the one endpoint, with real boto3 clients; and the routing rules."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from multidict import CIMultiDict

from toolkit.local.gateway import signing_service, virtual_host_bucket


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ routing rules
@pytest.mark.parametrize("headers, query, expected", [
    ({"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/states/aws4_request, "
                       "SignedHeaders=host, Signature=abc"}, "", "states"),
    ({"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/glue/aws4_request, "
                       "SignedHeaders=host, Signature=abc", "X-Amz-Target": "AWSStepFunctions.X"}, "", "glue"),
    ({}, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request", "s3"),
    ({"X-Amz-Target": "AWSStepFunctions.ListStateMachines"}, "", None),
    ({}, "", None),
])
def test_signing_service_reads_the_scope(headers, query, expected):
    assert signing_service(CIMultiDict(headers), query) == expected


@pytest.mark.parametrize("host, bucket", [
    ("my-bucket.localhost:4566", "my-bucket"),
    ("my.dotted.bucket.localhost:4566", "my.dotted.bucket"),
    ("my.bucket.s3.localhost:4566", "my.bucket"),
    ("b1.s3.us-east-1.localhost", "b1"),
    ("localhost:4566", None),
    ("s3.localhost:4566", None),
    ("127.0.0.1:4566", None),
])
def test_virtual_host_bucket(host, bucket):
    assert virtual_host_bucket(host) == bucket


# ------------------------------------------------------------------ S3
def test_s3_path_style_round_trip_with_awkward_keys(local_stack):
    s3 = local_stack.client("s3")
    bucket = _name("path")
    s3.create_bucket(Bucket=bucket)
    key = "parts/t 1/ü+x/0.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"a": 1}', Metadata={"my_key": "v"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == 8 and head["Metadata"] == {"my_key": "v"}
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"a": 1}'


@pytest.mark.parametrize("host_style", ["{bucket}.localhost", "{bucket}.s3.localhost"])
def test_s3_virtual_host_style(local_stack, host_style):
    """boto3 in virtual style sends Host: bucket.localhost:PORT; a loopback proxy avoids needing DNS."""
    bucket = _name("vhost.dotted") if "s3." in host_style else _name("vhost")
    local_stack.client("s3").create_bucket(Bucket=bucket)
    port = local_stack.endpoint_url.rsplit(":", 1)[1]
    base = host_style.split("{bucket}.", 1)[1]
    virtual = local_stack.client(
        "s3", endpoint_url=f"http://{base}:{port}",
        config=Config(s3={"addressing_style": "virtual"}, proxies={"http": local_stack.endpoint_url}))
    sent_hosts = []
    virtual.meta.events.register("before-send.s3", lambda request, **_: sent_hosts.append(request.url))
    virtual.put_object(Bucket=bucket, Key="k/v.txt", Body=b"virtual")
    assert virtual.get_object(Bucket=bucket, Key="k/v.txt")["Body"].read() == b"virtual"
    assert all(url.startswith(f"http://{bucket}.{base}:{port}/") for url in sent_hosts)
    # ... and the object is the same one path-style clients see.
    assert local_stack.client("s3").get_object(Bucket=bucket, Key="k/v.txt")["Body"].read() == b"virtual"


def test_s3_presigned_url_is_routed_by_its_query_credential(local_stack):
    s3 = local_stack.client("s3")
    bucket = _name("presign")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"})
    with urllib.request.urlopen(url) as reply:
        assert reply.read() == b"presigned"


# ------------------------------------------------------------------ other moto services
def test_dynamodb(local_stack):
    ddb = local_stack.client("dynamodb")
    table = _name("tbl")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"},
                                {"AttributeName": "location_id", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                                           {"AttributeName": "location_id", "AttributeType": "S"}])
    for loc in ("loc-1", "loc-2"):
        ddb.put_item(TableName=table, Item={"task_id": {"S": "t1"}, "location_id": {"S": loc}})
    items = ddb.query(TableName=table, KeyConditionExpression="task_id = :t",
                      ExpressionAttributeValues={":t": {"S": "t1"}})["Items"]
    assert [i["location_id"]["S"] for i in items] == ["loc-1", "loc-2"]
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    assert f":{local_stack.config.account_id}:" in arn


def test_events_connection_keeps_its_secret_in_secrets_manager(local_stack):
    events = local_stack.client("events")
    name = _name("conn")
    arn = events.create_connection(
        Name=name, AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"}})["ConnectionArn"]
    described = events.describe_connection(Name=name)
    assert described["ConnectionArn"] == arn and described["ConnectionState"] == "AUTHORIZED"
    assert "ApiKeyValue" not in described["AuthParameters"]["ApiKeyAuthParameters"]
    secret = local_stack.client("secretsmanager").get_secret_value(SecretId=described["SecretArn"])
    assert "s3cret" in secret["SecretString"]


def test_secretsmanager(local_stack):
    sm = local_stack.client("secretsmanager")
    name = _name("secret")
    sm.create_secret(Name=name, SecretString=json.dumps({"k": "v"}))
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"k": "v"}


def test_iam_and_sts_use_the_stack_account(local_stack):
    role = _name("role")
    arn = local_stack.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    assert arn == local_stack.config.role_arn(role)
    assert local_stack.client("sts").get_caller_identity()["Account"] == local_stack.config.account_id


def test_logs(local_stack):
    logs = local_stack.client("logs")
    group = "/" + _name("group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}])
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["hello"]


def test_glue_catalog_goes_to_moto_and_jobs_to_the_local_runner(local_stack):
    glue = local_stack.client("glue")
    database = _name("db").replace("-", "_")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={"Name": "t", "StorageDescriptor": {"Columns": []}})
    assert glue.get_table(DatabaseName=database, Name="t")["Table"]["Name"] == "t"
    with pytest.raises(glue.exceptions.EntityNotFoundException, match="Job with name"):
        glue.get_job(JobName=_name("missing"))


def test_states(local_stack):
    sfn = local_stack.client("stepfunctions")
    name = _name("sm")
    definition = {"QueryLanguage": "JSONata", "StartAt": "P",
                  "States": {"P": {"Type": "Pass", "Output": "{% $states.input.x + 1 %}", "End": True}}}
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                   roleArn=local_stack.config.role_arn("r"), type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input='{"x": 41}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == 42


def test_unsigned_json_request_is_refused(local_stack):
    request = urllib.request.Request(
        local_stack.endpoint_url + "/", data=b"{}", method="POST",
        headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["__type"] == "MissingAuthenticationToken"


def test_plain_boto3_from_the_stack_env(local_stack, monkeypatch):
    """The variables of `env()` alone point a default boto3 session at the stack."""
    for key, value in local_stack.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert boto3.session.Session().client("sts").get_caller_identity()["Account"] == local_stack.config.account_id


def test_s3_chunked_upload_arrives_whole(local_stack):
    """A body sent with Transfer-Encoding: chunked reaches moto de-chunked, with its real length."""
    import http.client
    import urllib.parse

    s3 = local_stack.client("s3")
    bucket = _name("chunked")
    s3.create_bucket(Bucket=bucket)
    url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "c.txt"}))
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("PUT", f"{url.path}?{url.query}", body=iter([b"hello ", b"chunked"]), encode_chunked=True,
                           headers={"Transfer-Encoding": "chunked"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert s3.get_object(Bucket=bucket, Key="c.txt")["Body"].read() == b"hello chunked"


def test_s3_query_parameters_reach_moto_as_sent(local_stack):
    """Prefixes holding & = + and space, and paging, survive the gateway (no decode/re-encode)."""
    s3 = local_stack.client("s3")
    bucket = _name("query")
    s3.create_bucket(Bucket=bucket)
    keys = ["a&b=c/1", "a&b=c/2", "a+b/3", "x y/4"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="a&b=c/")["Contents"]] == keys[:2]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="a+b/")["Contents"]] == ["a+b/3"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert [o["Key"] for page in pages for o in page["Contents"]] == sorted(keys)
