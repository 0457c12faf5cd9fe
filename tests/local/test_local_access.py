"""The gateway refuses what a web page could send: unsigned requests, foreign hosts, CORS reads.

Requests are sent raw with http.client, as a browser would send them (an ``Origin``, no
signature), and the effect is checked with signed boto3 calls: nothing was written or created.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import urllib.request
import uuid

import awswrangler as wr
import pandas as pd
import pytest
from botocore.config import Config
from multidict import CIMultiDict

from toolkit.local.access import CorsPolicy, from_web_page, is_loopback_host, is_signed
from toolkit.local.stack import LocalStack

EVIL = "http://evil.example"
SIGNED = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=00")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _send(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
          ) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        headers: dict[str, str] = {}
        for name, value in reply.getheaders():  # repeats joined, so a duplicate shows
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" if name.lower() in headers else value
        return reply.status, headers, reply.read()
    finally:
        connection.close()


def _target(operation: str, service: str = "AWSGlue") -> dict[str, str]:
    return {"X-Amz-Target": f"{service}.{operation}", "Content-Type": "application/x-amz-json-1.1",
            "Origin": EVIL}


# ------------------------------------------------------------------ the rules alone
@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:4566", True), ("127.0.0.1", True), ("127.9.8.7:1", True), ("localhost:4566", True),
    ("LOCALHOST", True), ("[::1]:4566", True), ("my-bucket.localhost:4566", True),
    ("my.bucket.s3.localhost:4566", True), ("b.s3.us-east-1.localhost", True),
    ("evil.example", False), ("evil.example:4566", False), ("localhost.evil.example", False),
    ("127.0.0.1.evil.example", False), ("10.0.0.1:4566", False), ("2130706433", False),
    ("0x7f.1", False), ("127.1", False), ("[::2]", False), ("", False), ("localhost:99999", False),
    ("localhost:4566:1", False), ("local host", False),
])
def test_loopback_hosts(host, ok):
    assert is_loopback_host(host) is ok


def test_the_bound_address_is_accepted_too():
    assert not is_loopback_host("192.0.2.10:4566")
    assert is_loopback_host("192.0.2.10:4566", also=("192.0.2.10",))


PRESIGNED_V4 = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F2%2Fr%2F{service}%2Faws4_request&X-Amz-Signature=0"


@pytest.mark.parametrize("headers, query, ok", [
    ({"Authorization": SIGNED.format(service="s3")}, "", True),
    ({"Authorization": SIGNED.format(service="glue")}, "", True),
    ({"Authorization": "AWS4-HMAC-SHA256 Credential=x, Signature=0"}, "", False),
    ({"Authorization": "Bearer abc"}, "", False),
    ({}, PRESIGNED_V4.format(service="s3"), True),
    ({}, PRESIGNED_V4.format(service="iam"), False),  # AWS presigns S3 URLs, not IAM calls
    ({}, PRESIGNED_V4.format(service="s3").replace("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""), False),
    ({}, "AWSAccessKeyId=test&Signature=abc%3D&Expires=1796213999", True),  # boto3's default S3 presign
    ({}, "AWSAccessKeyId=test&Signature=abc%3D", False),
    ({}, "", False),
    ({"X-Amz-Target": "AWSGlue.CreateJob"}, "", False),
])
def test_signed_requests(headers, query, ok):
    assert is_signed(CIMultiDict(headers), query) is ok


@pytest.mark.parametrize("method, headers, page", [
    ("GET", {}, False),  # an SDK, curl, urllib
    ("POST", {"Origin": EVIL}, True),
    ("POST", {"Origin": "null"}, True),
    ("GET", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, True),  # <img src=...>
    ("GET", {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, True),
    ("GET", {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, False),  # the user opened the URL
    ("GET", {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}, False),  # a link in Jupyter
    ("POST", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, True),  # a form post
])
def test_requests_from_web_pages(method, headers, page):
    assert from_web_page(method, CIMultiDict(headers)) is page


def test_cors_policy_refuses_wildcards():
    with pytest.raises(ValueError, match="cors-origin"):
        CorsPolicy.of(["*"])
    assert CorsPolicy.of(["http://localhost:8888/"]).allows("http://localhost:8888")
    assert not CorsPolicy().allows(EVIL)


# ------------------------------------------------------------------ the attack of issue 16
def test_a_browser_page_can_not_upload_a_script_and_run_it_as_a_glue_job(local_stack):
    s3, glue = local_stack.client("s3"), local_stack.client("glue")
    bucket, job = _name("attack"), _name("attack-job")
    s3.create_bucket(Bucket=bucket)
    url = local_stack.endpoint_url

    status, headers, _ = _send(url, "PUT", f"/{bucket}/evil.py", b"open('/tmp/pwned','w')",
                               {"Origin": EVIL, "Content-Type": "text/x-python"})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

    create = json.dumps({"Name": job, "Role": "r", "Command": {
        "Name": "glueetl", "ScriptLocation": f"s3://{bucket}/evil.py"}}).encode()
    status, headers, body = _send(url, "POST", "/", create, _target("CreateJob"))
    assert status == 403 and json.loads(body)["__type"] == "AccessDenied"
    assert "access-control-allow-origin" not in headers
    no_origin = {k: v for k, v in _target("CreateJob").items() if k != "Origin"}
    status, _, body = _send(url, "POST", "/", create, no_origin)
    assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationToken"
    assert job not in glue.list_jobs()["JobNames"]

    # Even for a job that exists, a start from the page is refused and no run appears.
    s3.put_object(Bucket=bucket, Key="ok.py", Body=b"print('ok')")
    glue.create_job(Name=job, Role=local_stack.config.role_arn("r"),
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/ok.py"})
    status, _, _ = _send(url, "POST", "/", json.dumps({"JobName": job}).encode(), _target("StartJobRun"))
    assert status == 403
    assert glue.get_job_runs(JobName=job)["JobRuns"] == []


def test_a_page_can_not_forge_a_presigned_query(local_stack):
    """Signatures are not checked, so a forged presigned query string is refused by its browser headers."""
    bucket = _name("forged")
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=bucket)
    forged = f"/{bucket}/evil.py?" + PRESIGNED_V4.format(service="s3")
    # A form post (a "simple" request: no preflight) and a no-cors fetch.
    status, _, _ = _send(local_stack.endpoint_url, "POST", forged, b"x", {
        "Origin": EVIL, "Content-Type": "multipart/form-data; boundary=x",
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert status == 403
    status, _, _ = _send(local_stack.endpoint_url, "PUT", forged, b"x", {
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert status == 403
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    # The same query from a script (no browser headers) is an S3 presigned URL, as on AWS.
    assert _send(local_stack.endpoint_url, "PUT", forged, b"x")[0] == 200


def test_the_preflight_of_a_foreign_origin_gets_no_cors_grant(local_stack):
    for path in ("/", "/some-bucket/key.py"):
        status, headers, _ = _send(local_stack.endpoint_url, "OPTIONS", path, headers={
            "Origin": EVIL, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,x-amz-target"})
        assert status == 403
        assert not [h for h in headers if h.startswith("access-control-")]


def test_a_signed_request_from_a_foreign_origin_is_refused_without_cors_headers(local_stack):
    bucket = _name("cors")
    local_stack.client("s3").create_bucket(Bucket=bucket)
    status, headers, _ = _send(local_stack.endpoint_url, "GET", f"/{bucket}?list-type=2", headers={
        "Origin": EVIL, "Authorization": SIGNED.format(service="s3"), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert status == 403
    assert not [h for h in headers if h.startswith("access-control-")]


def test_a_fake_host_is_refused_even_when_signed(local_stack):
    """DNS rebinding: the page's own name in Host, pointing at 127.0.0.1."""
    sfn_list = json.dumps({}).encode()
    headers = {"Host": "rebind.evil.example:4566", "Authorization": SIGNED.format(service="states"),
               "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"}
    status, _, body = _send(local_stack.endpoint_url, "POST", "/", sfn_list, headers)
    assert status == 403 and json.loads(body)["__type"] == "InvalidHost"
    headers["Host"] = "localhost"
    assert _send(local_stack.endpoint_url, "POST", "/", sfn_list, headers)[0] == 200


