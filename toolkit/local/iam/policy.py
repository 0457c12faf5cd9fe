"""IAM policy evaluation: does one identity-based policy set allow an action on a resource?

Follows AWS's documented evaluation logic for identity-based policies (IAM User Guide, "Policy
evaluation logic" and "IAM JSON policy elements"): an applicable Deny wins (explicit deny), else
an applicable Allow allows, else the request is implicitly denied; a permissions boundary must
allow too. A statement applies when its Action (or NotAction), Resource (or NotResource) and every
Condition match. Action names match case-insensitively, resources case-sensitively; ``*`` and
``?`` are wildcards; policy variables ``${key}`` (with ``${*}``, ``${?}``, ``${$}`` and
``${key, 'default'}``) are filled from the request context. Condition operators: String*, Numeric*,
Date*, Bool, Binary, IpAddress/NotIpAddress, Arn*, Null, each with ``IfExists`` and the
``ForAnyValue:``/``ForAllValues:`` set qualifiers; condition keys are case-insensitive, values
of one key are ORed, keys and operators are ANDed, negated operators match when no value does.

Why our own: moto's ``IAMPolicy`` (moto 5.2.5, ``moto/iam/access_control.py``) evaluates only
StringEquals conditions, ignores unknown operators (a conditioned Allow then allows), turns a
non-matching condition on an Allow statement into an explicit Deny, knows no ``?`` wildcard or
NotResource and matches actions case-sensitively. On PyPI, parliament and policy_sentry
validate or write policies, policyuniverse expands wildcards, iam-ape computes effective
permissions from an account dump; principalmapper (last release 2022) simulates requests but
pulls in a graph toolkit we do not need. None evaluates a request against a role with the
condition keys Step Functions documents, so this module does, from moto's stored policies.

Not covered (AWS evaluates these, the local stack does not): resource-based policies (bucket and
secret policies, KMS key policies), session policies, SCPs and RCPs, cross-account access, the
``Principal`` element (only identity-based policies are evaluated here), global keys the caller
does not put into the context (``aws:SourceIp``, ``aws:ResourceTag/*``, ``aws:PrincipalTag/*``,
``aws:MultiFactorAuthPresent`` ...), and policy-document validation (an unknown condition operator
never matches instead of being refused when the policy is written).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["Decision", "Evaluation", "evaluate", "parse_document", "RequestContext", "normalise_context"]

#: Condition context: lower-cased key -> its values (a single-valued key has one).
RequestContext = Mapping[str, Sequence[str]]


class Decision(enum.Enum):
    """The outcome of evaluating a request, as AWS names the three cases."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Evaluation:
    """A decision and, when denied, which policy type decided it (for AWS's message)."""

    decision: Decision
    policy_type: str = "identity-based"  # or "permissions boundary"

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def normalise_context(context: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Condition keys lower-cased, values as lists of strings (booleans as ``true``/``false``)."""
    out: dict[str, list[str]] = {}
    for key, value in (context or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        out[str(key).lower()] = [_text(v) for v in values]
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=4096)
def parse_document(text: str) -> tuple[dict[str, Any], ...]:
    """The statements of a policy document (JSON text, as IAM stores it), cached by text."""
    document = json.loads(text)
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return tuple(_prepared(s) for s in statements if isinstance(s, dict))


def _prepared(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement with its Action/Resource elements as lists of text, so evaluation never re-reads them."""
    out = dict(statement)
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in out:
            out[element] = _listed(out[element])
    return out


def evaluate(
    policies: Iterable[str],
    action: str,
    resource: str,
    context: RequestContext,
    boundary: str | None = None,
) -> Evaluation:
    """Evaluate identity-based ``policies`` (and a permissions ``boundary``) for one request."""
    decision = _decide(policies, action, resource, context)
    if decision is not Decision.ALLOW or boundary is None:
        return Evaluation(decision)
    bounded = _decide([boundary], action, resource, context)
    if bounded is Decision.ALLOW:
        return Evaluation(Decision.ALLOW)
    return Evaluation(bounded, "permissions boundary")


def _decide(policies: Iterable[str], action: str, resource: str, context: RequestContext) -> Decision:
    allowed = False
    for text in policies:
        for statement in parse_document(text):
            if not _applies(statement, action, resource, context):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [_text(v) for v in (value if isinstance(value, list) else [value])]


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: RequestContext) -> bool:
    if "NotAction" in statement:
        if any(_like(p, action, context, fold=True) for p in statement["NotAction"]):
            return False
    elif not any(_like(p, action, context, fold=True) for p in statement.get("Action", ())):
        return False
    if "NotResource" in statement:
        if any(_like(p, resource, context) for p in statement["NotResource"]):
            return False
    elif not any(_like(p, resource, context) for p in statement.get("Resource", ())):
        return False
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return False
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            return False
        for key, expected in block.items():
            if not _condition(str(operator), str(key).lower(), _listed(expected), context):
                return False
    return True


