"""The authorization hook: every call a workflow makes is checked against its execution role.

On AWS, Step Functions calls services with the execution role's credentials, so a role that
lacks a permission fails exactly the state that needs it. The runtime asks an
:class:`Authorizer` before each such call: ``authorize(role_arn, action, resource, context)``
returns when IAM would allow it and raises :class:`AccessDenied` when not. The local stack plugs
in one backed by its IAM (``toolkit.local.iam``); without one, :class:`AllowAll` lets everything
through (the runtime stays usable on its own).

:class:`Permissions` is what the integrations hold: the authorizer plus the IAM action and
resource ARN each call needs, named as AWS's Service Authorization Reference names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

__all__ = ["AccessDenied", "Authorizer", "AllowAll", "Permissions", "sdk_action", "sdk_resource", "partition_of", "iam_machine_arn"]


class AccessDenied(Exception):
    """IAM refused ``action`` on ``resource``; ``message`` is AWS's text ("User: ... is not authorized ...")."""

    def __init__(self, action: str, resource: str, message: str):
        super().__init__(message)
        self.action = action
        self.resource = resource
        self.message = message


class Authorizer(Protocol):
    """Decides whether a role may perform an action on a resource, given the request's condition keys."""

    def authorize(self, role_arn: str, action: str, resource: str, context: Mapping[str, Any]) -> None:
        """Return if allowed; raise :class:`AccessDenied` otherwise."""
        ...


class AllowAll:
    """No IAM: every call is allowed (the runtime on its own, or enforcement turned off)."""

    def authorize(self, role_arn: str, action: str, resource: str, context: Mapping[str, Any]) -> None:
        return None


# IAM service prefixes where they differ from the aws-sdk integration's (or boto3's) service name.
_IAM_PREFIXES = {"sfn": "states", "stepfunctions": "states", "cloudwatchlogs": "logs", "eventbridge": "events"}
# S3 API operations whose IAM action has another name (Service Authorization Reference, Amazon S3).
_S3_ACTIONS = {
    "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadObject": "GetObject",
    "HeadBucket": "ListBucket", "ListObjectVersions": "ListBucketVersions", "DeleteObjects": "DeleteObject",
    "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject", "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts", "ListBuckets": "ListAllMyBuckets",
    "GetObjectAttributes": "GetObject",
}


def sdk_action(service: str, action: str) -> str:
    """The IAM action of an aws-sdk call: ``s3:getObject`` -> ``s3:GetObject``, ``sfn:startSyncExecution`` -> ``states:StartSyncExecution``."""
    prefix = _IAM_PREFIXES.get(service, service)
    name = action[:1].upper() + action[1:]
    if prefix == "s3":
        name = _S3_ACTIONS.get(name, name)
    return f"{prefix}:{name}"


def _param(params: Any, *names: str) -> str | None:
    if not isinstance(params, dict):
        return None
    lowered = {str(k).lower(): v for k, v in params.items()}
    for name in names:
        value = lowered.get(name.lower())
        if isinstance(value, str) and value:
            return value
    return None


def sdk_resource(service: str, params: Any, *, partition: str, region: str, account: str) -> str:
    """The resource ARN an aws-sdk (or optimised) call acts on, from its parameters; ``*`` when it names none."""
    prefix = _IAM_PREFIXES.get(service, service)
    if prefix == "s3":
        bucket, key = _param(params, "Bucket"), _param(params, "Key")
        if bucket is None:
            return "*"
        return f"arn:{partition}:s3:::{bucket}/{key}" if key is not None else f"arn:{partition}:s3:::{bucket}"
    if prefix == "dynamodb":
        table = _param(params, "TableName")
        if table is None:
            return "*"
        return table if table.startswith("arn:") else f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"
    if prefix == "glue":
        job = _param(params, "JobName")
        return f"arn:{partition}:glue:{region}:{account}:job/{job}" if job else "*"
    if prefix == "states":
        return _param(params, "StateMachineArn", "ExecutionArn", "MapRunArn", "ActivityArn") or "*"
    if prefix == "secretsmanager":
        secret = _param(params, "SecretId")
        if secret is None:
            return "*"
        return secret if secret.startswith("arn:") else f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret}"
    return "*"


@dataclass
class Permissions:
    """The integrations' view of the authorizer: checks one call against an execution's role."""

    authorizer: Authorizer = field(default_factory=AllowAll)
    region: str = "us-east-1"
    account: str = "000000000000"

    @property
    def enforced(self) -> bool:
        return not isinstance(self.authorizer, AllowAll)

    def check(self, execution: Any, action: str, resource: str, context: Mapping[str, Any] | None = None) -> None:
        """Raise :class:`AccessDenied` unless the execution's role may perform ``action`` on ``resource``."""
        self.authorizer.authorize(execution.machine.role_arn, action, resource, dict(context or {}))

    def check_sdk(self, execution: Any, service: str, action: str, params: Any) -> None:
        """Check an aws-sdk or optimised call (``service`` as in the integration's ARN, ``action`` camelCase)."""
        if not self.enforced:
            return
        resource = sdk_resource(service, params, partition=partition_of(execution.arn),
                                region=self.region, account=self.account)
        self.check(execution, sdk_action(service, action), resource)


def partition_of(arn: str) -> str:
    """The partition of an ARN (``aws`` when it is not one)."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def iam_machine_arn(machine_arn: str) -> str:
    """The state machine IAM sees for an execution: a Map Run child's machine ``PARENT/LABEL`` is ``PARENT``."""
    head, _, name = machine_arn.rpartition(":")
    return f"{head}:{name.partition('/')[0]}"
