"""The local stack's IAM, as the runtime and the gateway ask it: may this role do this?

:class:`IamAuthorizer` reads a role's policies from moto's IAM backend in-process (inline
policies, the default version of each attached managed policy, the permissions boundary), adds
the global condition keys AWS sets for a role session (``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:RequestedRegion``, ``aws:CurrentTime``,
``aws:EpochTime``, ``aws:SecureTransport``) to the caller's keys and evaluates with
:mod:`toolkit.local.iam.policy`. A denial raises the runtime's ``AccessDenied`` with AWS's
message ("User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is not authorized to perform:
ACTION on resource: RESOURCE because no identity-based policy allows the ACTION action", IAM User
Guide, "Troubleshoot access denied error messages"). A role that does not exist is denied.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from sfn_runtime.authorization import AccessDenied
from toolkit.local.iam.policy import Decision, Evaluation, evaluate, normalise_context

__all__ = ["IamAuthorizer", "RolePolicies", "denial_message"]

#: The session name shown in denials of calls a workflow makes (AWS shows a generated one).
STATES_SESSION = "StepFunctionsExecution"

#: Condition keys whose values change with the clock: decisions of policies naming them are not reused.
_CLOCK_KEYS = ("aws:currenttime", "aws:epochtime")
#: Decisions kept at most (the workflows ask the same few questions for every page).
_DECISIONS_KEPT = 4096


class RolePolicies:
    """A role's policy documents as moto stores them (JSON text), or None if there is no such role."""

    def __init__(self, account_id: str):
        self.account_id = account_id

    def read(self, role_arn: str) -> tuple[list[str], str | None] | None:
        from moto.iam.models import iam_backends

        partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
        # BackendDict's own lookup takes moto's global lock and scans every service's backends, on
        # every request; once the account's backend exists, a plain dict read finds the same one.
        account = dict.get(iam_backends, self.account_id) or iam_backends[self.account_id]
        backend = account[partition]
        role = next((r for r in list(backend.roles.values()) if r.arn == role_arn), None)
        if role is None:
            return None
        documents = list(role.policies.values())
        for managed in list(role.managed_policies.values()):
            documents.extend(v.document for v in managed.versions if v.is_default)
        boundary = None
        if role.permissions_boundary_arn:
            policy = backend.managed_policies.get(role.permissions_boundary_arn)
            boundary = next((v.document for v in policy.versions if v.is_default), None) if policy else '{"Statement": []}'
        return [_text(d) for d in documents], _text(boundary) if boundary is not None else None


def _text(document: Any) -> str:
    if isinstance(document, str):
        return document
    import json

    return json.dumps(document)


def session_arn(role_arn: str, session: str) -> str:
    """``arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION`` for a role ARN."""
    parts = role_arn.split(":")
    name = role_arn.rpartition("/")[2]
    partition = parts[1] if len(parts) > 4 else "aws"
    account = parts[4] if len(parts) > 4 else ""
    return f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"


def denial_message(principal: str, action: str, resource: str, evaluation: Evaluation) -> str:
    """AWS's access-denied text for ``evaluation``."""
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    identity = evaluation.policy_type == "identity-based"
    if evaluation.decision is Decision.EXPLICIT_DENY:
        return f"{head} with an explicit deny in {'an identity-based policy' if identity else 'a permissions boundary'}"
    return f"{head} because no {'identity-based policy' if identity else 'permissions boundary'} allows the {action} action"


class IamAuthorizer:
    """The runtime's ``Authorizer`` backed by the stack's IAM (moto, in-process)."""

    def __init__(self, *, account_id: str, region: str, session: str = STATES_SESSION):
        self._roles = RolePolicies(account_id)
        self.account_id = account_id
        self.region = region
        self.session = session
        self._decisions: dict[tuple, Evaluation] = {}

    def evaluate(self, role_arn: str, action: str, resource: str, context: Mapping[str, Any] | None = None) -> Evaluation:
        """The decision for one request made with ``role_arn``'s permissions.

        A decision is reused for the same request under the same policy texts (they are part of
        the key, so a changed policy is evaluated afresh), unless a policy names a clock key.
        """
        found = self._roles.read(role_arn)
        if found is None:
            return Evaluation(Decision.IMPLICIT_DENY)
        policies, boundary = found
        key = (role_arn, action, resource, tuple(policies), boundary,
               tuple(sorted((k, repr(v)) for k, v in (context or {}).items())))
        evaluation = self._decisions.get(key)
        if evaluation is None:
            evaluation = self._evaluate(role_arn, action, resource, context, policies, boundary)
            if not any(clock in text.lower() for text in (*policies, boundary or "") for clock in _CLOCK_KEYS):
                if len(self._decisions) >= _DECISIONS_KEPT:
                    self._decisions.clear()
                self._decisions[key] = evaluation
        return evaluation

    def _evaluate(self, role_arn: str, action: str, resource: str, context: Mapping[str, Any] | None,
                  policies: list[str], boundary: str | None) -> Evaluation:
        now = time.time()
        keys: dict[str, Any] = {
            "aws:PrincipalArn": role_arn,
            "aws:PrincipalAccount": self.account_id,
            "aws:PrincipalType": "AssumedRole",
            "aws:RequestedRegion": self.region,
            "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "aws:EpochTime": str(int(now)),
            "aws:SecureTransport": "true",
        }
        keys.update(context or {})
        return evaluate(policies, action, resource, normalise_context(keys), boundary)

    def authorize(self, role_arn: str, action: str, resource: str, context: Mapping[str, Any] | None = None,
                  *, session: str | None = None) -> None:
        """Return if allowed; raise ``AccessDenied`` with AWS's message if not."""
        evaluation = self.evaluate(role_arn, action, resource, context)
        if evaluation.allowed:
            return
        principal = session_arn(role_arn, session or self.session)
        raise AccessDenied(action, resource, denial_message(principal, action, resource, evaluation))
