"""Issue 14's scenarios: a task's status and output tell the truth about its data, whatever changed
between runs. Each is checked against the sample API's ground truth: no row lost, extra or
duplicated, and the status derived from coverage over the enabled locations."""

from __future__ import annotations

import json
import os
import uuid

import pandas as pd
import pytest

from toolkit import layout, locations, results, runs
from toolkit.local.sample_api import AuthConfig, DatasetParams, FaultPlan, SampleApi

pytestmark = pytest.mark.slow


def _run_id(run: runs.Run) -> str:
    return run.execution_arn.rsplit(":", 1)[1]


def _start(pipeline, task_id: str, **fields) -> runs.Run:
    """Start the aggregator with input fields start_run does not offer (page_limit)."""
    sfn = pipeline.stack.client("stepfunctions")
    response = sfn.start_execution(stateMachineArn=pipeline.config.state_machine_arn(pipeline.config.aggregator_state_machine),
                                   name=f"{task_id}-{uuid.uuid4().hex[:12]}",
                                   input=json.dumps({"task_id": task_id, **fields}))
    return runs.Run(task_id=task_id, execution_arn=response["executionArn"], config=pipeline.config)


def _check(pipeline, task_id: str, location_ids: list[str]) -> None:
    check = pipeline.check(task_id, location_ids)
    assert check.ok, check.summary()


