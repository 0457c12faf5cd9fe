"""The deployed Glue job run by the local stack's Glue runner: the script as uploaded by deploy."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from toolkit import deploy


def _wait(glue, job: str, run_id: str) -> dict:
    for _ in range(600):
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"job run {run_id} did not finish")


@pytest.mark.slow
def test_deployed_job_consolidates_and_reports_failures(local_stack):
    cfg = local_stack.config.replace(stack_name="g" + uuid.uuid4().hex[:10])
    clients = deploy.Clients.create(cfg, local_stack.session())
    deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: "k"})
    try:
        rows = [{"discount_code": f"D{i}", "error_messages": [f'bad "{i}", again'], "status": "failed"}
                for i in range(3)]
        clients.s3.put_object(Bucket=cfg.work_bucket, Key="parts/t1/r1/loc-1/failed/0.json",
                              Body=json.dumps({"task_id": "t1", "rows": rows}).encode())
        clients.s3.put_object(Bucket=cfg.work_bucket, Key="coverage/t1/complete/loc-1.json", Body=json.dumps({
            "task_id": "t1", "location_id": "loc-1", "run_id": "r1", "extracted_at": "2026-12-02T12:00:00.000Z",
            "page_limit": 100, "data_types": [{"data_type": "failed", "pages": 1}]}).encode())
        clients.dynamodb.put_item(TableName=cfg.locations_table,
                                  Item={"task_id": {"S": "t1"}, "location_id": {"S": "loc-1"}})
        arguments = {"--task_id": "t1", "--run_id": "r1", "--locations_table": cfg.locations_table}
        run_id = clients.glue.start_job_run(JobName=cfg.glue_job, Arguments=arguments,
                                             Timeout=600)["JobRunId"]  # the stack runs time 100x faster
        run = _wait(clients.glue, cfg.glue_job, run_id)
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        manifest = json.loads(clients.s3.get_object(Bucket=cfg.output_bucket,
                                                    Key="runs/task_id=t1/run_id=r1/manifest.json")["Body"].read())
        assert manifest["total_rows"] == 3 and manifest["job_run_id"] == run_id
        assert manifest["rows_by_location"] == {"loc-1": {"failed": 3}}

        bad_id = clients.glue.start_job_run(JobName=cfg.glue_job, Arguments={**arguments, "--task_id": "a/b"})["JobRunId"]
        failed = _wait(clients.glue, cfg.glue_job, bad_id)
        assert failed["JobRunState"] == "FAILED"
        assert failed["ErrorMessage"].startswith("ConsolidationError: --task_id: must be")
    finally:
        deploy.teardown(cfg, clients=clients, force=True)
