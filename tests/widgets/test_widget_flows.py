"""Operator flows driven through the widgets' Python side against a deployed local stack.

A run started with the launcher's button and followed by the monitor, a location failing beyond
its retries listed by the failure browser, a rerun from its button, the results explorer's
counts against the sample API's ground truth, and the monitor's Stop button.
"""

from __future__ import annotations

import json

import pytest

from toolkit import aws, results, runs
from toolkit.local.sample_api import FaultPlan
from toolkit.dashboard.page import Dashboard
from toolkit.widgets import ResultsExplorer

pytestmark = pytest.mark.slow

WAIT_SECONDS = 300


def test_launch_watch_failures_rerun_and_explore(deployed) -> None:
    api = deployed.stack.sample_api
    ids = api.location_ids()[:4]
    with_data = set(api.ground_truth_frame(ids)["location_id"])
    broken = next(i for i in ids if i in with_data)  # some sample locations hold no records
    deployed.load("flow", ids)
    api.set_faults(FaultPlan.from_dict({"seed": 5, "rules": [
        {"kind": "error", "rate": 1.0, "status": 500, "locations": [broken]}]}))
    board = Dashboard(deployed.config, "flow", interval=0.5)
    try:
        board.launcher.concurrency.value = 2
        board.launcher.start.click()
        assert board.launcher.run is not None, board.launcher.status.value
        assert board.launcher.run.execution_arn in board.launcher.status.value
        final = board.monitor.join(WAIT_SECONDS)
        assert final is not None and final.done, "the run did not end in time"
        assert final.status == "SUCCEEDED"
        assert (final.succeeded, final.failed, final.locations_total) == (3, 1, 4)
        assert board.monitor.overall_label.value == "100 %"
        assert board.monitor.task_record.status == "PARTIAL"
        assert "task PARTIAL: 1 of 4 location(s) failed" in board.monitor.outcome.value

        browser = board.failures
        assert list(browser.table["location_id"]) == [broken]
        assert browser.table.loc[0, "class"] == "transient"
        assert broken in browser.rows.value and "States.Http.StatusCode.500" in browser.rows.value
        assert "transient" in browser.counts.value
        assert browser.select.value == (broken,)
        assert not browser.rerun_button.disabled

        assert browser.redrive_button.disabled  # the execution SUCCEEDED: nothing to redrive

        api.set_faults(None)
        browser.rerun_button.click()
        assert browser.started is not None, browser.status.value
        assert board.monitor.run == browser.started  # the page follows the rerun
        rerun_final = board.monitor.join(WAIT_SECONDS)
        assert rerun_final is not None and rerun_final.status == "SUCCEEDED"
        assert (rerun_final.succeeded, rerun_final.locations_total) == (1, 1)
        task = runs.latest_task(deployed.config, "flow")
        assert task.status == "SUCCEEDED" and task.rerun_locations == [broken]
        assert "task SUCCEEDED" in board.monitor.outcome.value
        assert browser.table.empty and "No failed locations" in browser.summary.value
        assert browser.rerun_button.disabled
    finally:
        board.close()
        api.set_faults(None)

    truth = results.expected_rows(api.ground_truth_frame(ids))
    explorer = ResultsExplorer(deployed.config, "flow")
    assert len(explorer.output) == len(truth)
    by_location = explorer.counts().set_index("location_id")["rows"].to_dict()
    assert by_location == truth.groupby("location_id").size().to_dict()
    for location_id, rows in by_location.items():
        assert location_id in explorer.chart.value and f"{rows:,}" in explorer.chart.value

    explorer.filters["data_type"].value = ("rejected",)
    explorer.filters["location_id"].value = (broken,)
    explorer.group_by.value = "status"
    expected = truth[(truth["data_type"] == "rejected") & (truth["location_id"] == broken)]
    assert explorer.counts().set_index("status")["rows"].to_dict() == expected.groupby("status").size().to_dict()
    assert f"{len(expected):,} of {len(truth):,} rows pass the filters" in explorer.status.value


def test_a_run_on_chosen_locations_stopped_from_the_monitor(deployed) -> None:
    ids = deployed.stack.sample_api.location_ids()[:3]
    deployed.load("stopped", ids)
    board = Dashboard(deployed.config, "stopped", interval=0.5)
    try:
        board.launcher.locations.value = (ids[2],)
        board.launcher.start.click()
        run = board.launcher.run
        assert run is not None, board.launcher.status.value
        board.monitor.stop_button.click()
        final = board.monitor.join(WAIT_SECONDS)
        assert final is not None and final.status == "ABORTED"
        assert board.monitor.stop_button.disabled
        assert "Run ABORTED" in board.monitor.outcome.value
        execution = aws.client(deployed.config, "stepfunctions").describe_execution(executionArn=run.execution_arn)
        assert json.loads(execution["input"])["locations"] == [ids[2]]
        assert execution["error"] == "Operator.Stopped"
    finally:
        board.close()
