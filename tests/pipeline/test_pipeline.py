"""The aggregation pipeline end to end on the local stack, checked against the sample API's ground truth.

Each run goes through the real workflows (our Step Functions runtime), the sample API over HTTP
through the EventBridge connection, moto's S3 and DynamoDB, and the Glue job on PySpark.
"""

from __future__ import annotations

import json

import pytest

from toolkit import layout, results, runs

pytestmark = pytest.mark.slow


def test_default_dataset_output_equals_the_ground_truth(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()
    assert len(ids) == 25
    pipeline.load("full", ids)
    run, final = pipeline.run("full")
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    check = pipeline.check("full", ids)
    assert check.ok, check.summary()
    assert check.expected > 10_000
    task = runs.latest_task(pipeline.config, "full")
    assert task.status == "SUCCEEDED"
    assert task.locations_total == 25 and task.locations_failed == 0
    assert task.rows == check.expected
    run_id = run.execution_arn.rsplit(":", 1)[1]
    assert task.output_uri == results.load_manifest(pipeline.config, "full")["csv_uri"]
    assert task.output_uri.endswith(f"/runs/task_id=full/run_id={run_id}/data.csv")
    assert task.execution_arn == run.execution_arn and task.locations_missing == 0
    output = pipeline.output("full")
    assert set(output["run_id"]) == {run_id} and output["extracted_at"].notna().all()
    assert results.latest_run_id(pipeline.config, "full") == run_id


def test_faults_within_the_retry_budget_lose_nothing(pipeline, faults) -> None:
    ids = pipeline.stack.sample_api.location_ids()[:8]
    pipeline.load("flaky", ids)
    faults({"seed": 11, "rules": [
        {"kind": "error", "rate": 0.15, "status": 503},
        {"kind": "error", "rate": 0.1, "status": 500},
        {"kind": "throttle", "rate": 0.1, "retry_after": 1},
        {"kind": "latency", "rate": 0.2, "seconds": 0.05},
    ]})
    _, final = pipeline.run("flaky")
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    assert runs.latest_task(pipeline.config, "flaky").status == "SUCCEEDED"
    check = pipeline.check("flaky", ids)
    assert check.ok, check.summary()


def test_a_location_failing_beyond_retries_is_partial_and_a_rerun_completes_it(pipeline, faults) -> None:
    api = pipeline.stack.sample_api
    ids = [i for i in api.location_ids()[:8]]
    broken = ids[2]
    pipeline.load("partial", ids)
    faults({"seed": 3, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": [broken]}]})
    run, final = pipeline.run("partial")
    assert final.status == "SUCCEEDED"  # the execution succeeds; the task is PARTIAL
    task = runs.latest_task(pipeline.config, "partial")
    assert task.status == "PARTIAL"
    assert task.locations_failed == 1 and task.locations_missing == 1
    state = runs.task_status(pipeline.config, "partial")
    assert (state.status, state.missing) == ("PARTIAL", [broken])
    failed = runs.lost_locations(pipeline.config, task)
    assert [f["location_id"] for f in failed] == [broken]
    assert failed[0]["error"] == "States.TaskFailed" or "500" in failed[0]["error"]

    table = runs.failures(run)
    assert list(table["location_id"]) == [broken]
    assert table.loc[0, "error"] == "States.Http.StatusCode.500"
    assert table.loc[0, "http_status"] == 500
    assert table.loc[0, "class"] == "transient"
    counts = runs.failure_counts(table).set_index("class")["locations"]
    assert counts["transient"] == 1 and counts.sum() == 1

    check = pipeline.check("partial", [i for i in ids if i != broken])
    assert check.ok, check.summary()  # the output holds every other location, exactly

    pipeline.stack.sample_api.set_faults(None)
    rerun = runs.rerun(pipeline.config, "partial")
    final = runs.watch(rerun, interval=0.5)
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    task = runs.latest_task(pipeline.config, "partial")
    assert task.status == "SUCCEEDED"
    assert task.rerun_locations == [broken]
    assert task.locations_total == 1 and task.locations_missing == 0
    assert runs.task_status(pipeline.config, "partial").status == "SUCCEEDED"
    check = pipeline.check("partial", ids)
    assert check.ok, check.summary()  # complete, and nothing duplicated


def test_a_rerun_writes_its_parts_beside_the_last_runs_and_the_output_holds_each_row_once(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()[:3]
    pipeline.load("twice", ids)
    s3 = pipeline.stack.client("s3")

    def part_keys(run: runs.Run) -> list[str]:
        prefix = layout.run_parts_prefix("twice", run.execution_arn.rsplit(":", 1)[1])
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.config.work_bucket, Prefix=prefix)
        return sorted(o["Key"][len(prefix):] for p in pages for o in p.get("Contents", []))

    first_run, first = pipeline.run("twice")
    assert first.status == "SUCCEEDED"
    second_run, second = pipeline.run("twice")
    assert second.status == "SUCCEEDED"
    assert part_keys(second_run) == part_keys(first_run) != []  # same pages, each run under its own prefix
    assert pipeline.check("twice", ids).ok  # read from the second run's parts only: nothing duplicated
    coverage = runs.coverage(pipeline.config, "twice")
    assert set(coverage["run_id"]) == {second_run.execution_arn.rsplit(":", 1)[1]}


def test_a_map_run_beyond_its_tolerance_fails_the_execution_and_a_redrive_completes_it(pipeline, faults) -> None:
    api = pipeline.stack.sample_api
    ids = api.location_ids()[:6]
    broken = ids[1]
    pipeline.load("strict", ids)
    faults({"seed": 5, "rules": [{"kind": "error", "rate": 1.0, "status": 503, "locations": [broken]}]})
    run, final = pipeline.run("strict", tolerated_failure_percentage=0)
    assert final.status == "FAILED"
    assert final.error == "States.ExceedToleratedFailureThreshold"
    stored = runs.latest_task(pipeline.config, "strict")  # the workflow could not record the outcome
    assert stored.status == "RUNNING"  # and reading does not write it
    task = runs.reconcile_task(pipeline.config, stored)
    assert task.status == "FAILED"
    assert task.error.startswith("States.ExceedToleratedFailureThreshold")
    assert runs.latest_task(pipeline.config, "strict") == task
    assert broken in list(runs.failures(run)["location_id"])
    sfn = pipeline.stack.client("stepfunctions")
    succeeded_before = {
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["location_id"]
        for e in sfn.list_executions(mapRunArn=final.map_run_arn, statusFilter="SUCCEEDED")["executions"]
    }

    api.set_faults(None)
    api.reset_counts()
    runs.redrive(run)
    final = runs.watch(run, interval=0.5)
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    task = runs.latest_task(pipeline.config, "strict")
    assert task.status == "SUCCEEDED"
    assert broken in task.redriven_locations and task.redrive_count == 1
    check = pipeline.check("strict", ids)
    assert check.ok, check.summary()
    counts = api.request_counts()
    assert counts.for_location(broken) > 0
    assert all(counts.for_location(location) == 0 for location in succeeded_before)

    with pytest.raises(runs.RunError, match="is SUCCEEDED; only FAILED, TIMED_OUT or ABORTED"):
        runs.redrive(run)


def test_a_quarantined_part_makes_the_task_partial_and_is_reported(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()[:2]
    pipeline.load("corrupt", ids)
    first_run, first = pipeline.run("corrupt")
    assert first.status == "SUCCEEDED"
    # Spoil one part the coverage of ids[0] lists, then rerun only ids[1]: ids[0] is read from coverage.
    s3 = pipeline.stack.client("s3")
    table = runs.coverage(pipeline.config, "corrupt").set_index("location_id")
    data_type = table.loc[ids[0], "data_types"].split(", ")[0]
    bad_key = layout.part_key("corrupt", table.loc[ids[0], "run_id"], ids[0], data_type, 0)
    s3.put_object(Bucket=pipeline.config.work_bucket, Key=bad_key, Body=b'{"rows": [truncated')
    _, final = pipeline.run("corrupt", locations=[ids[1]])
    assert final.status == "SUCCEEDED"
    task = runs.latest_task(pipeline.config, "corrupt")
    assert task.status == "PARTIAL"
    manifest = results.load_manifest(pipeline.config, "corrupt")
    assert manifest["part_files_quarantined"] == 1
    assert [q["key"] for q in manifest["quarantined"]] == [bad_key]
    check = pipeline.check("corrupt", ids)
    assert not check.ok and len(check.missing) > 0 and check.extra.empty and check.duplicated == 0
