"""Finding the stack, its key and its faults from the shell: one detached stack in a run directory
of its own (not the default one), and ``dsa`` subprocesses that find it the documented ways."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from toolkit.local.state import read_state

FAULTS = "seed: 7\nrules:\n  - kind: error\n    status: 503\n    locations: [loc-001]\n"


def dsa(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def exports(text: str) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines())


@pytest.fixture(scope="module")
def base_env(tmp_path_factory) -> dict[str, str]:
    """No DSA_/AWS_ variable (no API key either) and an empty default run directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSA_", "AWS_"))}
    env["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def run_dir(base_env, tmp_path_factory):
    """A stack started with ``--run-dir`` and ``--faults``, on free ports."""
    root = tmp_path_factory.mktemp("stack")
    faults = root / "faults.yaml"
    faults.write_text(FAULTS)
    run_dir = root / "run"
    up = dsa("local", "up", "--detach", "--port", "0", "--sample-api-port", "0", "--time-scale", "0.2",
             "--run-dir", str(run_dir), "--faults", str(faults), env=base_env)
    assert up.returncode == 0, up.stderr
    assert f'`eval "$(dsa local env --run-dir {run_dir})"`' in up.stdout
    try:
        yield run_dir
    finally:
        down = dsa("local", "down", "--run-dir", str(run_dir), env=base_env)
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="module")
def shell_env(base_env, run_dir) -> dict[str, str]:
    """A shell after `eval "$(dsa local env --run-dir R)"`."""
    result = dsa("local", "env", "--run-dir", str(run_dir), env=base_env)
    assert result.returncode == 0, result.stderr
    return {**base_env, **exports(result.stdout)}


def test_local_env_prints_the_endpoint_and_sample_api_of_the_run_dir(base_env, run_dir) -> None:
    state = read_state(run_dir)
    assert state is not None and state.port != 4566
    printed = exports(dsa("local", "env", "--run-dir", str(run_dir), env=base_env).stdout)
    assert printed["DSA_ENDPOINT_URL"] == printed["AWS_ENDPOINT_URL"] == state.endpoint_url
    assert printed["DSA_SAMPLE_API_URL"] == state.sample_api_url
    assert printed["DSA_RUN_DIR"] == str(run_dir.resolve())
    assert "DSA_API_KEY" not in printed  # the stack's key stays in its owner-only state file


def test_local_env_without_a_recorded_stack_names_the_command_that_starts_one(base_env) -> None:
    result = dsa("local", "env", env=base_env)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dsa: error: no local stack is running from ") and "`dsa local up --detach`" in line


def test_commands_find_the_stack_through_the_environment_local_env_prints(shell_env, run_dir) -> None:
    shown = json.loads(dsa("config", "show", "--json", env=shell_env).stdout)
    assert shown["endpoint_url"] == read_state(run_dir).endpoint_url


def test_commands_find_the_recorded_stack_in_the_default_run_dir(base_env, run_dir, tmp_path) -> None:
    # The same stack seen as the default run directory's (XDG_STATE_HOME/dsa/local) recorded stack.
    default = tmp_path / "dsa" / "local"
    default.mkdir(parents=True)
    (default / "stack.json").write_bytes((run_dir / "stack.json").read_bytes())
    env = {**base_env, "XDG_STATE_HOME": str(tmp_path)}
    shown = json.loads(dsa("config", "show", "--json", env=env).stdout)
    assert shown["endpoint_url"] == read_state(run_dir).endpoint_url
    # The environment comes before the recorded stack.
    env["DSA_ENDPOINT_URL"] = "http://127.0.0.1:9"
    assert json.loads(dsa("config", "show", "--json", env=env).stdout)["endpoint_url"] == "http://127.0.0.1:9"
    failed = dsa("run", "status", env=env)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "dsa: error: no local stack answers at http://127.0.0.1:9 (from DSA_ENDPOINT_URL); see `dsa local status`, "
        "or start one with `dsa local up --detach`; for a stack started with --run-dir DIR, "
        "run `eval \"$(dsa local env --run-dir DIR)\"`"]


