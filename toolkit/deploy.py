"""Provision, update and tear down one stack of the aggregator, idempotently, from a StackConfig.

Three parts, one job each: :mod:`toolkit.spec` says what the stack should be (data, no AWS
calls), :mod:`toolkit.resources` reconciles one resource at a time, and this module holds the
actions. :func:`plan` only reads; :func:`deploy` creates what is missing and updates what
differs, in dependency order (roles, tables, buckets, the Glue script and job, the connection,
then the state machines children first); :func:`teardown` deletes the same resources in
reverse order.

The third-party API key comes from the environment variable named by ``cfg.api_key_env``
(either the key itself or a Secrets Manager secret ARN holding it); it is read only when the
connection must be written, sent only to EventBridge, and never printed, logged or stored in a
change's detail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, cast

import boto3
from botocore.exceptions import ClientError

from toolkit.config import StackConfig
from toolkit.resources import Bucket, Clients, Connection, DeployError, Resource, Script, error_code, resources
from toolkit.spec import stack_spec

__all__ = ["Change", "DeployError", "Clients", "plan", "deploy", "teardown", "plan_teardown", "api_key"]


@dataclass(frozen=True)
class Change:
    """What deploy did or would do to one resource: create, update, unchanged, delete or absent."""

    resource: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:9} {self.resource}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class _Inspected:
    """One resource with its current state and the change it needs."""

    resource: Resource
    current: Any
    change: Change


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
            raise DeployError(f"{cfg.api_key_env}: cannot read the secret it names ({error_code(exc)})") from None
        value = (secret.get("SecretString") or "").strip()
        if not value:
            raise DeployError(f"{cfg.api_key_env}: the secret it names has no SecretString")
    return value


def _inspect(resource: Resource, c: Clients) -> _Inspected:
    current = resource.current(c)
    if current is None:
        return _Inspected(resource, None, Change(resource.label, "create"))
    diffs = resource.differences(c, current)
    if diffs:
        return _Inspected(resource, current, Change(resource.label, "update", ", ".join(diffs)))
    return _Inspected(resource, current, Change(resource.label, "unchanged"))


def plan(cfg: StackConfig, session: boto3.Session | None = None, *, clients: Clients | None = None) -> list[Change]:
    """What :func:`deploy` would change, resource by resource; reads only."""
    c = clients or Clients.create(cfg, session)
    return [_inspect(r, c).change for r in resources(stack_spec(cfg))]


def deploy(cfg: StackConfig, session: boto3.Session | None = None, *, clients: Clients | None = None,
           environ: Mapping[str, str] | None = None, rotate_api_key: bool = False,
           progress: Callable[[Change], None] | None = None) -> list[Change]:
    """Create what is missing and update what differs, in dependency order; return the changes.

    Everything is inspected first, and the API key read when the connection needs it, so a
    predictable problem (a missing key, a table with other keys) stops the deploy before any write.
    AWS never returns a connection's key, so a new key is sent only when ``rotate_api_key`` is set.
    """
    c = clients or Clients.create(cfg, session)
    inspected = [_inspect(r, c) for r in resources(stack_spec(cfg))]
    inspected = [_with_key(cfg, c, item, environ, rotate_api_key) if isinstance(item.resource, Connection)
                 else item for item in inspected]
    changes = []
    for item in inspected:
        try:
            if item.change.action == "create":
                item.resource.create(c)
            elif item.change.action == "update":
                item.resource.update(c, item.current)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            raise DeployError(f"{item.resource.label}: {item.change.action} failed: "
                              f"{error_code(exc)}: {message}") from None
        changes.append(item.change)
        if progress:
            progress(item.change)
    return changes


def _with_key(cfg: StackConfig, c: Clients, item: _Inspected, environ: Mapping[str, str] | None,
              rotate: bool) -> _Inspected:
    """The connection's inspection, given the API key when it is to be written (a rotation too)."""
    change = item.change
    if rotate and change.action == "unchanged":
        change = Change(change.resource, "update", "API key rotated")
    if change.action == "unchanged":
        return item
    key = api_key(cfg, c, environ)
    if not key:
        raise DeployError(f"{cfg.api_key_env}: not set; export the third-party API key (or a Secrets "
                          f"Manager ARN holding it) to create or update connection {cfg.connection_name}")
    connection = cast(Connection, item.resource)
    return _Inspected(connection.with_api_key(key), item.current, change)


def teardown(cfg: StackConfig, session: boto3.Session | None = None, *, force: bool = False,
             clients: Clients | None = None, progress: Callable[[Change], None] | None = None) -> list[Change]:
    """Delete this stack's resources in reverse order; a non-empty output bucket needs ``force``."""
    c = clients or Clients.create(cfg, session)
    ordered = list(reversed(resources(stack_spec(cfg))))
    output = next(r for r in ordered if isinstance(r, Bucket) and r.keep_objects)
    if not force and output.current(c) is not None:
        if c.s3.list_objects_v2(Bucket=output.name, MaxKeys=1).get("KeyCount", 0):
            held = f"{output.label}: holds consolidated output; copy what you need, then"
            raise DeployError(f"{held} call teardown with force=True to delete it",
                              cli=f"{held} run `dsa teardown --force` to delete it")
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
                raise DeployError(f"{resource.label}: delete failed: {error_code(exc)}: {message}") from None
            change = Change(resource.label, "delete")
        changes.append(change)
        if progress:
            progress(change)
    return changes


def plan_teardown(cfg: StackConfig, session: boto3.Session | None = None, *,
                  clients: Clients | None = None) -> list[Change]:
    """What :func:`teardown` would delete (``delete``) or find gone (``absent``), in its order; reads only."""
    c = clients or Clients.create(cfg, session)
    return [Change(r.label, "absent" if r.current(c) is None else "delete")
            for r in reversed(resources(stack_spec(cfg))) if not isinstance(r, Script)]
