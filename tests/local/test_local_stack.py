"""LocalStack's own contract: env and config, clean stop (no thread, no Glue process), busy ports."""

from __future__ import annotations

import socket
import subprocess
import sys
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
    assert local_stack.sample_api is not None and local_stack.sample_api.url.startswith("https://127.0.0.1:")
    assert env["DSA_SAMPLE_API_CA"] == str(local_stack.sample_api_ca)


def test_sample_api_serves_tls_that_verifies_only_against_the_stack_ca(local_stack):
    import ssl
    import urllib.error
    import urllib.request

    from toolkit.local.tls import sample_api_context

    url = local_stack.sample_api.url + "/"
    with pytest.raises(urllib.error.URLError) as caught:  # the system's CAs do not know it
        urllib.request.urlopen(url, timeout=5)
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    try:
        urllib.request.urlopen(url, timeout=5, context=sample_api_context(local_stack.sample_api_ca)).close()
    except urllib.error.HTTPError:
        pass  # any HTTP answer means the TLS handshake verified


def test_plain_http_is_an_explicit_opt_in_and_the_ca_file_goes_with_the_stack():
    stack = LocalStack(port=0, sample_api_port=0, sample_api_tls=False).start()
    try:
        assert stack.sample_api.url.startswith("http://127.0.0.1:")
        assert stack.sample_api_ca is None and "DSA_SAMPLE_API_CA" not in stack.env()
        assert stack._integrations.http.settings.allow_plain_http
    finally:
        stack.stop()
    tls = LocalStack(port=0, sample_api_port=0).start()
    try:
        ca = tls.sample_api_ca
        assert ca is not None and ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert not tls._integrations.http.settings.allow_plain_http
        assert tls._integrations.http.settings.ca_file == str(ca)
    finally:
        tls.stop()
    assert not ca.exists()


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
    assert str(caught.value).endswith(f"or choose another with {which}=)")  # the Python API's words, not --port
    assert _threads_settle(before) == set()


def test_time_scale_must_be_positive():
    with pytest.raises(StackError, match="time_scale: must be greater than 0"):
        LocalStack(time_scale=0)


def test_collector_thresholds_are_raised_while_a_stack_runs_and_restored_after_the_last():
    # In a fresh process: the other tests' stacks in this one hold the thresholds already.
    script = """
import gc
from toolkit.local.collector import STACK_THRESHOLDS
from toolkit.local.stack import LocalStack
own = (1234, 9, 8)
gc.set_threshold(*own)
first = LocalStack(port=0, sample_api=False).start()
assert gc.get_threshold() == STACK_THRESHOLDS, gc.get_threshold()
second = LocalStack(port=0, sample_api=False).start()
second.stop(save=False)
assert gc.get_threshold() == STACK_THRESHOLDS, "the first stack still runs"
first.stop(save=False)
assert gc.get_threshold() == own, gc.get_threshold()
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
