"""The wanted state of one stack, as data: what :mod:`toolkit.deploy` provisions and
:mod:`toolkit.cloudformation` exports, so the two cannot drift.

:func:`stack_spec` describes every resource from a StackConfig: the two IAM roles and their
policies (scoped to this stack's ARNs), the two tables (keys per docs/design.md), the two buckets
(encryption, public access block, lifecycle rules for every growing prefix), the Glue script and
job, the EventBridge connection, the page-fetch log group and the three state machines (with
their logging configuration). Nothing here talks to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import layout, workflows
from toolkit.config import StackConfig

__all__ = [
    "STACK_TAG", "GLUE_TIMEOUT_MINUTES", "SCRIPT_PATH", "LOG_DELIVERY_ACTIONS",
    "RoleSpec", "TableSpec", "BucketSpec", "ScriptSpec", "GlueJobSpec", "CatalogSpec", "ConnectionSpec", "LogGroupSpec",
    "StateMachineSpec", "StackSpec", "stack_spec",
    "table_definitions", "bucket_settings", "glue_job_definition", "catalog_table_input", "trust_policy",
    "states_policy", "glue_policy", "logging_configuration",
]

STACK_TAG = "dsa:stack"
GLUE_TIMEOUT_MINUTES = 60
# What a state machine's role needs to log to CloudWatch Logs ("Logging Step Functions using
# CloudWatch Logs", IAM permissions); these actions take no resource ARN.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
)
SCRIPT_PATH = Path(__file__).resolve().parent.parent / "glue" / "consolidate.py"


@dataclass(frozen=True)
class RoleSpec:
    """An IAM role one AWS service assumes, with one inline permissions policy."""

    name: str
    service: str
    trust_policy: dict[str, Any]
    policy: dict[str, Any]

    @property
    def policy_name(self) -> str:
        return f"{self.name}-policy"


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: its CreateTable parameters (string keys, on-demand billing)."""

    name: str
    params: dict[str, Any]

    @property
    def key_schema(self) -> list[dict[str, str]]:
        return self.params["KeySchema"]

    @property
    def billing_mode(self) -> str:
        return self.params["BillingMode"]


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket and its settings; ``keep_objects``: teardown refuses to empty it unless forced."""

    name: str
    keep_objects: bool
    encryption: dict[str, Any]
    public_access_block: dict[str, bool]
    lifecycle: dict[str, Any]


@dataclass(frozen=True)
class ScriptSpec:
    """The Glue job's script: a file of this repository copied to the work bucket."""

    bucket: str
    key: str
    path: Path

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class GlueJobSpec:
    """The Glue job: ``definition`` is everything CreateJob takes except Name and Tags."""

    name: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class CatalogSpec:
    """The Glue Data Catalog database and the consolidated output's table (the job adds each run's partition)."""

    database: str
    table_input: dict[str, Any]  # what CreateTable/UpdateTable take as TableInput

    @property
    def table(self) -> str:
        return self.table_input["Name"]


@dataclass(frozen=True)
class ConnectionSpec:
    """The EventBridge connection holding the third-party API key (API_KEY authorization).

    The key itself is not part of the wanted state: AWS never returns it, and deploy reads it
    from the variable named ``api_key_env`` only when the connection must be written.
    """

    name: str
    api_key_header: str
    api_key_env: str
    description: str


@dataclass(frozen=True)
class LogGroupSpec:
    """A CloudWatch Logs group a state machine logs to; ``arn`` ends ``:*`` as Step Functions wants."""

    name: str
    arn: str
    retention_days: int


@dataclass(frozen=True)
class StateMachineSpec:
    """A state machine of one of the workflows (its definition needs the connection's ARN).

    ``logging`` is its loggingConfiguration: the EXPRESS page-fetch logs errors to its log group
    (its history exists only there), the STANDARD ones keep history in Step Functions and log OFF.
    """

    workflow: workflows.Workflow
    name: str
    arn: str
    role_arn: str
    logging: dict[str, Any]

    @property
    def type(self) -> str:
        return self.workflow.type


