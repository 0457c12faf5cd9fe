"""The HTTP Task's IAM scope (api_endpoints) on a deployed stack: the states role may call the
configured API only, with GET, so a location pointing elsewhere fails with the authorisation
error before any request is sent, and one inside the scope is fetched."""

from __future__ import annotations

import json
import time
import uuid

import pandas as pd
import pytest

from toolkit import deploy, locations, spec


@pytest.fixture(scope="module")
def scoped(local_stack):
    """A stack whose HTTP Task may call only the sample API as https://127.0.0.1:{port}/..."""
    cfg = local_stack.config.replace(stack_name=f"h{uuid.uuid4().hex[:8]}",
                                     api_endpoints=(f"{local_stack.sample_api.url}/*",))
    deploy.deploy(cfg)
    yield cfg
    deploy.teardown(cfg, force=True)


def _extract(stack, cfg, task_id: str, location_id: str) -> dict:
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cfg.state_machine_arn(cfg.extraction_state_machine),
                              input=json.dumps({"task_id": task_id, "location_id": location_id}))["executionArn"]
    for _ in range(600):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def test_the_policy_scopes_invoke_http_endpoint_to_the_configured_apis_and_get(scoped):
    statement = next(s for s in spec.states_policy(scoped)["Statement"] if s["Sid"] == "HttpTask")
    assert statement["Condition"] == {"StringLike": {"states:HTTPEndpoint": list(scoped.api_endpoints)},
                                      "StringEquals": {"states:HTTPMethod": "GET"}}


def test_a_location_outside_the_scope_fails_authorisation_and_one_inside_succeeds(local_stack, scoped):
    task = f"scope-{uuid.uuid4().hex[:6]}"
    inside = local_stack.sample_api.url
    outside = inside.replace("127.0.0.1", "localhost")  # the same server, under a name the scope lacks
    stray = f"out-{uuid.uuid4().hex[:6]}"  # asked for by no other test of the session
    frame = pd.DataFrame({"task_id": task, "location_id": ["loc-001", stray], "api_url": [inside, outside]})
    refused = locations.load_locations(scoped, frame, dry_run=True)
    assert list(refused["action"]) == ["would add", "rejected"]
    # Written past the loader's check (as a row loaded before api_endpoints changed would be).
    assert locations.load_locations(scoped.replace(api_endpoints=()), frame).attrs["written"] == 2

    ok = _extract(local_stack, scoped, task, "loc-001")
    assert ok["status"] == "SUCCEEDED", ok
    failed = _extract(local_stack, scoped, task, stray)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "States.Runtime"
    assert ("is not authorized to perform states:InvokeHTTPEndpoint on API Endpoint "
            f"{outside}/{stray}/get-summary") in failed["cause"]
    asked = local_stack.sample_api.request_counts().by_key
    assert any(key.location_id == "loc-001" for key in asked)
    assert not any(key.location_id == stray for key in asked)  # refused before any request
