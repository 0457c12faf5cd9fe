"""The reconcilers of deploy: one class per kind of AWS resource, turning a part of the stack's
spec (toolkit.spec) into API calls.

Each :class:`Resource` reads its current state, says how it differs from the wanted state, and
creates, updates or deletes itself; :mod:`toolkit.deploy` decides which of these to call and in
what order. The API key is never held by the spec: :class:`Connection` is given it only when
deploy has to write the connection (:meth:`Connection.with_api_key`).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

from toolkit import aws, workflows
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.spec import (BucketSpec, CatalogSpec, ConnectionSpec, GlueJobSpec, LogGroupSpec, RoleSpec, ScriptSpec,
                          StackSpec, StateMachineSpec, TableSpec, arn)

__all__ = ["DeployError", "Clients", "Resource", "Role", "Table", "Bucket", "Script", "GlueJob", "Connection",
           "LogGroup", "StateMachine", "WorkflowDefinitions", "resources", "error_code", "policy_document"]

IAM_RETRY_SECONDS = 90.0


class DeployError(ToolkitError):
    """A resource cannot be created, updated or deleted as asked; the message says which and why."""


@dataclass
class Clients:
    """The boto3 clients a deployment talks to, all made from one session and config."""

    iam: Any
    dynamodb: Any
    s3: Any
    glue: Any
    events: Any
    secretsmanager: Any
    stepfunctions: Any
    logs: Any

    @classmethod
    def create(cls, cfg: StackConfig, session: boto3.Session | None = None) -> "Clients":
        session = session or aws.session(cfg)
        return cls(**{name: aws.client(cfg, name, session) for name in cls.__dataclass_fields__})


# ------------------------------------------------------------------ helpers

def error_code(exc: ClientError) -> str:
    """The error code of an AWS error."""
    return exc.response.get("Error", {}).get("Code", "")


def _missing(exc: ClientError, *codes: str) -> bool:
    """Whether an error is one of the codes a service uses for "no such resource"."""
    return error_code(exc) in codes


def policy_document(value: Any) -> Any:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them, moto may not."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def _with_iam_retry(cfg: StackConfig, call: Callable[[], Any]) -> Any:
    """On AWS a new role takes seconds to become assumable; retry the calls that need it."""
    deadline = time.monotonic() + (IAM_RETRY_SECONDS if not cfg.is_local else 0)
    while True:
        try:
            return call()
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            if time.monotonic() >= deadline or "role" not in message.lower() or error_code(exc) not in (
                    "AccessDeniedException", "InvalidParameterValueException", "InvalidInputException"):
                raise
            time.sleep(5)


# ---------------------------------------------------------------- resources

class Resource:
    """One resource of the stack. Subclasses read, compare, create, update and delete it."""

    kind = ""

    def __init__(self, cfg: StackConfig, name: str, tags: dict[str, str]):
        self.cfg = cfg
        self.name = name
        self.tags = tags

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def current(self, c: Clients) -> Any:
        """The resource's state as AWS reports it, or None when it does not exist."""
        raise NotImplementedError

    def differences(self, c: Clients, current: Any) -> list[str]:
        """What differs between the current and the wanted state (empty: nothing)."""
        raise NotImplementedError

    def create(self, c: Clients) -> None:
        raise NotImplementedError

    def update(self, c: Clients, current: Any) -> None:
        raise NotImplementedError

    def delete(self, c: Clients) -> None:
        raise NotImplementedError


