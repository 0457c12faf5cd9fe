"""Provision, update and tear down one stack of the aggregator, idempotently, from a StackConfig.

Every resource is a small object that can read its current state, say how it differs from
the wanted state, and create, update or delete itself. :func:`plan` only reads; :func:`deploy`
creates what is missing and updates what differs, in dependency order (roles, tables, buckets,
the Glue script and job, the connection, then the state machines children first);
:func:`teardown` deletes the same resources in reverse order. The wanted state (key schemas,
bucket settings, IAM policies scoped to this stack's ARNs, the Glue job) is built by public
functions here, so :mod:`toolkit.cloudformation` exports exactly the same stack.

The third-party API key comes from the environment variable named by ``cfg.api_key_env``
(either the key itself or a Secrets Manager secret ARN holding it); it is sent only to
EventBridge and never printed, logged or stored in a change's detail.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

from toolkit import aws, layout, workflows
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError

__all__ = [
    "Change", "DeployError", "Clients", "plan", "deploy", "teardown", "resources",
    "table_definitions", "bucket_settings", "glue_job_definition", "states_policy", "glue_policy",
    "trust_policy", "SCRIPT_PATH", "SCRIPT_KEY", "PARTS_EXPIRE_DAYS", "STACK_TAG",
]

SCRIPT_PATH = Path(__file__).resolve().parent.parent / "glue" / "consolidate.py"
SCRIPT_KEY = layout.SCRIPT_KEY
# Parts are the input of reruns; after this long the task is settled and they can go.
PARTS_EXPIRE_DAYS = 14
GLUE_TIMEOUT_MINUTES = 60
STACK_TAG = "dsa:stack"
IAM_RETRY_SECONDS = 90.0


class DeployError(ToolkitError):
    """A resource cannot be created, updated or deleted as asked; the message says which and why."""


@dataclass(frozen=True)
class Change:
    """What deploy did or would do to one resource: create, update, unchanged, delete or absent."""

    resource: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:9} {self.resource}" + (f"  ({self.detail})" if self.detail else "")


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

    @classmethod
    def create(cls, cfg: StackConfig, session: boto3.Session | None = None) -> "Clients":
        session = session or aws.session(cfg)
        return cls(**{name: aws.client(cfg, name, session) for name in cls.__dataclass_fields__})


# --------------------------------------------------------------- wanted state

def table_definitions(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    """CreateTable parameters of both tables, keyed by table name (keys per design.md)."""
    def table(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
        return {
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"},
                                     {"AttributeName": range_key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                          {"AttributeName": range_key, "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    return {
        cfg.locations_table: table(cfg.locations_table, "task_id", "location_id"),
        cfg.tasks_table: table(cfg.tasks_table, "task_id", "created_at"),
    }


def bucket_settings(cfg: StackConfig, bucket: str) -> dict[str, Any]:
    """Encryption, public access block and lifecycle rules wanted on one of the stack's buckets."""
    rules: list[dict[str, Any]] = [{
        "ID": "abort-incomplete-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }]
    if bucket == cfg.work_bucket:
        rules.append({
            "ID": "expire-parts",
            "Status": "Enabled",
            "Filter": {"Prefix": layout.PARTS_PREFIX},
            "Expiration": {"Days": PARTS_EXPIRE_DAYS},
        })
    return {
        "encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                  "BucketKeyEnabled": True}]},
        "public_access_block": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        "lifecycle": {"Rules": rules},
    }


def glue_job_definition(cfg: StackConfig) -> dict[str, Any]:
    """The Glue job (everything CreateJob takes except Name and Tags)."""
    return {
        "Role": cfg.role_arn(cfg.glue_role),
        "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{cfg.work_bucket}/{SCRIPT_KEY}",
                    "PythonVersion": "3"},
        "DefaultArguments": {
            "--work_bucket": cfg.work_bucket,
            "--output_bucket": cfg.output_bucket,
            "--parts_action": "keep",
            "--job-language": "python",
        },
        "GlueVersion": "5.0",
        "WorkerType": cfg.glue_worker_type,
        "NumberOfWorkers": cfg.glue_workers,
        "Timeout": GLUE_TIMEOUT_MINUTES,
        "MaxRetries": 0,
        "ExecutionProperty": {"MaxConcurrentRuns": 10},
    }


def trust_policy(cfg: StackConfig, service: str) -> dict[str, Any]:
    """Who may assume a role: one AWS service, on behalf of this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": f"{service}.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": cfg.account_id}},
        }],
    }


def _arn(cfg: StackConfig, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return (f"arn:{cfg.partition}:{service}:{cfg.region if region else ''}:"
            f"{cfg.account_id if account else ''}:{resource}")


def states_policy(cfg: StackConfig) -> dict[str, Any]:
    """What the three state machines may do, limited to this stack's resources."""
    machines = [cfg.aggregator_state_machine, cfg.extraction_state_machine, cfg.page_fetch_state_machine]
    tables = [_arn(cfg, "dynamodb", f"table/{t}") for t in (cfg.locations_table, cfg.tasks_table)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Tables", "Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
             "Resource": tables},
            {"Sid": "Objects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": [f"arn:{cfg.partition}:s3:::{cfg.work_bucket}/{layout.PARTS_PREFIX}*",
                          f"arn:{cfg.partition}:s3:::{cfg.output_bucket}/{layout.CONSOLIDATED_PREFIX}*"]},
            {"Sid": "MapRunResults", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
             "Resource": [f"arn:{cfg.partition}:s3:::{cfg.work_bucket}/{layout.MAP_RUNS_PREFIX}*"]},
            {"Sid": "Workflows", "Effect": "Allow",
             "Action": ["states:StartExecution", "states:StartSyncExecution"],
             "Resource": [cfg.state_machine_arn(m) for m in machines]},
            {"Sid": "ChildExecutions", "Effect": "Allow",
             "Action": ["states:DescribeExecution", "states:StopExecution"],
             "Resource": [_arn(cfg, "states", f"execution:{m}:*") for m in machines]
             + [_arn(cfg, "states", f"express:{m}:*:*") for m in machines]
             # Distributed Map child executions: execution:{machine}/{map run label}:{name}
             + [_arn(cfg, "states", f"execution:{cfg.aggregator_state_machine}/*")]},
            {"Sid": "MapRuns", "Effect": "Allow",
             "Action": ["states:DescribeMapRun"],
             "Resource": [_arn(cfg, "states", f"mapRun:{cfg.aggregator_state_machine}/*")]},
            {"Sid": "SyncExecutionEvents", "Effect": "Allow",
             "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
             "Resource": [_arn(cfg, "events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")]},
            {"Sid": "HttpTask", "Effect": "Allow",
             "Action": ["states:InvokeHTTPEndpoint"],
             "Resource": [cfg.state_machine_arn(m) for m in machines]},
            {"Sid": "ConnectionCredentials", "Effect": "Allow",
             "Action": ["events:RetrieveConnectionCredentials"],
             "Resource": [_arn(cfg, "events", f"connection/{cfg.connection_name}/*")]},
            {"Sid": "ConnectionSecret", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
             "Resource": [_arn(cfg, "secretsmanager", f"secret:events!connection/{cfg.connection_name}/*")]},
            {"Sid": "Consolidation", "Effect": "Allow",
             "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
             "Resource": [_arn(cfg, "glue", f"job/{cfg.glue_job}")]},
        ],
    }


