"""The local Glue jobs API: AWS's shapes and errors, real script runs, logs, stops, timeouts, retries."""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import psutil
import pytest


from toolkit.local.glue import AWSGLUE_STUB_PATH, ERROR_LOG_GROUP, INHERITED_ENVIRONMENT, OUTPUT_LOG_GROUP

# What the runner itself puts in a job's environment (besides the inherited allow-list).
JOB_SET_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
    "AWS_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "HOME", "PYTHONPATH", "PYSPARK_PYTHON",
    "PYSPARK_DRIVER_PYTHON", "PYTHONUNBUFFERED", "SPARK_LOCAL_IP",
}

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"}


@pytest.fixture(scope="module")
def scripts(local_stack):
    """A bucket holding the job scripts of this module; returns a function: script text -> S3 URI."""
    bucket = f"glue-scripts-{uuid.uuid4().hex[:10]}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=bucket)

    def put(text: str) -> str:
        key = f"scripts/{uuid.uuid4().hex[:8]}.py"
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
        return f"s3://{bucket}/{key}"

    put.bucket = bucket  # type: ignore[attr-defined]
    return put


@pytest.fixture(autouse=True)
def _job_role(glue_role):
    """Every job here runs as a role that may read its script and write its logs."""


def _job(glue, script_uri: str, **extra) -> str:
    name = f"job-{uuid.uuid4().hex[:10]}"
    glue.create_job(Name=name, Role="arn:aws:iam::000000000000:role/glue-test-job",
                    Command={"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"}, **extra)
    return name


def _wait(glue, job: str, run_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] in TERMINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} of {job} did not finish in {timeout} s")


def _log_lines(logs, group: str, run_id: str) -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=run_id)["events"]]


# ------------------------------------------------------------------ job definitions
def test_job_definition_lifecycle(local_stack, scripts):
    glue = local_stack.client("glue")
    uri = scripts("print('x')")
    name = _job(glue, uri, DefaultArguments={"--a": "1"}, Tags={"team": "ops"}, WorkerType="G.1X",
                NumberOfWorkers=2)
    job = glue.get_job(JobName=name)["Job"]
    assert job["Name"] == name and job["Command"]["ScriptLocation"] == uri
    assert job["Timeout"] == 2880 and job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["DefaultArguments"] == {"--a": "1"} and job["MaxRetries"] == 0
    assert job["CreatedOn"] == job["LastModifiedOn"]
    # CreateJob again with the same definition is accepted; with another it is refused.
    glue.create_job(Name=name, Role="arn:aws:iam::000000000000:role/glue-test-job", DefaultArguments={"--a": "1"},
                    Command={"Name": "glueetl", "ScriptLocation": uri, "PythonVersion": "3"},
                    WorkerType="G.1X", NumberOfWorkers=2)
    with pytest.raises(glue.exceptions.IdempotentParameterMismatchException):
        glue.create_job(Name=name, Role="other", Command={"Name": "glueetl", "ScriptLocation": uri})
    assert name in glue.list_jobs(Tags={"team": "ops"})["JobNames"]
    assert name not in glue.list_jobs(Tags={"team": "other"})["JobNames"]
    assert name in [j["Name"] for j in glue.get_jobs()["Jobs"]]

    # UpdateJob overwrites the whole definition.
    glue.update_job(JobName=name, JobUpdate={"Role": "r2", "Command": {"Name": "glueetl", "ScriptLocation": uri},
                                             "Timeout": 10})
    updated = glue.get_job(JobName=name)["Job"]
    assert updated["Role"] == "r2" and updated["Timeout"] == 10 and updated["DefaultArguments"] == {}
    assert updated["CreatedOn"] == job["CreatedOn"] and updated["LastModifiedOn"] > job["LastModifiedOn"]

    assert glue.delete_job(JobName=name)["JobName"] == name
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName=name)
    assert glue.delete_job(JobName=name)["JobName"] == name  # deleting a missing job is not an error


def test_bad_input_names_the_field(local_stack, scripts):
    glue = local_stack.client("glue")
    with pytest.raises(glue.exceptions.InvalidInputException, match="Timeout"):
        _job(glue, scripts("pass"), Timeout=20000)
    with pytest.raises(glue.exceptions.InvalidInputException, match="MaxConcurrentRuns"):
        _job(glue, scripts("pass"), ExecutionProperty={"MaxConcurrentRuns": 0})
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName="no-such-job")


