"""`dsa local up|down|status|env` as a user runs them: real subprocesses, real ports, clear messages."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from toolkit.aws import LOCAL_CREDENTIALS

DSA = str(Path(sys.executable).with_name("dsa"))


def _dsa(*args: str, run_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DSA_"))}
    env["XDG_STATE_HOME"] = str(run_dir.parent)  # never the user's real run directory
    return subprocess.run([DSA, "local", *args, "--run-dir", str(run_dir)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    yield path
    _dsa("down", run_dir=path)  # whatever a failing test left running


def _busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.slow
def test_up_detach_status_env_second_up_down(run_dir):
    up = _dsa("up", "--detach", "--port", "0", "--sample-api-port", "0", run_dir=run_dir)
    assert up.returncode == 0, up.stderr
    assert "running in the background" in up.stdout

    status = _dsa("status", "--json", run_dir=run_dir)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    names = {c["name"]: c for c in report["components"]}
    assert set(names) == {"gateway", "moto", "states", "glue", "sample-api"}
    assert all(c["up"] for c in names.values())
    endpoint = names["gateway"]["address"]

    env = _dsa("env", run_dir=run_dir)
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

    second = _dsa("up", "--port", "0", run_dir=run_dir)
    assert second.returncode == 1
    assert second.stderr.strip().startswith("dsa: error: a local stack is already running (pid ")
    assert len(second.stderr.strip().splitlines()) == 1

    pid = report["pid"]
    down = _dsa("down", run_dir=run_dir)
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert not _pid_running(pid)
    after = _dsa("status", run_dir=run_dir)
    assert after.returncode == 1 and "down" in after.stdout


def _pid_running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_down_with_nothing_running_says_so(run_dir):
    down = _dsa("down", run_dir=run_dir)
    assert down.returncode == 0
    assert down.stdout.strip() == f"no local stack is running (no live state file in {run_dir})"


def test_stale_state_file_is_not_a_running_stack(run_dir):
    run_dir.mkdir(parents=True)
    (run_dir / "stack.json").write_text(json.dumps({
        "pid": 999_999_999, "started": 0, "endpoint_url": "http://127.0.0.1:1", "port": 1,
        "sample_api_url": None, "sample_api_port": None, "data_dir": None}))
    down = _dsa("down", run_dir=run_dir)
    assert down.returncode == 0 and "no local stack is running" in down.stdout
    assert not (run_dir / "stack.json").exists()


@pytest.mark.parametrize("detach", [False, True])
def test_busy_port_is_one_clear_line(run_dir, detach):
    with _busy_port() as sock:
        port = sock.getsockname()[1]
        args = ["up", "--port", str(port), "--sample-api-port", "0"] + (["--detach"] if detach else [])
        result = _dsa(*args, run_dir=run_dir)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"dsa: error: gateway: port {port} on 127.0.0.1 is already in use "
                     "(another local stack? see `dsa local status`; or choose another with --port)"]
    assert not (run_dir / "stack.json").exists()


def test_status_with_nothing_running_probes_and_fails(run_dir):
    with _busy_port() as sock:  # a port nothing answers HTTP on
        port = sock.getsockname()[1]
    result = _dsa("status", "--port", str(port), run_dir=run_dir)
    assert result.returncode == 1
    assert "no local stack is recorded as running" in result.stdout
    assert f"gateway  http://127.0.0.1:{port}" in result.stdout and "down" in result.stdout


def test_bad_time_scale(run_dir):
    result = _dsa("up", "--time-scale", "0", run_dir=run_dir)
    assert result.returncode == 1
    assert result.stderr.strip() == "dsa: error: --time-scale: must be greater than 0, got 0.0"


def _state(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "stack.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


@pytest.mark.slow
def test_foreground_up_runs_until_interrupted(run_dir):
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DSA_"))}
    proc = subprocess.Popen([DSA, "local", "up", "--port", "0", "--no-sample-api", "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while _state(run_dir) is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        state = _state(run_dir)
        assert state is not None and state["pid"] == proc.pid
        status = _dsa("status", run_dir=run_dir)
        assert status.returncode == 0 and "sample-api" not in status.stdout
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "press Ctrl-C to stop" in out and "stopping the local stack" in out
    assert _state(run_dir) is None


@pytest.mark.slow
def test_data_dir_survives_down_and_up(run_dir, tmp_path):
    data_dir = tmp_path / "data"
    args = ("up", "--detach", "--port", "0", "--no-sample-api", "--data-dir", str(data_dir))

    def s3():
        endpoint = _state(run_dir)["endpoint_url"]
        return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)

    assert _dsa(*args, run_dir=run_dir).returncode == 0
    s3().create_bucket(Bucket="kept-bucket")
    s3().put_object(Bucket="kept-bucket", Key="a.txt", Body=b"kept")
    assert _dsa("down", run_dir=run_dir).returncode == 0
    assert _dsa(*args, run_dir=run_dir).returncode == 0
    assert s3().get_object(Bucket="kept-bucket", Key="a.txt")["Body"].read() == b"kept"
