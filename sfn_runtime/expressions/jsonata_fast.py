"""A fast path for the simple JSONata expressions that workflows evaluate at every transition.

jsonata-python interprets the parse tree generically (~50-120 us for ``$states.input.x % 2 = 0``,
~10 ms to map 100 records of an HTTP result into rows). Most Step Functions expressions are far
simpler: variable paths, literals, arithmetic, comparisons, ``and``/``or``, ``? :``, ``&``,
object/array constructors, a few built-in functions, and paths that map each item of an array
to a new object (``$states.result.items.{'id': key, 'text': $join([notes.text], ' ')}``). This
module turns such a parse tree into nested Python closures once, at compile time. It covers only
cases whose JSONata result it can reproduce exactly; whenever a value falls outside them at run
time (an unbound variable, mixed types, an undefined operand, a possible error...) it raises
:class:`Fallback` and the caller evaluates the expression with the full engine instead. Results
match the engine's, except where jsonata-python departs from JSONata itself: ``%`` on fractions
(it truncates) and null items reached through arrays (it drops them); there the fast path does
what JSONata does.

Outside map steps every compiled node runs once per evaluation and each does work linear in the
values it is given; a map step runs its object constructor once per item, which stays linear as
long as the constructor reads only that item (no ``$states`` or variables, whose values could be
walked again for every item). Such an expression costs one pass over its data (bounded by the
payload quotas): ``compile_fast(ast, one_pass=True)`` compiles only those, which the engine may
evaluate on its event loop (see ``jsonata_eval``).
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any, Callable, Mapping

UNDEFINED: Any = object()
"""The fast path's JSONata ``undefined``."""

# A compiled expression: (states, variables) -> value or UNDEFINED.
Node = Callable[[dict, Mapping[str, Any]], Any]
# A compiled sub-expression, also given its context value (the item a map step is at, else UNDEFINED).
_Closure = Callable[[dict, Mapping[str, Any], Any], Any]

_MAX_SAFE_INTEGER = 2**53
# $string and & write numbers with 15 significant digits: integers below this come out unchanged.
_EXACT_DIGITS_LIMIT = 10**15
# Parse-tree attributes that add semantics (predicates, grouping, sorting...) the fast path lacks.
_EXTRAS = ("stages", "predicate", "group", "focus", "index", "tuple", "ancestor", "seeking_parent")


class Fallback(Exception):
    """The fast path cannot reproduce this evaluation; use the full engine."""


_compiling = threading.local()  # .one_pass: only one-pass expressions; .in_map_step: compiling a map step's object


def compile_fast(ast: Any, *, one_pass: bool = False) -> Node | None:
    """Closures for ``ast``, or None when it uses anything outside the fast path's subset
    (or, with ``one_pass``, anything whose cost could grow faster than its data: see above)."""
    _compiling.one_pass, _compiling.in_map_step = one_pass, False
    try:
        closure = _node(ast)
    except _Unsupported:
        return None
    finally:
        _compiling.one_pass = _compiling.in_map_step = False
    return lambda states, variables: closure(states, variables, UNDEFINED)  # no context at the top


class _Unsupported(Exception):
    pass


def _plain_node(ast: Any) -> bool:
    if ast is None:
        return False
    if getattr(ast, "keep_array", False) or getattr(ast, "keep_singleton_array", False):
        return False
    return all(not getattr(ast, name, None) for name in _EXTRAS)


def _node(ast: Any) -> _Closure:
    if not _plain_node(ast):
        raise _Unsupported
    kind = ast.type
    if kind in ("number", "string", "value"):
        return _constant(getattr(ast, "value", None))
    if kind == "variable":
        return _variable(ast.value)
    if kind == "path":
        return _path(ast)
    if kind == "binary":
        return _binary(ast)
    if kind == "unary":
        return _unary(ast)
    if kind == "condition":
        return _condition(ast)
    if kind == "block" and len(ast.expressions or []) == 1:
        return _node(ast.expressions[0])
    if kind == "function":
        return _function(ast)
    raise _Unsupported


def _constant(value: Any) -> _Closure:
    if isinstance(value, float) and not math.isfinite(value):
        raise _Unsupported
    return lambda states, variables, context: value


