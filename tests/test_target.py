"""``toolkit.target.open_target``: the choice a notebook's parameters cell makes, without a stack."""

from __future__ import annotations

import pytest

from toolkit.target import SampleApiAdmin, TargetError, open_target


def test_an_unknown_target_is_refused_by_name() -> None:
    with pytest.raises(TargetError, match="target: must be 'local' or 'aws', got 'gcp'"):
        open_target("gcp")


def test_aws_uses_the_parameters_and_has_no_sample_api(monkeypatch, aws_credentials) -> None:
    monkeypatch.delenv("DSA_STACK_NAME", raising=False)
    target = open_target("aws", region="eu-west-1", stack_name="ops")
    assert target.config.account_id == aws_credentials  # asked of STS, never the local placeholder
    assert target.sample_api is None and target.origin == "aws"
    assert (target.config.target, target.config.region, target.config.stack_name) == ("aws", "eu-west-1", "ops")
    assert target.config.locations_table == "ops-locations"
    assert target.session.region_name == "eu-west-1"


def test_a_bad_stack_name_names_the_field() -> None:
    with pytest.raises(Exception, match="stack_name"):
        open_target("aws", stack_name="Not Valid")


def test_sample_api_admin_reports_an_unreachable_api_in_one_line() -> None:
    admin = SampleApiAdmin("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(TargetError, match="sample API: no answer at http://127.0.0.1:9"):
        admin.ground_truth_frame(["loc-001"])


def test_sample_api_admin_passes_the_token_and_explains_a_missing_one() -> None:
    from toolkit.local.sample_api import DatasetParams, SampleApi

    with SampleApi(dataset=DatasetParams(locations=2)) as api:
        frame = SampleApiAdmin(api.url, admin_token=api.admin_token).ground_truth_frame(api.location_ids()[:1])
        assert len(frame) == len(api.ground_truth(api.location_ids()[:1]))
        assert api.admin_token not in repr(SampleApiAdmin(api.url, admin_token=api.admin_token))
        with pytest.raises(TargetError, match="admin token is missing or wrong; set DSA_SAMPLE_API_ADMIN_TOKEN"):
            SampleApiAdmin(api.url).set_faults(None)


def test_a_local_target_named_by_the_environment_is_used_not_replaced(monkeypatch, tmp_path) -> None:
    # DSA_ENDPOINT_URL names a stack: the notebook uses it and never starts one of its own on 4566.
    monkeypatch.setenv("DSA_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("DSA_RUN_DIR", raising=False)
    with pytest.raises(TargetError, match=r"endpoint_url: no local stack answers at http://127.0.0.1:9 "
                                          r"\(from DSA_ENDPOINT_URL\); start one with `dsa local up --detach`"):
        open_target("local")


def test_an_explicit_run_dir_without_a_stack_names_the_command_that_starts_one(tmp_path) -> None:
    with pytest.raises(TargetError, match=f"run_dir: no local stack is running from {tmp_path}; start one with "
                                          f"`dsa local up --detach --run-dir {tmp_path}`"):
        open_target("local", run_dir=tmp_path)


def test_the_discovery_rule_takes_the_setting_then_the_environment_then_the_recorded_stack(tmp_path) -> None:
    import os

    import psutil

    from toolkit.local.state import StackState, write_state
    from toolkit.target import find_local_stack

    me = psutil.Process()
    run_dir = tmp_path / "dsa" / "local"
    write_state(run_dir, StackState(pid=me.pid, started=me.create_time(), endpoint_url="http://127.0.0.1:7001",
                                    port=7001, sample_api_url="https://127.0.0.1:7002", sample_api_port=7002,
                                    data_dir=None, sample_api_ca="/ca.pem", sample_api_admin_token="tok",
                                    api_key="key"))
    env = {"XDG_STATE_HOME": str(tmp_path)}
    recorded = find_local_stack(environ=env)
    assert (recorded.endpoint, recorded.sample_url, recorded.api_key) == ("http://127.0.0.1:7001",
                                                                          "https://127.0.0.1:7002", "key")
    assert recorded.origin == f"dsa local up ({run_dir})" and "key" not in repr(recorded)
    from_env = find_local_stack(environ={**env, "DSA_ENDPOINT_URL": "http://127.0.0.1:7003",
                                         "DSA_SAMPLE_API_URL": "https://127.0.0.1:7004"})
    assert (from_env.endpoint, from_env.sample_url, from_env.api_key, from_env.origin) == (
        "http://127.0.0.1:7003", "https://127.0.0.1:7004", None, "DSA_ENDPOINT_URL")
    same = find_local_stack(environ={**env, "DSA_ENDPOINT_URL": "http://127.0.0.1:7001"})
    assert same.admin_token == "tok"  # the recorded stack's secrets when the environment names it
    explicit = find_local_stack("http://127.0.0.1:7005", environ={**env, "DSA_ENDPOINT_URL": "http://127.0.0.1:7003"})
    assert (explicit.endpoint, explicit.origin) == ("http://127.0.0.1:7005", "setting")
    assert find_local_stack(environ={"XDG_STATE_HOME": str(tmp_path / "empty")}) is None
    assert os.environ.get("DSA_API_KEY") != "key"  # finding exports nothing
