"""Export the stack :mod:`toolkit.deploy` provisions as one CloudFormation template.

The template is built from the same spec deploy reconciles (toolkit.spec: tables, bucket
settings, IAM roles and policies, the Glue job, the connection, the state machines), so the two
cannot drift.
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

from toolkit import workflows
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.spec import StackSpec, stack_spec

__all__ = ["template", "render_template", "write_template"]

_CONNECTION_TOKEN = "${ConnectionArn}"


def _logical_id(*words: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def _tag_list(spec: StackSpec) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in spec.tags.items()]


def template(cfg: StackConfig, api_key_secret_arn: str = "") -> dict[str, Any]:
    """The stack as a CloudFormation template (a dict ready to dump as YAML or JSON)."""
    spec = stack_spec(cfg)
    resources: dict[str, Any] = {}
    role_ids = {cfg.states_role: "StatesRole", cfg.glue_role: "GlueRole"}
    for role in spec.roles:
        resources[role_ids[role.name]] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": role.name,
            "AssumeRolePolicyDocument": role.trust_policy,
            "Policies": [{"PolicyName": role.policy_name, "PolicyDocument": role.policy}],
            "Tags": _tag_list(spec),
        }}
    table_ids = {cfg.locations_table: "LocationsTable", cfg.tasks_table: "TasksTable"}
    for table in spec.tables:
        resources[table_ids[table.name]] = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                                            "UpdateReplacePolicy": "Retain",
                                            "Properties": {**table.params, "Tags": _tag_list(spec)}}
    bucket_ids = {cfg.work_bucket: "WorkBucket", cfg.output_bucket: "OutputBucket"}
    for bucket in spec.buckets:
        resources[bucket_ids[bucket.name]] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                                              "UpdateReplacePolicy": "Retain", "Properties": {
            "BucketName": bucket.name,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": r["ApplyServerSideEncryptionByDefault"],
                 "BucketKeyEnabled": r["BucketKeyEnabled"]} for r in bucket.encryption["Rules"]]},
            "PublicAccessBlockConfiguration": bucket.public_access_block,
            "LifecycleConfiguration": {"Rules": [_lifecycle_rule(r) for r in bucket.lifecycle["Rules"]]},
            "Tags": _tag_list(spec),
        }}
    job = spec.job.definition
    resources["ConsolidateJob"] = {"Type": "AWS::Glue::Job", "Properties": {
        "Name": spec.job.name,
        "Role": {"Fn::GetAtt": ["GlueRole", "Arn"]},
        "Command": job["Command"],
        "DefaultArguments": job["DefaultArguments"],
        "GlueVersion": job["GlueVersion"],
        "WorkerType": job["WorkerType"],
        "NumberOfWorkers": job["NumberOfWorkers"],
        "Timeout": job["Timeout"],
        "MaxRetries": job["MaxRetries"],
        "ExecutionProperty": job["ExecutionProperty"],
        "Tags": dict(spec.tags),
    }}
    resources["OutputDatabase"] = {"Type": "AWS::Glue::Database", "Properties": {
        "CatalogId": {"Ref": "AWS::AccountId"},
        "DatabaseInput": {"Name": spec.catalog.database, "Description": f"Output of the {cfg.stack_name} stack"},
    }}
    resources["OutputTable"] = {"Type": "AWS::Glue::Table", "Properties": {
        "CatalogId": {"Ref": "AWS::AccountId"},
        "DatabaseName": {"Ref": "OutputDatabase"},
        "TableInput": spec.catalog.table_input,
    }}
    key_value = (f"{{{{resolve:secretsmanager:{api_key_secret_arn}}}}}" if api_key_secret_arn
                 else {"Ref": "ApiKey"})
    resources["ApiConnection"] = {"Type": "AWS::Events::Connection", "Properties": {
        "Name": spec.connection.name,
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": spec.connection.api_key_header,
                                                    "ApiKeyValue": key_value}},
    }}
    # Children first, as in deploy; the connection ARN is substituted by CloudFormation.
    definitions = workflows.render_definitions(cfg, _CONNECTION_TOKEN)
    previous: list[str] = []
    for machine in spec.state_machines:
        machine_id = _logical_id(*machine.workflow.name_field.split("_"))
        definition = definitions[machine.name]
        resources[machine_id] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": machine.name,
            "StateMachineType": machine.type,
            "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
            "DefinitionString": definition,
            "DefinitionSubstitutions": {"ConnectionArn": {"Fn::GetAtt": ["ApiConnection", "Arn"]}},
            "Tags": _tag_list(spec),
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
                                   "Value": spec.script.uri},
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