def _variable(name: str) -> _Closure:
    if not name:
        return lambda states, variables, context: context  # "$": the context value
    if _compiling.in_map_step and _compiling.one_pass:
        raise _Unsupported  # read again for every item
    if name == "states":
        return lambda states, variables, context: states

    def lookup(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        value = variables.get(name, UNDEFINED)
        if value is UNDEFINED:
            raise Fallback  # unbound: could be one of JSONata's functions used as a value
        return value

    return lookup


def _path(ast: Any) -> _Closure:
    """A path of field names from a variable or the context, optionally ending in a map step ``.{...}``."""
    steps = ast.steps or []
    if not steps or not all(_plain_node(step) for step in steps):
        raise _Unsupported
    if steps[0].type == "variable":
        if len(steps) < 2:
            raise _Unsupported
        start = _variable(steps[0].value)
        steps = steps[1:]
    elif steps[0].type == "name":
        start = _variable("")  # a relative path starts at the context value
    else:
        raise _Unsupported
    construct = None
    if steps[-1].type == "unary" and steps[-1].value == "{":
        outer, _compiling.in_map_step = _compiling.in_map_step, True
        try:
            construct = _object(steps[-1].lhs_object or [])
        finally:
            _compiling.in_map_step = outer
        steps = steps[:-1]
    if any(step.type != "name" for step in steps):
        raise _Unsupported
    names = tuple(step.value for step in steps)
    if construct is not None:
        return _map_step(start, names, construct)
    if len(names) == 1:
        return _field(start, names[0])

    def walk(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        value = start(states, variables, context)
        for position, name in enumerate(names):
            if type(value) is dict:
                value = value.get(name, UNDEFINED)
                if value is UNDEFINED:
                    return UNDEFINED
            elif isinstance(value, list):
                return _map_path(value, names[position:])
            else:
                return UNDEFINED
        return value

    return walk


def _field(start: _Closure, name: str) -> _Closure:
    """``start.name``, the commonest path (and a map step's fields), without the general walk's loop."""
    names = (name,)

    def field(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        value = start(states, variables, context)
        if type(value) is dict:
            return value.get(name, UNDEFINED)
        if isinstance(value, list):
            return _map_path(value, names)
        return UNDEFINED

    return field


def _map_step(start: _Closure, names: tuple, construct: _Closure) -> _Closure:
    """``start.names.{...}``: one object per item the names reach, each built with that item as context."""

    def apply(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        value = start(states, variables, context)
        if value is UNDEFINED:
            return UNDEFINED
        items = value if isinstance(value, list) else [value]  # an array's items become the input sequence
        for name in names:
            found: list = []
            for item in items:
                value = item.get(name, UNDEFINED) if type(item) is dict else _unwrap(_lookup(item, name))
                if value is UNDEFINED:
                    continue
                if isinstance(value, list):
                    found.extend(value)
                else:
                    found.append(value)
            if not found:
                return UNDEFINED
            items = found
        objects = _Sequence()
        for item in items:
            if type(item) is not dict:
                raise Fallback  # an object built over a scalar, null or nested array: left to the engine
            objects.append(construct(states, variables, item))
        return _unwrap(objects)

    return apply


class _Sequence(list):
    """A JSONata result sequence (as opposed to an array value found in the data)."""


def _lookup(item: Any, name: str) -> Any:
    """JSONata's field lookup: through objects, and over (nested) arrays into a sequence."""
    if type(item) is dict:
        return item.get(name, UNDEFINED)
    if isinstance(item, list):
        found = _Sequence()
        for inner in item:
            value = _lookup(inner, name)
            if value is UNDEFINED:
                continue
            if isinstance(value, list):
                found.extend(value)
            else:
                found.append(value)
        return found
    return UNDEFINED


def _unwrap(value: Any) -> Any:
    """JSONata collapses a sequence of none to undefined and a sequence of one to its item."""
    if type(value) is _Sequence:
        if not value:
            return UNDEFINED
        if len(value) == 1:
            return value[0]
    return value


def _map_path(array: list, names: tuple) -> Any:
    """The rest of a name path applied over an array, with JSONata's sequence rules."""
    sequence: list = list(array)  # the array's items become the input sequence
    for position, name in enumerate(names):
        results = []
        for item in sequence:
            value = item.get(name, UNDEFINED) if type(item) is dict else _unwrap(_lookup(item, name))
            if value is not UNDEFINED:
                results.append(value)
        if position == len(names) - 1 and len(results) == 1 and type(results[0]) is list:
            return results[0]  # one array found by the last step is returned as it is
        sequence = _Sequence()
        for value in results:
            if isinstance(value, list):
                sequence.extend(value)
            else:
                sequence.append(value)
        if not sequence:
            break
    return _unwrap(sequence if type(sequence) is _Sequence else _Sequence(sequence))


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _arithmetic(op: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if not (_is_number(a) and _is_number(b)):
            raise Fallback
        if (type(a) is int and abs(a) > _MAX_SAFE_INTEGER) or (type(b) is int and abs(b) > _MAX_SAFE_INTEGER):
            raise Fallback  # JSONata numbers are doubles: leave precision loss to the engine
        if op == "+":
            result = a + b
        elif op == "-":
            result = a - b
        elif op == "*":
            result = a * b
        elif b == 0:
            raise Fallback
        elif op == "/":
            result = a / b
        else:  # "%": the sign follows the dividend, as in JavaScript
            result = math.fmod(a, b) if type(a) is float or type(b) is float else (abs(a) % abs(b)) * (1 if a >= 0 else -1)
        if type(result) is int:
            if abs(result) > _MAX_SAFE_INTEGER:
                raise Fallback
        elif not math.isfinite(result):
            raise Fallback
        return result

    return apply


def _category(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "string"
    if value is None:
        return "null"
    raise Fallback  # objects and arrays: deep equality is left to the full engine


def _equal(a: Any, b: Any) -> bool:
    return _category(a) == _category(b) and a == b


def _ordered(op: str) -> Callable[[Any, Any], bool]:
    def apply(a: Any, b: Any) -> bool:
        if not ((_is_number(a) and _is_number(b)) or (type(a) is str and type(b) is str)):
            raise Fallback
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    return apply


def _as_string(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is int and abs(value) < _EXACT_DIGITS_LIMIT:
        return str(value)
    raise Fallback  # floats, long integers, booleans, null, objects: number formatting is left to the engine


def _binary(ast: Any) -> _Closure:
    op = ast.value
    lhs, rhs = _node(ast.lhs), _node(ast.rhs)
    if op in ("and", "or"):
        want = op == "or"

        def logic(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
            left = lhs(states, variables, context)
            if type(left) is not bool:
                raise Fallback
            if left is want:
                return left
            right = rhs(states, variables, context)
            if type(right) is not bool:
                raise Fallback
            return right

        return logic
    if op in ("+", "-", "*", "/", "%"):
        combine: Callable[[Any, Any], Any] = _arithmetic(op)
    elif op in ("<", "<=", ">", ">="):
        combine = _ordered(op)
    elif op == "=":
        combine = _equal
    elif op == "!=":
        combine = lambda a, b: not _equal(a, b)  # noqa: E731
    elif op == "&":
        combine = lambda a, b: _as_string(a) + _as_string(b)  # noqa: E731
    else:
        raise _Unsupported

    def binary(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        left = lhs(states, variables, context)
        right = rhs(states, variables, context)
        if left is UNDEFINED or right is UNDEFINED:
            raise Fallback
        return combine(left, right)

    return binary


def _unary(ast: Any) -> _Closure:
    op = ast.value
    if op == "-":
        inner = _node(ast.expression)

        def negate(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
            value = inner(states, variables, context)
            if not _is_number(value):
                raise Fallback
            return -value

        return negate
    if op == "{":
        return _object(ast.lhs_object or [])
    if op == "[":
        return _array(ast)
    raise _Unsupported


def _object(pairs: list) -> _Closure:
    fields: list[tuple[str, _Closure]] = []
    for key, value in pairs:
        if key.type != "string" or any(key.value == name for name, _ in fields):
            raise _Unsupported
        fields.append((key.value, _node(value)))

    def construct(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        out = {}
        for name, node in fields:
            value = node(states, variables, context)
            if value is not UNDEFINED:
                out[name] = value
        return out

    return construct


def _array(ast: Any) -> _Closure:
    if getattr(ast, "consarray", False):
        raise _Unsupported
    items = [(_node(item), item.type == "unary" and item.value == "[") for item in ast.expressions or []]

    def construct(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        out = []
        for node, nested in items:
            value = node(states, variables, context)
            if value is UNDEFINED:
                continue
            if isinstance(value, list) and not nested:
                out.extend(value)  # JSONata flattens an array value (or a sequence) into the constructor
            else:
                out.append(value)
        return out

    return construct


def _condition(ast: Any) -> _Closure:
    test = _node(ast.condition)
    then = _node(ast.then)
    otherwise = _node(ast._else) if getattr(ast, "_else", None) is not None else None

    def choose(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        flag = test(states, variables, context)
        if type(flag) is not bool:
            raise Fallback
        if flag:
            return then(states, variables, context)
        return otherwise(states, variables, context) if otherwise is not None else UNDEFINED

    return choose


def _exists(value: Any) -> Any:
    return value is not UNDEFINED


def _string(value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (dict, list):
        # As jsonata-python writes a structure: Python's compact JSON, non-ASCII escaped (JSONata
        # in AWS leaves it as is; the engine's choice is kept so both paths give the same text).
        return json.dumps(value, separators=(",", ":"))
    return _as_string(value)


def _length(value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if type(value) is not str:
        raise Fallback  # the engine raises JSONata's type error
    return len(value)  # characters (code points), as jsonata-python counts them


def _substring(value: Any, start: Any, length: Any = UNDEFINED) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if type(value) is not str or type(start) is not int or start < 0:
        raise Fallback  # negative starts count from the end: left to the engine
    if length is UNDEFINED:
        return value[start:]
    if type(length) is not int:
        raise Fallback
    return value[start:start + length] if length > 0 else ""


def _count(value: Any) -> Any:
    if value is UNDEFINED:
        return 0
    if value is None:
        raise Fallback  # jsonata-python counts a null as nothing; JSONata as one value
    return len(value) if isinstance(value, list) else 1


def _type(value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _category(value)


def _not(value: Any) -> Any:
    if type(value) is not bool:
        raise Fallback
    return not value


def _merge(value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    objects = [value] if isinstance(value, dict) else value
    if not isinstance(objects, list) or not all(isinstance(item, dict) for item in objects):
        raise Fallback
    merged: dict = {}
    for item in objects:
        merged.update(item)
    return merged


def _append(first: Any, second: Any) -> Any:
    if first is UNDEFINED:
        return second
    if second is UNDEFINED:
        return first
    return (first if isinstance(first, list) else [first]) + (second if isinstance(second, list) else [second])


def _join(strings: Any, separator: Any = "") -> Any:
    if strings is UNDEFINED:
        return UNDEFINED
    if separator is UNDEFINED:
        separator = ""
    if type(separator) is not str:
        raise Fallback
    if type(strings) is str:
        return strings  # one string is joined as an array of one
    if not isinstance(strings, list) or not all(type(item) is str for item in strings):
        raise Fallback  # null, numbers, objects...: a type error (or, in jsonata-python, not always)
    return separator.join(strings)


def _numbers(value: Any) -> list:
    """The numbers of an aggregate's argument (one number stands for an array of one)."""
    numbers = value if isinstance(value, list) else [value]
    if not all(_is_number(item) for item in numbers):
        raise Fallback  # a type error, left to the engine
    if any(type(item) is int and abs(item) > _MAX_SAFE_INTEGER for item in numbers):
        raise Fallback  # JSONata numbers are doubles: leave precision loss to the engine
    return numbers


def _sum(value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    total = 0
    for item in _numbers(value):  # added in order, as JavaScript does
        total += item
    if abs(total) > _MAX_SAFE_INTEGER or not math.isfinite(total):
        raise Fallback  # precision or overflow: left to the engine
    return total


def _extreme(pick: Callable[[list], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if value is UNDEFINED:
            return UNDEFINED
        numbers = _numbers(value)
        return pick(numbers) if numbers else UNDEFINED

    return apply


def _lookup_function(value: Any, key: Any) -> Any:
    if value is UNDEFINED or type(key) is not str:
        raise Fallback
    return _unwrap(_lookup(value, key))


# JSONata built-ins the fast path implements exactly for the argument types it accepts.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "exists": _exists, "string": _string, "length": _length, "substring": _substring,
    "count": _count, "type": _type, "not": _not, "merge": _merge,
    "append": _append, "join": _join, "lookup": _lookup_function, "sum": _sum, "min": _extreme(min),
    "max": _extreme(max),
}


def _function(ast: Any) -> _Closure:
    procedure = ast.procedure
    if procedure is None or procedure.type != "variable" or not _plain_node(procedure):
        raise _Unsupported
    name = procedure.value
    implementation = _FUNCTIONS.get(name)
    arguments = [_node(argument) for argument in ast.arguments or []]
    if implementation is None:
        raise _Unsupported
    most = implementation.__code__.co_argcount
    if not most - len(implementation.__defaults__ or ()) <= len(arguments) <= most:
        raise _Unsupported

    def call(states: dict, variables: Mapping[str, Any], context: Any) -> Any:
        if name in variables:
            raise Fallback  # a workflow variable shadows the built-in function
        return implementation(*(argument(states, variables, context) for argument in arguments))

    return call