class Role(Resource):
    kind = "iam-role"

    def __init__(self, cfg: StackConfig, spec: RoleSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        try:
            role = c.iam.get_role(RoleName=self.name)["Role"]
        except ClientError as exc:
            if _missing(exc, "NoSuchEntity"):
                return None
            raise
        try:
            policy = c.iam.get_role_policy(RoleName=self.name, PolicyName=self.spec.policy_name)["PolicyDocument"]
        except ClientError as exc:
            if not _missing(exc, "NoSuchEntity"):
                raise
            policy = None
        return {"trust": policy_document(role["AssumeRolePolicyDocument"]), "policy": policy_document(policy)}

    def differences(self, c: Clients, current: Any) -> list[str]:
        diffs = []
        if _canonical(current["trust"]) != _canonical(self.spec.trust_policy):
            diffs.append("trust policy")
        if current["policy"] is None or _canonical(current["policy"]) != _canonical(self.spec.policy):
            diffs.append("permissions policy")
        return diffs

    def create(self, c: Clients) -> None:
        c.iam.create_role(RoleName=self.name, AssumeRolePolicyDocument=json.dumps(self.spec.trust_policy),
                          Description=f"{self.spec.service} role of the {self.cfg.stack_name} aggregator stack",
                          Tags=_tag_list(self.tags))
        self._put_policy(c)

    def update(self, c: Clients, current: Any) -> None:
        c.iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=json.dumps(self.spec.trust_policy))
        self._put_policy(c)

    def _put_policy(self, c: Clients) -> None:
        c.iam.put_role_policy(RoleName=self.name, PolicyName=self.spec.policy_name,
                              PolicyDocument=json.dumps(self.spec.policy))

    def delete(self, c: Clients) -> None:
        for name in c.iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
            c.iam.delete_role_policy(RoleName=self.name, PolicyName=name)
        c.iam.delete_role(RoleName=self.name)


