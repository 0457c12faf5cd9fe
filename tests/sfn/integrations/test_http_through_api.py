"""HTTP Task through the served API: Retry on 429/5xx, a hang cut by TimeoutSeconds, a 401
caught by name, and no secret in the execution history."""

from __future__ import annotations

import json

import pytest

from toolkit.local.sample_api import AuthConfig, DatasetParams, FaultPlan, FaultRule, SampleApi

from .test_http_task import make_connection
from ..conftest import TEST_CA

KEY = "key-with-secret-value-4711"


@pytest.fixture(scope="module")
def api():
    with SampleApi(dataset=DatasetParams(seed=5, locations=4), auth=AuthConfig.api_key(KEY), port=0, ca=TEST_CA) as sample:
        yield sample


@pytest.fixture(scope="module")
def connection(aws):
    return make_connection(aws, "api-through", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": KEY}})


def fetch_machine(endpoint: str, connection: str, *, retry=None, timeout=None, catch=None) -> dict:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Arguments": {
            "ApiEndpoint": endpoint,
            "Method": "GET",
            "QueryParameters": {"state": "failed", "limit": 5, "offset": 0},
            "InvocationConfig": {"ConnectionArn": connection},
        },
        "Output": "{% $states.result.ResponseBody %}",
        "End": True,
    }
    if retry:
        task["Retry"] = retry
    if timeout:
        task["TimeoutSeconds"] = timeout
    if catch:
        task["Catch"] = catch
    return {"QueryLanguage": "JSONata", "StartAt": "Fetch", "States": {"Fetch": task}}


def test_429_and_503_are_retried_until_the_page_arrives(stack, api, connection):
    location = api.location_ids()[0]
    api.set_faults(
        FaultPlan(
            seed=1,
            rules=(
                FaultRule(kind="throttle", locations=(location,), first_requests=1, per="request"),
                FaultRule(kind="error", status=503, locations=(location,), first_requests=2, per="request"),
            ),
        )
    )
    api.reset_counts()
    try:
        retry = [{"ErrorEquals": ["States.Http.StatusCode.429", "States.Http.StatusCode.503"], "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 1}]
        arn = stack.machine("http-retry", fetch_machine(f"{api.url}/{location}/get-data", connection, retry=retry))
        described = stack.run(arn)
    finally:
        api.set_faults(FaultPlan())
    assert described["status"] == "SUCCEEDED", described
    page = json.loads(described["output"])
    assert [r["state"] for r in page["results"]] == ["failed"] * len(page["results"])
    failures = [e for e in stack.history(described["executionArn"]) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["States.Http.StatusCode.429", "States.Http.StatusCode.503"]
    assert api.request_counts().total == 3


def test_hang_is_cut_by_timeout_seconds(stack, api, connection):
    location = api.location_ids()[1]
    api.set_faults(FaultPlan(seed=1, rules=(FaultRule(kind="hang", seconds=30, locations=(location,)),)))
    try:
        arn = stack.machine("http-hang", fetch_machine(f"{api.url}/{location}/get-data", connection, timeout=20))
        described = stack.run(arn)
    finally:
        api.set_faults(FaultPlan())
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


def test_wrong_key_fails_401_and_catch_sees_it_and_history_holds_no_secret(stack, api, aws):
    bad = make_connection(aws, "api-through-bad", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "wrong-" + KEY}})
    location = api.location_ids()[0]
    catch = [{"ErrorEquals": ["States.Http.StatusCode.401"], "Next": "Denied", "Output": "{% $states.errorOutput %}"}]
    definition = fetch_machine(f"{api.url}/{location}/get-data", bad, catch=catch)
    definition["States"]["Denied"] = {"Type": "Pass", "End": True}
    described = stack.run(stack.machine("http-401", definition))
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "States.Http.StatusCode.401"
    text = json.dumps(stack.history(described["executionArn"]), default=str)
    assert KEY not in text
