"""The pipeline's own Retry blocks (asl/), run through the runtime: a DynamoDB task that is
throttled, and a Glue job run refused for too many concurrent runs, are tried again with backoff;
other errors are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ASL = Path(__file__).resolve().parents[3] / "asl"
TEST_RESOURCE = "arn:aws:states:::local:test"
# The optimized DynamoDB integration names errors DynamoDB.*, the AWS SDK integration DynamoDb.*.
THROTTLING = ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded")
# The aggregator's start and lock states are another part's (run start guards); they are not held here.
NOT_HELD = {("aggregator.asl.json", "Record Running")}


def _tasks(resource_part: str) -> list[tuple[str, str, dict]]:
    found = []
    for name in ("aggregator.asl.json", "extraction.asl.json"):
        for state_name, state in json.loads((ASL / name).read_text())["States"].items():
            if state.get("Type") == "Task" and resource_part in state["Resource"]:
                found.append((name, state_name, state))
    return found


def _prefix(state: dict) -> str:
    return "DynamoDb" if ":aws-sdk:dynamodb:" in state["Resource"] else "DynamoDB"


DYNAMODB_TASKS = [t for t in _tasks("dynamodb") if t[:2] not in NOT_HELD]
GLUE_TASKS = _tasks(":glue:startJobRun")


def _flaky(retry: list[dict], error: str, fail_attempts: int) -> dict:
    """A machine whose one Task fails ``fail_attempts`` times with ``error``, then succeeds."""
    return {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TEST_RESOURCE, "Retry": retry, "End": True,
        "Parameters": {"FailAttempts": fail_attempts, "Error": error, "Result": "done"}}}}


def test_every_dynamodb_and_glue_task_is_covered() -> None:
    assert len(DYNAMODB_TASKS) >= 5 and len(GLUE_TASKS) == 1


@pytest.mark.parametrize("asl, state_name, state", DYNAMODB_TASKS, ids=[f"{a}:{s}" for a, s, _ in DYNAMODB_TASKS])
def test_a_throttled_dynamodb_task_is_retried(sfn, unique, asl, state_name, state) -> None:
    for n, reason in enumerate(THROTTLING):
        described = sfn.run(_flaky(state.get("Retry", []), f"{_prefix(state)}.{reason}", 2), name=f"{unique}{n}",
                            timeout=60)
        assert described["status"] == "SUCCEEDED", (state_name, reason, described.get("error"))
        scheduled = [e for e in sfn.history(described["executionArn"]) if e["type"] == "TaskScheduled"]
        assert len(scheduled) == 3
    other = sfn.run(_flaky(state.get("Retry", []), f"{_prefix(state)}.ConditionalCheckFailedException", 1),
                    name=f"{unique}x")
    assert other["status"] == "FAILED"


def test_a_glue_run_refused_for_concurrency_is_retried_with_backoff(sfn, unique) -> None:
    _, _, state = GLUE_TASKS[0]
    described = sfn.run(_flaky(state["Retry"], "Glue.ConcurrentRunsExceededException", 3), name=unique, timeout=60)
    assert described["status"] == "SUCCEEDED", described.get("error")
    events = sfn.history(described["executionArn"])
    failed = [e["timestamp"] for e in events if e["type"] == "TaskFailed"]
    scheduled = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"]
    assert len(failed) == 3 and len(scheduled) == 4
    other = sfn.run(_flaky(state["Retry"], "Glue.EntityNotFoundException", 1), name=f"{unique}x")
    assert other["status"] == "FAILED"
