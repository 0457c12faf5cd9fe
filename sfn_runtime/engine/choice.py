"""Choice Rules: JSONPath comparison operators (with ``*Path`` variants, And/Or/Not) and JSONata Conditions.

Semantics from AWS's "Choice workflow state" page: a comparison whose value has the wrong type is
false; a ``Variable`` path that matches nothing is a ``States.Runtime`` error except for
``IsPresent``; ``StringMatches`` supports ``*`` wildcards with ``\\*`` and ``\\\\`` escapes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions.jsonata_eval import NOTHING, compile_jsonata, is_jsonata_template
from sfn_runtime.expressions.jsonpath import compile_path

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp as Step Functions accepts it (uppercase T and Z), else None."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _string_matches(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _compare(kind: str, op: str) -> Callable[[Any, Any], bool]:
    checks = {
        "Equals": lambda a, b: a == b,
        "LessThan": lambda a, b: a < b,
        "GreaterThan": lambda a, b: a > b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }[op]
    if kind == "String":
        return lambda a, b: isinstance(a, str) and isinstance(b, str) and checks(a, b)
    if kind == "Numeric":
        return lambda a, b: _is_number(a) and _is_number(b) and checks(a, b)
    if kind == "Boolean":
        return lambda a, b: isinstance(a, bool) and isinstance(b, bool) and checks(a, b)

    def timestamps(a: Any, b: Any) -> bool:
        left, right = parse_timestamp(a), parse_timestamp(b)
        return left is not None and right is not None and checks(left, right)

    return timestamps


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

COMPARISON_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {}
for _kind in ("String", "Numeric", "Boolean", "Timestamp"):
    for _op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"):
        if _kind == "Boolean" and _op != "Equals":
            continue
        COMPARISON_OPERATORS[_kind + _op] = _compare(_kind, _op)
_LITERAL_TYPES = {"String": str, "Numeric": (int, float), "Boolean": bool, "Timestamp": str}
ALL_OPERATORS = (
    set(COMPARISON_OPERATORS)
    | {name + "Path" for name in COMPARISON_OPERATORS}
    | {"StringMatches", "IsPresent"}
    | set(_TYPE_TESTS)
)


class Rule:
    """A Boolean expression over the state's input (and variables / context)."""

    def matches(self, data: Any, context: dict, variables: Mapping[str, Any]) -> bool:  # pragma: no cover
        raise NotImplementedError


@dataclass
class Comparison(Rule):
    variable: Any  # compiled Path
    source: str
    operator: str
    test: Callable[[Any, Any], bool]
    value: Any = None
    value_path: Any = None  # compiled Path for *Path operators

    def matches(self, data: Any, context: dict, variables: Mapping[str, Any]) -> bool:
        try:
            left = self.variable.read(data, context, variables)
        except StatesError:
            if self.operator == "IsPresent":
                return self.value is False
            raise StatesError(
                "States.Runtime",
                f"Invalid path '{self.source}': The choice state's condition path references an invalid value.",
            ) from None
        if self.operator == "IsPresent":
            return self.value is True
        right = self.value_path.read(data, context, variables) if self.value_path is not None else self.value
        return self.test(left, right)


@dataclass
class Combination(Rule):
    kind: str  # And | Or | Not
    rules: list[Rule]

    def matches(self, data: Any, context: dict, variables: Mapping[str, Any]) -> bool:
        if self.kind == "And":
            return all(rule.matches(data, context, variables) for rule in self.rules)
        if self.kind == "Or":
            return any(rule.matches(data, context, variables) for rule in self.rules)
        return not self.rules[0].matches(data, context, variables)


@dataclass
class Condition(Rule):
    """A JSONata ``Condition``: must evaluate to a boolean."""

    expression: Any

    async def evaluate(self, states: dict, variables: Mapping[str, Any]) -> bool:
        value = await self.expression.evaluate_async(states, variables)
        if not isinstance(value, bool):
            shown = "nothing" if value is NOTHING else type(value).__name__
            raise StatesError(
                "States.QueryEvaluationError",
                f"The Condition field evaluated to {shown}; a boolean is required.",
            )
        return value


