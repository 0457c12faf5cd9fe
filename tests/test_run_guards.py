"""Guards on starting a run, against the local stack: starts over nothing are refused before
anything is written, one run of a task at a time (a conditional write on the task's run lock),
and a run whose execution no longer exists is reconciled to a status that says so."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from toolkit import locations, run_lock, runs
from toolkit.layout import TaskRecord
from toolkit.spec import table_definitions

WAITING = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 100000, "End": True}}}


@pytest.fixture(scope="module")
def config(local_stack):
    """A config of its own with both tables, and an aggregator that waits (nothing is extracted)."""
    cfg = local_stack.config.replace(stack_name=f"g{uuid.uuid4().hex[:8]}")
    ddb = local_stack.client("dynamodb")
    for params in table_definitions(cfg).values():
        ddb.create_table(**params)
    yield cfg
    for name in table_definitions(cfg):
        ddb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def aggregator(local_stack, config):
    """The config's aggregator state machine, as a Wait state: a run stays RUNNING until stopped."""
    iam, name = local_stack.client("iam"), f"guards-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "states.amazonaws.com"}}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sfn = local_stack.client("stepfunctions")
    return sfn.create_state_machine(name=config.aggregator_state_machine, definition=json.dumps(WAITING),
                                    roleArn=role)["stateMachineArn"]


def _load(config, task: str, ids: list[str], enabled: bool = True) -> None:
    frame = pd.DataFrame({"task_id": task, "location_id": ids, "api_url": "http://127.0.0.1:9", "enabled": enabled})
    assert locations.load_locations(config, frame).attrs["written"] == len(ids)


def _tasks_items(local_stack, config, task: str) -> list[dict]:
    items = local_stack.client("dynamodb").scan(TableName=config.tasks_table)["Items"]
    return [i for i in items if i["task_id"]["S"] in (task, f"{run_lock.LOCK_PREFIX}{task}")]


def _executions(local_stack, machine: str) -> list[dict]:
    return local_stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def _stop(local_stack, run: runs.Run) -> None:
    local_stack.client("stepfunctions").stop_execution(executionArn=run.execution_arn)


def test_starts_over_nothing_are_refused_saying_what_exists(local_stack, config, aggregator) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["loc-1", "loc-2"])
    off = f"off-{uuid.uuid4().hex[:6]}"
    _load(config, off, ["loc-1", "loc-2", "loc-3"], enabled=False)
    before = len(_executions(local_stack, aggregator))

    with pytest.raises(runs.RunError, match=rf"^task_id: no task 'tsak' in {config.locations_table} "
                                            rf"\(known tasks: .*{task}.*\)$"):
        runs.start_run(config, "tsak")
    with pytest.raises(runs.RunError, match=rf"^locations: 'not-a-location' is not a location of task "
                                            rf"'{task}' \(it has 2: loc-1, loc-2\)$"):
        runs.start_run(config, task, locations=["loc-1", "not-a-location"])
    with pytest.raises(runs.RunError, match=rf"^task_id: task '{off}' has no enabled location \(all 3 are disabled"):
        runs.start_run(config, off)
    with pytest.raises(runs.RunError, match=r"^task_id: 'a/b' may hold only"):
        runs.start_run(config, "a/b")

    assert len(_executions(local_stack, aggregator)) == before  # nothing started
    assert _tasks_items(local_stack, config, task) == [] and _tasks_items(local_stack, config, off) == []


def test_require_task_names_the_locations_a_run_covers(config) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["a", "b"])
    locations.set_enabled(config, task, ["b"], False)
    assert [loc.location_id for loc in locations.require_task(config, task)] == ["a"]
    assert [loc.location_id for loc in locations.require_task(config, task, ["b"])] == ["b"]  # named: run it
    with pytest.raises(locations.LocationsError, match=r"^locations: the list of locations to run is empty$"):
        locations.require_task(config, task, [])


