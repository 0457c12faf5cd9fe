"""Step Functions `glue:startJobRun.sync` through the stack waits for the real local Glue run."""

from __future__ import annotations

import json
import time
import uuid

import pytest


def _machine(local_stack, job_name: str, make_role) -> str:
    definition = {
        "QueryLanguage": "JSONata", "StartAt": "Consolidate",
        "States": {"Consolidate": {
            "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Arguments": {"JobName": job_name, "Arguments": {"--task_id": "{% $states.input.task_id %}"}},
            "Output": "{% {'state': $states.result.JobRunState, 'id': $states.result.Id} %}",
            "End": True}},
    }
    sfn = local_stack.client("stepfunctions")
    cfg = local_stack.config
    role = make_role([{"Effect": "Allow",  # what AWS documents for glue:startJobRun.sync
                       "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                       "Resource": f"arn:aws:glue:{cfg.region}:{cfg.account_id}:job/{job_name}"}])
    return sfn.create_state_machine(name=f"sync-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                    roleArn=role)["stateMachineArn"]


def _run(local_stack, machine_arn: str, task_id: str) -> dict:
    sfn = local_stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"task_id": task_id}))["executionArn"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


@pytest.fixture
def job(local_stack, glue_role):
    s3, glue = local_stack.client("s3"), local_stack.client("glue")
    bucket = f"sync-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    script = ("import sys, time\nargs = dict(zip(sys.argv[1::2], sys.argv[2::2]))\ntime.sleep(1)\n"
              "if args['--task_id'] == 'bad':\n    raise RuntimeError('task bad has no parts')\n")
    s3.put_object(Bucket=bucket, Key="job.py", Body=script.encode())
    name = f"sync-job-{uuid.uuid4().hex[:8]}"
    glue.create_job(Name=name, Role=glue_role, Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/job.py"},
                    ExecutionProperty={"MaxConcurrentRuns": 5})
    return name


def test_sync_returns_the_finished_job_run(local_stack, job, make_role):
    described = _run(local_stack, _machine(local_stack, job, make_role), "t-1")
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["state"] == "SUCCEEDED"
    run = local_stack.client("glue").get_job_run(JobName=job, RunId=output["id"])["JobRun"]
    assert run["Arguments"] == {"--task_id": "t-1"} and run["JobRunState"] == "SUCCEEDED"


def test_sync_fails_the_task_when_the_run_fails(local_stack, job, make_role):
    described = _run(local_stack, _machine(local_stack, job, make_role), "bad")
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert json.loads(described["cause"])["ErrorMessage"] == "RuntimeError: task bad has no parts"
