"""toolkit.runs.coverage and task_status against the local stack: a task's status comes from the
coverage manifests of its enabled locations (as the extraction workflow writes them)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import pytest

from toolkit import layout, locations, runs
from toolkit.spec import table_definitions


@pytest.fixture(scope="module")
def config(local_stack):
    cfg = local_stack.config.replace(stack_name=f"c{uuid.uuid4().hex[:8]}")
    dynamodb, s3 = local_stack.client("dynamodb"), local_stack.client("s3")
    dynamodb.create_table(**table_definitions(cfg)[cfg.locations_table])
    s3.create_bucket(Bucket=cfg.work_bucket)
    yield cfg
    dynamodb.delete_table(TableName=cfg.locations_table)


def _load(local_stack, cfg, task_id: str, enabled: dict[str, bool]) -> None:
    frame = pd.DataFrame({"task_id": task_id, "location_id": list(enabled), "api_url": "https://api.example.com",
                          "enabled": list(enabled.values())})
    locations.load_locations(cfg, frame)


def _put(local_stack, cfg, key: str, doc: dict) -> None:
    local_stack.client("s3").put_object(Bucket=cfg.work_bucket, Key=key, Body=json.dumps(doc).encode())


def _complete(task_id: str, location_id: str, run_id: str, extracted_at: str | None = None) -> dict:
    extracted_at = extracted_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {"task_id": task_id, "location_id": location_id, "run_id": run_id, "extracted_at": extracted_at,
            "page_limit": 100, "pages": 3, "rows": 250,
            "data_types": [{"data_type": "failed", "total": 250, "pages": 3, "rows": 250},
                           {"data_type": "rejected", "total": 0, "pages": 0, "rows": 0}]}


def test_coverage_lists_each_enabled_location_with_its_complete_run_and_last_failure(local_stack, config) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(local_stack, config, task, {"a": True, "b": True, "c": True, "off": False})
    _put(local_stack, config, layout.coverage_key(task, "a"), _complete(task, "a", "run-1"))
    _put(local_stack, config, layout.coverage_key(task, "b"), _complete(task, "b", "run-1"))
    _put(local_stack, config, layout.failure_key(task, "b"), {"run_id": "run-2", "failed_at": "2026-12-02T13:00:00Z",
                                                            "error": "States.Http.StatusCode.500", "cause": "boom"})
    _put(local_stack, config, layout.failure_key(task, "c"), {"run_id": "run-2", "failed_at": "2026-12-02T13:00:00Z",
                                                            "error": "Page.Short", "cause": "short"})
    _put(local_stack, config, layout.coverage_key(task, "off"), _complete(task, "off", "run-1"))

    table = runs.coverage(config, task)
    assert list(table.columns) == runs.COVERAGE_COLUMNS
    assert list(table["location_id"]) == ["a", "b", "c"]  # the disabled location is not the task's concern
    rows = table.set_index("location_id")
    assert rows.loc["a", "complete"] and rows.loc["a", "run_id"] == "run-1" and rows.loc["a", "rows"] == 250
    assert rows.loc["a", "data_types"] == "failed" and pd.isna(rows.loc["a", "error"])
    assert rows.loc["b", "complete"] and rows.loc["b", "failed_run_id"] == "run-2"  # failed after completing
    assert not rows.loc["c", "complete"] and rows.loc["c", "error"] == "Page.Short" and pd.isna(rows.loc["c", "run_id"])

    state = runs.task_status(config, task)
    assert (state.status, state.locations_enabled, state.locations_complete, state.missing) == ("PARTIAL", 3, 2, ["c"])

    _put(local_stack, config, layout.coverage_key(task, "c"), _complete(task, "c", "run-3"))
    assert runs.task_status(config, task).status == "SUCCEEDED"
    with pytest.raises(runs.RunError, match="every enabled location of task .* has complete data"):
        runs.rerun(config, task)


def test_a_task_with_nothing_complete_is_failed_and_one_without_locations_cannot_be_rerun(local_stack, config) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(local_stack, config, task, {"a": True, "b": True})
    assert runs.task_status(config, task) == runs.TaskStatus(task, "FAILED", 2, 0, ["a", "b"])
    with pytest.raises(runs.RunError, match="has no enabled location"):
        runs.rerun(config, f"t-{uuid.uuid4().hex[:6]}")


def test_a_location_whose_parts_the_lifecycle_rule_may_have_expired_has_no_complete_data(local_stack, config) -> None:
    """Consolidation reads a location's parts from its last complete extraction; once the parts/
    lifecycle rule may have removed them, coverage says so, and the default rerun fetches it again."""
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(local_stack, config, task, {"fresh": True, "old": True})
    now = dt.datetime.now(dt.timezone.utc)
    old = (now - dt.timedelta(days=config.parts_expire_days)).isoformat(timespec="seconds")
    _put(local_stack, config, layout.coverage_key(task, "fresh"), _complete(task, "fresh", "run-2"))
    _put(local_stack, config, layout.coverage_key(task, "old"), _complete(task, "old", "run-1", extracted_at=old))

    rows = runs.coverage(config, task).set_index("location_id")
    assert rows.loc["fresh", "complete"] and not rows.loc["old", "complete"]
    assert rows.loc["old", "run_id"] == "run-1"  # still shown: which run it was, and when its parts expire
    assert dt.datetime.fromisoformat(rows.loc["old", "parts_expire_at"]) < now
    assert runs.task_status(config, task).missing == ["old"]
