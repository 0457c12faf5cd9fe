"""dsa doctor on the local stack: a healthy stack passes; each broken part gives exactly its line."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
from typer.testing import CliRunner

from toolkit import deploy, doctor, layout, locations, spec
from toolkit.cli import app as dsa


@pytest.fixture(scope="module")
def stack(local_stack):
    """A deployed stack whose HTTP Task may call the sample API as https://127.0.0.1:{port} only."""
    cfg = local_stack.config.replace(stack_name=f"d{uuid.uuid4().hex[:8]}",
                                     api_endpoints=(f"{local_stack.sample_api.url}/*",))
    deploy.deploy(cfg)
    frame = pd.DataFrame({"task_id": "t1", "location_id": ["loc-001", "loc-002"],
                          "api_url": local_stack.sample_api.url})
    assert locations.load_locations(cfg, frame).attrs["written"] == 2
    yield cfg
    deploy.teardown(cfg, force=True)


def _env(local_stack, cfg) -> dict[str, str]:
    return {"DSA_ENDPOINT_URL": local_stack.endpoint_url, "DSA_STACK_NAME": cfg.stack_name,
            "DSA_API_ENDPOINTS": ",".join(cfg.api_endpoints), "DSA_CONFIG": ""}


def test_a_healthy_stack_passes_every_check(local_stack, stack):
    report = doctor.run(stack)
    assert report.ok, report.problems
    assert report.facts["account"] == stack.account_id and report.facts["partition"] == "aws"
    # Every statement of both roles was simulated, with the HTTP Task's condition values.
    wanted = sum(len(doctor.permission_checks(role)) for role in spec.stack_spec(stack).roles)
    assert report.checks == wanted + 6  # identity, two roles, connection, script, locations
    http = [c for c in doctor.permission_checks(spec.stack_spec(stack).roles[0]) if c.context]
    assert http[0].context == (("states:HTTPEndpoint", f"{local_stack.sample_api.url}/doctor"),
                               ("states:HTTPMethod", "GET"))
    result = CliRunner().invoke(dsa, ["doctor"], env=_env(local_stack, stack))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"all {report.checks} checks passed")


def _remove_action(local_stack, cfg, action: str):
    iam = local_stack.client("iam")
    policy = spec.states_policy(cfg)
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    iam.put_role_policy(RoleName=cfg.states_role, PolicyName=f"{cfg.states_role}-policy",
                        PolicyDocument=json.dumps(policy))


def _load_stray(local_stack, cfg, api_url: str):
    frame = pd.DataFrame({"task_id": "t2", "location_id": ["stray"], "api_url": [api_url]})
    assert locations.load_locations(cfg.replace(api_endpoints=()), frame).attrs["written"] == 1


def _broken_cases(local_stack, cfg):
    sample = local_stack.sample_api.url
    glue_job = spec.arn(cfg, "glue", f"job/{cfg.glue_job}")
    return {
        "permission": (lambda: _remove_action(local_stack, cfg, "glue:GetJobRun"),
                       f"role {cfg.states_role}: may not glue:GetJobRun on {glue_job} (implicitDeny)"),
        "connection": (lambda: local_stack.client("events").delete_connection(Name=cfg.connection_name),
                       f"connection {cfg.connection_name}: does not exist (dsa deploy creates it)"),
        "script": (lambda: local_stack.client("s3").delete_object(Bucket=cfg.work_bucket, Key=layout.SCRIPT_KEY),
                   f"glue script: s3://{cfg.work_bucket}/{layout.SCRIPT_KEY} is missing (dsa deploy uploads it)"),
        "http": (lambda: _load_stray(local_stack, cfg, sample.replace("https://", "http://")),
                 f"location t2/stray: api_url: {sample.replace('https://', 'http://')!r} is not https:// "
                 "(AWS's HTTP Task calls HTTPS endpoints only); "  # every problem of the row, not only the first
                 f"api_url: {sample.replace('https://', 'http://')!r} is outside the config's api_endpoints "
                 f"(the HTTP Task may not call {sample.replace('https://', 'http://')}/stray/get-summary)"),
        "scope": (lambda: _load_stray(local_stack, cfg, sample.replace("127.0.0.1", "localhost")),
                  f"location t2/stray: api_url: {sample.replace('127.0.0.1', 'localhost')!r} is outside the "
                  f"config's api_endpoints (the HTTP Task may not call "
                  f"{sample.replace('127.0.0.1', 'localhost')}/stray/get-summary)"),
    }


@pytest.mark.parametrize("case", ["permission", "connection", "script", "http", "scope"])
def test_each_broken_part_gives_exactly_its_line_and_exit_1(local_stack, stack, case):
    breaks, line = _broken_cases(local_stack, stack)[case]
    breaks()
    try:
        report = doctor.run(stack)
        assert report.problems == [line]
        result = CliRunner().invoke(dsa, ["doctor"], env=_env(local_stack, stack))
        assert result.exit_code == 1
        assert line in result.output.splitlines() and result.output.strip().endswith(f"1 problem(s) in "
                                                                                     f"{report.checks} checks")
    finally:
        locations.remove_locations(stack, "t2", ["stray"])
        deploy.deploy(stack, environ={stack.api_key_env: "restored-" + uuid.uuid4().hex}, rotate_api_key=False)
    assert doctor.run(stack).ok
