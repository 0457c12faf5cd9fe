"""toolkit.runs against the local stack: reading task records never writes them; reconciling is
an explicit step; progress comes back as snapshots for the caller to draw."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from toolkit import runs
from toolkit.spec import table_definitions
from toolkit.layout import TaskRecord

FAILING = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Map.Exceeded", "Cause": "too many"}}}
PASSING = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


@pytest.fixture(scope="module")
def config(local_stack):
    cfg = local_stack.config.replace(stack_name=f"r{uuid.uuid4().hex[:8]}")
    params = table_definitions(cfg)[cfg.tasks_table]
    local_stack.client("dynamodb").create_table(**params)
    yield cfg
    local_stack.client("dynamodb").delete_table(TableName=cfg.tasks_table)


def _ended_execution(stack, definition: dict) -> str:
    sfn = stack.client("stepfunctions")
    name = f"m{uuid.uuid4().hex[:8]}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                       roleArn=f"arn:aws:iam::{stack.config.account_id}:role/any")
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    for _ in range(200):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return arn
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not end")


def _put(stack, cfg, record: TaskRecord) -> None:
    stack.client("dynamodb").put_item(TableName=cfg.tasks_table, Item=record.to_item())


def test_reads_do_not_write_and_reconcile_is_explicit(local_stack, config) -> None:
    task_id = f"t-{uuid.uuid4().hex[:6]}"
    arn = _ended_execution(local_stack, FAILING)
    stored = TaskRecord(task_id=task_id, created_at="2026-12-02T10:00:00.000Z", status="RUNNING", execution_arn=arn)
    _put(local_stack, config, stored)

    assert runs.latest_task(config, task_id) == stored
    listed = runs.list_tasks(config)
    assert list(listed.loc[listed["task_id"] == task_id, "status"]) == ["RUNNING"]
    assert runs.latest_task(config, task_id) == stored  # still as stored: reading wrote nothing

    reconciled = runs.reconcile_task(config, stored)
    assert reconciled.status == "FAILED" and reconciled.error.startswith("Map.Exceeded: too many")
    assert runs.latest_task(config, task_id) == reconciled
    assert runs.reconcile_task(config, reconciled) == reconciled  # nothing left to do


def test_reconcile_leaves_a_record_whose_execution_did_not_fail(local_stack, config) -> None:
    task_id = f"t-{uuid.uuid4().hex[:6]}"
    stored = TaskRecord(task_id=task_id, created_at="2026-12-02T11:00:00.000Z", status="CONSOLIDATING",
                        execution_arn=_ended_execution(local_stack, PASSING))
    _put(local_stack, config, stored)
    assert runs.reconcile_task(config, stored) == stored
    assert [r for r in runs.reconcile_tasks(config) if r.task_id == task_id] == [stored]
    assert runs.latest_task(config, task_id) == stored


def test_follow_yields_snapshots_until_the_run_is_done(local_stack, config) -> None:
    run = runs.Run(task_id="any", execution_arn=_ended_execution(local_stack, FAILING), config=config)
    snapshots = list(runs.follow(run, interval=0.01))
    assert [s.status for s in snapshots] == ["FAILED"] and snapshots[0].done
    seen: list[runs.RunProgress] = []
    final = runs.watch(run, interval=0.01, on_update=seen.append)
    assert seen == [final] and final.error == "Map.Exceeded"