class Table(Resource):
    kind = "dynamodb-table"

    def __init__(self, cfg: StackConfig, spec: TableSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        try:
            return c.dynamodb.describe_table(TableName=self.name)["Table"]
        except ClientError as exc:
            if _missing(exc, "ResourceNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        if current["KeySchema"] != self.spec.key_schema:
            def keys(schema: list[dict[str, str]]) -> str:
                return ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in schema)
            raise DeployError(f"{self.label}: exists with keys {keys(current['KeySchema'])}, needs "
                              f"{keys(self.spec.key_schema)} (docs/design.md); delete it or choose another table name")
        mode = (current.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        wanted = self.spec.billing_mode
        return [] if mode == wanted else [f"billing mode {mode} -> {wanted}"]

    def create(self, c: Clients) -> None:
        c.dynamodb.create_table(**self.spec.params, Tags=_tag_list(self.tags))
        c.dynamodb.get_waiter("table_exists").wait(TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    def update(self, c: Clients, current: Any) -> None:
        c.dynamodb.update_table(TableName=self.name, BillingMode=self.spec.billing_mode)

    def delete(self, c: Clients) -> None:
        c.dynamodb.delete_table(TableName=self.name)


class Bucket(Resource):
    kind = "s3-bucket"

    def __init__(self, cfg: StackConfig, spec: BucketSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec

    @property
    def keep_objects(self) -> bool:
        """Teardown refuses to empty this bucket unless forced."""
        return self.spec.keep_objects

    def current(self, c: Clients) -> Any:
        try:
            c.s3.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if _missing(exc, "404", "NoSuchBucket", "NotFound"):
                return None
            if error_code(exc) in ("403", "AccessDenied"):
                raise DeployError(f"{self.label}: the name is taken by another account; "
                                  "choose another bucket name in the config") from None
            raise
        return {
            "encryption": self._get(c.s3.get_bucket_encryption, "ServerSideEncryptionConfiguration",
                                    "ServerSideEncryptionConfigurationNotFoundError"),
            "public_access_block": self._get(c.s3.get_public_access_block, "PublicAccessBlockConfiguration",
                                             "NoSuchPublicAccessBlockConfiguration"),
            "lifecycle": self._get(c.s3.get_bucket_lifecycle_configuration, "Rules",
                                   "NoSuchLifecycleConfiguration"),
        }

    def _get(self, call: Callable[..., Any], field: str, missing_code: str) -> Any:
        try:
            return call(Bucket=self.name).get(field)
        except ClientError as exc:
            if error_code(exc) == missing_code:
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        diffs = []
        rules = (current["encryption"] or {}).get("Rules") or [{}]
        algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        if algorithm != "AES256":
            diffs.append("encryption")
        if current["public_access_block"] != self.spec.public_access_block:
            diffs.append("public access block")

        def rule_set(rules: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
            return {(r.get("ID"), _canonical(r.get("Filter")), _canonical(r.get("Expiration")),
                     _canonical(r.get("AbortIncompleteMultipartUpload"))) for r in rules}

        if rule_set(current["lifecycle"] or []) != rule_set(self.spec.lifecycle["Rules"]):
            diffs.append("lifecycle rules")
        return diffs

    def create(self, c: Clients) -> None:
        params: dict[str, Any] = {"Bucket": self.name}
        if self.cfg.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.cfg.region}
        c.s3.create_bucket(**params)
        self._configure(c)
        c.s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": _tag_list(self.tags)})

    def update(self, c: Clients, current: Any) -> None:
        self._configure(c)

    def _configure(self, c: Clients) -> None:
        c.s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=self.spec.public_access_block)
        c.s3.put_bucket_encryption(Bucket=self.name, ServerSideEncryptionConfiguration=self.spec.encryption)
        c.s3.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration=self.spec.lifecycle)

    def delete(self, c: Clients) -> None:
        for page in c.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if keys:
                c.s3.delete_objects(Bucket=self.name, Delete={"Objects": keys, "Quiet": True})
        c.s3.delete_bucket(Bucket=self.name)


class Script(Resource):
    """glue/consolidate.py uploaded where the Glue job reads it."""

    kind = "s3-object"

    def __init__(self, cfg: StackConfig, spec: ScriptSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.uri, tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        try:
            return c.s3.get_object(Bucket=self.spec.bucket, Key=self.spec.key)["Body"].read()
        except ClientError as exc:
            if _missing(exc, "NoSuchKey", "NoSuchBucket", "404"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        return [] if current == self.spec.path.read_bytes() else ["script content"]

    def create(self, c: Clients) -> None:
        body = self.spec.path.read_bytes()
        c.s3.put_object(Bucket=self.spec.bucket, Key=self.spec.key, Body=body, ContentType="text/x-python",
                        Metadata={"sha256": hashlib.sha256(body).hexdigest()})

    def update(self, c: Clients, current: Any) -> None:
        self.create(c)

    def delete(self, c: Clients) -> None:
        c.s3.delete_object(Bucket=self.spec.bucket, Key=self.spec.key)


class GlueJob(Resource):
    kind = "glue-job"

    def __init__(self, cfg: StackConfig, spec: GlueJobSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        try:
            return c.glue.get_job(JobName=self.name)["Job"]
        except ClientError as exc:
            if _missing(exc, "EntityNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        return [key for key, value in self.spec.definition.items()
                if _canonical(current.get(key)) != _canonical(value)]

    def create(self, c: Clients) -> None:
        _with_iam_retry(self.cfg, lambda: c.glue.create_job(Name=self.name, Tags=self.tags, **self.spec.definition))

    def update(self, c: Clients, current: Any) -> None:
        _with_iam_retry(self.cfg, lambda: c.glue.update_job(JobName=self.name, JobUpdate=self.spec.definition))

    def delete(self, c: Clients) -> None:
        c.glue.delete_job(JobName=self.name)


class CatalogTable(Resource):
    """The output's table in the Glue Data Catalog, and its database (created with it, deleted after it)."""

    kind = "glue-table"

    def __init__(self, cfg: StackConfig, spec: CatalogSpec, tags: dict[str, str]):
        super().__init__(cfg, f"{spec.database}.{spec.table}", tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        try:
            return c.glue.get_table(DatabaseName=self.spec.database, Name=self.spec.table)["Table"]
        except ClientError as exc:
            if _missing(exc, "EntityNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        wanted, found = self.spec.table_input, current.get("StorageDescriptor", {})
        changed = [key for key in ("Columns", "Location", "InputFormat", "SerdeInfo")
                   if _canonical(found.get(key)) != _canonical(wanted["StorageDescriptor"][key])]
        return changed + (["PartitionKeys"] if _canonical(current.get("PartitionKeys"))
                          != _canonical(wanted["PartitionKeys"]) else [])

    def create(self, c: Clients) -> None:
        try:
            c.glue.create_database(DatabaseInput={"Name": self.spec.database,
                                                  "Description": f"Output of the {self.cfg.stack_name} stack"},
                                   Tags=self.tags)
        except ClientError as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise
        c.glue.create_table(DatabaseName=self.spec.database, TableInput=self.spec.table_input)

    def update(self, c: Clients, current: Any) -> None:
        c.glue.update_table(DatabaseName=self.spec.database, TableInput=self.spec.table_input)

    def delete(self, c: Clients) -> None:
        for call in (lambda: c.glue.delete_table(DatabaseName=self.spec.database, Name=self.spec.table),
                     lambda: c.glue.delete_database(Name=self.spec.database)):
            try:
                call()
            except ClientError as exc:
                if not _missing(exc, "EntityNotFoundException"):
                    raise


def _describe_connection(c: Clients, name: str) -> dict[str, Any] | None:
    try:
        return c.events.describe_connection(Name=name)
    except ClientError as exc:
        if _missing(exc, "ResourceNotFoundException"):
            return None
        raise


class Connection(Resource):
    """The EventBridge connection holding the third-party API key (API_KEY authorization).

    Inspecting it needs no key; writing it does: :meth:`with_api_key` gives the copy that can.
    """

    kind = "events-connection"

    def __init__(self, cfg: StackConfig, spec: ConnectionSpec, tags: dict[str, str], api_key: str | None = None):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec
        self._api_key = api_key

    def with_api_key(self, api_key: str) -> "Connection":
        """This connection, able to send ``api_key`` when created or updated."""
        return Connection(self.cfg, self.spec, self.tags, api_key)

    def current(self, c: Clients) -> Any:
        return _describe_connection(c, self.name)

    def differences(self, c: Clients, current: Any) -> list[str]:
        diffs = []
        if current.get("AuthorizationType") != "API_KEY":
            diffs.append(f"authorization {current.get('AuthorizationType')} -> API_KEY")
        header = ((current.get("AuthParameters") or {}).get("ApiKeyAuthParameters") or {}).get("ApiKeyName")
        if header != self.spec.api_key_header:
            diffs.append(f"API key header {header} -> {self.spec.api_key_header}")
        return diffs

    def _auth(self) -> dict[str, Any]:
        if not self._api_key:
            raise DeployError(f"{self.spec.api_key_env}: not set; needed to create or update {self.label}")
        return {"ApiKeyAuthParameters": {"ApiKeyName": self.spec.api_key_header, "ApiKeyValue": self._api_key}}

    def create(self, c: Clients) -> None:
        c.events.create_connection(Name=self.name, AuthorizationType="API_KEY", AuthParameters=self._auth(),
                                   Description=self.spec.description)

    def update(self, c: Clients, current: Any) -> None:
        c.events.update_connection(Name=self.name, AuthorizationType="API_KEY", AuthParameters=self._auth())

    def delete(self, c: Clients) -> None:
        c.events.delete_connection(Name=self.name)


class LogGroup(Resource):
    """A CloudWatch Logs group and its retention."""

    kind = "log-group"

    def __init__(self, cfg: StackConfig, spec: LogGroupSpec, tags: dict[str, str]):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec

    def current(self, c: Clients) -> Any:
        found = c.logs.describe_log_groups(logGroupNamePrefix=self.name)["logGroups"]
        return next((group for group in found if group["logGroupName"] == self.name), None)

    def differences(self, c: Clients, current: Any) -> list[str]:
        days = current.get("retentionInDays")
        return [] if days == self.spec.retention_days else [f"retention {days} -> {self.spec.retention_days} days"]

    def create(self, c: Clients) -> None:
        c.logs.create_log_group(logGroupName=self.name, tags=self.tags)
        self.update(c, None)

    def update(self, c: Clients, current: Any) -> None:
        c.logs.put_retention_policy(logGroupName=self.name, retentionInDays=self.spec.retention_days)

    def delete(self, c: Clients) -> None:
        c.logs.delete_log_group(logGroupName=self.name)


def _logging(value: dict[str, Any] | None) -> str:
    """A loggingConfiguration compared as AWS returns it (destinations absent when none)."""
    value = value or {}
    return _canonical({"level": value.get("level", "OFF"), "includeExecutionData": bool(value.get("includeExecutionData")),
                       "destinations": value.get("destinations") or []})


class WorkflowDefinitions:
    """The state machines' definitions, rendered with the connection's ARN.

    The ARN ends in an id AWS picks when the connection is created, so it is read from AWS the
    first time a definition is needed after the connection exists, then kept. Before that (a plan
    on a fresh account) the definitions carry a stand-in ARN.
    """

    def __init__(self, cfg: StackConfig):
        self.cfg = cfg
        self._rendered: dict[str, str] | None = None

    def definition(self, c: Clients, name: str) -> str:
        if self._rendered is not None:
            return self._rendered[name]
        found = _describe_connection(c, self.cfg.connection_name)
        if found is None:
            stand_in = arn(self.cfg, "events", f"connection/{self.cfg.connection_name}/not-created-yet")
            return workflows.render_definitions(self.cfg, stand_in)[name]
        self._rendered = workflows.render_definitions(self.cfg, found["ConnectionArn"])
        return self._rendered[name]


class StateMachine(Resource):
    kind = "state-machine"

    def __init__(self, cfg: StackConfig, spec: StateMachineSpec, tags: dict[str, str],
                 definitions: WorkflowDefinitions):
        super().__init__(cfg, spec.name, tags)
        self.spec = spec
        self.definitions = definitions

    def definition(self, c: Clients) -> str:
        return self.definitions.definition(c, self.name)

    def current(self, c: Clients) -> Any:
        try:
            return c.stepfunctions.describe_state_machine(stateMachineArn=self.spec.arn)
        except ClientError as exc:
            if _missing(exc, "StateMachineDoesNotExist"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        if current.get("type") != self.spec.type:
            raise DeployError(f"{self.label}: exists as {current.get('type')}, needs {self.spec.type}; "
                              "a state machine's type cannot change, run teardown first")
        diffs = []
        if json.loads(current["definition"]) != json.loads(self.definition(c)):
            diffs.append("definition")
        if current.get("roleArn") != self.spec.role_arn:
            diffs.append("role")
        if _logging(current.get("loggingConfiguration")) != _logging(self.spec.logging):
            diffs.append("logging")
        return diffs

    def create(self, c: Clients) -> None:
        definition = self.definition(c)
        _with_iam_retry(self.cfg, lambda: c.stepfunctions.create_state_machine(
            name=self.name, definition=definition, roleArn=self.spec.role_arn, type=self.spec.type,
            loggingConfiguration=self.spec.logging, tags=_tag_list(self.tags, "key", "value")))

    def update(self, c: Clients, current: Any) -> None:
        definition = self.definition(c)
        _with_iam_retry(self.cfg, lambda: c.stepfunctions.update_state_machine(
            stateMachineArn=self.spec.arn, definition=definition, roleArn=self.spec.role_arn,
            loggingConfiguration=self.spec.logging))

    def delete(self, c: Clients) -> None:
        c.stepfunctions.delete_state_machine(stateMachineArn=self.spec.arn)


def resources(spec: StackSpec) -> list[Resource]:
    """A reconciler for every resource of the spec, in the order they are created."""
    cfg, tags = spec.config, spec.tags
    definitions = WorkflowDefinitions(cfg)
    return [
        *(Role(cfg, role, tags) for role in spec.roles),
        *(Table(cfg, table, tags) for table in spec.tables),
        *(Bucket(cfg, bucket, tags) for bucket in spec.buckets),
        Script(cfg, spec.script, tags),
        GlueJob(cfg, spec.job, tags),
        CatalogTable(cfg, spec.catalog, tags),
        Connection(cfg, spec.connection, tags),
        LogGroup(cfg, spec.log_group, tags),
        *(StateMachine(cfg, machine, tags, definitions) for machine in spec.state_machines),
    ]
