"""Getting the dashboard's target ready, the page's task parameter, and the server command."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from toolkit import dashboard, locations
from toolkit.commands.dashboard import app as dashboard_app
from toolkit.dashboard import DashboardError
from toolkit.local.sample_api import read_locations_csv
from toolkit.target import SAMPLE_LOCATIONS_CSV, SampleApiAdmin, Target


def _target(deployed, with_sample_api: bool = True) -> Target:
    api = (SampleApiAdmin(deployed.stack.sample_api.url, deployed.stack.sample_api_ca,
                          deployed.stack.sample_api.admin_token) if with_sample_api else None)
    return Target(deployed.config, deployed.stack.session(), api, "test")


def test_the_task_comes_from_the_page_address() -> None:
    assert dashboard.task_from_query({"QUERY_STRING": "task=nightly&x=1"}) == "nightly"
    assert dashboard.task_from_query({"QUERY_STRING": "task=+"}) == dashboard.DEFAULT_TASK
    assert dashboard.task_from_query({}, default="other") == "other"


def test_the_default_task_without_locations_gets_the_sample_ones_on_the_local_stack(deployed) -> None:
    assert dashboard.prepare(_target(deployed, with_sample_api=False), dashboard.DEFAULT_TASK) == 0
    assert locations.read_locations(deployed.config, dashboard.DEFAULT_TASK).empty  # nothing to point at
    sample = read_locations_csv(SAMPLE_LOCATIONS_CSV)
    assert dashboard.prepare(_target(deployed), dashboard.DEFAULT_TASK) == len(sample)
    frame = locations.read_locations(deployed.config, dashboard.DEFAULT_TASK)
    assert sorted(frame["location_id"]) == sorted(sample["location_id"])
    assert set(frame["api_url"]) == {deployed.stack.sample_api.url}


def test_any_other_task_is_never_created(deployed) -> None:
    assert dashboard.prepare(_target(deployed), "mistyped") == 0
    assert locations.read_locations(deployed.config, "mistyped").empty


def test_a_task_with_locations_is_left_as_it_is(deployed) -> None:
    deployed.load("kept", ["k-1"])
    assert dashboard.prepare(_target(deployed), "kept") == 0
    assert list(locations.read_locations(deployed.config, "kept")["location_id"]) == ["k-1"]


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