# ------------------------------------------------------------------ patterns

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


class _Unresolved(Exception):
    """A policy variable with no value in the context and no default: the pattern cannot match."""


def _expand(pattern: str, context: RequestContext, wildcards: bool) -> str:
    """A regular expression for ``pattern``: variables filled in, ``*``/``?`` as wildcards if asked."""
    out: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(pattern):
        out.append(_glob(pattern[position:match.start()], wildcards))
        out.append(re.escape(_variable(match.group(1), context)))
        position = match.end()
    out.append(_glob(pattern[position:], wildcards))
    return "".join(out)


def _variable(body: str, context: RequestContext) -> str:
    name, _, default = body.partition(",")
    name = name.strip()
    if name in _SPECIAL:
        return _SPECIAL[name]
    values = context.get(name.lower())
    if values and len(values) == 1:
        return values[0]
    default = default.strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    raise _Unresolved(name)


def _glob(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=8192)
def _compiled(regex: str, fold: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if fold else 0))


@lru_cache(maxsize=8192)
def _constant(pattern: str, fold: bool, wildcards: bool) -> re.Pattern[str]:
    """The compiled form of a pattern without policy variables (most of them), built once."""
    return re.compile(_glob(pattern, wildcards), re.DOTALL | (re.IGNORECASE if fold else 0))


def _like(pattern: str, value: str, context: RequestContext, *, fold: bool = False, wildcards: bool = True) -> bool:
    if "${" not in pattern:
        return _constant(pattern, fold, wildcards).fullmatch(value) is not None
    try:
        regex = _expand(pattern, context, wildcards)
    except _Unresolved:
        return False
    return _compiled(regex, fold).fullmatch(value) is not None


def _arn_like(pattern: str, value: str, context: RequestContext) -> bool:
    """ArnLike/ArnEquals: the six colon-separated parts compared one by one, wildcards within each."""
    wanted, got = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return False
    return all(_like(w, g, context) for w, g in zip(wanted, got))


# ---------------------------------------------------------------- conditions

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


_ORDER = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _ordered(parse: Any, relation: str, expected: str, actual: str) -> bool:
    a, b = parse(actual), parse(expected)
    return a is not None and b is not None and _ORDER[relation](a, b)


def _ip(expected: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _binary(expected: str, actual: str) -> bool:
    try:
        return base64.b64decode(expected) == base64.b64decode(actual)
    except ValueError:
        return False


def _positive(operator: str, expected: str, actual: str, context: RequestContext) -> bool | None:
    """Whether ``actual`` matches ``expected`` under a positive operator; None if it is unknown."""
    if operator == "StringEquals":
        return _like(expected, actual, context, wildcards=False)
    if operator == "StringEqualsIgnoreCase":
        return _like(expected, actual, context, fold=True, wildcards=False)
    if operator == "StringLike":
        return _like(expected, actual, context)
    if operator in ("ArnEquals", "ArnLike"):
        return _arn_like(expected, actual, context)
    if operator == "Bool":
        return expected.lower() == actual.lower()
    if operator == "BinaryEquals":
        return _binary(expected, actual)
    if operator == "IpAddress":
        return _ip(expected, actual)
    for family, parse in (("Numeric", _number), ("Date", _date)):
        if operator.startswith(family) and operator[len(family):] in _ORDER:
            return _ordered(parse, operator[len(family):], expected, actual)
    return None


def _condition(operator: str, key: str, expected: list[str], context: RequestContext) -> bool:
    """One condition key under one operator, with IfExists and the set qualifiers."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return False
    values = context.get(key)
    if base == "Null":
        absent = not values
        return any((e.lower() == "true") == absent for e in expected)
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    negated = base in _NEGATED
    positive = _NEGATED.get(base, base)
    if _positive(positive, "", "", context) is None:
        return False  # an operator AWS does not define never matches
    if not values:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated

    def matches(actual: str) -> bool:
        hit = any(_positive(positive, e, actual, context) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(matches(v) for v in values)
    return any(matches(v) for v in values)
