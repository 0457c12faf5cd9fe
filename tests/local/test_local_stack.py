"""LocalStack's own contract: env and config, clean stop (no thread, no Glue process), busy ports."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import psutil
import pytest


from toolkit.local.glue import OUTPUT_LOG_GROUP
from toolkit.local.stack import LocalStack, StackError


def _threads_settle(before: set[threading.Thread], timeout: float = 10.0) -> set[threading.Thread]:
    deadline = time.monotonic() + timeout
    extra = {t for t in threading.enumerate() if t not in before and t.is_alive()}
    while extra and time.monotonic() < deadline:
        time.sleep(0.05)
        extra = {t for t in threading.enumerate() if t not in before and t.is_alive()}
    return extra


def test_env_and_config_point_at_the_real_endpoint(local_stack):
    env = local_stack.env()
    assert env["AWS_ENDPOINT_URL"] == local_stack.endpoint_url == local_stack.config.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == local_stack.config.region
    assert local_stack.config.is_local
    assert all(c.up for c in local_stack.components())
    assert local_stack.sample_api is not None and local_stack.sample_api.url.startswith("http://127.0.0.1:")


def test_stop_kills_active_glue_runs_and_leaves_no_thread(make_glue_role):
    before = set(threading.enumerate())
    stack = LocalStack(port=0, sample_api_port=0, time_scale=0.01).start()
    try:
        s3, glue, logs = stack.client("s3"), stack.client("glue"), stack.client("logs")
        bucket = f"stop-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="sleep.py",
                      Body=b"import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(300)\n")
        name = f"stop-{uuid.uuid4().hex[:8]}"
        glue.create_job(Name=name, Role=make_glue_role(stack), Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/sleep.py"})
        run_id = glue.start_job_run(JobName=name)["JobRunId"]
        pid = None
        deadline = time.monotonic() + 60
        while pid is None and time.monotonic() < deadline:
            try:
                lines = [e["message"] for e in logs.get_log_events(
                    logGroupName=OUTPUT_LOG_GROUP, logStreamName=run_id)["events"]]
                pid = next((int(line.split()[1]) for line in lines if line.startswith("pid ")), None)
            except logs.exceptions.ResourceNotFoundException:
                pass
            time.sleep(0.1)
        assert pid is not None and psutil.pid_exists(pid)
    finally:
        stack.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert _threads_settle(before) == set()
    with pytest.raises(StackError, match="not running"):
        stack.endpoint_url


@pytest.mark.parametrize("which", ["port", "sample_api_port"])
def test_busy_port_is_a_clear_error_and_nothing_stays_up(which):
    before = set(threading.enumerate())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        ports = {"port": 0, "sample_api_port": 0, which: busy}
        with pytest.raises(StackError) as caught:
            LocalStack(**ports).start()
    component = "gateway" if which == "port" else "sample API"
    assert str(caught.value).startswith(f"{component}: port {busy} on 127.0.0.1 is already in use")
    assert _threads_settle(before) == set()


def test_time_scale_must_be_positive():
    with pytest.raises(StackError, match="time_scale: must be greater than 0"):
        LocalStack(time_scale=0)