def test_of_simultaneous_starts_one_runs_and_the_others_are_refused_naming_it(local_stack, config, aggregator,
                                                                              start_together) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["loc-1"])
    started, refused = start_together(config, task, 4)
    assert len(started) == 1, refused
    winner = started[0]
    assert refused == [f"task_id: task {task!r} is already running ({winner.execution_arn}); "
                       "wait for it, or pass force=True to start another run"] * 3
    mine = [e for e in _executions(local_stack, aggregator) if e["name"].startswith(task)]
    assert [e["executionArn"] for e in mine] == [winner.execution_arn]

    _stop(local_stack, winner)  # the run ended: its lock is taken over by the next start
    following = runs.start_run(config, task)
    assert following.execution_arn != winner.execution_arn
    forced = runs.start_run(config, task, force=True)  # force takes it from a running execution
    with pytest.raises(runs.RunError, match=r"is already running \(" + forced.execution_arn):
        runs.start_run(config, task)
    _stop(local_stack, following)
    _stop(local_stack, forced)


def test_run_locks_are_not_runs(local_stack, config, aggregator) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["loc-1"])
    run = runs.start_run(config, task)
    assert _tasks_items(local_stack, config, task)  # the lock is there...
    assert task not in set(runs.list_tasks(config)["task_id"])  # ...but no run is listed
    assert all(not r.task_id.startswith(run_lock.LOCK_PREFIX) for r in runs.reconcile_tasks(config))
    assert runs.latest_task(config, task) is None
    _stop(local_stack, run)


def test_a_lock_naming_a_lost_execution_is_taken_over_but_one_being_started_is_not(local_stack, config,
                                                                                    aggregator) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["loc-1"])
    gone = aggregator.replace(":stateMachine:", ":execution:") + ":never-started"
    ddb = local_stack.client("dynamodb")
    starting = run_lock.RunLock(task, gone, run_lock.STARTING, "2999-01-01T00:00:00.000+00:00")
    ddb.put_item(TableName=config.tasks_table, Item=starting.to_item())
    with pytest.raises(runs.RunError, match=f"is already running \\({gone}\\)"):
        runs.start_run(config, task)  # another start is between its lock and StartExecution

    lost = run_lock.RunLock(task, gone, run_lock.STARTED, "2026-12-02T10:00:00.000+00:00")
    ddb.put_item(TableName=config.tasks_table, Item=lost.to_item())
    run = runs.start_run(config, task)  # started, then lost (a restarted local stack): taken over
    held = run_lock.RunLock.from_item(ddb.get_item(TableName=config.tasks_table, Key=lost.key())["Item"])
    assert held.execution_arn == run.execution_arn and held.state == run_lock.STARTED
    _stop(local_stack, run)


def test_a_run_whose_execution_no_longer_exists_is_reconciled_to_say_so(local_stack, config, aggregator) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    gone = aggregator.replace(":stateMachine:", ":execution:") + f":{task}-lost"
    stored = TaskRecord(task_id=task, created_at="2026-12-02T10:00:00.000Z", status="RUNNING", execution_arn=gone)
    local_stack.client("dynamodb").put_item(TableName=config.tasks_table, Item=stored.to_item())
    run = runs.Run(task_id=task, execution_arn=gone, config=config)

    snapshot = runs.progress(run)
    assert snapshot.done and snapshot.status == runs.LOST and snapshot.error == "Execution.Lost"
    assert [s.status for s in runs.follow(run, interval=0.01)] == [runs.LOST]
    missing = f"^execution: execution {gone} does not exist \\(ExecutionDoesNotExist\\): it was lost"
    with pytest.raises(runs.RunError, match=missing):
        runs.failures(run)
    with pytest.raises(runs.RunError, match=missing):
        runs.history(config, gone)

    reconciled = [r for r in runs.reconcile_tasks(config) if r.task_id == task]  # the overview keeps working
    assert [r.status for r in reconciled] == ["FAILED"]
    assert reconciled[0].error.startswith(f"Execution.Lost: execution {gone} does not exist (ExecutionDoesNotExist): "
                                   "it was lost when the stack was stopped")
    assert runs.latest_task(config, task) == reconciled[0]


def test_a_start_that_step_functions_refuses_leaves_no_lock(local_stack, config, aggregator) -> None:
    task = f"t-{uuid.uuid4().hex[:6]}"
    _load(config, task, ["loc-1"])
    missing = config.replace(aggregator_state_machine=f"{config.stack_name}-not-deployed")
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        runs.start_run(missing, task)
    assert _tasks_items(local_stack, config, task) == []  # released: the next start is not blocked
    _stop(local_stack, runs.start_run(config, task))