def compile_jsonpath_rule(spec: Any, where: str, top: bool) -> Rule:
    """A JSONPath-mode Choice Rule; ``top`` rules carry Next (checked by the caller)."""
    if not isinstance(spec, dict):
        raise DefinitionError("A Choice Rule must be an object", where)
    allowed = {"Next", "Assign", "Comment"} if top else {"Comment"}
    combos = [k for k in ("And", "Or", "Not") if k in spec]
    ops = [k for k in spec if k in ALL_OPERATORS]
    extra = set(spec) - allowed - set(combos) - set(ops) - {"Variable"}
    if extra:
        raise DefinitionError(f"Field '{sorted(extra)[0]}' is not supported in a Choice Rule", where)
    if len(combos) + len(ops) != 1:
        raise DefinitionError("A Choice Rule must have exactly one comparison operator or And/Or/Not", where)
    if combos:
        kind = combos[0]
        if "Variable" in spec:
            raise DefinitionError(f"'Variable' is not allowed with '{kind}'", where)
        body = spec[kind]
        if kind == "Not":
            return Combination(kind, [compile_jsonpath_rule(body, f"{where}/Not", False)])
        if not isinstance(body, list) or not body:
            raise DefinitionError(f"'{kind}' must be a non-empty array of Choice Rules", f"{where}/{kind}")
        return Combination(kind, [compile_jsonpath_rule(r, f"{where}/{kind}[{i}]", False) for i, r in enumerate(body)])
    operator = ops[0]
    variable = spec.get("Variable")
    if not isinstance(variable, str):
        raise DefinitionError("A comparison needs a 'Variable' path", where)
    path = compile_path(variable, where=f"{where}/Variable")
    value = spec[operator]
    if operator in _TYPE_TESTS or operator == "IsPresent":
        if not isinstance(value, bool):
            raise DefinitionError(f"'{operator}' must be true or false", f"{where}/{operator}")
        if operator == "IsPresent":
            return Comparison(path, variable, operator, lambda a, b: True, value)
        test = _TYPE_TESTS[operator]
        return Comparison(path, variable, operator, (lambda a, b: test(a) == b), value)
    if operator == "StringMatches":
        if not isinstance(value, str):
            raise DefinitionError("'StringMatches' must be a string", f"{where}/{operator}")
        regex = _string_matches(value)
        return Comparison(path, variable, operator, lambda a, b: isinstance(a, str) and regex.match(a) is not None, value)
    if operator.endswith("Path"):
        if not isinstance(value, str):
            raise DefinitionError(f"'{operator}' must be a path", f"{where}/{operator}")
        test = COMPARISON_OPERATORS[operator[: -len("Path")]]
        return Comparison(path, variable, operator, test, None, compile_path(value, where=f"{where}/{operator}"))
    kind = next(k for k in _LITERAL_TYPES if operator.startswith(k))
    expected = _LITERAL_TYPES[kind]
    if not isinstance(value, expected) or (kind == "Numeric" and isinstance(value, bool)):
        raise DefinitionError(f"'{operator}' needs a {kind.lower()} value", f"{where}/{operator}")
    if kind == "Timestamp" and parse_timestamp(value) is None:
        raise DefinitionError(f"'{operator}' needs an RFC 3339 timestamp", f"{where}/{operator}")
    return Comparison(path, variable, operator, COMPARISON_OPERATORS[operator], value)


def compile_condition(spec: Any, where: str) -> Condition:
    """A JSONata-mode Choice Rule's Condition (a ``{% %}`` expression or a boolean literal)."""
    if isinstance(spec, bool):
        return Condition(_Constant(spec))
    if not isinstance(spec, str) or not is_jsonata_template(spec):
        raise DefinitionError("'Condition' must be a JSONata expression in {% %}", where)
    body = spec.strip()[2:-2]
    return Condition(compile_jsonata(body, where=where))


@dataclass
class _Constant:
    value: Any

    def evaluate(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return self.value