def test_faults_show_set_clear_on_the_running_sample_api(shell_env, tmp_path) -> None:
    shown = json.loads(dsa("sample-api", "faults", "show", "--json", env=shell_env).stdout)
    assert shown["seed"] == 7 and [r["status"] for r in shown["rules"]] == [503]  # from `up --faults`
    text = dsa("sample-api", "faults", "show", env=shell_env).stdout
    assert text.splitlines() == ["seed 7, 1 fault rule(s)", "  0: error locations=loc-001 status=503"]

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"seed": 3, "rules": [{"kind": "throttle", "rate": 0.5}]}))
    assert dsa("sample-api", "faults", "set", str(plan), env=shell_env).returncode == 0
    shown = json.loads(dsa("sample-api", "faults", "show", "--json", env=shell_env).stdout)
    assert shown["seed"] == 3 and [(r["kind"], r["rate"]) for r in shown["rules"]] == [("throttle", 0.5)]

    cleared = dsa("sample-api", "faults", "clear", env=shell_env)
    assert cleared.returncode == 0 and cleared.stdout.startswith("seed 0, 0 fault rule(s)")
    assert json.loads(dsa("sample-api", "faults", "show", "--json", env=shell_env).stdout)["rules"] == []


def test_faults_set_refuses_a_bad_plan_in_one_line_naming_the_field(shell_env, tmp_path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - kind: error\n    rate: 2\n")
    result = dsa("sample-api", "faults", "set", str(plan), env=shell_env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"dsa: error: plan_file: {plan}: faults.rules[0].rate: must be a number between 0 and 1, got 2"]


def test_up_refuses_a_bad_faults_file_before_starting(base_env, tmp_path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - kind: explode\n")
    result = dsa("local", "up", "--port", "0", "--faults", str(plan), "--run-dir", str(tmp_path / "r"), env=base_env)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"dsa: error: --faults: {plan}: faults.rules[0].kind: must be one of ")
    assert not (tmp_path / "r" / "stack.json").exists()


def test_the_stack_makes_its_own_api_key_and_deploy_sends_it_unprinted(shell_env, run_dir) -> None:
    state = read_state(run_dir)
    key = state.api_key
    assert key and "DSA_API_KEY" not in shell_env
    context = ssl.create_default_context(cafile=state.sample_api_ca)
    url = f"{state.sample_api_url}/loc-001/get-summary"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, context=context, timeout=10)
    assert refused.value.code == 401  # the sample API wants a key although none was exported
    request = urllib.request.Request(url, headers={"x-api-key": key})
    with urllib.request.urlopen(request, context=context, timeout=10) as reply:
        assert reply.status == 200

    env = {**shell_env, "DSA_STACK_NAME": "keyless"}
    deployed = dsa("deploy", "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    try:
        report = json.loads(deployed.stdout)
        assert (report["stack"], report["plan"]) == ("keyless", False)
        assert {c["action"] for c in report["changes"]} == {"create"} and "create" in report["summary"]
        plan = json.loads(dsa("deploy", "--plan", "--json", env=env).stdout)
        assert plan["plan"] and all(c["action"] == "unchanged" for c in plan["changes"])
        printed = deployed.stdout + deployed.stderr + (run_dir / "stack.log").read_text()
        assert key not in printed
    finally:
        assert dsa("teardown", "--force", env=env).returncode == 0


def test_teardown_plan_and_a_refusal_in_the_words_of_each_interface(shell_env, run_dir) -> None:
    import boto3

    from toolkit import deploy
    from toolkit.config import StackConfig

    env = {**shell_env, "DSA_STACK_NAME": "planned"}
    assert dsa("deploy", env=env).returncode == 0
    config = StackConfig.load(environ=env)
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=config.region)
    session.client("s3", endpoint_url=config.endpoint_url).put_object(
        Bucket=config.output_bucket, Key="consolidated/t/x.csv", Body=b"a\n")
    try:
        plan = json.loads(dsa("teardown", "--plan", "--json", env=env).stdout)
        assert plan["plan"] and plan["changes"] and {c["action"] for c in plan["changes"]} == {"delete"}
        text = dsa("teardown", "--plan", env=env).stdout.splitlines()
        assert text[-1] == f"teardown plan for stack planned (local): {len(plan['changes'])} delete"
        refused = dsa("teardown", env=env)
        assert refused.returncode == 1 and "run `dsa teardown --force` to delete it" in refused.stderr
        with pytest.raises(deploy.DeployError, match="call teardown with force=True to delete it"):
            deploy.teardown(config, session)
        assert json.loads(dsa("teardown", "--plan", "--json", env=env).stdout) == plan  # nothing was deleted
    finally:
        assert dsa("teardown", "--force", env=env).returncode == 0
    gone = json.loads(dsa("teardown", "--plan", "--json", env=env).stdout)
    assert {c["action"] for c in gone["changes"]} == {"absent"}
