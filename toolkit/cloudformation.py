"""Export the stack :mod:`toolkit.deploy` provisions as one CloudFormation template.

The template is built from the same wanted-state functions deploy uses (tables, bucket
settings, IAM policies, the Glue job, the workflow definitions), so the two cannot drift.
The API key is a ``NoEcho`` parameter, or a ``{{resolve:secretsmanager:...}}`` dynamic
reference when a secret ARN is given: the template itself never holds it. CloudFormation
cannot upload files, so the Glue script must be copied to the work bucket after the stack
is created (``dsa deploy`` does it; the template's outputs say where).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from toolkit import deploy, workflows
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError

__all__ = ["template", "render_template", "write_template"]

_CONNECTION_TOKEN = "${ConnectionArn}"


def _logical_id(*words: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def _tags(cfg: StackConfig) -> list[dict[str, str]]:
    return [{"Key": deploy.STACK_TAG, "Value": cfg.stack_name}]


def template(cfg: StackConfig, api_key_secret_arn: str = "") -> dict[str, Any]:
    """The stack as a CloudFormation template (a dict ready to dump as YAML or JSON)."""
    resources: dict[str, Any] = {}
    for role_id, name, service, policy in (
        ("StatesRole", cfg.states_role, "states", deploy.states_policy(cfg)),
        ("GlueRole", cfg.glue_role, "glue", deploy.glue_policy(cfg)),
    ):
        resources[role_id] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": name,
            "AssumeRolePolicyDocument": deploy.trust_policy(cfg, service),
            "Policies": [{"PolicyName": f"{name}-policy", "PolicyDocument": policy}],
            "Tags": _tags(cfg),
        }}
    for table_id, (name, params) in zip(("LocationsTable", "TasksTable"), deploy.table_definitions(cfg).items()):
        resources[table_id] = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                               "UpdateReplacePolicy": "Retain",
                               "Properties": {**params, "Tags": _tags(cfg)}}
    for bucket_id, name in (("WorkBucket", cfg.work_bucket), ("OutputBucket", cfg.output_bucket)):
        settings = deploy.bucket_settings(cfg, name)
        resources[bucket_id] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                                "UpdateReplacePolicy": "Retain", "Properties": {
            "BucketName": name,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": r["ApplyServerSideEncryptionByDefault"],
                 "BucketKeyEnabled": r["BucketKeyEnabled"]} for r in settings["encryption"]["Rules"]]},
            "PublicAccessBlockConfiguration": settings["public_access_block"],
            "LifecycleConfiguration": {"Rules": [_lifecycle_rule(r) for r in settings["lifecycle"]["Rules"]]},
            "Tags": _tags(cfg),
        }}
    job = deploy.glue_job_definition(cfg)
    resources["ConsolidateJob"] = {"Type": "AWS::Glue::Job", "Properties": {
        "Name": cfg.glue_job,
        "Role": {"Fn::GetAtt": ["GlueRole", "Arn"]},
        "Command": job["Command"],
        "DefaultArguments": job["DefaultArguments"],
        "GlueVersion": job["GlueVersion"],
        "WorkerType": job["WorkerType"],
        "NumberOfWorkers": job["NumberOfWorkers"],
        "Timeout": job["Timeout"],
        "MaxRetries": job["MaxRetries"],
        "ExecutionProperty": job["ExecutionProperty"],
        "Tags": {deploy.STACK_TAG: cfg.stack_name},
    }}
    key_value = (f"{{{{resolve:secretsmanager:{api_key_secret_arn}}}}}" if api_key_secret_arn
                 else {"Ref": "ApiKey"})
    resources["ApiConnection"] = {"Type": "AWS::Events::Connection", "Properties": {
        "Name": cfg.connection_name,
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": cfg.api_key_header, "ApiKeyValue": key_value}},
    }}
    # Children first, as in deploy; the connection ARN is substituted by CloudFormation.
    previous: list[str] = []
    for workflow, definition in zip(workflows.WORKFLOWS, workflows.render_definitions(cfg, _CONNECTION_TOKEN).values()):
        machine_id = _logical_id(*workflow.name_field.split("_"))
        resources[machine_id] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": workflow.name(cfg),
            "StateMachineType": workflow.type,
            "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
            "DefinitionString": definition,
            "DefinitionSubstitutions": {"ConnectionArn": {"Fn::GetAtt": ["ApiConnection", "Arn"]}},
            "Tags": [{"Key": deploy.STACK_TAG, "Value": cfg.stack_name}],
        }}
        if previous:
            resources[machine_id]["DependsOn"] = list(previous)
        if _jsonata_map_numbers(json.loads(definition)):
            resources[machine_id]["Metadata"] = {"cfn-lint": {"config": {"ignore_checks": ["E3601"]}}}
        previous.append(machine_id)

    out: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Distributed Data Stream Aggregator stack {cfg.stack_name} (exported by dsa export-cfn)",
        "Resources": resources,
        "Outputs": {
            "GlueScriptLocation": {"Description": "Copy glue/consolidate.py here after creating the stack",
                                   "Value": job["Command"]["ScriptLocation"]},
            "AggregatorStateMachineArn": {"Value": {"Ref": "AggregatorStateMachine"}},
            "OutputBucket": {"Value": {"Ref": "OutputBucket"}},
        },
    }
    if not api_key_secret_arn:
        out["Parameters"] = {"ApiKey": {"Type": "String", "NoEcho": True, "MinLength": 1,
                                        "Description": "The third-party location API key"}}
    return out


# Map fields that AWS documents as "an integer, or in JSONata states an expression evaluating to
# one"; cfn-lint's ASL schema still wants a number there, a known false positive (E3601).
_MAP_NUMBER_FIELDS = ("MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount")


def _jsonata_map_numbers(value: Any) -> bool:
    """Whether a definition sets a Map's numeric field with a JSONata expression."""
    if isinstance(value, dict):
        if value.get("Type") == "Map" and any(isinstance(value.get(f), str) for f in _MAP_NUMBER_FIELDS):
            return True
        return any(_jsonata_map_numbers(v) for v in value.values())
    if isinstance(value, list):
        return any(_jsonata_map_numbers(v) for v in value)
    return False


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": rule["ID"], "Status": rule["Status"]}
    prefix = (rule.get("Filter") or {}).get("Prefix")
    if prefix:
        out["Prefix"] = prefix
    if "Expiration" in rule:
        out["ExpirationInDays"] = rule["Expiration"]["Days"]
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def render_template(cfg: StackConfig, fmt: str = "yaml", api_key_secret_arn: str = "") -> str:
    """The template as text, YAML (block style, no anchors) or JSON."""
    data = template(cfg, api_key_secret_arn)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt == "yaml":
        class _NoAliases(yaml.SafeDumper):
            def ignore_aliases(self, data: Any) -> bool:
                return True
        return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=120)
    raise ToolkitError(f"format: must be yaml or json, got {fmt!r}")


def write_template(cfg: StackConfig, out: Path, api_key_secret_arn: str = "") -> Path:
    """Write the template; the format follows the file's suffix (.json, else YAML)."""
    fmt = "json" if out.suffix.lower() == ".json" else "yaml"
    if api_key_secret_arn and ":secretsmanager:" not in api_key_secret_arn:
        raise ToolkitError(f"api_key_secret_arn: {api_key_secret_arn!r} is not a Secrets Manager ARN")
    text = render_template(cfg, fmt, api_key_secret_arn)
    if not out.parent.is_dir():
        raise ToolkitError(f"OUT: directory {out.parent} does not exist")
    out.write_text(text)
    return out