def test_a_subset_rerun_keeps_the_other_locations_and_a_task_never_complete_reads_partial(pipeline, faults) -> None:
    ids = pipeline.stack.sample_api.location_ids()[:3]
    a, b, c = ids
    pipeline.load("subset", ids)
    _, final = pipeline.run("subset", locations=[a])
    assert final.status == "SUCCEEDED"
    task = runs.latest_task(pipeline.config, "subset")
    assert (task.status, task.locations_missing) == ("PARTIAL", 2)  # b and c never produced data
    assert runs.task_status(pipeline.config, "subset").missing == [b, c]
    _check(pipeline, "subset", [a])

    # A strict run of the two missing locations, one of them failing, then a redrive.
    faults({"seed": 2, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": [c]}]})
    run, final = pipeline.run("subset", locations=[b, c], tolerated_failure_percentage=0)
    assert final.status == "FAILED"
    assert runs.reconcile_task(pipeline.config, runs.latest_task(pipeline.config, "subset")).status == "FAILED"
    table = runs.coverage(pipeline.config, "subset").set_index("location_id")
    assert not table.loc[c, "complete"]  # (b may have been aborted with the Map Run, or be complete)
    assert table.loc[c, "failed_run_id"] == _run_id(run) and table.loc[c, "error"]
    pipeline.stack.sample_api.set_faults(None)
    runs.redrive(run)
    final = runs.watch(run, interval=0.5)
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    assert runs.latest_task(pipeline.config, "subset").status == "SUCCEEDED"
    assert runs.task_status(pipeline.config, "subset").status == "SUCCEEDED"
    _check(pipeline, "subset", ids)
    table = runs.coverage(pipeline.config, "subset").set_index("location_id")
    assert table.loc[a, "run_id"] != _run_id(run) and set(table.loc[[b, c], "run_id"]) == {_run_id(run)}
    output = pipeline.output("subset")  # a's rows come from the first run, with its extraction time
    assert set(output.loc[output["location_id"] == a, "extracted_at"]) == {pd.Timestamp(table.loc[a, "extracted_at"])}
    assert set(output["run_id"]) == {_run_id(run)}  # the consolidation that wrote them


def test_a_disabled_location_leaves_the_output_at_the_next_run(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()[3:6]
    pipeline.load("disable", ids)
    _, final = pipeline.run("disable")
    assert final.status == "SUCCEEDED"
    _check(pipeline, "disable", ids)
    locations.set_enabled(pipeline.config, "disable", [ids[2]], False)
    _, final = pipeline.run("disable", locations=[ids[0]])
    assert final.status == "SUCCEEDED"
    assert runs.latest_task(pipeline.config, "disable").status == "SUCCEEDED"
    _check(pipeline, "disable", ids[:2])  # the disabled location's rows are gone, nothing else
    assert list(runs.coverage(pipeline.config, "disable")["location_id"]) == sorted(ids[:2])
    with pytest.raises(runs.RunError, match="every enabled location .* has complete data"):
        runs.rerun(pipeline.config, "disable")


def test_a_new_page_size_replaces_a_locations_pages_instead_of_adding_to_them(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()[6:8]
    pipeline.load("pagesize", ids)
    run = _start(pipeline, "pagesize", page_limit=100)
    assert runs.watch(run, interval=0.5).status == "SUCCEEDED"
    run = _start(pipeline, "pagesize", locations=[ids[0]], page_limit=250)
    assert runs.watch(run, interval=0.5).status == "SUCCEEDED"
    assert runs.latest_task(pipeline.config, "pagesize").status == "SUCCEEDED"
    table = runs.coverage(pipeline.config, "pagesize").set_index("location_id")
    assert (table.loc[ids[0], "page_limit"], table.loc[ids[1], "page_limit"]) == (250, 100)
    _check(pipeline, "pagesize", ids)


def test_a_location_failing_mid_pagination_keeps_its_last_complete_data(pipeline, faults) -> None:
    ids = pipeline.stack.sample_api.location_ids()[8:10]
    flaky, steady = ids
    pipeline.load("midway", ids)
    first_run, final = pipeline.run("midway")
    assert final.status == "SUCCEEDED"
    # Every get-data request of `flaky` fails with probability 0.6, retries included: some pages
    # are written, then one fails beyond its retries (deterministic for the seed).
    faults({"seed": 7, "rules": [{"kind": "error", "rate": 0.6, "status": 500, "locations": [flaky],
                                  "endpoints": ["get-data"], "per": "request"}]})
    second_run, final = pipeline.run("midway")
    assert final.status == "SUCCEEDED"
    s3 = pipeline.stack.client("s3")
    written = s3.list_objects_v2(Bucket=pipeline.config.work_bucket,
                                 Prefix=f"{layout.run_parts_prefix('midway', _run_id(second_run))}{flaky}/")
    assert written.get("KeyCount", 0) > 0  # the failed extraction left parts behind
    table = runs.coverage(pipeline.config, "midway").set_index("location_id")
    assert table.loc[flaky, "run_id"] == _run_id(first_run)  # still its complete extraction
    assert table.loc[flaky, "failed_run_id"] == _run_id(second_run)
    assert table.loc[steady, "run_id"] == _run_id(second_run)
    assert runs.latest_task(pipeline.config, "midway").status == "SUCCEEDED"  # every location has complete data
    _check(pipeline, "midway", ids)  # and the partial pages never reached the output


def test_150_failed_locations_are_all_rerun_by_default(pipeline, faults) -> None:
    config = pipeline.config
    auth = AuthConfig.api_key(os.environ[config.api_key_env], header=config.api_key_header)
    api = SampleApi(DatasetParams(seed=14, locations=150, max_records=3), auth=auth,
                    host=pipeline.stack.host, ca=pipeline.stack.ca)
    with api:
        ids = api.location_ids()
        assert len(ids) == 150
        frame = pd.DataFrame({"task_id": "many", "location_id": ids, "api_url": api.url})
        assert locations.load_locations(config, frame).attrs["written"] == 150
        api.set_faults(FaultPlan.from_dict({"seed": 1, "rules": [{"kind": "not_found", "rate": 1.0}]}))
        _, final = pipeline.run("many", max_concurrency=50)
        assert final.status == "FAILED" and final.error == "Task.AllLocationsFailed"
        assert runs.task_status(config, "many").missing == sorted(ids)
        api.set_faults(None)
        rerun = runs.rerun(config, "many", max_concurrency=50)
        final = runs.watch(rerun, interval=1.0)
        assert final.status == "SUCCEEDED", (final.error, final.cause)
        task = runs.latest_task(config, "many")
        assert task.rerun_locations == sorted(ids) and task.status == "SUCCEEDED"
        check = results.compare_with_ground_truth(results.load_output(config, "many"), api.ground_truth_frame(ids))
        assert check.ok, check.summary()