def glue_policy(cfg: StackConfig) -> dict[str, Any]:
    """What the consolidation job may do: the two buckets and its own log groups."""
    work, out = (f"arn:{cfg.partition}:s3:::{b}" for b in (cfg.work_bucket, cfg.output_bucket))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [work, out]},
            {"Sid": "ReadWork", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": [f"{work}/*"]},
            {"Sid": "WriteOutput", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [f"{out}/{layout.CONSOLIDATED_PREFIX}*"]},
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [_arn(cfg, "logs", "log-group:/aws-glue/*")]},
        ],
    }


def _tags(cfg: StackConfig) -> dict[str, str]:
    return {STACK_TAG: cfg.stack_name}


# ------------------------------------------------------------------ helpers

def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _missing(exc: ClientError, *codes: str) -> bool:
    """Whether an error is one of the codes a service uses for "no such resource"."""
    return _code(exc) in codes


def _policy_doc(value: Any) -> Any:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them, moto may not."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def api_key(cfg: StackConfig, clients: Clients, environ: Mapping[str, str] | None = None) -> str | None:
    """The third-party API key: the variable's value, or the secret it names by ARN; None if unset."""
    environ = os.environ if environ is None else environ
    value = environ.get(cfg.api_key_env, "").strip()
    if not value:
        return None
    if value.startswith("arn:") and ":secretsmanager:" in value:
        try:
            secret = clients.secretsmanager.get_secret_value(SecretId=value)
        except ClientError as exc:
            raise DeployError(f"{cfg.api_key_env}: cannot read the secret it names ({_code(exc)})") from None
        value = (secret.get("SecretString") or "").strip()
        if not value:
            raise DeployError(f"{cfg.api_key_env}: the secret it names has no SecretString")
    return value


def _with_iam_retry(cfg: StackConfig, call: Callable[[], Any]) -> Any:
    """On AWS a new role takes seconds to become assumable; retry the calls that need it."""
    deadline = time.monotonic() + (IAM_RETRY_SECONDS if not cfg.is_local else 0)
    while True:
        try:
            return call()
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            if time.monotonic() >= deadline or "role" not in message.lower() or _code(exc) not in (
                    "AccessDeniedException", "InvalidParameterValueException", "InvalidInputException"):
                raise
            time.sleep(5)


# ---------------------------------------------------------------- resources

class Resource:
    """One resource of the stack. Subclasses read, compare, create, update and delete it."""

    kind = ""

    def __init__(self, cfg: StackConfig, name: str):
        self.cfg = cfg
        self.name = name

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

    def __init__(self, cfg: StackConfig, name: str, service: str, policy: dict[str, Any]):
        super().__init__(cfg, name)
        self.service = service
        self.policy = policy
        self.policy_name = f"{name}-policy"

    def current(self, c: Clients) -> Any:
        try:
            role = c.iam.get_role(RoleName=self.name)["Role"]
        except ClientError as exc:
            if _missing(exc, "NoSuchEntity"):
                return None
            raise
        try:
            policy = c.iam.get_role_policy(RoleName=self.name, PolicyName=self.policy_name)["PolicyDocument"]
        except ClientError as exc:
            if not _missing(exc, "NoSuchEntity"):
                raise
            policy = None
        return {"trust": _policy_doc(role["AssumeRolePolicyDocument"]), "policy": _policy_doc(policy)}

    def differences(self, c: Clients, current: Any) -> list[str]:
        diffs = []
        if _canonical(current["trust"]) != _canonical(trust_policy(self.cfg, self.service)):
            diffs.append("trust policy")
        if current["policy"] is None or _canonical(current["policy"]) != _canonical(self.policy):
            diffs.append("permissions policy")
        return diffs

    def create(self, c: Clients) -> None:
        c.iam.create_role(RoleName=self.name, AssumeRolePolicyDocument=json.dumps(trust_policy(self.cfg, self.service)),
                          Description=f"{self.service} role of the {self.cfg.stack_name} aggregator stack",
                          Tags=[{"Key": k, "Value": v} for k, v in _tags(self.cfg).items()])
        self._put_policy(c)

    def update(self, c: Clients, current: Any) -> None:
        c.iam.update_assume_role_policy(RoleName=self.name,
                                        PolicyDocument=json.dumps(trust_policy(self.cfg, self.service)))
        self._put_policy(c)

    def _put_policy(self, c: Clients) -> None:
        c.iam.put_role_policy(RoleName=self.name, PolicyName=self.policy_name, PolicyDocument=json.dumps(self.policy))

    def delete(self, c: Clients) -> None:
        for name in c.iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
            c.iam.delete_role_policy(RoleName=self.name, PolicyName=name)
        c.iam.delete_role(RoleName=self.name)


class Table(Resource):
    kind = "dynamodb-table"

    def current(self, c: Clients) -> Any:
        try:
            return c.dynamodb.describe_table(TableName=self.name)["Table"]
        except ClientError as exc:
            if _missing(exc, "ResourceNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        wanted = table_definitions(self.cfg)[self.name]
        if current["KeySchema"] != wanted["KeySchema"]:
            keys = ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in current["KeySchema"])
            raise DeployError(f"{self.label}: exists with keys {keys}, not the ones design.md needs; "
                              "delete it or choose another table name")
        mode = (current.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        return [] if mode == wanted["BillingMode"] else [f"billing mode {mode} -> {wanted['BillingMode']}"]

    def create(self, c: Clients) -> None:
        params = table_definitions(self.cfg)[self.name]
        c.dynamodb.create_table(**params, Tags=[{"Key": k, "Value": v} for k, v in _tags(self.cfg).items()])
        c.dynamodb.get_waiter("table_exists").wait(TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    def update(self, c: Clients, current: Any) -> None:
        c.dynamodb.update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")

    def delete(self, c: Clients) -> None:
        c.dynamodb.delete_table(TableName=self.name)


class Bucket(Resource):
    kind = "s3-bucket"

    def __init__(self, cfg: StackConfig, name: str, keep_objects: bool):
        super().__init__(cfg, name)
        self.keep_objects = keep_objects  # teardown refuses to empty it unless forced

    def current(self, c: Clients) -> Any:
        try:
            c.s3.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if _missing(exc, "404", "NoSuchBucket", "NotFound"):
                return None
            if _code(exc) in ("403", "AccessDenied"):
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
            if _code(exc) == missing_code:
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        wanted = bucket_settings(self.cfg, self.name)
        diffs = []
        rules = (current["encryption"] or {}).get("Rules") or [{}]
        algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        if algorithm != "AES256":
            diffs.append("encryption")
        if current["public_access_block"] != wanted["public_access_block"]:
            diffs.append("public access block")
        have = {(r.get("ID"), _canonical(r.get("Filter")), _canonical(r.get("Expiration")),
                 _canonical(r.get("AbortIncompleteMultipartUpload"))) for r in current["lifecycle"] or []}
        want = {(r.get("ID"), _canonical(r.get("Filter")), _canonical(r.get("Expiration")),
                 _canonical(r.get("AbortIncompleteMultipartUpload"))) for r in wanted["lifecycle"]["Rules"]}
        if have != want:
            diffs.append("lifecycle rules")
        return diffs

    def create(self, c: Clients) -> None:
        params: dict[str, Any] = {"Bucket": self.name}
        if self.cfg.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.cfg.region}
        c.s3.create_bucket(**params)
        self._configure(c)
        c.s3.put_bucket_tagging(Bucket=self.name,
                                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in _tags(self.cfg).items()]})

    def update(self, c: Clients, current: Any) -> None:
        self._configure(c)

    def _configure(self, c: Clients) -> None:
        wanted = bucket_settings(self.cfg, self.name)
        c.s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=wanted["public_access_block"])
        c.s3.put_bucket_encryption(Bucket=self.name, ServerSideEncryptionConfiguration=wanted["encryption"])
        c.s3.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration=wanted["lifecycle"])

    def delete(self, c: Clients) -> None:
        for page in c.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if keys:
                c.s3.delete_objects(Bucket=self.name, Delete={"Objects": keys, "Quiet": True})
        c.s3.delete_bucket(Bucket=self.name)


class Script(Resource):
    """glue/consolidate.py uploaded where the Glue job reads it."""

    kind = "s3-object"

    def __init__(self, cfg: StackConfig):
        super().__init__(cfg, f"s3://{cfg.work_bucket}/{SCRIPT_KEY}")

    def current(self, c: Clients) -> Any:
        try:
            return c.s3.get_object(Bucket=self.cfg.work_bucket, Key=SCRIPT_KEY)["Body"].read()
        except ClientError as exc:
            if _missing(exc, "NoSuchKey", "NoSuchBucket", "404"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        return [] if current == SCRIPT_PATH.read_bytes() else ["script content"]

    def create(self, c: Clients) -> None:
        body = SCRIPT_PATH.read_bytes()
        c.s3.put_object(Bucket=self.cfg.work_bucket, Key=SCRIPT_KEY, Body=body, ContentType="text/x-python",
                        Metadata={"sha256": hashlib.sha256(body).hexdigest()})

    def update(self, c: Clients, current: Any) -> None:
        self.create(c)

    def delete(self, c: Clients) -> None:
        c.s3.delete_object(Bucket=self.cfg.work_bucket, Key=SCRIPT_KEY)


class GlueJob(Resource):
    kind = "glue-job"

    def current(self, c: Clients) -> Any:
        try:
            return c.glue.get_job(JobName=self.name)["Job"]
        except ClientError as exc:
            if _missing(exc, "EntityNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        wanted = glue_job_definition(self.cfg)
        return [key for key, value in wanted.items() if _canonical(current.get(key)) != _canonical(value)]

    def create(self, c: Clients) -> None:
        _with_iam_retry(self.cfg, lambda: c.glue.create_job(Name=self.name, Tags=_tags(self.cfg),
                                                            **glue_job_definition(self.cfg)))

    def update(self, c: Clients, current: Any) -> None:
        _with_iam_retry(self.cfg, lambda: c.glue.update_job(JobName=self.name,
                                                            JobUpdate=glue_job_definition(self.cfg)))

    def delete(self, c: Clients) -> None:
        c.glue.delete_job(JobName=self.name)


class Connection(Resource):
    """The EventBridge connection holding the third-party API key (API_KEY authorization)."""

    kind = "events-connection"

    def __init__(self, cfg: StackConfig, key: Callable[[], str | None]):
        super().__init__(cfg, cfg.connection_name)
        self.key = key

    def current(self, c: Clients) -> Any:
        try:
            return c.events.describe_connection(Name=self.name)
        except ClientError as exc:
            if _missing(exc, "ResourceNotFoundException"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        diffs = []
        if current.get("AuthorizationType") != "API_KEY":
            diffs.append(f"authorization {current.get('AuthorizationType')} -> API_KEY")
        header = ((current.get("AuthParameters") or {}).get("ApiKeyAuthParameters") or {}).get("ApiKeyName")
        if header != self.cfg.api_key_header:
            diffs.append(f"API key header {header} -> {self.cfg.api_key_header}")
        return diffs

    def _auth(self) -> dict[str, Any]:
        value = self.key()
        if not value:
            raise DeployError(f"{self.cfg.api_key_env}: not set; needed to create or update {self.label}")
        return {"ApiKeyAuthParameters": {"ApiKeyName": self.cfg.api_key_header, "ApiKeyValue": value}}

    def create(self, c: Clients) -> None:
        c.events.create_connection(Name=self.name, AuthorizationType="API_KEY", AuthParameters=self._auth(),
                                   Description=f"Third-party location API key of the {self.cfg.stack_name} stack")

    def update(self, c: Clients, current: Any) -> None:
        c.events.update_connection(Name=self.name, AuthorizationType="API_KEY", AuthParameters=self._auth())

    def delete(self, c: Clients) -> None:
        c.events.delete_connection(Name=self.name)


class StateMachine(Resource):
    kind = "state-machine"

    def __init__(self, cfg: StackConfig, workflow: workflows.Workflow, definition: Callable[[Clients], str]):
        super().__init__(cfg, workflow.name(cfg))
        self.workflow = workflow
        self.definition = definition
        self.arn = workflow.arn(cfg)

    def current(self, c: Clients) -> Any:
        try:
            return c.stepfunctions.describe_state_machine(stateMachineArn=self.arn)
        except ClientError as exc:
            if _missing(exc, "StateMachineDoesNotExist"):
                return None
            raise

    def differences(self, c: Clients, current: Any) -> list[str]:
        if current.get("type") != self.workflow.type:
            raise DeployError(f"{self.label}: exists as {current.get('type')}, needs {self.workflow.type}; "
                              "a state machine's type cannot change, run teardown first")
        diffs = []
        if json.loads(current["definition"]) != json.loads(self.definition(c)):
            diffs.append("definition")
        if current.get("roleArn") != self.cfg.role_arn(self.cfg.states_role):
            diffs.append("role")
        return diffs

    def create(self, c: Clients) -> None:
        definition = self.definition(c)
        _with_iam_retry(self.cfg, lambda: c.stepfunctions.create_state_machine(
            name=self.name, definition=definition, roleArn=self.cfg.role_arn(self.cfg.states_role),
            type=self.workflow.type, tags=[{"key": k, "value": v} for k, v in _tags(self.cfg).items()]))

    def update(self, c: Clients, current: Any) -> None:
        definition = self.definition(c)
        _with_iam_retry(self.cfg, lambda: c.stepfunctions.update_state_machine(
            stateMachineArn=self.arn, definition=definition, roleArn=self.cfg.role_arn(self.cfg.states_role)))

    def delete(self, c: Clients) -> None:
        c.stepfunctions.delete_state_machine(stateMachineArn=self.arn)


def resources(cfg: StackConfig, key: Callable[[], str | None] = lambda: None) -> list[Resource]:
    """Every resource of the stack, in the order they are created (teardown reverses it)."""
    definitions: dict[str, str] = {}

    def definition_of(name: str) -> Callable[[Clients], str]:
        def rendered(c: Clients) -> str:
            if definitions:
                return definitions[name]
            # The connection's ARN ends in an id AWS picks at creation: read it once it exists.
            found = Connection(cfg, key).current(c)
            if found is None:
                arn = _arn(cfg, "events", f"connection/{cfg.connection_name}/not-created-yet")
                return workflows.render_definitions(cfg, arn)[name]
            definitions.update(workflows.render_definitions(cfg, found["ConnectionArn"]))
            return definitions[name]
        return rendered

    return [
        Role(cfg, cfg.states_role, "states", states_policy(cfg)),
        Role(cfg, cfg.glue_role, "glue", glue_policy(cfg)),
        *(Table(cfg, name) for name in table_definitions(cfg)),
        Bucket(cfg, cfg.work_bucket, keep_objects=False),
        Bucket(cfg, cfg.output_bucket, keep_objects=True),
        Script(cfg),
        GlueJob(cfg, cfg.glue_job),
        Connection(cfg, key),
        *(StateMachine(cfg, w, definition_of(w.name(cfg))) for w in workflows.WORKFLOWS),
    ]


# ----------------------------------------------------------------- actions

def _inspect(resource: Resource, c: Clients) -> tuple[Any, Change]:
    current = resource.current(c)
    if current is None:
        return None, Change(resource.label, "create")
    diffs = resource.differences(c, current)
    if diffs:
        return current, Change(resource.label, "update", ", ".join(diffs))
    return current, Change(resource.label, "unchanged")


def plan(cfg: StackConfig, session: boto3.Session | None = None, *, clients: Clients | None = None) -> list[Change]:
    """What :func:`deploy` would change, resource by resource; reads only."""
    c = clients or Clients.create(cfg, session)
    return [_inspect(r, c)[1] for r in resources(cfg)]


def deploy(cfg: StackConfig, session: boto3.Session | None = None, *, clients: Clients | None = None,
           environ: Mapping[str, str] | None = None, rotate_api_key: bool = False,
           progress: Callable[[Change], None] | None = None) -> list[Change]:
    """Create what is missing and update what differs, in dependency order; return the changes.

    Everything is inspected first, and the API key read when the connection needs it, so a
    predictable problem (a missing key, a table with other keys) stops the deploy before any write.
    AWS never returns a connection's key, so a new key is sent only when ``rotate_api_key`` is set.
    """
    c = clients or Clients.create(cfg, session)
    key: list[str | None] = []
    stack = resources(cfg, key=lambda: key[0])
    inspected = [_inspect(r, c) for r in stack]
    if rotate_api_key:
        inspected = [(cur, Change(ch.resource, "update", "API key rotated"))
                     if isinstance(r, Connection) and ch.action == "unchanged" else (cur, ch)
                     for r, (cur, ch) in zip(stack, inspected)]
    if any(isinstance(r, Connection) and ch.action != "unchanged" for r, (_, ch) in zip(stack, inspected)):
        key.append(api_key(cfg, c, environ))
        if not key[0]:
            raise DeployError(f"{cfg.api_key_env}: not set; export the third-party API key (or a Secrets "
                              f"Manager ARN holding it) to create or update connection {cfg.connection_name}")
    else:
        key.append(None)
    changes = []
    for resource, (current, change) in zip(stack, inspected):
        try:
            if change.action == "create":
                resource.create(c)
            elif change.action == "update":
                resource.update(c, current)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            raise DeployError(f"{resource.label}: {change.action} failed: {_code(exc)}: {message}") from None
        changes.append(change)
        if progress:
            progress(change)
    return changes


def teardown(cfg: StackConfig, session: boto3.Session | None = None, *, force: bool = False,
             clients: Clients | None = None, progress: Callable[[Change], None] | None = None) -> list[Change]:
    """Delete this stack's resources in reverse order; a non-empty output bucket needs ``force``."""
    c = clients or Clients.create(cfg, session)
    ordered = list(reversed(resources(cfg)))
    output = next(r for r in ordered if isinstance(r, Bucket) and r.keep_objects)
    if not force and output.current(c) is not None:
        if c.s3.list_objects_v2(Bucket=output.name, MaxKeys=1).get("KeyCount", 0):
            raise DeployError(f"{output.label}: holds consolidated output; copy what you need, then run "
                              "teardown with --force to delete it")
    changes = []
    for resource in ordered:
        if isinstance(resource, Script):
            continue  # goes with the work bucket
        if resource.current(c) is None:
            change = Change(resource.label, "absent")
        else:
            try:
                resource.delete(c)
            except ClientError as exc:
                message = exc.response.get("Error", {}).get("Message", "")
                raise DeployError(f"{resource.label}: delete failed: {_code(exc)}: {message}") from None
            change = Change(resource.label, "delete")
        changes.append(change)
        if progress:
            progress(change)
    return changes