def test_worker_types_must_suit_the_job_command(local_stack, scripts):
    """Spark (glueetl) jobs take G.* and R.* workers; G.025X is for streaming, Z.2X for Ray, none for Python shell."""
    glue = local_stack.client("glue")
    uri = scripts("pass")
    invalid = glue.exceptions.InvalidInputException
    for worker_type in ("Z.2X", "G.025X", "Standard"):
        with pytest.raises(invalid, match=f"WorkerType {re.escape(worker_type)} is not supported for Job Command glueetl"):
            _job(glue, uri, WorkerType=worker_type, NumberOfWorkers=2)
    with pytest.raises(invalid, match="^.*Worker Type is not supported for Job Command pythonshell$"):
        glue.create_job(Name=f"job-{uuid.uuid4().hex[:10]}", Role="r", WorkerType="G.1X", NumberOfWorkers=2,
                        Command={"Name": "pythonshell", "ScriptLocation": uri})
    with pytest.raises(invalid, match=re.escape("only [Z.2X] worker types are supported for glueray jobs")):
        glue.create_job(Name=f"job-{uuid.uuid4().hex[:10]}", Role="r", Command={"Name": "glueray", "ScriptLocation": uri})
    with pytest.raises(invalid, match="minimum allowed value of Number of Workers is 2"):
        _job(glue, uri, WorkerType="G.1X", NumberOfWorkers=1)
    with pytest.raises(invalid, match="Command.Name"):
        glue.create_job(Name=f"job-{uuid.uuid4().hex[:10]}", Role="r", Command={"Name": "spark", "ScriptLocation": uri})

    name = _job(glue, uri, WorkerType="G.2X", NumberOfWorkers=2)
    streaming = f"job-{uuid.uuid4().hex[:10]}"
    glue.create_job(Name=streaming, Role="r", WorkerType="G.025X", NumberOfWorkers=2,
                    Command={"Name": "gluestreaming", "ScriptLocation": uri})
    with pytest.raises(invalid, match="WorkerType G.025X is not supported for Job Command glueetl"):
        glue.update_job(JobName=name, JobUpdate={"Role": "r", "WorkerType": "G.025X", "NumberOfWorkers": 2,
                                                 "Command": {"Name": "glueetl", "ScriptLocation": uri}})
    with pytest.raises(invalid, match="WorkerType Z.2X is not supported for Job Command glueetl"):
        glue.start_job_run(JobName=name, WorkerType="Z.2X", NumberOfWorkers=2)
    assert glue.get_job(JobName=name)["Job"]["WorkerType"] == "G.2X"
    assert glue.get_job_runs(JobName=name)["JobRuns"] == []


def test_list_jobs_pages(local_stack, scripts):
    glue = local_stack.client("glue")
    uri = scripts("pass")
    names = {_job(glue, uri) for _ in range(3)}
    seen, token = [], None
    while True:
        page = glue.list_jobs(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["JobNames"]) <= 2
        seen += page["JobNames"]
        token = page.get("NextToken")
        if not token:
            break
    assert names <= set(seen) and len(seen) == len(set(seen))


