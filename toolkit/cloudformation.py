"""Export the stack :mod:`toolkit.deploy` provisions as one CloudFormation template.

The template is built from the same spec deploy reconciles (toolkit.spec: tables, bucket
settings, IAM roles and policies, the Glue job, the connection, the state machines), so the two
cannot drift. It holds no account, region or partition: wherever an ARN or a derived name
carries them, the value is an ``Fn::Sub`` of ``${AWS::AccountId}``, ``${AWS::Region}`` and
``${AWS::Partition}`` (in the definitions, DefinitionSubstitutions of the same), so one template
deploys to any account and region.
Deletion matches ``dsa teardown``: tables and buckets have DeletionPolicy and
UpdateReplacePolicy ``Delete``, so deleting the stack frees their names for a new one.
CloudFormation cannot empty a bucket: deleting the stack while a bucket holds objects ends in
DELETE_FAILED, which stands for teardown's refusal of a non-empty output bucket (README, "Deploying
to AWS").
The API key is a ``NoEcho`` parameter, or a ``{{resolve:secretsmanager:...}}`` dynamic
reference when a secret ARN is given: the template itself never holds it. CloudFormation
cannot upload files, so the Glue script must be copied to the work bucket after the stack
is created (``dsa deploy`` does it; the template's outputs say where).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from toolkit import workflows
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.spec import StackSpec, stack_spec

__all__ = ["template", "render_template", "write_template", "deploy_command"]

_CONNECTION_TOKEN = "${ConnectionArn}"
# Tables and buckets go with the stack, as with `dsa teardown` (see the module docstring).
_DELETE_LIKE_TEARDOWN = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
# How account, region and partition are written: in Fn::Sub strings, and in the definitions.
_PSEUDO_NAMES = ("${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")
_DEFINITION_NAMES = ("${AccountId}", "${Region}", "${Partition}")
_DEFINITION_PSEUDO = {"AccountId": {"Ref": "AWS::AccountId"}, "Region": {"Ref": "AWS::Region"},
                      "Partition": {"Ref": "AWS::Partition"}}


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
        resources[table_ids[table.name]] = {"Type": "AWS::DynamoDB::Table", **_DELETE_LIKE_TEARDOWN,
                                            "Properties": {**table.params, "Tags": _tag_list(spec)}}
    bucket_ids = {cfg.work_bucket: "WorkBucket", cfg.output_bucket: "OutputBucket"}
    for bucket in spec.buckets:
        resources[bucket_ids[bucket.name]] = {"Type": "AWS::S3::Bucket", **_DELETE_LIKE_TEARDOWN, "Properties": {
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
    resources["PageFetchLogGroup"] = {"Type": "AWS::Logs::LogGroup", **_DELETE_LIKE_TEARDOWN, "Properties": {
        "LogGroupName": spec.log_group.name,
        "RetentionInDays": spec.log_group.retention_days,
        "Tags": _tag_list(spec),
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
            **_definition_with_substitutions(definition, cfg),
            "LoggingConfiguration": _logging_configuration(machine.logging),
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
    out["Resources"] = _substituted(resources, cfg)
    out["Outputs"] = _substituted(out["Outputs"], cfg)
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


def _pseudo_parameters(text: str, cfg: StackConfig, names: tuple[str, str, str]) -> str:
    """``text`` with the config's account, and its region and partition where an ARN or a derived
    bucket name holds them, written as ``names`` (account, region, partition)."""
    account, region, partition = names
    text = text.replace(f"{cfg.account_id}-{cfg.region}", f"{account}-{region}")  # bucket names
    text = text.replace(f":{cfg.region}:{cfg.account_id}:", f":{region}:{account}:")
    text = text.replace(f"arn:{cfg.partition}:", f"arn:{partition}:")
    return text.replace(cfg.account_id, account)


def _definition_with_substitutions(definition: str, cfg: StackConfig) -> dict[str, Any]:
    """DefinitionString and DefinitionSubstitutions of one state machine.

    A string that is a whole ARN (a Task's Resource, a child state machine) becomes one
    substitution named after it (``${StatesHttpInvoke}``), so cfn-lint still checks the definition
    (it skips a value that is exactly a substitution; ``arn:${Partition}:...`` fails its ARN
    patterns). Other strings holding the account or region (bucket names) use ``${AccountId}``
    and ``${Region}``.
    """
    arns: dict[str, str] = {}

    def name_of(arn: str) -> str:
        words = [w for w in re.split(r"[^A-Za-z0-9]+", arn.split(":", 2)[2])
                 if w and w != cfg.account_id and w not in cfg.region.split("-")]
        base = name = "".join(w[:1].upper() + w[1:] for w in words)
        taken = set(arns.values()) | set(_DEFINITION_PSEUDO) | {"ConnectionArn"}
        count = 1
        while name in taken:
            count += 1
            name = f"{base}{count}"
        return name

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith(f"arn:{cfg.partition}:"):
            arns.setdefault(value, name_of(value))
            return "${" + arns[value] + "}"
        if isinstance(value, str):
            return _pseudo_parameters(value, cfg, _DEFINITION_NAMES)
        return value

    text = json.dumps(walk(json.loads(definition)), indent=2, ensure_ascii=False)
    substitutions: dict[str, Any] = {"ConnectionArn": {"Fn::GetAtt": ["ApiConnection", "Arn"]}}
    substitutions.update({name: {"Fn::Sub": _pseudo_parameters(arn, cfg, _PSEUDO_NAMES)}
                          for arn, name in arns.items()})
    substitutions.update({name: ref for name, ref in _DEFINITION_PSEUDO.items() if "${" + name + "}" in text})
    return {"DefinitionString": text, "DefinitionSubstitutions": substitutions}


def _substituted(value: Any, cfg: StackConfig) -> Any:
    """Every string of ``value`` holding the account, region or partition, as an ``Fn::Sub``."""
    if isinstance(value, dict):
        if "DefinitionString" in value:  # already written with DefinitionSubstitutions
            return {k: (v if k == "DefinitionString" else _substituted(v, cfg)) for k, v in value.items()}
        return {k: _substituted(v, cfg) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, cfg) for v in value]
    if isinstance(value, str) and not value.startswith("{{resolve:"):  # the user's secret ARN stays
        text = _pseudo_parameters(value.replace("${", "${!"), cfg, _PSEUDO_NAMES)
        return {"Fn::Sub": text} if text != value.replace("${", "${!") else value
    return value


def _logging_configuration(logging: dict[str, Any]) -> dict[str, Any]:
    """A loggingConfiguration in CloudFormation's spelling; the log group by GetAtt (its Arn
    attribute ends ``:*``, as Step Functions wants)."""
    out: dict[str, Any] = {"Level": logging["level"], "IncludeExecutionData": logging["includeExecutionData"]}
    if logging.get("destinations"):
        out["Destinations"] = [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["PageFetchLogGroup", "Arn"]}}}]
    return out


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


def deploy_command(cfg: StackConfig, path: Path, api_key_secret_arn: str = "") -> str:
    """The AWS CLI command that creates the exported stack. CAPABILITY_NAMED_IAM: the template
    creates IAM roles with fixed names, which CloudFormation refuses without it."""
    command = (f"aws cloudformation deploy --template-file {path} --stack-name {cfg.stack_name} "
               f"--region {cfg.region} --capabilities CAPABILITY_NAMED_IAM")
    if not api_key_secret_arn:
        command += f' --parameter-overrides ApiKey="${cfg.api_key_env}"'
    return command
