"""`dsa sample-api` as a real subprocess, and the files in sample_data/."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.local.sample_api import (DEFAULT_API_URL, DatasetParams, read_locations_csv,
                                      write_locations_csv)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = ROOT / "sample_data"


def http_status(url: str, headers: dict | None = None, ca_file: Path | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def clean_env(extra: dict | None = None) -> dict:
    """The environment minus secrets that would switch auth on (the suite's conftest sets one)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DSA_")}
    return {**base, **(extra or {})}


def start_serve(*args: str, env: dict | None = None, cwd: Path = ROOT) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli", "sample-api", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=clean_env(env))
    url = process.stdout.readline().strip()
    if not url.startswith(("http://", "https://")):
        process.kill()
        raise AssertionError(f"no URL printed: {url!r} {process.communicate(timeout=10)}")
    return process, url


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_over_tls_and_stops_on_signal(stop_signal, tmp_path):
    ca = tmp_path / "ca.pem"
    process, url = start_serve("--seed", "3", "--locations", "4", "--ca-file", str(ca), env={"DSA_API_KEY": "from-env"})
    try:
        assert url.startswith("https://127.0.0.1:")
        status, body = http_status(f"{url}/loc-001/get-summary", {"x-api-key": "from-env"}, ca)
        assert status == 200 and set(json.loads(body)["states"]) == {"failed", "rejected"}
        assert http_status(f"{url}/loc-001/get-summary", ca_file=ca)[0] == 401
        assert http_status(f"{url}/loc-005/get-summary", {"x-api-key": "from-env"}, ca)[0] == 404
        with pytest.raises(urllib.error.URLError):  # not trusted without the CA it wrote
            http_status(f"{url}/loc-001/get-summary")
    finally:
        process.send_signal(stop_signal)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "from-env" not in err and "4 locations" in err, err


def test_serve_without_ca_file_writes_a_temporary_ca_it_names_and_removes(tmp_path):
    process, url = start_serve("--locations", "1", env={"PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    try:
        line = process.stderr.readline()
        ca = Path(line.split("TLS, CA in ", 1)[1].split(";", 1)[0])
        assert ca.is_absolute() and not ca.is_relative_to(tmp_path), line
        assert http_status(f"{url}/loc-001/get-summary", ca_file=ca)[0] == 200  # the CA that signs the server
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0
    assert list(tmp_path.iterdir()) == []  # nothing in the working directory
    assert not ca.exists() and not ca.parent.exists()  # and the temporary CA is gone with the server


def test_serve_with_a_fault_file(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"seed": 1, "rules": [{"kind": "error", "status": 503}]}), encoding="utf-8")
    process, url = start_serve("--faults", str(plan), "--locations", "2", "--plain-http")
    try:
        assert url.startswith("http://127.0.0.1:")  # the explicit plain-http opt-in
        assert http_status(f"{url}/loc-001/get-summary")[0] == 503
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)


def run_dsa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "sample-api", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, env=clean_env())


def test_busy_port_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_dsa("serve", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--port" in result.stderr


def test_bad_fault_file_is_a_one_line_error(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - kind: error\n    rate: 7\n", encoding="utf-8")
    result = run_dsa("serve", "--faults", str(plan))
    assert result.returncode == 1 and "faults.rules[0].rate" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_locations_command_writes_the_csv(tmp_path):
    out = tmp_path / "locations.csv"
    result = run_dsa("locations", "--out", str(out), "--api-url", "http://127.0.0.1:9999", "--task-id", "t-1")
    assert result.returncode == 0, result.stderr
    frame = read_locations_csv(out)
    assert len(frame) == 25 and set(frame["api_url"]) == {"http://127.0.0.1:9999"}
    assert set(frame["task_id"]) == {"t-1"} and frame["enabled"].all()


def test_sample_dataset_file_equals_the_defaults():
    assert DatasetParams.from_file(SAMPLE_DATA / "dataset.yaml") == DatasetParams()


def test_sample_locations_csv_is_up_to_date(tmp_path):
    fresh = write_locations_csv(tmp_path / "locations.csv", DatasetParams.from_file(SAMPLE_DATA / "dataset.yaml"))
    assert (SAMPLE_DATA / "locations.csv").read_bytes() == fresh.read_bytes()
    frame = read_locations_csv(SAMPLE_DATA / "locations.csv")
    assert list(frame.columns) == ["task_id", "location_id", "api_url", "name", "enabled"]
    assert set(frame["api_url"]) == {DEFAULT_API_URL}
    assert frame["name"].str.contains(",").any()  # names survive CSV quoting


@pytest.mark.parametrize("text, problem", [
    ("task_id,location_id,api_url,name\n", "missing column 'enabled'"),
    ("task_id,location_id,api_url,name,enabled\nt,,http://x,n,true\n", "row 2: location_id is empty"),
    ("task_id,location_id,api_url,name,enabled\nt,a,http://x,n,maybe\n", "row 2: enabled"),
    ("task_id,location_id,api_url,name,enabled\nt,a,http://x,n,true\nt,a,http://x,n,true\n", "row 3: duplicate"),
])
def test_bad_locations_csv_names_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ToolkitError, match=problem):
        read_locations_csv(path)


def test_serve_admin_routes_need_the_token_given_or_printed():
    process, url = start_serve("--locations", "2", "--plain-http", env={"DSA_SAMPLE_API_ADMIN_TOKEN": "given-token"})
    try:
        assert http_status(f"{url}/_admin/faults")[0] == 401
        assert http_status(f"{url}/_admin/faults", {"X-Dsa-Admin-Token": "given-token"})[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert "given-token" not in err  # a token the operator chose is not echoed
    process, url = start_serve("--locations", "2", "--plain-http")
    try:
        assert http_status(f"{url}/_admin/faults")[0] == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    printed = [line for line in err.splitlines() if line.startswith("admin token (header X-Dsa-Admin-Token): ")]
    assert len(printed) == 1 and len(printed[0].rsplit(": ", 1)[1]) >= 24
