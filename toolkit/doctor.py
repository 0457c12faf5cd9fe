"""The preflight an operator runs before a task (``dsa doctor``, notebook 01): can this stack run?

Checked, on AWS and on the local stack alike (the local stack answers IAM's
SimulatePrincipalPolicy with its own evaluator, :mod:`toolkit.local.iam.simulate`):

- identity: who the credentials are (STS GetCallerIdentity), in the config's account and partition;
- each role of the stack exists and may make every call the workflows and the Glue job make: the
  actions, resources and condition values of its wanted policy (:mod:`toolkit.spec`, the one
  place they are written) asked of ``iam:SimulatePrincipalPolicy`` against the role as deployed;
- the EventBridge connection exists and is AUTHORIZED;
- the Glue script is at its key;
- every enabled location's api_url is https:// and inside the HTTP Task's scope (``api_endpoints``).

Each problem is one line; :attr:`Report.ok` is False when there is any.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from toolkit import aws, layout, locations
from toolkit.config import ConfigError, StackConfig
from toolkit.spec import RoleSpec, stack_spec

__all__ = ["PermissionCheck", "Report", "permission_checks", "run"]


@dataclass(frozen=True)
class PermissionCheck:
    """Calls a role must be allowed: every action on every resource, with these condition values."""

    role: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    context: tuple[tuple[str, str], ...] = ()

    def context_entries(self) -> list[dict[str, Any]]:
        return [{"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
                for key, value in self.context]


@dataclass
class Report:
    """What the doctor found: facts about the target, one line per problem, how many checks ran."""

    facts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checks: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report as printed: facts, problems, then a summary line."""
        width = max((len(k) for k in self.facts), default=0)
        out = [f"{key:<{width}}  {value}" for key, value in self.facts.items()]
        out += self.problems
        if self.ok:
            out.append(f"all {self.checks} checks passed")
        else:
            out.append(f"{len(self.problems)} problem(s) in {self.checks} checks")
        return out


def permission_checks(role: RoleSpec) -> list[PermissionCheck]:
    """The calls a role's wanted policy allows, as checks: one per statement and condition value.

    A condition's pattern stands for the values it allows: ``*`` and ``?`` are filled in, so
    ``https://api.example.com/*`` is checked as ``https://api.example.com/doctor``.
    """
    checks = []
    for statement in role.policy["Statement"]:
        actions = tuple(_listed(statement["Action"]))
        resources = tuple(_listed(statement["Resource"]))
        keys: dict[str, list[str]] = {}
        for values in (statement.get("Condition") or {}).values():
            for key, allowed in values.items():
                keys[key] = [_example(value) for value in _listed(allowed)]
        combos = [tuple(zip(keys, values)) for values in itertools.product(*keys.values())] if keys else [()]
        checks += [PermissionCheck(role.name, actions, resources, combo) for combo in combos]
    return checks


def run(cfg: StackConfig, session: boto3.Session | None = None) -> Report:
    """Run every check against the config's target; never raises for a problem it can name."""
    session = session or aws.session(cfg)
    report = Report()
    _identity(cfg, session, report)
    try:
        spec = stack_spec(cfg)
    except ConfigError as exc:  # an AWS target without api_endpoints: no scope to check against
        report.problems.append(str(exc))
        spec = None
    if spec is not None:
        iam = aws.client(cfg, "iam", session)
        for role in spec.roles:
            _role(cfg, iam, role, report)
    _connection(cfg, session, report)
    _script(cfg, session, report)
    _locations(cfg, session, report, scoped=spec is not None)
    return report


# ----------------------------------------------------------------------------- the checks


def _identity(cfg: StackConfig, session: boto3.Session, report: Report) -> None:
    report.checks += 1
    identity = aws.client(cfg, "sts", session).get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    report.facts.update({"identity": identity["Arn"], "account": identity["Account"], "partition": partition,
                         "target": f"{cfg.target} {cfg.region}"})
    if identity["Account"] != cfg.account_id:
        report.problems.append(f"identity: the credentials are for account {identity['Account']}, "
                               f"the config names {cfg.account_id}")
    if partition != cfg.partition:
        report.problems.append(f"identity: the credentials are for partition {partition}, "
                               f"region {cfg.region} is in {cfg.partition}")


def _role(cfg: StackConfig, iam: Any, role: RoleSpec, report: Report) -> None:
    report.checks += 1
    try:
        role_arn = iam.get_role(RoleName=role.name)["Role"]["Arn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        report.problems.append(f"role {role.name}: does not exist (dsa deploy creates it)")
        return
    for check in permission_checks(role):
        report.checks += 1
        for result in _simulate(iam, role_arn, check):
            if result["EvalDecision"] != "allowed":
                condition = "".join(f" with {key}={value}" for key, value in check.context)
                report.problems.append(f"role {role.name}: may not {result['EvalActionName']} on "
                                       f"{result['EvalResourceName']}{condition} ({result['EvalDecision']})")


def _simulate(iam: Any, role_arn: str, check: PermissionCheck) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": list(check.actions),
                              "ResourceArns": list(check.resources)}
    if check.context:
        params["ContextEntries"] = check.context_entries()
    for page in iam.get_paginator("simulate_principal_policy").paginate(**params):
        yield from page["EvaluationResults"]


def _connection(cfg: StackConfig, session: boto3.Session, report: Report) -> None:
    report.checks += 1
    try:
        found = aws.client(cfg, "events", session).describe_connection(Name=cfg.connection_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        report.problems.append(f"connection {cfg.connection_name}: does not exist (dsa deploy creates it)")
        return
    state = found.get("ConnectionState")
    if state != "AUTHORIZED":
        reason = found.get("StateReason") or "the HTTP Task cannot use it"
        report.problems.append(f"connection {cfg.connection_name}: state {state}, not AUTHORIZED ({reason})")


def _script(cfg: StackConfig, session: boto3.Session, report: Report) -> None:
    report.checks += 1
    try:
        aws.client(cfg, "s3", session).head_object(Bucket=cfg.work_bucket, Key=layout.SCRIPT_KEY)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NoSuchBucket"):
            raise
        report.problems.append(f"glue script: s3://{cfg.work_bucket}/{layout.SCRIPT_KEY} is missing "
                               "(dsa deploy uploads it)")


def _locations(cfg: StackConfig, session: boto3.Session, report: Report, *, scoped: bool) -> None:
    """Enabled locations as AWS's HTTP Task would take them: https://, inside api_endpoints."""
    report.checks += 1
    client = aws.client(cfg, "dynamodb", session)
    try:
        items = [item for page in client.get_paginator("scan").paginate(TableName=cfg.locations_table)
                 for item in page.get("Items", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        report.problems.append(f"locations table {cfg.locations_table}: does not exist (dsa deploy creates it)")
        return
    enabled = [loc for loc in map(locations.Location.from_item, items) if loc.enabled]
    if not enabled:
        return
    frame = pd.DataFrame([{"task_id": loc.task_id, "location_id": loc.location_id, "api_url": loc.api_url}
                          for loc in enabled])
    _, checked = locations.validate_locations(frame, require_https=True,
                                              allows_endpoint=cfg.allows_endpoint if scoped else None)
    for row in checked[checked["action"] == "rejected"].itertuples():
        location = enabled[row.row]
        report.problems.append(f"location {location.task_id}/{location.location_id}: {row.reason}")


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _example(pattern: str) -> str:
    """A value an IAM string pattern matches (``*`` and ``?`` filled in)."""
    return pattern.replace("*", "doctor").replace("?", "x")
