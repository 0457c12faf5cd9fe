"""The dashboard page against a deployed local stack: task picker, runs list, attach, graph, children.

A run started outside the page (``runs.start_run``, as the CLI does) with one location failing
on every request and no failure tolerated ends FAILED at its Map state, before consolidation,
so these tests need no Glue job; redriving it (which consolidates) is the slow case.
"""

from __future__ import annotations

import pytest

from toolkit import runs
from toolkit.dashboard.page import Dashboard
from toolkit.dashboard.panels import RunsPanel, known_tasks
from toolkit.local.sample_api import FaultPlan

WAIT_SECONDS = 300


@pytest.fixture(scope="module")
def failed_run(deployed):
    """A FAILED run of task 'failing' (3 locations, the last failing), started outside the page.

    One location at a time, in order, so the two before the failing one succeed (at a higher
    concurrency the Map Run may abort them when the failure ends it).
    """
    api = deployed.stack.sample_api
    ids = sorted(api.ground_truth_frame()["location_id"].unique())[:3]
    deployed.load("failing", ids)
    api.set_faults(FaultPlan.from_dict({"seed": 3, "rules": [
        {"kind": "error", "rate": 1.0, "status": 500, "locations": [ids[-1]]}]}))
    run = runs.start_run(deployed.config, "failing", tolerated_failure_percentage=0, max_concurrency=1)
    final = runs.watch(run, interval=0.3)
    assert final.status == "FAILED" and final.error == "States.ExceedToleratedFailureThreshold"
    return run, ids


def _wait(board: Dashboard) -> runs.RunProgress:
    final = board.monitor.join(WAIT_SECONDS)
    assert final is not None and final.done, "the run did not end in time"
    return final


def test_the_picker_lists_tasks_with_locations_or_runs(deployed, failed_run) -> None:
    deployed.load("only-locations", ["o-1"])
    panel = RunsPanel(deployed.config, "only-locations")
    assert {"failing", "only-locations"} <= set(panel.task.options)
    assert panel.task.value == "only-locations" and "No run of this task yet" in panel.table.value
    panel.task.value = "failing"
    assert panel.run.value == failed_run[0].execution_arn
    assert "<td>FAILED</td>" in panel.table.value
    assert "States.ExceedToleratedFailureThreshold" in panel.table.value  # the record's error
    # Coverage: the two locations extracted before the failure have complete data, the third none.
    assert f"PARTIAL: 2/3 complete; missing {failed_run[1][-1]}" in panel.table.value


def test_a_task_that_does_not_exist_is_named_and_not_created(deployed, failed_run) -> None:
    before = known_tasks(deployed.config)
    board = Dashboard(deployed.config, "no-such-task")
    try:
        assert board.runs.task.value is None
        assert "Task no-such-task does not exist" in board.runs.message.value
        assert board.monitor.run is None and board.monitor.stop_button.disabled
        board.launcher.start.click()
        assert board.launcher.run is None and "task: choose" in board.launcher.status.value
    finally:
        board.close()
    assert known_tasks(deployed.config) == before


def test_the_page_attaches_to_a_run_started_elsewhere_and_draws_it(deployed, failed_run) -> None:
    run, ids = failed_run
    board = Dashboard(deployed.config, "failing", interval=0.3)
    try:
        assert board.monitor.run is not None and board.monitor.run.execution_arn == run.execution_arn
        final = _wait(board)
        assert final.status == "FAILED"
        assert board.monitor.stop_button.disabled
        outcome = board.monitor.outcome.value
        assert "Run FAILED · task FAILED · States.ExceedToleratedFailureThreshold" in outcome
        assert "0 of 0" not in outcome  # a record without counts claims none
        statuses = board.workflow.view.statuses()
        assert statuses["Extract Locations"] == "failed" and statuses["Query Locations"] == "succeeded"
        assert "Consolidate" not in statuses
        svg = board.workflow.graph.value
        assert "Map Run: 3 items · 2 succeeded · 1 failed" in svg
        map_node = svg[svg.index("<title>Extract Locations</title>") - 200:svg.index("<title>Extract Locations</title>")]
        assert "dsa&#45;status&#45;failed" in map_node
        assert board.workflow.state.value == "Extract Locations"
        assert "States.ExceedToleratedFailureThreshold" in board.workflow.state_history.value

        board.workflow.state.value = "Start Task"
        assert "tolerated_failure_percentage" in board.workflow.state_history.value  # its input

        children = board.children
        assert list(children.frame["status"].value_counts().sort_index().items()) == [("FAILED", 1), ("SUCCEEDED", 2)]
        children.filter.value = "FAILED"
        assert list(children.frame["location_id"]) == [ids[-1]]
        assert "1 FAILED child execution(s)" in children.summary.value
        children.filter.value = "SUCCEEDED"
        assert sorted(children.frame["location_id"]) == ids[:-1]
        children.filter.value = "RUNNING"
        assert children.frame.empty and children.rows.value == ""

        failures = board.failures
        assert list(failures.table["location_id"]) == [ids[-1]]
        assert "States.Http.StatusCode.500" in failures.rows.value
        assert not failures.redrive_button.disabled and not failures.rerun_button.disabled
    finally:
        board.close()


@pytest.mark.slow
def test_redrive_from_the_page_resumes_the_failed_run(deployed, failed_run) -> None:
    run, ids = failed_run
    deployed.stack.sample_api.set_faults(None)
    board = Dashboard(deployed.config, "failing", interval=0.3)
    try:
        _wait(board)
        board.failures.redrive_button.click()
        assert board.failures.started == run, board.failures.status.value
        assert board.failures.redrive_button.disabled
        final = _wait(board)
        assert final.status == "SUCCEEDED"
        assert board.workflow.view.statuses()["Extract Locations"] == "succeeded"
        assert board.workflow.view.statuses()["Record Result"] == "succeeded"
        assert "task SUCCEEDED" in board.monitor.outcome.value
        assert board.failures.table.empty and board.failures.redrive_button.disabled
        assert "redrives" in board.runs.table.value
        record = runs.latest_task(deployed.config, "failing")
        assert record.status == "SUCCEEDED" and record.redriven_locations == [ids[-1]]
    finally:
        board.close()