@dataclass(frozen=True)
class StackSpec:
    """Every resource of one stack, in the order they are created (teardown reverses it)."""

    config: StackConfig
    tags: dict[str, str]
    roles: tuple[RoleSpec, ...]
    tables: tuple[TableSpec, ...]
    buckets: tuple[BucketSpec, ...]
    script: ScriptSpec
    job: GlueJobSpec
    connection: ConnectionSpec
    log_group: LogGroupSpec
    state_machines: tuple[StateMachineSpec, ...]
    catalog: CatalogSpec


def stack_spec(cfg: StackConfig) -> StackSpec:
    """The wanted state of the stack ``cfg`` names."""
    return StackSpec(
        config=cfg,
        tags={STACK_TAG: cfg.stack_name},
        roles=(RoleSpec(cfg.states_role, "states", trust_policy(cfg, "states"), states_policy(cfg)),
               RoleSpec(cfg.glue_role, "glue", trust_policy(cfg, "glue"), glue_policy(cfg))),
        tables=tuple(TableSpec(name, params) for name, params in table_definitions(cfg).items()),
        buckets=tuple(BucketSpec(name, keep_objects, **bucket_settings(cfg, name))
                      for name, keep_objects in ((cfg.work_bucket, False), (cfg.output_bucket, True))),
        script=ScriptSpec(cfg.work_bucket, layout.SCRIPT_KEY, SCRIPT_PATH),
        job=GlueJobSpec(cfg.glue_job, glue_job_definition(cfg)),
        connection=ConnectionSpec(cfg.connection_name, cfg.api_key_header, cfg.api_key_env,
                                  f"Third-party location API key of the {cfg.stack_name} stack"),
        log_group=_log_group(cfg),
        state_machines=tuple(StateMachineSpec(w, w.name(cfg), w.arn(cfg), cfg.role_arn(cfg.states_role),
                                              logging_configuration(cfg, w))
                             for w in workflows.WORKFLOWS),
        catalog=CatalogSpec(cfg.catalog_database, catalog_table_input(cfg)),
    )


def _log_group(cfg: StackConfig) -> LogGroupSpec:
    name = cfg.page_fetch_log_group
    return LogGroupSpec(name, arn(cfg, "logs", f"log-group:{name}:*"), cfg.log_retention_days)


def logging_configuration(cfg: StackConfig, workflow: workflows.Workflow) -> dict[str, Any]:
    """A workflow's loggingConfiguration: EXPRESS machines log errors (no execution data, which
    would copy pages and inputs into the logs) to the page-fetch log group; STANDARD ones OFF."""
    if workflow.type != "EXPRESS":
        return {"level": "OFF", "includeExecutionData": False}
    return {"level": "ERROR", "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": _log_group(cfg).arn}}]}


# ----------------------------------------------------------------------------- parts of the spec


def table_definitions(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    """CreateTable parameters of both tables, keyed by table name (keys per docs/design.md)."""
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
    if bucket == cfg.work_bucket:  # every prefix that grows with each task
        for rule_id, prefix, days in (
            ("expire-parts", layout.PARTS_PREFIX, cfg.parts_expire_days),
            ("expire-map-runs", layout.MAP_RUNS_PREFIX, cfg.map_runs_expire_days),
            ("expire-quarantine", layout.QUARANTINE_PREFIX, cfg.quarantine_expire_days),
            ("expire-archive", layout.ARCHIVE_PREFIX, cfg.archive_expire_days),
        ):
            rules.append({"ID": rule_id, "Status": "Enabled", "Filter": {"Prefix": prefix},
                          "Expiration": {"Days": days}})
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
        "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{cfg.work_bucket}/{layout.SCRIPT_KEY}",
                    "PythonVersion": "3"},
        "DefaultArguments": {
            "--work_bucket": cfg.work_bucket,
            "--output_bucket": cfg.output_bucket,
            "--parts_action": "keep",
            "--catalog_database": cfg.catalog_database,
            "--catalog_table": cfg.catalog_table,
            "--job-language": "python",
        },
        "GlueVersion": "5.0",
        "WorkerType": cfg.glue_worker_type,
        "NumberOfWorkers": cfg.glue_workers,
        "Timeout": GLUE_TIMEOUT_MINUTES,
        "MaxRetries": 0,
        "ExecutionProperty": {"MaxConcurrentRuns": 10},
    }


