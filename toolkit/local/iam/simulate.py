"""IAM's SimulatePrincipalPolicy for roles, answered by the local IAM evaluator.

moto does not implement SimulatePrincipalPolicy, and ``dsa doctor`` asks it on both targets; the
gateway hands the stack's IAM requests for this one action here. Each pair of ``ActionNames``
and ``ResourceArns`` is evaluated with :class:`~toolkit.local.iam.roles.IamAuthorizer` (the
role's inline and managed policies and its permissions boundary) and the caller's
``ContextEntries``; the answer is IAM's XML, decisions spelled as AWS spells them
(``allowed``, ``explicitDeny``, ``implicitDeny``). Only roles can be simulated here.
"""

from __future__ import annotations

import re
import uuid
from typing import Mapping, Sequence
from xml.sax.saxutils import escape

from toolkit.local.iam.policy import Decision
from toolkit.local.iam.roles import IamAuthorizer, RolePolicies

__all__ = ["ACTION", "simulate_principal_policy"]

ACTION = "SimulatePrincipalPolicy"
_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
_ROLE_ARN = re.compile(r"^arn:[a-z-]+:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]+$")
_DECISIONS = {Decision.ALLOW: "allowed", Decision.EXPLICIT_DENY: "explicitDeny",
              Decision.IMPLICIT_DENY: "implicitDeny"}


def simulate_principal_policy(form: Mapping[str, Sequence[str]], region: str) -> tuple[int, bytes]:
    """The HTTP status and XML body answering one SimulatePrincipalPolicy request (its form fields)."""
    source = _one(form, "PolicySourceArn")
    match = _ROLE_ARN.match(source)
    if not match:
        return _error(400, "InvalidInput", f"PolicySourceArn: {source!r} is not an IAM role ARN "
                                           "(the local stack simulates roles only)")
    if RolePolicies(match.group(1)).read(source) is None:
        return _error(404, "NoSuchEntity", f"The role with name {source.rpartition('/')[2]} cannot be found.")
    actions = _members(form, "ActionNames")
    if not actions:
        return _error(400, "ValidationError", "1 validation error detected: Value null at 'actionNames' "
                                              "failed to satisfy constraint: Member must not be null")
    resources = _members(form, "ResourceArns") or ["*"]
    context = _context(form)
    authorizer = IamAuthorizer(account_id=match.group(1), region=region)
    members = []
    for action in actions:
        for resource in resources:
            decision = _DECISIONS[authorizer.evaluate(source, action, resource, context).decision]
            members.append(f"<member><EvalActionName>{escape(action)}</EvalActionName>"
                           f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
                           f"<EvalDecision>{decision}</EvalDecision>"
                           "<MatchedStatements/><MissingContextValues/></member>")
    body = (f'<SimulatePrincipalPolicyResponse xmlns="{_XMLNS}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(members)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>")
    return 200, body.encode()


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _members(form: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """A query-protocol list: ``Name.member.1``, ``Name.member.2``... in order."""
    found = {int(key.rsplit(".", 1)[1]): values[0] for key, values in form.items()
             if re.fullmatch(rf"{re.escape(name)}\.member\.\d+", key)}
    return [found[index] for index in sorted(found)]


def _context(form: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """ContextEntries as condition keys and their values."""
    indexes = sorted({int(m.group(1)) for key in form
                      if (m := re.fullmatch(r"ContextEntries\.member\.(\d+)\.ContextKeyName", key))})
    return {_one(form, f"ContextEntries.member.{i}.ContextKeyName"):
            _members(form, f"ContextEntries.member.{i}.ContextKeyValues") for i in indexes}


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    body = (f'<ErrorResponse xmlns="{_XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return status, body.encode()
