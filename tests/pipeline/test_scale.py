"""Scale is correctness: a task of thousands of tiny locations, and one location of about 300,000
records, each complete and equal to the sample API's ground truth, within AWS's quotas (the
local runtime enforces the 256 KiB payload and the 25,000-event history quotas)."""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest

from toolkit import locations, results, runs
from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi

pytestmark = pytest.mark.slow

HISTORY_QUOTA = 25_000


def _sample_api(pipeline, params: DatasetParams) -> SampleApi:
    """A sample API of its own dataset, with the key the stack's connection sends."""
    config = pipeline.config
    auth = AuthConfig.api_key(os.environ[config.api_key_env], header=config.api_key_header)
    return SampleApi(params, auth=auth, host=pipeline.stack.host, ca=pipeline.stack.ca)


def _run_and_check(pipeline, api: SampleApi, task: str) -> tuple[runs.Run, pd.DataFrame]:
    ids = api.location_ids()
    frame = pd.DataFrame({"task_id": task, "location_id": ids, "api_url": api.url})
    assert locations.load_locations(pipeline.config, frame).attrs["written"] == len(ids)
    run = runs.start_run(pipeline.config, task, max_concurrency=100)
    final = runs.watch(run, interval=2.0)
    assert final.status == "SUCCEEDED", final
    task_record = runs.latest_task(pipeline.config, task)
    assert task_record.status == "SUCCEEDED", task_record
    output = results.load_output(pipeline.config, task)
    check = results.compare_with_ground_truth(output, api.ground_truth_frame(ids))
    assert check.ok, check
    return run, output


def _history_length(pipeline, execution_arn: str) -> int:
    sfn = pipeline.stack.client("stepfunctions")
    return sum(len(page["events"]) for page in sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000}))


def test_a_task_of_thousands_of_tiny_locations_completes(pipeline) -> None:
    params = DatasetParams(seed=11, locations=3500, max_records=3, empty_location_share=0.3)
    with _sample_api(pipeline, params) as api:
        run, output = _run_and_check(pipeline, api, f"many-{uuid.uuid4().hex[:6]}")
    assert len(api.location_ids()) == 3500 and len(output) > 3000
    assert _history_length(pipeline, run.execution_arn) < HISTORY_QUOTA


def test_one_location_of_300_thousand_records_completes_within_the_history_quota(pipeline) -> None:
    params = DatasetParams(seed=1, locations=1, max_records=200_000, empty_location_share=0.0,
                           empty_type_share=0.0)
    with _sample_api(pipeline, params) as api:
        location = api.location_ids()[0]
        assert sum(api.dataset.sizes(location).values()) >= 250_000
        run, output = _run_and_check(pipeline, api, f"big-{uuid.uuid4().hex[:6]}")
    assert len(output) >= 250_000
    sfn = pipeline.stack.client("stepfunctions")
    map_run = sfn.list_map_runs(executionArn=run.execution_arn)["mapRuns"][0]["mapRunArn"]
    child = sfn.list_executions(mapRunArn=map_run)["executions"][0]["executionArn"]
    assert _history_length(pipeline, child) < HISTORY_QUOTA