def test_health_stays_open_to_probes(local_stack):
    with urllib.request.urlopen(local_stack.endpoint_url + "/_dsa/health") as reply:
        assert json.loads(reply.read())["gateway"] == "up"


def test_sdk_clients_still_work(local_stack, monkeypatch):
    """boto3 (covered everywhere), awswrangler, and a presigned URL as `aws s3 presign` makes it."""
    s3 = local_stack.client("s3")
    bucket = _name("sdk")
    s3.create_bucket(Bucket=bucket)
    for key, value in local_stack.env().items():
        monkeypatch.setenv(key, value)
    wr.config.s3_endpoint_url = local_stack.endpoint_url
    try:
        wr.s3.to_json(pd.DataFrame({"a": [1, 2]}), f"s3://{bucket}/w.json", boto3_session=local_stack.session())
        assert list(wr.s3.read_json(f"s3://{bucket}/w.json", boto3_session=local_stack.session())["a"]) == [1, 2]
    finally:
        wr.config.reset("s3_endpoint_url")
    # boto3's default for S3 is a SigV2 query; the AWS CLI v2 (`aws s3 presign`) signs with SigV4.
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "w.json"}, ExpiresIn=60)
    v4_client = local_stack.client("s3", config=Config(signature_version="s3v4"))
    url = v4_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "w.json"}, ExpiresIn=60)
    assert "Signature=" in v2 and "X-Amz-Signature=" in url
    for presigned in (v2, url):
        with urllib.request.urlopen(presigned) as reply:
            assert reply.status == 200
    forged = url.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=none")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged)
    assert refused.value.code == 403


