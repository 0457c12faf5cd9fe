"""Issue 14's guards against the sample API: starts over nothing refused, one run of a task at a
time, a stack restart in the middle of a run, and failures that name their cause (the API's
message, the HTTP status, a class, the HTTP attempts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from toolkit import locations, runs

pytestmark = pytest.mark.slow

PHASE = Path(__file__).with_name("restart_phase.py")


def _executions(pipeline) -> list[str]:
    sfn = pipeline.stack.client("stepfunctions")
    machine = pipeline.config.state_machine_arn(pipeline.config.aggregator_state_machine)
    return [e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


def _task_items(pipeline) -> int:
    return len(pipeline.stack.client("dynamodb").scan(TableName=pipeline.config.tasks_table)["Items"])


def test_two_simultaneous_starts_one_refused_the_other_complete(pipeline, start_together) -> None:
    task = f"twin-{uuid.uuid4().hex[:6]}"
    ids = pipeline.stack.sample_api.location_ids()[:4]
    pipeline.load(task, ids)
    started, refused = start_together(pipeline.config, task)
    assert len(started) == 1 and len(refused) == 1, (started, refused)
    assert refused[0].startswith(f"task_id: task {task!r} is already running ({started[0].execution_arn})")
    assert [arn for arn in _executions(pipeline) if f":{task}-" in arn] == [started[0].execution_arn]
    final = runs.watch(started[0], interval=0.5)
    assert final.status == "SUCCEEDED", final
    assert runs.latest_task(pipeline.config, task).status == "SUCCEEDED"
    assert pipeline.check(task, ids).ok


def test_starts_over_nothing_are_refused_and_start_nothing(pipeline) -> None:
    task = f"few-{uuid.uuid4().hex[:6]}"
    ids = pipeline.stack.sample_api.location_ids()[:2]
    pipeline.load(task, ids)
    executions, items = _executions(pipeline), _task_items(pipeline)
    with pytest.raises(runs.RunError, match=r"^task_id: no task 'not-a-task' in .* \(known tasks: "):
        runs.start_run(pipeline.config, "not-a-task")
    with pytest.raises(runs.RunError, match=rf"^locations: 'not-a-location' is not a location of task '{task}' "
                                            rf"\(it has 2: {ids[0]}, {ids[1]}\)$"):
        runs.start_run(pipeline.config, task, locations=["not-a-location"])
    locations.set_enabled(pipeline.config, task, ids, False)
    with pytest.raises(runs.RunError, match=rf"^task_id: task '{task}' has no enabled location \(all 2 are disabled"):
        runs.start_run(pipeline.config, task)
    with pytest.raises(runs.RunError, match=r"^task_id: no task 'not-a-task'"):
        runs.rerun(pipeline.config, "not-a-task", ["x"])
    assert _executions(pipeline) == executions and _task_items(pipeline) == items


def test_setup_failures_carry_the_apis_message_status_and_attempts(pipeline, faults) -> None:
    """A location the API does not know (404 at its summary), one whose pages answer 404 (in the
    page-fetch workflow) and one answering 500 (retried) are named for what they are."""
    task = f"setup-{uuid.uuid4().hex[:6]}"
    real = pipeline.stack.sample_api.location_ids()[:2]
    pipeline.load(task, ["ghost-404", *real])
    faults({"seed": 2, "rules": [
        {"kind": "not_found", "rate": 1, "locations": [real[0]], "endpoints": ["get-data"]},
        {"kind": "error", "status": 500, "rate": 1, "locations": [real[1]], "endpoints": ["get-summary"]},
    ]})
    run, final = pipeline.run(task)
    assert final.status == "FAILED" and final.error == "Task.AllLocationsFailed", final
    table = runs.failures(run).set_index("location_id")
    ghost, pages, server = table.loc["ghost-404"], table.loc[real[0]], table.loc[real[1]]
    assert (ghost["class"], ghost["http_status"], ghost["attempts"]) == ("setup", 404, 1)
    assert ghost["message"] == "unknown location 'ghost-404'" and ghost["failing_state"] == "Get Summary"
    assert (pages["class"], pages["http_status"], pages["attempts"]) == ("setup", 404, 1)
    assert pages["message"] == f"unknown location {real[0]!r}"
    assert json.loads(pages["cause"])["class"] == "setup"  # page-fetch's own class agrees
    assert (server["class"], server["http_status"], server["message"]) == ("transient", 500, "injected HTTP 500")
    assert server["attempts"] == 5  # the first try and the Retry's 4
    assert not any(m.startswith("{") or "Headers" in m for m in table["message"])
    counts = runs.failure_counts(table.reset_index()).set_index("class")["locations"]
    assert (counts["setup"], counts["transient"], counts.sum()) == (2, 1, 3)


def _phase(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(PHASE), *args], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_stack_restart_in_the_middle_of_a_run_is_reconciled_and_commands_keep_working(tmp_path) -> None:
    data_dir, stack_name = tmp_path / "data", f"rs{uuid.uuid4().hex[:8]}"
    started = _phase("start", str(data_dir), stack_name)
    after = _phase("after", str(data_dir), stack_name, started["execution_arn"])
    lost = (f"execution {started['execution_arn']} does not exist (ExecutionDoesNotExist): it was lost when "
            "the stack was stopped during the run")
    assert after["stored"] == "RUNNING"  # as the stack left it
    assert after["progress"][:2] == ["LOST", "Execution.Lost"] and after["progress"][2].startswith(lost)
    assert after["failures"].startswith(f"execution: {lost}")
    assert [status for status, _ in after["reconciled"]] == ["FAILED"]
    assert after["reconciled"][0][1].startswith(f"Execution.Lost: {lost}")
    assert after["overview"] == [list(after["reconciled"][0])]
    assert after["again"] != started["execution_arn"]  # the lost run's lock did not block a new start