# ------------------------------------------------------------------ runs
def test_run_gets_glues_own_arguments_first_then_the_merged_job_arguments(local_stack, scripts):
    glue, logs = local_stack.client("glue"), local_stack.client("logs")
    uri = scripts("import sys, json, boto3\n"
                  "print(json.dumps(sys.argv[1:]))\n"
                  "print(len(boto3.client('s3').list_buckets()['Buckets']) > 0)\n")
    name = _job(glue, uri, DefaultArguments={"--a": "1", "--enable-metrics": "true", "--b": "2"},
                NonOverridableArguments={"--c": "4"})
    run_id = glue.start_job_run(JobName=name, Arguments={"--b": "3", "--c": "5", "--enable-spark-ui": "false"})["JobRunId"]
    assert run_id.startswith("jr_")
    run = _wait(glue, name, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"] == {"--b": "3", "--c": "5", "--enable-spark-ui": "false"} and run["Attempt"] == 0
    assert run["CompletedOn"] >= run["StartedOn"] and "ErrorMessage" not in run
    args, reached_s3 = _log_lines(logs, OUTPUT_LOG_GROUP, run_id)
    argv = json.loads(args)
    pairs = list(zip(argv[::2], argv[1::2]))
    cfg = local_stack.config
    assert [k for k, _ in pairs[:5]] == ["--JOB_ID", "--JOB_RUN_ID", "--JOB_NAME", "--job-bookmark-option", "--TempDir"]
    assert re.fullmatch(r"j_[0-9a-f]{64}", pairs[0][1])
    assert pairs[1:5] == [("--JOB_RUN_ID", run_id), ("--JOB_NAME", name),
                          ("--job-bookmark-option", "job-bookmark-disable"),
                          ("--TempDir", f"s3://aws-glue-assets-{cfg.account_id}-{cfg.region}/temporary/")]
    assert pairs[5:7] == [("--enable-metrics", "true"), ("--enable-spark-ui", "false")]
    assert dict(pairs[7:]) == {"--a": "1", "--b": "3", "--c": "4"} and len(pairs) == 10
    assert reached_s3 == "True"
    runs = glue.get_job_runs(JobName=name)["JobRuns"]
    assert [r["Id"] for r in runs] == [run_id]


ARGUMENT_SCRIPT = """
import json, sys
from awsglue.utils import getResolvedOptions
asked = getResolvedOptions(sys.argv, ["ask"])["ask"].split(",")
resolved = getResolvedOptions(sys.argv, asked)
print(json.dumps({k: resolved.get(k) for k in ("JOB_ID", "JOB_RUN_ID", "JOB_NAME", "task_id")}))
"""


def test_scripts_get_glues_parser_rules(local_stack, scripts):
    """A script asking Glue for a reserved argument fails locally as on Glue; the run id comes unasked."""
    glue, logs = local_stack.client("glue"), local_stack.client("logs")
    name = _job(glue, scripts(ARGUMENT_SCRIPT), DefaultArguments={"--task_id": "t-1"})
    refused = glue.start_job_run(JobName=name, Arguments={"--ask": "JOB_NAME,JOB_RUN_ID"})["JobRunId"]
    run = _wait(glue, name, refused)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "RuntimeError: Using reserved arguments --JOB_RUN_ID"

    missing = glue.start_job_run(JobName=name, Arguments={"--ask": "JOB_NAME,no_such_option"})["JobRunId"]
    run = _wait(glue, name, missing)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].endswith("GlueArgumentError: the following arguments are required: --no_such_option")

    fine = glue.start_job_run(JobName=name, Arguments={"--ask": "JOB_NAME,task_id"})["JobRunId"]
    run = _wait(glue, name, fine)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    resolved = json.loads(_log_lines(logs, OUTPUT_LOG_GROUP, fine)[-1])
    assert resolved["JOB_RUN_ID"] == fine and resolved["JOB_NAME"] == name and resolved["task_id"] == "t-1"
    assert resolved["JOB_ID"].startswith("j_")


ENVIRONMENT_SCRIPT = """
import json, os, boto3
masked = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
print(json.dumps({k: ("<set>" if k in masked else v) for k, v in os.environ.items()}))
print(boto3.client("sts").get_caller_identity()["Arn"])
"""


