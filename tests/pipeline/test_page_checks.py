"""Pages are checked against what the summary promised and fetched again when they come back
short, garbled or inconsistent; a 429 waits as long as its Retry-After asks (coverage and speed
issues). Run on the deployed workflows against the sample API's fault plans."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from toolkit import failure_causes, layout, spec, workflows
from toolkit.workflows import PART_CHARACTERS

pytestmark = pytest.mark.slow

LOCATIONS = [f"loc-{i:03d}" for i in range(1, 9)]


def test_garbled_and_inconsistent_pages_are_fetched_again_and_nothing_is_lost(pipeline, faults) -> None:
    task = f"garbled-{uuid.uuid4().hex[:6]}"
    pipeline.load(task, LOCATIONS)
    faults({"seed": 7, "rules": [
        {"kind": "malformed", "rate": 0.05, "endpoints": ["get-data"], "per": "request"},
        {"kind": "count_mismatch", "rate": 0.05, "endpoints": ["get-data"], "per": "request"},
    ]})
    run, progress = pipeline.run(task)
    assert progress.status == "SUCCEEDED", progress
    assert pipeline.check(task, LOCATIONS).ok


def _page_fetch_machine(pipeline, kind: str = "STANDARD", connection: str | None = None) -> str:
    """The page-fetch workflow deployed as STANDARD under a new name, so its history can be read
    (through the stack's connection unless ``connection`` names another)."""
    config = pipeline.config
    sfn = pipeline.stack.client("stepfunctions")
    if connection is None:
        connection = pipeline.stack.client("events").describe_connection(Name=config.connection_name)["ConnectionArn"]
    definition = workflows.render_definitions(config, connection)[config.page_fetch_state_machine]
    # The stack's own role, plus the HTTP Task on this copy of the machine (IAM is enforced).
    policy = spec.states_policy(config)
    policy["Statement"].append({"Effect": "Allow", "Action": "states:InvokeHTTPEndpoint", "Resource": "*"})
    policy["Statement"].append({"Effect": "Allow", "Resource": "*", "Action": [
        "events:RetrieveConnectionCredentials", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]})
    iam, name = pipeline.stack.client("iam"), f"pf-{uuid.uuid4().hex[:6]}"
    trust = json.dumps(spec.trust_policy(config, "states"))
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="pf", PolicyDocument=json.dumps(policy))
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role, type=kind)["stateMachineArn"]


def _run(pipeline, machine: str, batch: dict) -> tuple[dict, list[dict]]:
    sfn = pipeline.stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(batch))["executionArn"]
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "page-fetch did not finish"
        time.sleep(0.2)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return described, events


def _batch(pipeline, task: str, location: str, data_type: str, pages: int, offset: int = 0) -> dict:
    total = pipeline.stack.sample_api.dataset.sizes(location)[data_type]
    return {"task_id": task, "run_id": f"{task}-run", "location_id": location, "api_url": pipeline.stack.sample_api.url,
            "data_type": data_type, "total": total, "offset": offset, "pages": pages, "limit": 100}


def test_a_429_waits_as_long_as_retry_after_asks(pipeline, faults) -> None:
    machine = _page_fetch_machine(pipeline)
    faults({"seed": 1, "rules": [{"kind": "throttle", "rate": 1, "first_requests": 1, "per": "request",
                                  "endpoints": ["get-data"], "retry_after": 3}]})
    described, events = _run(pipeline, machine, _batch(pipeline, "t429", "loc-003", "failed", pages=2))
    assert described["status"] == "SUCCEEDED", described
    waits = [e for e in events if e["type"] == "WaitStateEntered"]
    assert len(waits) == 2  # one per page: each page's first request was throttled
    assigned = [json.loads(e["stateExitedEventDetails"]["assignedVariables"]["retryAfter"])
                for e in events if e["type"].endswith("StateExited")
                and "retryAfter" in e.get("stateExitedEventDetails", {}).get("assignedVariables", {})]
    assert assigned == [3, 3]
    assert json.loads(described["output"]) == {"data_type": "failed", "rows": 200, "pages": 2, "part_pages": [2]}


def test_a_page_shorter_than_the_summary_promised_fails_by_name_after_retries(pipeline, faults) -> None:
    machine = _page_fetch_machine(pipeline)
    batch = _batch(pipeline, "tshort", "loc-003", "failed", pages=1)
    batch["total"] += 1000  # the summary promised more rows than the page holds
    batch["offset"] = (batch["total"] - 1000) // 100 * 100  # the last real page, said to be a full one
    described, events = _run(pipeline, machine, batch)
    assert described["status"] == "FAILED"
    assert described["error"] == "Page.Short"
    assert "where the summary promised 100" in described["cause"]
    fetches = [e for e in events if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "Fetch Page"]
    assert len(fetches) == 4  # first try + 3 more
    explained = failure_causes.explain(described["error"], described["cause"])
    assert (explained.failure_class, explained.http_status, explained.attempts) == ("bad data", 200, 4)
    assert json.loads(described["cause"])["class"] == "bad data"  # the workflow's class agrees


def test_an_auth_failure_names_the_apis_message_as_a_setup_problem(pipeline) -> None:
    config, events = pipeline.config, pipeline.stack.client("events")
    wrong = events.create_connection(
        Name=f"wrong-{uuid.uuid4().hex[:6]}", AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": config.api_key_header, "ApiKeyValue": "not-the-key"}})
    machine = _page_fetch_machine(pipeline, connection=wrong["ConnectionArn"])
    described, events_seen = _run(pipeline, machine, _batch(pipeline, "tauth", "loc-003", "failed", pages=2))
    assert described["status"] == "FAILED" and described["error"] == "States.Http.StatusCode.401"
    cause = json.loads(described["cause"])  # the API's message, not the response with its headers
    assert set(cause) == {"message", "status", "class", "attempts"} and "not-the-key" not in described["cause"]
    assert cause["status"] == 401 and cause["attempts"] == 1 and cause["message"]
    explained = failure_causes.explain(described["error"], described["cause"])
    assert explained.failure_class == cause["class"] == "setup" and explained.message == cause["message"]


def test_a_batch_gathers_its_pages_into_parts_that_fit_the_payload_quota(pipeline) -> None:
    """Consecutive pages share a part while their rows stay within PART_CHARACTERS; each part
    sits at its first row's offset, and the output's part_pages name exactly the parts written."""
    machine = _page_fetch_machine(pipeline)
    batch = _batch(pipeline, "tparts", "loc-003", "failed", pages=10, offset=100)
    described, _ = _run(pipeline, machine, batch)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    part_pages = output["part_pages"]
    assert sum(part_pages) == output["pages"] == 10 and 1 < len(part_pages) < 10, part_pages
    s3, bucket = pipeline.stack.client("s3"), pipeline.config.work_bucket
    prefix = layout.part_key("tparts", "tparts-run", "loc-003", "failed", 0).rsplit("/", 1)[0] + "/"
    written = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    offsets = [100 + 100 * sum(part_pages[:i]) for i in range(len(part_pages))]
    assert written == {f"{prefix}{o}.json" for o in offsets}
    expected = pipeline.stack.sample_api.dataset.sizes("loc-003")["failed"]
    seen = 0
    for offset, pages in zip(offsets, part_pages):
        part = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}{offset}.json")["Body"].read())
        assert part["offset"] == offset and len(part["rows"]) == min(100 * pages, expected - offset)
        assert len(json.dumps(part["rows"], separators=(",", ":"))) <= PART_CHARACTERS or pages == 1
        seen += len(part["rows"])
    assert seen == output["rows"] == min(1000, expected - 100)
