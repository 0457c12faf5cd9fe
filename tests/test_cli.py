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


def test_debug_shows_the_traceback() -> None:
    result = dsa("--debug", "config", "show", env={"DSA_REGION": "nowhere"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigError" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = dsa("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
