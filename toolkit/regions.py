"""Where the stack can run on AWS: a region's partition, and the regions that cannot host it.

The partition comes from botocore's endpoint data, so new regions and partitions follow boto3.
Which regions lack a resource type the stack deploys comes from CloudFormation's per-region
resource specifications as cfn-lint ships them; ``tests/test_regions.py`` recomputes the table
from cfn-lint's data, so an upgrade of cfn-lint that changes it fails the test until the table
here is updated.
"""

from __future__ import annotations

import botocore.session
from botocore.exceptions import UnknownRegionError

__all__ = ["STACK_RESOURCE_TYPES", "REGIONS_MISSING", "partition_of", "hosting_problem"]

#: The resource types the stack deploys, with what each is for (named in error messages).
STACK_RESOURCE_TYPES: dict[str, str] = {
    "AWS::Events::Connection": "EventBridge connections (the HTTP Task's authentication)",
    "AWS::StepFunctions::StateMachine": "Step Functions state machines",
    "AWS::Glue::Job": "Glue jobs",
    "AWS::DynamoDB::Table": "DynamoDB tables",
    "AWS::S3::Bucket": "S3 buckets",
    "AWS::IAM::Role": "IAM roles",
    "AWS::SecretsManager::Secret": "Secrets Manager secrets",
    "AWS::Logs::LogGroup": "CloudWatch Logs log groups",
}

#: Regions whose resource specification lacks one of STACK_RESOURCE_TYPES (cfn-lint's data).
REGIONS_MISSING: dict[str, tuple[str, ...]] = {
    "ap-east-2": ("AWS::Events::Connection",),
    "ap-southeast-5": ("AWS::Events::Connection",),
    "ap-southeast-6": ("AWS::Events::Connection",),
    "ca-west-1": ("AWS::Events::Connection",),
    "il-central-1": ("AWS::Events::Connection",),
    "mx-central-1": ("AWS::Events::Connection",),
    "us-gov-east-1": ("AWS::Events::Connection",),
    "us-gov-west-1": ("AWS::Events::Connection",),
}

_BOTOCORE = botocore.session.get_session()


def partition_of(region: str) -> str | None:
    """The AWS partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``...), None if unknown."""
    try:
        return _BOTOCORE.get_partition_for_region(region)
    except UnknownRegionError:
        return None


def hosting_problem(region: str) -> str | None:
    """Why the stack cannot be deployed in ``region`` on AWS, or None if it can."""
    if partition_of(region) is None:
        return f"{region} is not a region botocore knows"
    missing = REGIONS_MISSING.get(region, ())
    if missing:
        what = ", ".join(f"{STACK_RESOURCE_TYPES[t]} ({t})" for t in missing)
        return f"{region} cannot host the stack: it has no {what}"
    return None