_PARQUET_HIVE = "org.apache.hadoop.hive.ql.io.parquet"


def catalog_table_input(cfg: StackConfig) -> dict[str, Any]:
    """The consolidated output as a Parquet table partitioned by task_id and run_id, its columns
    and comments from the data dictionary (partition keys are not also table columns: Athena
    rejects a column repeated in the partitioning columns)."""
    def column(spec: layout.OutputColumn) -> dict[str, str]:
        return {"Name": spec.name, "Type": spec.type, "Comment": spec.meaning}

    return {
        "Name": cfg.catalog_table,
        "Description": f"Consolidated output of the {cfg.stack_name} stack: one partition per task and run",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [column(c) for c in layout.DATA_DICTIONARY if c.name in layout.PARTITION_COLUMNS],
        "StorageDescriptor": {
            "Columns": [column(c) for c in layout.DATA_DICTIONARY if c.name not in layout.PARTITION_COLUMNS],
            "Location": f"s3://{cfg.output_bucket}/{layout.CONSOLIDATED_PREFIX}",
            "InputFormat": f"{_PARQUET_HIVE}.MapredParquetInputFormat",
            "OutputFormat": f"{_PARQUET_HIVE}.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": f"{_PARQUET_HIVE}.serde.ParquetHiveSerDe",
                          "Parameters": {"serialization.format": "1"}},
        },
    }


# Services whose documentation gives aws:SourceAccount in a role's trust policy (confused deputy
# prevention): Step Functions does ("Creating an IAM role for your state machine"); Glue's role
# setup pages give none, and a condition on a key the service does not send would keep it from
# assuming the role, so the Glue role trusts glue.amazonaws.com without one.
_SOURCE_ACCOUNT_SERVICES = ("states",)


def trust_policy(cfg: StackConfig, service: str) -> dict[str, Any]:
    """Who may assume a role: one AWS service (for Step Functions, on behalf of this account only)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if service in _SOURCE_ACCOUNT_SERVICES:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": cfg.account_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def arn(cfg: StackConfig, service: str, resource: str) -> str:
    """An ARN of this stack's partition, region and account."""
    return f"arn:{cfg.partition}:{service}:{cfg.region}:{cfg.account_id}:{resource}"


