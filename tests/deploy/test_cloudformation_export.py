"""The CloudFormation export: the same stack as deploy, passing cfn-lint, with no secret inside."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from pathlib import Path

from toolkit import cloudformation, resources, spec
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dsa-api-key-AbCdEf"


@pytest.fixture
def cfg() -> StackConfig:
    return StackConfig.load(environ={}, target="aws", account_id="123456789012", region="eu-west-1",
                            stack_name="prod", glue_workers=5)


def _lint(path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(path)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name, secret", [("stack.yaml", ""), ("stack.json", SECRET_ARN)])
def test_exported_template_passes_cfn_lint(tmp_path, cfg, name, secret):
    out = cloudformation.write_template(cfg, tmp_path / name, api_key_secret_arn=secret)
    result = _lint(out)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_would_catch_a_broken_export(tmp_path, cfg):
    data = cloudformation.template(cfg)
    data["Resources"]["ConsolidateJob"]["Properties"]["WorkerType"] = "G.9X"
    del data["Resources"]["LocationsTable"]["Properties"]["KeySchema"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    result = _lint(path)
    assert result.returncode != 0 and "KeySchema" in result.stdout and "G.9X" in result.stdout


def test_template_holds_the_same_resources_as_deploy(cfg):
    data = yaml.safe_load(cloudformation.render_template(cfg, "yaml"))
    res = data["Resources"]
    names = {
        res["StatesRole"]["Properties"]["RoleName"], res["GlueRole"]["Properties"]["RoleName"],
        res["LocationsTable"]["Properties"]["TableName"], res["TasksTable"]["Properties"]["TableName"],
        res["WorkBucket"]["Properties"]["BucketName"], res["OutputBucket"]["Properties"]["BucketName"],
        res["ConsolidateJob"]["Properties"]["Name"], res["ApiConnection"]["Properties"]["Name"],
        f'{res["OutputDatabase"]["Properties"]["DatabaseInput"]["Name"]}.{res["OutputTable"]["Properties"]["TableInput"]["Name"]}',
        *(r["Properties"]["StateMachineName"] for r in res.values() if r["Type"] == "AWS::StepFunctions::StateMachine"),
    }
    expected = {r.name for r in resources.resources(spec.stack_spec(cfg)) if not isinstance(r, resources.Script)}
    assert names == expected
    assert res["ConsolidateJob"]["Properties"]["NumberOfWorkers"] == 5
    assert res["StatesRole"]["Properties"]["Policies"][0]["PolicyDocument"] == spec.states_policy(cfg)
    rules = res["WorkBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "expire-parts", "Status": "Enabled", "Prefix": "parts/",
            "ExpirationInDays": spec.PARTS_EXPIRE_DAYS} in rules
    # Children come first; only the workflow with JSONata Map numbers carries the lint exception.
    machines = [k for k, r in res.items() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machines == ["PageFetchStateMachine", "ExtractionStateMachine", "AggregatorStateMachine"]
    assert res["AggregatorStateMachine"]["DependsOn"] == ["PageFetchStateMachine", "ExtractionStateMachine"]
    assert "${ConnectionArn}" in res["PageFetchStateMachine"]["Properties"]["DefinitionString"]


def test_api_key_never_in_the_template(cfg):
    plain = cloudformation.template(cfg)
    assert plain["Parameters"]["ApiKey"]["NoEcho"] is True
    auth = plain["Resources"]["ApiConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert auth["ApiKeyValue"] == {"Ref": "ApiKey"}
    resolved = cloudformation.template(cfg, SECRET_ARN)
    auth = resolved["Resources"]["ApiConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert auth["ApiKeyValue"] == "{{resolve:secretsmanager:" + SECRET_ARN + "}}"
    assert "Parameters" not in resolved


def test_bad_export_arguments_are_one_line_errors(tmp_path, cfg):
    with pytest.raises(ToolkitError, match="api_key_secret_arn: 'nope' is not a Secrets Manager ARN"):
        cloudformation.write_template(cfg, tmp_path / "t.yaml", api_key_secret_arn="nope")
    with pytest.raises(ToolkitError, match="^OUT: directory .* does not exist$"):
        cloudformation.write_template(cfg, tmp_path / "missing" / "t.yaml")
