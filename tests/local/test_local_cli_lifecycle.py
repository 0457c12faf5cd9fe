"""`dsa local` as an unlucky operator meets it (issue 16): down/up on one port, a bad or broken
data directory, a crashed stack, and the sample API's admin token."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from toolkit.target import SampleApiAdmin, TargetError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exports(dsa: Callable[..., subprocess.CompletedProcess]) -> dict[str, str]:
    env = dsa("env")
    return dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())


@pytest.mark.parametrize("detach", [False, True])
def test_a_data_dir_that_is_not_a_writable_directory_is_refused_at_up(dsa, tmp_path, detach):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for bad, why in ((a_file, "is not a directory"), (a_file / "sub", "is not a writable directory")):
        args = ["up", "--port", "0", "--no-sample-api", "--data-dir", str(bad)] + (["--detach"] if detach else [])
        result = dsa(*args)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [f"dsa: error: --data-dir: {bad} {why}" + (
            " (Not a directory)" if why.endswith("writable directory") else "")]
        assert dsa.state() is None


@pytest.mark.slow
def test_snapshots_are_private_and_a_failed_save_makes_down_fail(dsa, tmp_path):
    data_dir = tmp_path / "data"
    up = ("up", "--detach", "--port", "0", "--no-sample-api", "--data-dir", str(data_dir))
    assert dsa(*up).returncode == 0
    dsa.s3().create_bucket(Bucket="private-bucket")
    down = dsa("down")
    assert down.returncode == 0, down.stderr
    snapshot = data_dir / "snapshot"
    assert _mode(snapshot) == 0o700
    files = list(snapshot.iterdir())
    assert {f.name for f in files} == {"moto.pickle", "states.json", "glue.json", "manifest.json"}
    assert all(_mode(f) == 0o600 for f in files)

    assert dsa(*up).returncode == 0
    # The directory goes away while the stack runs (a full disk, a removed mount): saving fails.
    os.rename(data_dir, tmp_path / "moved")
    data_dir.write_text("not a directory any more")
    down = dsa("down")
    assert down.returncode == 1
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and "the state was NOT saved to" in lines[0] and str(data_dir) in lines[0]
    assert dsa.state() is None
    assert dsa("down").returncode == 0  # reported once, not again


@pytest.mark.slow
def test_down_then_up_on_the_same_port_at_once(dsa):
    assert dsa("up", "--detach", "--port", "0", "--no-sample-api").returncode == 0
    port = dsa.state()["port"]
    s3 = dsa.s3()
    for i in range(5):  # kept-alive connections that the stack closes when it stops (TIME_WAIT)
        s3.create_bucket(Bucket=f"reuse-{i}")
    assert dsa("down").returncode == 0
    again = dsa("up", "--detach", "--port", str(port), "--no-sample-api")
    assert again.returncode == 0, again.stderr
    assert dsa.state()["port"] == port


@pytest.mark.slow
def test_status_after_a_crash_probes_the_crashed_stacks_address(dsa):
    assert dsa("up", "--detach", "--port", "0", "--no-sample-api").returncode == 0
    state = dsa.state()
    os.kill(state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while dsa("status").returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    status = dsa("status")
    assert status.returncode == 1
    assert f"(pid {state['pid']}) is no longer running" in status.stdout
    assert f"gateway  {state['endpoint_url']} " in status.stdout and ":4566" not in status.stdout
    assert "down" in status.stdout


@pytest.mark.slow
def test_up_prints_the_admin_token_and_keeps_it_private(dsa, run_dir):
    up = dsa("up", "--detach", "--port", "0", "--sample-api-port", "0")
    assert up.returncode == 0, up.stderr
    state = dsa.state()
    token = state["sample_api_admin_token"]
    assert token and f"admin token (header X-Dsa-Admin-Token, for faults and ground truth): {token}" in up.stdout
    assert _mode(run_dir / "stack.json") == 0o600 and _mode(run_dir) == 0o700
    assert token not in (run_dir / "stack.log").read_text()
    assert _exports(dsa)["DSA_SAMPLE_API_ADMIN_TOKEN"] == token
    ca = state["sample_api_ca"]
    assert len(SampleApiAdmin(state["sample_api_url"], ca, token).ground_truth_frame(["loc-001"])) > 0
    with pytest.raises(TargetError, match="admin token is missing or wrong"):
        SampleApiAdmin(state["sample_api_url"], ca).ground_truth_frame(["loc-001"])
    assert dsa("down").returncode == 0