def states_policy(cfg: StackConfig) -> dict[str, Any]:
    """What the three state machines may do, limited to this stack's resources."""
    machines = [cfg.aggregator_state_machine, cfg.extraction_state_machine, cfg.page_fetch_state_machine]
    tables = [arn(cfg, "dynamodb", f"table/{t}") for t in (cfg.locations_table, cfg.tasks_table)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Tables", "Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
             "Resource": tables},
            {"Sid": "Objects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": [f"arn:{cfg.partition}:s3:::{cfg.work_bucket}/{layout.PARTS_PREFIX}*",
                          f"arn:{cfg.partition}:s3:::{cfg.work_bucket}/{layout.COVERAGE_PREFIX}*",
                          f"arn:{cfg.partition}:s3:::{cfg.output_bucket}/{layout.CONSOLIDATED_PREFIX}*",
                          f"arn:{cfg.partition}:s3:::{cfg.output_bucket}/{layout.RUN_FILES_PREFIX}*"]},
            {"Sid": "MapRunResults", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
             "Resource": [f"arn:{cfg.partition}:s3:::{cfg.work_bucket}/{layout.MAP_RUNS_PREFIX}*"]},
            {"Sid": "Workflows", "Effect": "Allow",
             "Action": ["states:StartExecution", "states:StartSyncExecution"],
             "Resource": [cfg.state_machine_arn(m) for m in machines]},
            {"Sid": "ChildExecutions", "Effect": "Allow",
             "Action": ["states:DescribeExecution", "states:StopExecution"],
             "Resource": [arn(cfg, "states", f"execution:{m}:*") for m in machines]
             + [arn(cfg, "states", f"express:{m}:*:*") for m in machines]
             # Distributed Map child executions: execution:{machine}/{map run label}:{name}
             + [arn(cfg, "states", f"execution:{cfg.aggregator_state_machine}/*")]},
            # Redriving a Map Run redrives its failed STANDARD children (AWS: "Redriving Map Runs").
            {"Sid": "MapRunRedrive", "Effect": "Allow",
             "Action": ["states:RedriveExecution"],
             "Resource": [arn(cfg, "states", f"execution:{cfg.aggregator_state_machine}/*")]},
            {"Sid": "MapRuns", "Effect": "Allow",
             "Action": ["states:DescribeMapRun"],
             "Resource": [arn(cfg, "states", f"mapRun:{cfg.aggregator_state_machine}/*")]},
            {"Sid": "SyncExecutionEvents", "Effect": "Allow",
             "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
             "Resource": [arn(cfg, "events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")]},
            # The API key goes only to the configured APIs, and only in GET requests.
            {"Sid": "HttpTask", "Effect": "Allow",
             "Action": ["states:InvokeHTTPEndpoint"],
             "Resource": [cfg.state_machine_arn(m) for m in machines],
             "Condition": {"StringLike": {"states:HTTPEndpoint": list(cfg.http_endpoint_patterns)},
                           "StringEquals": {"states:HTTPMethod": "GET"}}},
            {"Sid": "ConnectionCredentials", "Effect": "Allow",
             "Action": ["events:RetrieveConnectionCredentials"],
             "Resource": [arn(cfg, "events", f"connection/{cfg.connection_name}/*")]},
            {"Sid": "ConnectionSecret", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
             "Resource": [arn(cfg, "secretsmanager", f"secret:events!connection/{cfg.connection_name}/*")]},
            {"Sid": "Consolidation", "Effect": "Allow",
             "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
             "Resource": [arn(cfg, "glue", f"job/{cfg.glue_job}")]},
            # Logging to CloudWatch Logs (the EXPRESS page-fetch): AWS documents these on "*" only.
            {"Sid": "LogDelivery", "Effect": "Allow", "Action": list(LOG_DELIVERY_ACTIONS), "Resource": ["*"]},
        ],
    }


def glue_policy(cfg: StackConfig) -> dict[str, Any]:
    """What the consolidation job may do: the two buckets, reading the locations table, its own log groups."""
    work, out = (f"arn:{cfg.partition}:s3:::{b}" for b in (cfg.work_bucket, cfg.output_bucket))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [work, out]},
            {"Sid": "ReadWork", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": [f"{work}/*"]},
            {"Sid": "WriteOutput", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": [f"{out}/{layout.CONSOLIDATED_PREFIX}*", f"{out}/{layout.RUN_FILES_PREFIX}*",
                          f"{out}/{layout.LATEST_PREFIX}*"]},
            # Each run's partition of the output table (AWS: "Specifying AWS Glue resource ARNs":
            # partition actions are authorised on the catalog, the database and the table).
            {"Sid": "CatalogPartitions", "Effect": "Allow",
             "Action": ["glue:GetTable", "glue:GetPartition", "glue:CreatePartition", "glue:UpdatePartition"],
             "Resource": [arn(cfg, "glue", "catalog"), arn(cfg, "glue", f"database/{cfg.catalog_database}"),
                          arn(cfg, "glue", f"table/{cfg.catalog_database}/{cfg.catalog_table}")]},
            {"Sid": "ReadLocations", "Effect": "Allow", "Action": ["dynamodb:Query"],
             "Resource": [arn(cfg, "dynamodb", f"table/{cfg.locations_table}")]},
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [arn(cfg, "logs", "log-group:/aws-glue/*")]},
        ],
    }