def test_job_gets_only_the_role_session_and_the_stack_endpoint(local_stack, scripts, monkeypatch, make_glue_role):
    """Nothing of the operator's environment reaches a job; its credentials are the assumed role's."""
    api_key = os.environ["DSA_API_KEY"]  # set for the whole session by tests/conftest.py
    glue, logs = local_stack.client("glue"), local_stack.client("logs")
    role = make_glue_role(local_stack, f"glue-job-{uuid.uuid4().hex[:6]}")
    name = f"job-{uuid.uuid4().hex[:10]}"
    glue.create_job(Name=name, Role=role, Command={"Name": "glueetl", "ScriptLocation": scripts(ENVIRONMENT_SCRIPT)})
    # The operator's own settings, in the environment the stack (and so the runner) runs in.
    operator_secret = "operator-" + uuid.uuid4().hex
    monkeypatch.setenv("DSA_PROBE_SECRET", operator_secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", operator_secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOPERATOR")
    monkeypatch.setenv("PYTHONPATH", "/operator/path")
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    run = _wait(glue, name, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    environment_line, identity = _log_lines(logs, OUTPUT_LOG_GROUP, run_id)
    env = json.loads(environment_line)

    assert set(env) <= set(INHERITED_ENVIRONMENT) | JOB_SET_ENVIRONMENT, set(env) - set(INHERITED_ENVIRONMENT)
    assert not [k for k in env if k.startswith("DSA_")]
    assert env["PYTHONPATH"] == str(AWSGLUE_STUB_PATH)
    assert env["AWS_ENDPOINT_URL"] == local_stack.endpoint_url and env["AWS_REGION"] == local_stack.config.region
    assert env["AWS_SECRET_ACCESS_KEY"] == env["AWS_SESSION_TOKEN"] == "<set>"
    # The credentials are the role session's: STS knows the key as the assumed role's, and the
    # runner recorded the same key id for the run (the seam for IAM evaluation).
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_ACCESS_KEY_ID"] == local_stack._glue.role_access_key_id(name, run_id)
    assert identity == f"arn:aws:sts::{local_stack.config.account_id}:assumed-role/{role.split('/')[-1]}/GlueJobRunnerSession"
    # Nothing secret of the operator's, nor the API key, reaches the job's logs or its run record.
    everything = json.dumps(glue.get_job_run(JobName=name, RunId=run_id)["JobRun"], default=str)
    for group in (OUTPUT_LOG_GROUP, ERROR_LOG_GROUP):
        try:
            everything += "\n".join(_log_lines(logs, group, run_id))
        except logs.exceptions.ResourceNotFoundException:
            pass
    assert operator_secret not in everything and api_key not in everything and "AKIAOPERATOR" not in everything
    assert env["AWS_ACCESS_KEY_ID"] not in everything.replace(environment_line, "")


def test_failing_script_ends_failed_with_its_error_and_log(local_stack, scripts):
    glue, logs = local_stack.client("glue"), local_stack.client("logs")
    name = _job(glue, scripts("print('working')\nraise ValueError('no parts for task t-1')\n"))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    run = _wait(glue, name, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: no parts for task t-1"
    assert _log_lines(logs, OUTPUT_LOG_GROUP, run_id) == ["working"]
    errors = _log_lines(logs, ERROR_LOG_GROUP, run_id)
    assert errors[0].startswith("Traceback") and errors[-1] == "ValueError: no parts for task t-1"


def _failed_run_message(glue, script_uri: str) -> str:
    name = _job(glue, script_uri)
    run = _wait(glue, name, glue.start_job_run(JobName=name)["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    return run["ErrorMessage"]


def test_missing_script_fails_the_run(local_stack, scripts):
    glue = local_stack.client("glue")
    location = f"s3://{scripts.bucket}/nothing-here.py"
    assert _failed_run_message(glue, location) == f"Command.ScriptLocation {location}: the object does not exist"
    location = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/job.py"
    assert _failed_run_message(glue, location) == f"Command.ScriptLocation {location}: the bucket does not exist"


def test_script_location_naming_a_folder_fails_the_run_saying_so(local_stack, scripts):
    glue = local_stack.client("glue")
    scripts("print('in the folder')\n")  # the folder scripts/ holds a script
    local_stack.client("s3").put_object(Bucket=scripts.bucket, Key="marked/", Body=b"")  # a console-made folder
    for location in (f"s3://{scripts.bucket}/scripts/", f"s3://{scripts.bucket}/scripts", f"s3://{scripts.bucket}/marked/"):
        assert _failed_run_message(glue, location) == (
            f"Command.ScriptLocation {location} names a folder: give the key of the script object, "
            f"such as {location.rstrip('/')}/job.py"), location


def test_max_retries_starts_new_attempts(local_stack, scripts):
    glue = local_stack.client("glue")
    name = _job(glue, scripts("import sys\nsys.exit(3)\n"), MaxRetries=1)
    first = glue.start_job_run(JobName=name)["JobRunId"]
    assert _wait(glue, name, first)["ErrorMessage"] == "Command failed with exit code 3"
    deadline = time.monotonic() + 60
    while len(glue.get_job_runs(JobName=name)["JobRuns"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    newest = glue.get_job_runs(JobName=name)["JobRuns"][0]
    assert newest["Attempt"] == 1 and newest["PreviousRunId"] == first
    assert _wait(glue, name, newest["Id"])["JobRunState"] == "FAILED"
    time.sleep(0.5)
    assert len(glue.get_job_runs(JobName=name)["JobRuns"]) == 2  # no third attempt


SLEEPER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print("pids", __import__("os").getpid(), child.pid, flush=True)
time.sleep(300)
"""


def _pids_from_log(logs, run_id: str, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in _log_lines(logs, OUTPUT_LOG_GROUP, run_id):
                if line.startswith("pids "):
                    return [int(p) for p in line.split()[1:]]
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.1)
    raise AssertionError("the script never logged its pids")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_batch_stop_kills_the_process_tree_and_frees_the_concurrency_slot(local_stack, scripts):
    glue, logs = local_stack.client("glue"), local_stack.client("logs")
    name = _job(glue, scripts(SLEEPER))
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    pids = _pids_from_log(logs, run_id)
    assert glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING"
    with pytest.raises(glue.exceptions.ConcurrentRunsExceededException):
        glue.start_job_run(JobName=name)
    reply = glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id, "jr_unknown"])
    assert reply["SuccessfulSubmissions"] == [{"JobName": name, "JobRunId": run_id}]
    assert reply["Errors"][0]["JobRunId"] == "jr_unknown"
    assert reply["Errors"][0]["ErrorDetail"]["ErrorCode"] == "EntityNotFoundException"
    assert _wait(glue, name, run_id)["JobRunState"] == "STOPPED"
    assert all(_gone(pid) for pid in pids), "the script or its child survived the stop"
    again = glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
    assert again["SuccessfulSubmissions"] == [] and len(again["Errors"]) == 1


def test_timeout_ends_the_run_in_timeout(local_stack, scripts):
    """Timeout is in minutes, scaled by the stack's time_scale (0.01 here: 1 minute = 0.6 s)."""
    glue = local_stack.client("glue")
    name = _job(glue, scripts(SLEEPER), Timeout=1)
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    run = _wait(glue, name, run_id)
    assert run["JobRunState"] == "TIMEOUT" and "timed out" in run["ErrorMessage"]
    assert run["Timeout"] == 1


SPARK_JOB = """
import argparse, json
import boto3
from pyspark.sql import SparkSession, functions as F

parser = argparse.ArgumentParser()
for name in ("--JOB_NAME", "--JOB_RUN_ID", "--bucket", "--task_id"):
    parser.add_argument(name)
args, _ = parser.parse_known_args()
s3 = boto3.client("s3")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=args.bucket, Prefix=f"parts/{args.task_id}/")["Contents"]]
rows = [r for k in keys for r in json.loads(s3.get_object(Bucket=args.bucket, Key=k)["Body"].read())["rows"]]
spark = SparkSession.builder.master("local[1]").appName(args.JOB_NAME).getOrCreate()
frame = spark.createDataFrame(rows)
totals = {r["status"]: r["n"] for r in frame.groupBy("status").agg(F.count("*").alias("n")).collect()}
s3.put_object(Bucket=args.bucket, Key=f"consolidated/{args.task_id}/totals.json", Body=json.dumps(totals))
spark.stop()
"""


@pytest.mark.slow
def test_spark_job_reads_parts_and_writes_output_through_the_stack(local_stack, scripts):
    glue, s3 = local_stack.client("glue"), local_stack.client("s3")
    bucket = scripts.bucket
    for offset, statuses in ((0, ["failed", "failed"]), (2, ["rejected"])):
        rows = [{"discount_code": f"c{offset + i}", "status": s} for i, s in enumerate(statuses)]
        s3.put_object(Bucket=bucket, Key=f"parts/t-9/loc-1/x/{offset}.json", Body=json.dumps({"rows": rows}))
    name = _job(glue, scripts(SPARK_JOB), DefaultArguments={"--bucket": bucket})
    run_id = glue.start_job_run(JobName=name, Arguments={"--task_id": "t-9"})["JobRunId"]
    run = _wait(glue, name, run_id, timeout=300)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    totals = json.loads(s3.get_object(Bucket=bucket, Key="consolidated/t-9/totals.json")["Body"].read())
    assert totals == {"failed": 2, "rejected": 1}
