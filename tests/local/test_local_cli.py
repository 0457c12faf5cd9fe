"""`dsa local up|down|status|env` as a user runs them: real subprocesses, real ports, clear messages."""

from __future__ import annotations

import json
import socket
import subprocess

import boto3
import pytest

from toolkit.aws import LOCAL_CREDENTIALS


def _busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.slow
def test_up_detach_status_env_second_up_down(dsa, run_dir):
    up = dsa("up", "--detach", "--port", "0", "--sample-api-port", "0")
    assert up.returncode == 0, up.stderr
    assert "running in the background" in up.stdout

    status = dsa("status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    names = {c["name"]: c for c in report["components"]}
    assert set(names) == {"gateway", "moto", "states", "glue", "sample-api"}
    assert all(c["up"] for c in names.values())
    endpoint = names["gateway"]["address"]

    env = dsa("env")
    exports = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
    assert exports["AWS_ENDPOINT_URL"] == endpoint
    assert exports["AWS_ACCESS_KEY_ID"] == LOCAL_CREDENTIALS["aws_access_key_id"]
    assert exports["AWS_DEFAULT_REGION"] == exports["AWS_REGION"]
    # The sample API serves HTTPS; its CA sits in the run directory and env points at it.
    assert names["sample-api"]["address"].startswith("https://127.0.0.1:")
    assert exports["DSA_SAMPLE_API_CA"] == str(run_dir / "sample-api-ca.pem")
    assert (run_dir / "sample-api-ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    sts = boto3.client("sts", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                       **LOCAL_CREDENTIALS)
    assert sts.get_caller_identity()["Account"]

    second = dsa("up", "--port", "0")
    assert second.returncode == 1
    assert second.stderr.strip().startswith("dsa: error: a local stack is already running (pid ")
    assert len(second.stderr.strip().splitlines()) == 1

    pid = report["pid"]
    down = dsa("down")
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert not _pid_running(pid)
    after = dsa("status")
    assert after.returncode == 1 and "down" in after.stdout


def _pid_running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_down_with_nothing_running_says_so(dsa, run_dir):
    down = dsa("down")
    assert down.returncode == 0
    assert down.stdout.strip() == f"no local stack is running (no live state file in {run_dir})"


def test_stale_state_file_is_not_a_running_stack(dsa, run_dir):
    run_dir.mkdir(parents=True)
    (run_dir / "stack.json").write_text(json.dumps({
        "pid": 999_999_999, "started": 0, "endpoint_url": "http://127.0.0.1:1", "port": 1,
        "sample_api_url": None, "sample_api_port": None, "data_dir": None}))
    down = dsa("down")
    assert down.returncode == 0 and "no local stack is running" in down.stdout
    assert not (run_dir / "stack.json").exists()


@pytest.mark.parametrize("detach", [False, True])
def test_busy_port_is_one_clear_line(dsa, run_dir, detach):
    with _busy_port() as sock:
        port = sock.getsockname()[1]
        args = ["up", "--port", str(port), "--sample-api-port", "0"] + (["--detach"] if detach else [])
        result = dsa(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"dsa: error: gateway: port {port} on 127.0.0.1 is already in use "
                     "(another local stack? see `dsa local status`; or choose another with --port)"]
    assert not (run_dir / "stack.json").exists()


def test_status_with_nothing_running_probes_and_fails(dsa):
    with _busy_port() as sock:  # a port nothing answers HTTP on
        port = sock.getsockname()[1]
    result = dsa("status", "--port", str(port))
    assert result.returncode == 1
    assert "no local stack is recorded as running" in result.stdout
    assert f"gateway  http://127.0.0.1:{port}" in result.stdout and "down" in result.stdout


def test_bad_time_scale(dsa):
    result = dsa("up", "--time-scale", "0")
    assert result.returncode == 1
    assert result.stderr.strip() == "dsa: error: --time-scale: must be greater than 0, got 0.0"


@pytest.mark.slow
def test_foreground_up_runs_until_interrupted(dsa):
    import signal
    import time

    proc = subprocess.Popen(dsa.command("up", "--port", "0", "--no-sample-api"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dsa.environment())
    try:
        deadline = time.monotonic() + 90
        while dsa.state() is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        state = dsa.state()
        assert state is not None and state["pid"] == proc.pid
        status = dsa("status")
        assert status.returncode == 0 and "sample-api" not in status.stdout
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "press Ctrl-C to stop" in out and "stopping the local stack" in out
    assert dsa.state() is None


@pytest.mark.slow
def test_data_dir_survives_down_and_up(dsa, tmp_path):
    data_dir = tmp_path / "data"
    args = ("up", "--detach", "--port", "0", "--no-sample-api", "--data-dir", str(data_dir))
    assert dsa(*args).returncode == 0
    dsa.s3().create_bucket(Bucket="kept-bucket")
    dsa.s3().put_object(Bucket="kept-bucket", Key="a.txt", Body=b"kept")
    assert dsa("down").returncode == 0
    assert dsa(*args).returncode == 0
    assert dsa.s3().get_object(Bucket="kept-bucket", Key="a.txt")["Body"].read() == b"kept"
