"""The Amazon States Language intrinsic functions (``States.Format(...)`` and friends).

JSONPath-mode payload templates may compute a ``"key.$"`` value with an intrinsic instead of
a path. An invocation is parsed once into a small tree of calls whose arguments are literals
(strings with AWS's backslash escapes, numbers, booleans, null), paths (``$.x``, ``$$.x``,
``$var``) or nested calls; evaluating it raises ``States.IntrinsicFailure`` on bad arguments.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions import functions
from sfn_runtime.expressions.jsonpath import Path, compile_path

FAILURE = "States.IntrinsicFailure"
MAX_FUNCTIONS = 10  # "You can nest up to 10 intrinsic functions within a field"
MAX_STRING_CHARS = 10000
_INT32 = (-(2**31), 2**31 - 1)

_NAME = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def is_intrinsic(text: Any) -> bool:
    """True when ``text`` is an intrinsic invocation (it starts with ``States.<Name>(``)."""
    return isinstance(text, str) and _NAME.match(text.strip()) is not None


@dataclass(frozen=True)
class _Literal:
    value: Any
    # For string literals: the text split on *unescaped* "{}" (States.Format placeholders).
    pieces: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _PathArg:
    path: Path


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple


class Intrinsic:
    """A compiled intrinsic invocation; :meth:`evaluate` computes its value."""

    def __init__(self, source: str, call: _Call):
        self.source = source
        self._call = call

    def __repr__(self) -> str:
        return f"Intrinsic({self.source!r})"

    def evaluate(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """The invocation's value for this state input, Context object and variables."""
        return _evaluate(self._call, data, context, variables, self.source)


def compile_intrinsic(text: str, *, where: str = "") -> Intrinsic:
    """Parse an intrinsic invocation once; raises :class:`DefinitionError` naming ``where``."""
    parser = _Parser(text, where)
    call = parser.parse_call()
    parser.skip_space()
    if parser.pos != len(text):
        raise parser.fail(f"unexpected text after the closing ')' at position {parser.pos}")
    return Intrinsic(text, call)


# --- evaluation -------------------------------------------------------------------------


def _evaluate(call: _Call, data: Any, context: dict, variables: Mapping[str, Any], source: str) -> Any:
    values = []
    for arg in call.args:
        if isinstance(arg, _Literal):
            values.append(arg.value)
        elif isinstance(arg, _PathArg):
            values.append(_read_argument(arg.path, data, context, variables, source))
        else:
            values.append(_evaluate(arg, data, context, variables, source))
    if call.name == "Format":
        return _format(call, values)
    try:
        return _FUNCTIONS[call.name][0](call.name, values)
    except functions.FunctionError as err:
        raise _failure(call.name, str(err)) from None


def _read_argument(path: Path, data: Any, context: dict, variables: Mapping[str, Any], source: str) -> Any:
    """A path argument's value; one that names nothing fails as AWS words it (States.Runtime)."""
    try:
        return path.read(data, context, variables)
    except StatesError as err:
        if err.error != "States.Runtime" or path.root != "input":
            raise
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        raise StatesError(
            "States.Runtime",
            f"The function '{source}' had the following error: The JsonPath argument for the field "
            f"'{path.source}' could not be found in the input '{text}'",
        ) from None


def _failure(name: str, problem: str) -> StatesError:
    return StatesError(FAILURE, f"Invalid arguments in States.{name}: {problem}")


def _need(name: str, value: Any, kind: type, what: str, position: int) -> Any:
    """``value`` if it is a ``kind`` (booleans are not integers here), else IntrinsicFailure."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _failure(name, f"argument {position} must be {what}")
    return value


def _need_int(name: str, value: Any, position: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _need(name, value, int, "an integer", position)


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _format(call: _Call, values: list) -> str:
    template = call.args[0]
    if isinstance(template, _Literal) and template.pieces is not None:
        pieces = list(template.pieces)
    else:
        _need("Format", values[0], str, "a string", 1)
        pieces = values[0].split("{}")
    arguments = values[1:]
    if len(pieces) - 1 != len(arguments):
        raise _failure(
            "Format", f"the template has {len(pieces) - 1} placeholders but {len(arguments)} values were given"
        )
    out = [pieces[0]]
    for value, piece in zip(arguments, pieces[1:]):
        out.append(_format_value(value))
        out.append(piece)
    return "".join(out)


def _string_to_json(name: str, values: list) -> Any:
    text = _need(name, values[0], str, "a string", 1)
    if not text.strip():
        return None  # AWS parses an empty or blank string as null
    try:
        return json.loads(text)
    except ValueError:
        raise _failure(name, "argument 1 is not valid JSON text") from None


def _json_to_string(name: str, values: list) -> str:
    return json.dumps(values[0], separators=(",", ":"), ensure_ascii=False)


def _array(name: str, values: list) -> list:
    return list(values)


def _array_partition(name: str, values: list) -> list:
    items = _need(name, values[0], list, "an array", 1)
    return functions.partition(items, _need_int(name, values[1], 2))


def _array_contains(name: str, values: list) -> bool:
    items = _need(name, values[0], list, "an array", 1)
    return any(_same(item, values[1]) for item in items)


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _array_range(name: str, values: list) -> list:
    start, end, step = (_need_int(name, value, i + 1) for i, value in enumerate(values))
    return functions.integer_range(start, end, step)


def _array_get_item(name: str, values: list) -> Any:
    items = _need(name, values[0], list, "an array", 1)
    index = _need_int(name, values[1], 2)
    if not 0 <= index < len(items):
        raise _failure(name, f"index {index} is out of bounds for an array of {len(items)} items")
    return items[index]


def _array_length(name: str, values: list) -> int:
    return len(_need(name, values[0], list, "an array", 1))


def _array_unique(name: str, values: list) -> list:
    items = _need(name, values[0], list, "an array", 1)
    unique: list = []
    seen: set[str] = set()
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _limited_string(name: str, value: Any) -> str:
    text = _need(name, value, str, "a string", 1)
    if len(text) > MAX_STRING_CHARS:
        raise _failure(name, f"the input has {len(text)} characters; at most {MAX_STRING_CHARS} are allowed")
    return text


def _base64_encode(name: str, values: list) -> str:
    return base64.b64encode(_limited_string(name, values[0]).encode("utf-8")).decode("ascii")


def _base64_decode(name: str, values: list) -> str:
    text = _limited_string(name, values[0])
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _failure(name, "argument 1 is not valid Base64 text of UTF-8 data") from None


def _hash(name: str, values: list) -> str:
    data = values[0]
    if not isinstance(data, str):
        data = _json_to_string(name, [data])
    if len(data) > MAX_STRING_CHARS:
        raise _failure(name, f"the input has {len(data)} characters; at most {MAX_STRING_CHARS} are allowed")
    return functions.hash_text(data, _need(name, values[1], str, "a string", 2))


def _json_merge(name: str, values: list) -> dict:
    left = _need(name, values[0], dict, "a JSON object", 1)
    right = _need(name, values[1], dict, "a JSON object", 2)
    deep = _need(name, values[2], bool, "a boolean", 3)
    if deep:
        raise _failure(name, "only shallow merges are supported: the third argument must be false")
    return {**left, **right}


def _rounded(name: str, value: Any, position: int) -> int:
    """A number argument rounded half up, as AWS does for MathAdd/MathRandom (1.5 -> 2, -1.5 -> -1)."""
    if isinstance(value, float) and math.isfinite(value):
        value = math.floor(value + 0.5)
    return _need(name, value, int, "a number", position)


def _math_random(name: str, values: list) -> int:
    start = _rounded(name, values[0], 1)
    end = _rounded(name, values[1], 2)
    if start >= end:
        raise _failure(name, "the start must be less than the end")
    seed = _need_int(name, values[2], 3) if len(values) == 3 else None
    return functions.random_source(seed).randrange(start, end)


def _math_add(name: str, values: list) -> int:
    a = _rounded(name, values[0], 1)
    b = _rounded(name, values[1], 2)
    for position, value in ((1, a), (2, b)):
        if not _INT32[0] <= value <= _INT32[1]:
            raise _failure(name, f"argument {position} is outside the 32-bit integer range")
    return a + b


def _string_split(name: str, values: list) -> list:
    text = _need(name, values[0], str, "a string", 1)
    delimiters = _need(name, values[1], str, "a string", 2)
    if not delimiters:
        return [text] if text else []
    return [part for part in re.split("[" + re.escape(delimiters) + "]", text) if part]


def _uuid(name: str, values: list) -> str:
    return functions.new_uuid()


# name -> (function, (fewest, most) arguments or None for any number). States.Format is
# evaluated by _format, which also needs its template's literal form.
_FUNCTIONS: dict[str, tuple[Callable[[str, list], Any] | None, tuple[int, int] | None]] = {
    "Format": (None, (1, 10**6)),
    "StringToJson": (_string_to_json, (1, 1)),
    "JsonToString": (_json_to_string, (1, 1)),
    "Array": (_array, None),
    "ArrayPartition": (_array_partition, (2, 2)),
    "ArrayContains": (_array_contains, (2, 2)),
    "ArrayRange": (_array_range, (3, 3)),
    "ArrayGetItem": (_array_get_item, (2, 2)),
    "ArrayLength": (_array_length, (1, 1)),
    "ArrayUnique": (_array_unique, (1, 1)),
    "Base64Encode": (_base64_encode, (1, 1)),
    "Base64Decode": (_base64_decode, (1, 1)),
    "Hash": (_hash, (2, 2)),
    "JsonMerge": (_json_merge, (3, 3)),
    "MathRandom": (_math_random, (2, 3)),
    "MathAdd": (_math_add, (2, 2)),
    "StringSplit": (_string_split, (2, 2)),
    "UUID": (_uuid, (0, 0)),
}


# --- parsing ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, where: str):
        if not isinstance(text, str):
            raise DefinitionError("An intrinsic function invocation must be a string", where)
        self.text = text
        self.where = where
        self.pos = 0
        self.calls = 0

    def fail(self, problem: str) -> DefinitionError:
        return DefinitionError(f"Invalid intrinsic function '{self.text}': {problem}", self.where)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse_call(self) -> _Call:
        self.calls += 1
        if self.calls > MAX_FUNCTIONS:
            raise self.fail(f"a field can use at most {MAX_FUNCTIONS} intrinsic functions")
        self.skip_space()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail(f"expected States.<Function>( at position {self.pos}")
        name = match.group(1)
        if name not in _FUNCTIONS:
            raise self.fail(f"States.{name} is not an intrinsic function")
        self.pos = match.end()
        args: list = []
        self.skip_space()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                args.append(self.parse_argument())
                self.skip_space()
                char = self.peek()
                self.pos += 1
                if char == ")":
                    break
                if char != ",":
                    raise self.fail(f"expected ',' or ')' at position {self.pos - 1}")
        call = _Call(name, tuple(args))
        self.check_arity(call)
        return call

    def check_arity(self, call: _Call) -> None:
        arity = _FUNCTIONS[call.name][1]
        if arity is not None and not arity[0] <= len(call.args) <= arity[1]:
            expected = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]} to {arity[1]}"
            raise self.fail(f"States.{call.name} takes {expected} arguments, not {len(call.args)}")

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def parse_argument(self) -> Any:
        self.skip_space()
        char = self.peek()
        if char == "'":
            return self.parse_string()
        if char == "$":
            return self.parse_path()
        if self.text.startswith("States.", self.pos):
            return self.parse_call()
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return _Literal(_number(match.group(0)))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Literal(value)
        raise self.fail(f"unexpected '{char}' at position {self.pos}")

    def parse_string(self) -> _Literal:
        self.pos += 1
        pieces: list[str] = []
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                following = text[self.pos + 1 : self.pos + 2]
                if following not in ("'", "{", "}", "\\"):
                    raise self.fail(f"an open escape '\\' at position {self.pos}")
                chars.append(following)
                self.pos += 2
                continue
            if char == "'":
                self.pos += 1
                pieces.append("".join(chars))
                return _Literal("{}".join(pieces), tuple(pieces))
            if char == "{" and text[self.pos + 1 : self.pos + 2] == "}":
                pieces.append("".join(chars))
                chars = []
                self.pos += 2
                continue
            chars.append(char)
            self.pos += 1
        raise self.fail("a string literal is not closed")

    def parse_path(self) -> _PathArg:
        start = self.pos
        depth = 0
        quote = ""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in ("'", '"'):
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.pos += 1
        source = text[start : self.pos].strip()
        return _PathArg(compile_path(source, where=self.where))


def _number(text: str) -> int | float:
    """A numeric literal: an int unless it has a fraction or an exponent."""
    return float(text) if any(c in text for c in ".eE") else int(text)
