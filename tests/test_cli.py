"""The dsa CLI shell: help on every command, one-line errors, --debug tracebacks, --json output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def dsa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DSA_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=60)


def _all_command_paths() -> list[list[str]]:
    import typer

    from toolkit.cli import app

    paths: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:
        paths.append(prefix)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, prefix + [name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "dsa")
def test_every_command_has_help(path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_show_json() -> None:
    result = dsa("config", "show", "--json", env={"DSA_STACK_NAME": "clitest"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["locations_table"] == "clitest-locations"


def test_bad_input_is_one_line_on_stderr_with_non_zero_exit() -> None:
    result = dsa("config", "show", env={"DSA_REGION": "nowhere"})
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == ["dsa: error: region: 'nowhere' is not an AWS region name such as us-east-1"]


@pytest.mark.parametrize("command", ["start", "rerun"])
def test_a_task_id_that_is_not_path_safe_is_refused_before_anything_starts(command) -> None:
    # The endpoint is a closed port: the id is checked before any AWS call would fail.
    result = dsa("run", command, "a/b", "--no-watch", env={"DSA_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "dsa: error: task_id: 'a/b' may hold only letters, digits, '-', '_' and '.' (at most 128)"]


def test_a_config_file_with_wrong_types_is_one_line(tmp_path) -> None:
    path = tmp_path / "dsa.yaml"
    path.write_text("data_types: [1, 2]\n")
    result = dsa("config", "show", env={"DSA_CONFIG": str(path)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["dsa: error: data_types: must hold names (strings), got a number (1)"]


def test_debug_shows_the_traceback() -> None:
    result = dsa("--debug", "config", "show", env={"DSA_REGION": "nowhere"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigError" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = dsa("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_a_command_with_no_stack_to_find_names_the_command_that_starts_one(tmp_path) -> None:
    result = dsa("run", "status", env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"dsa: error: no local stack answers at http://127.0.0.1:4566 (the default: no DSA_ENDPOINT_URL and no stack "
        f"recorded in {tmp_path}/dsa/local); start one with `dsa local up --detach`; for a stack started with "
        "--run-dir DIR, run `eval \"$(dsa local env --run-dir DIR)\"`"]


def test_the_variables_local_env_exports_are_not_taken_for_config_fields() -> None:
    exported = {"DSA_RUN_DIR": "/tmp/x", "DSA_SAMPLE_API_URL": "https://127.0.0.1:1",
                "DSA_SAMPLE_API_ADMIN_TOKEN": "t", "DSA_SAMPLE_API_CA": "/tmp/ca.pem", "DSA_LOCAL_IAM": "off"}
    result = dsa("config", "show", "--json", env=exported)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [["local", "up"], ["run", "start"], ["locations", "load"], ["sample-api", "serve"]])
def test_help_keeps_option_names_whole_at_80_columns_and_shows_no_type_on_flags(path) -> None:
    import click
    import typer

    from toolkit.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    result = dsa(*path, "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0
    assert "<bool>" not in result.stdout and all(len(line) <= 80 for line in result.stdout.splitlines())
    words = set(result.stdout.replace(",", " ").split())
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert set(param.opts) <= words, (param.opts, result.stdout)


@pytest.mark.slow
def test_dsa_demo_runs_the_main_job_and_checks_it(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "demo", "--locations", "2", "--port", "0",
                             "--sample-api-port", "0"], capture_output=True, text=True, timeout=900,
                            env={k: v for k, v in os.environ.items() if not k.startswith("DSA_")})  # no API key either
    assert result.returncode == 0, result.stderr
    assert "matches the ground truth" in result.stdout
    assert "locations        2 ok, 0 failed, 2 in all" in result.stdout
