"""What the dashboard notebook works on: a reused or self-started local stack, and its server command."""

from __future__ import annotations

import socket
import uuid

import pytest
from typer.testing import CliRunner

from toolkit import dashboard, locations
from toolkit.commands.dashboard import app as dashboard_app
from toolkit.dashboard import DashboardError
from toolkit.local.thirdparty import read_locations_csv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_task_comes_from_the_page_address() -> None:
    assert dashboard.task_from_query({"QUERY_STRING": "task=nightly&x=1"}) == "nightly"
    assert dashboard.task_from_query({"QUERY_STRING": "task=+"}) == dashboard.DEFAULT_TASK
    assert dashboard.task_from_query({}, default="other") == "other"


def test_a_running_stack_is_reused_and_deployed(deployed, monkeypatch) -> None:
    monkeypatch.setenv("DSA_ENDPOINT_URL", deployed.config.endpoint_url)
    monkeypatch.setenv("DSA_STACK_NAME", deployed.config.stack_name)
    opened = dashboard.open_target("local", task_id="reuse")
    assert not opened.started_here
    assert opened.config.endpoint_url == deployed.config.endpoint_url
    assert opened.config.aggregator_state_machine == deployed.config.aggregator_state_machine


def test_without_a_running_stack_the_dashboard_starts_one_with_the_sample_locations(monkeypatch) -> None:
    monkeypatch.setenv("DSA_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("DSA_STACK_NAME", f"d{uuid.uuid4().hex[:8]}")
    opened = dashboard.open_target("local", task_id="seeded")
    try:
        assert opened.started_here
        frame = locations.read_locations(opened.config, "seeded")
        sample = read_locations_csv(dashboard.SAMPLE_LOCATIONS)
        assert sorted(frame["location_id"]) == sorted(sample["location_id"])
        assert set(frame["api_url"]) == {opened.stack.sample_api.url}
    finally:
        opened.stack.stop(save=False)


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(DashboardError, match="^target: must be 'local' or 'aws'"):
        dashboard.open_target("gcp")


def test_serving_on_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(dashboard_app, ["serve", "--port", str(port)])
    assert isinstance(result.exception, DashboardError)
    assert str(result.exception).startswith(f"port: 127.0.0.1:{port} cannot be used")


def test_the_server_command_serves_the_dashboard_notebook_on_loopback() -> None:
    command = dashboard.serve_command(9123)
    assert command[1:3] == ["-m", "voila"] and str(dashboard.NOTEBOOK) in command
    assert "--port=9123" in command and "--Voila.ip=127.0.0.1" in command
