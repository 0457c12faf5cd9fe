"""The CloudFormation export: the same stack as deploy, passing cfn-lint, with no secret inside."""

from __future__ import annotations

import json
import re
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
                            stack_name="prod", glue_workers=5,
                            api_endpoints=["https://api.example.com/v1/*"])


def _lint(path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(path)], capture_output=True, text=True, timeout=300)


def _resolved(value, cfg):
    """``value`` with its Fn::Sub and Ref of the pseudo parameters filled in as CloudFormation would."""
    pseudo = {"AWS::AccountId": cfg.account_id, "AWS::Region": cfg.region, "AWS::Partition": cfg.partition}
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}!]+)\}", lambda m: pseudo[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in pseudo:
        return pseudo[value["Ref"]]
    if isinstance(value, dict):
        return {k: _resolved(v, cfg) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, cfg) for v in value]
    return value


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
    res = _resolved(data["Resources"], cfg)
    names = {
        res["StatesRole"]["Properties"]["RoleName"], res["GlueRole"]["Properties"]["RoleName"],
        res["LocationsTable"]["Properties"]["TableName"], res["TasksTable"]["Properties"]["TableName"],
        res["WorkBucket"]["Properties"]["BucketName"], res["OutputBucket"]["Properties"]["BucketName"],
        res["ConsolidateJob"]["Properties"]["Name"], res["ApiConnection"]["Properties"]["Name"],
        res["PageFetchLogGroup"]["Properties"]["LogGroupName"],
        f'{res["OutputDatabase"]["Properties"]["DatabaseInput"]["Name"]}.{res["OutputTable"]["Properties"]["TableInput"]["Name"]}',
        *(r["Properties"]["StateMachineName"] for r in res.values() if r["Type"] == "AWS::StepFunctions::StateMachine"),
    }
    expected = {r.name for r in resources.resources(spec.stack_spec(cfg)) if not isinstance(r, resources.Script)}
    assert names == expected
    assert res["ConsolidateJob"]["Properties"]["NumberOfWorkers"] == 5
    assert res["StatesRole"]["Properties"]["Policies"][0]["PolicyDocument"] == spec.states_policy(cfg)
    rules = res["WorkBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in rules if r["Id"].startswith("expire-")] == [
        ("parts/", cfg.parts_expire_days), ("map-runs/", cfg.map_runs_expire_days),
        ("quarantine/", cfg.quarantine_expire_days), ("archive/", cfg.archive_expire_days)]
    logging = res["PageFetchStateMachine"]["Properties"]["LoggingConfiguration"]
    assert logging == {"Level": "ERROR", "IncludeExecutionData": False, "Destinations": [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["PageFetchLogGroup", "Arn"]}}}]}
    assert res["AggregatorStateMachine"]["Properties"]["LoggingConfiguration"] == {
        "Level": "OFF", "IncludeExecutionData": False}
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


_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
_LITERAL_PARTITION = re.compile(r"arn:aws[a-z-]*:")


def _strings(value, path=""):
    """Every string of a template with its path, DefinitionStrings included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}")
    elif isinstance(value, str):
        yield path, value


@pytest.mark.parametrize("region", ["eu-west-1", "cn-north-1"])
def test_template_names_no_account_region_or_partition(tmp_path, region):
    cfg = StackConfig.load(environ={}, target="aws", account_id="123456789012", region=region, stack_name="prod",
                           api_endpoints=["https://api.example.com/*"])
    out = cloudformation.write_template(cfg, tmp_path / "stack.yaml")
    data = yaml.safe_load(out.read_text())
    for path, text in _strings(data):
        assert not _TWELVE_DIGITS.search(text), f"{path}: {text[:120]}"
        assert not _LITERAL_PARTITION.search(text), f"{path}: {text[:120]}"
        for arn in re.findall(r"arn:[^\s\"']+", text):
            assert region not in arn, f"{path}: {arn}"
        if not path.endswith("/Description"):
            assert region not in text, f"{path}: {text[:120]}"
    res = data["Resources"]
    assert res["WorkBucket"]["Properties"]["BucketName"] == {"Fn::Sub": "prod-work-${AWS::AccountId}-${AWS::Region}"}
    trust = res["GlueRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    assert "Condition" not in trust  # Glue documents no aws:SourceAccount for its role (spec.trust_policy)
    states_trust = res["StatesRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert states_trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    extraction = res["ExtractionStateMachine"]["Properties"]
    assert '"Resource": "${StatesHttpInvoke}"' in extraction["DefinitionString"]
    assert extraction["DefinitionSubstitutions"]["StatesStateMachineProdPageFetch"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:prod-page-fetch"}
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), "--regions", region, "--", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_substituted_template_resolves_to_what_deploy_creates(cfg):
    """Filling the pseudo parameters back in gives deploy's own names, ARNs and definitions."""
    res = _resolved(cloudformation.template(cfg)["Resources"], cfg)
    assert res["StatesRole"]["Properties"]["Policies"][0]["PolicyDocument"] == spec.states_policy(cfg)
    assert res["GlueRole"]["Properties"]["AssumeRolePolicyDocument"] == spec.trust_policy(cfg, "glue")
    assert res["OutputBucket"]["Properties"]["BucketName"] == cfg.output_bucket
    from toolkit import workflows
    wanted = workflows.render_definitions(cfg, "${ConnectionArn}")
    for resource in res.values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            props = resource["Properties"]
            subs = {k: v for k, v in props["DefinitionSubstitutions"].items() if k != "ConnectionArn"}
            text = re.sub(r"\$\{(\w+)\}", lambda m: subs.get(m.group(1), m.group(0)), props["DefinitionString"])
            assert json.loads(text) == json.loads(wanted[props["StateMachineName"]])


def test_tables_and_buckets_are_deleted_with_the_stack_as_by_teardown(cfg):
    res = cloudformation.template(cfg)["Resources"]
    for logical_id in ("LocationsTable", "TasksTable", "WorkBucket", "OutputBucket"):
        assert res[logical_id]["DeletionPolicy"] == "Delete", logical_id
        assert res[logical_id]["UpdateReplacePolicy"] == "Delete", logical_id


def test_lint_suppression_hides_only_the_jsonata_map_numbers(tmp_path, cfg):
    """The one suppression (E3601 on a machine whose Map numbers are JSONata) hides nothing else:
    with those fields set to numbers and every suppression removed, cfn-lint passes."""
    data = cloudformation.template(cfg)
    suppressed = {k: r["Metadata"] for k, r in data["Resources"].items() if "Metadata" in r}
    assert suppressed == {k: {"cfn-lint": {"config": {"ignore_checks": ["E3601"]}}} for k in suppressed}
    assert suppressed, "the aggregator and extraction set MaxConcurrency with JSONata"

    def numbers(value):
        if isinstance(value, dict):
            out = {k: numbers(v) for k, v in value.items()}
            if out.get("Type") == "Map":
                out.update({f: 1 for f in cloudformation._MAP_NUMBER_FIELDS if isinstance(out.get(f), str)})
            return out
        if isinstance(value, list):
            return [numbers(v) for v in value]
        return value

    for logical_id in suppressed:
        resource = data["Resources"][logical_id]
        del resource["Metadata"]
        props = resource["Properties"]
        props["DefinitionString"] = json.dumps(numbers(json.loads(props["DefinitionString"])))
    path = tmp_path / "unsuppressed.json"
    path.write_text(json.dumps(data))
    result = _lint(path)
    assert result.returncode == 0, result.stdout + result.stderr