def test_an_allow_listed_origin_gets_its_preflight_and_headers():
    with LocalStack(port=0, sample_api=False, cors_origins=("http://localhost:8888",)) as stack:
        status, headers, _ = _send(stack.endpoint_url, "OPTIONS", "/", headers={
            "Origin": "http://localhost:8888", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})
        assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:8888"
        status, headers, _ = _send(stack.endpoint_url, "OPTIONS", "/", headers={
            "Origin": EVIL, "Access-Control-Request-Method": "POST"})
        assert status == 403 and "access-control-allow-origin" not in headers
        status, headers, _ = _send(stack.endpoint_url, "POST", "/", b"{}", headers={
            "Origin": "http://localhost:8888", "Authorization": SIGNED.format(service="states"),
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
        assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:8888"
        # Through moto (which adds CORS headers of its own): only ours reach the client, once.
        status, headers, _ = _send(stack.endpoint_url, "GET", "/", headers={
            "Origin": "http://localhost:8888", "Authorization": SIGNED.format(service="s3"),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:8888"
        assert "access-control-allow-credentials" not in headers


def test_moto_reflects_any_origin_and_the_gateway_strips_it():
    """Why the gateway filters moto's headers: moto's app answers every Origin with itself."""
    import asyncio

    from toolkit.local.access import strip_cors_headers
    from toolkit.local.moto_backend import MotoBridge

    bridge = MotoBridge(account_id="123456789012")

    async def list_buckets():
        return await bridge.call(method="GET", raw_path="/", query_string="", body=b"", host="127.0.0.1:1",
                                 server_port=1, service="s3",
                                 headers=[("Origin", EVIL), ("Authorization", SIGNED.format(service="s3"))])
    try:
        reply = asyncio.run(list_buckets())
    finally:
        bridge.close()
    assert ("Access-Control-Allow-Origin", EVIL) in reply.headers
    assert not [h for h, _ in strip_cors_headers(reply.headers) if h.lower().startswith("access-control-")]


# ------------------------------------------------------------------ over-deep JSON (issue 16 item 5)
DEEP = "[" * 100_000 + "]" * 100_000
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_json_nested_100000_deep_gets_aws_errors_not_a_500(local_stack):
    from botocore.config import Config as BotoConfig

    sfn = local_stack.client("stepfunctions", config=BotoConfig(retries={"max_attempts": 1}, inject_host_prefix=False))
    role = local_stack.config.role_arn("r")
    name = _name("deep")
    deep_definition = '{"StartAt":"P","States":{"P":{"Type":"Pass","Result":%s,"End":true}}}' % DEEP
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name=name, definition=deep_definition, roleArn=role)
    assert name not in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    arn = sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=role)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input=DEEP)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn=role, input=DEEP)
    # ... and the API goes on answering.
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == name


@pytest.mark.parametrize("text, depth", [("{}", 1), ("[[1]]", 2), ('{"a":"[[[["}', 1), ('{"a":"\\\\","b":[[]]}', 3),
                                          ('"\\"[["', 0), ("", 0)])
def test_nesting_is_measured_outside_strings(text, depth):
    from toolkit.local.gateway import _nesting

    assert _nesting(text) == depth
