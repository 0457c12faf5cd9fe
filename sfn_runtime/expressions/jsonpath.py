"""JSONPath as Step Functions uses it: paths, reference paths, and ResultPath-style writes.

A path starts at the state input (``$``), the Context object (``$$``) or a workflow variable
(``$name``). Paths may use the full JsonPath syntax (wildcards, slices, unions, recursive
descent, filters); *reference paths* (ResultPath, OutputPath, ItemsPath, Choice ``Variable``)
may only name one node with dot and bracket notation. Paths are parsed once into a list of
steps and evaluated many times, with a fast loop for definite paths (the common case).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sfn_runtime.errors import DefinitionError, StatesError

INPUT = "input"
CONTEXT = "context"
VARIABLE = "variable"

_MISSING = object()
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that end a dot-notation member name. Quotes do not: as in the Jayway JsonPath
# that AWS uses, `$.it's` names the member "it's".
_NAME_END = set(".[](), \t\r\n*?@$=!<>&|")


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class _Union:
    members: tuple  # of str (keys) or int (indexes)


@dataclass(frozen=True)
class _Descend:
    step: Any  # the step applied at every level: _Key, _Wildcard, _Index, _Union, _Slice, _Filter


@dataclass(frozen=True)
class _Filter:
    test: Callable[[Any, Any], bool]
    source: str


_DEFINITE_STEPS = (_Key, _Index)


class Path:
    """A compiled JSONPath; read values with :meth:`read`, place results with :meth:`write`."""

    def __init__(self, source: str, root: str, variable: str | None, steps: list, where: str = ""):
        self.source = source
        self.field = where.rpartition("/")[2]  # the field holding the path: "InputPath", "name.$", ...
        self.root = root
        self.variable = variable
        self._steps = tuple(steps)
        self.is_definite = all(isinstance(step, _DEFINITE_STEPS) for step in steps)

    def __repr__(self) -> str:
        return f"Path({self.source!r})"

    def read(self, data: Any, context: dict | None = None, variables: Mapping | None = None) -> Any:
        """The value the path selects; a list of matches for multi-node paths.

        Raises ``States.Runtime`` when a definite path names a node that is not there.
        """
        start = self._start(data, context, variables)
        if self.is_definite:
            node = start
            for step in self._steps:
                node = _child(node, step)
                if node is _MISSING:
                    raise StatesError("States.Runtime", self.not_found(start))
            return node
        nodes = [start]
        for step in self._steps:
            nodes = _apply(step, nodes, start)
        return nodes

    def not_found(self, start: Any) -> str:
        """AWS's cause for a definite path that names nothing: a payload template field (``x.$``)
        quotes the input; a path field (InputPath, OutputPath, ItemsPath, ErrorPath, ...) names
        the path in bracket notation."""
        if self.field.endswith(".$"):
            text = json.dumps(start, separators=(",", ":"), ensure_ascii=False)
            return f"The JSONPath '{self.source}' specified for the field '{self.field}' could not be found in the input '{text}'"
        brackets = "".join(f"['{step.name}']" if isinstance(step, _Key) else f"[{step.index}]" for step in self._steps)
        return f"Invalid path '{self.source}' : No results for path: ${brackets}"

    def write(self, data: Any, value: Any) -> Any:
        """A new document: ``data`` with ``value`` placed at this reference path (ResultPath rules).

        ``$`` replaces the whole document; missing intermediate objects are created; the input
        is never modified (containers along the path are copied).
        """
        if self.root != INPUT or not self.is_definite:
            raise StatesError("States.Runtime", f"Unable to write to the path '{self.source}'")
        return _write(data, self._steps, 0, value, self.source)

    def _start(self, data: Any, context: dict | None, variables: Mapping | None) -> Any:
        if self.root == INPUT:
            return data
        if self.root == CONTEXT:
            return context if context is not None else {}
        if variables is None or self.variable not in variables:
            raise StatesError("States.Runtime", f"The variable '${self.variable}' is not defined")
        return variables[self.variable]


def compile_path(path: str, *, where: str = "", reference: bool = False) -> Path:
    """Parse ``path`` once; ``reference=True`` also enforces the reference-path rules.

    Raises :class:`DefinitionError` (with ``where`` as its path) for syntax errors.
    """
    if not isinstance(path, str):
        raise DefinitionError(f"A path must be a string, not {type(path).__name__}", where)
    parser = _Parser(path, where)
    root, variable, steps = parser.parse()
    compiled = Path(path, root, variable, steps, where)
    if reference and not compiled.is_definite:
        raise DefinitionError(
            f"The value '{path}' is not a valid reference path: it must name a single node "
            "using only dot and bracket notation",
            where,
        )
    return compiled


def is_path(text: Any) -> bool:
    """True for strings that look like a path (they start with ``$``)."""
    return isinstance(text, str) and text.startswith("$")


# --- evaluation -------------------------------------------------------------------------


def _child(node: Any, step: Any) -> Any:
    if isinstance(step, _Key):
        if isinstance(node, dict):
            return node.get(step.name, _MISSING)
        return _MISSING
    if isinstance(node, list):
        index = step.index
        if -len(node) <= index < len(node):
            return node[index]
    return _MISSING


def _children(node: Any) -> list:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _apply(step: Any, nodes: list, root: Any) -> list:
    out: list = []
    if isinstance(step, (_Key, _Index)):
        for node in nodes:
            value = _child(node, step)
            if value is not _MISSING:
                out.append(value)
    elif isinstance(step, _Wildcard):
        for node in nodes:
            out.extend(_children(node))
    elif isinstance(step, _Slice):
        for node in nodes:
            if isinstance(node, list):
                out.extend(node[step.start : step.stop : step.step])
    elif isinstance(step, _Union):
        for node in nodes:
            for member in step.members:
                value = _child(node, _Key(member) if isinstance(member, str) else _Index(member))
                if value is not _MISSING:
                    out.append(value)
    elif isinstance(step, _Filter):
        for node in nodes:
            candidates = [node] if isinstance(node, dict) else node if isinstance(node, list) else []
            out.extend(item for item in candidates if step.test(item, root))
    elif isinstance(step, _Descend):
        for node in nodes:
            for level in _descendants(node):
                out.extend(_apply(step.step, [level], root))
    return out


def _descendants(node: Any) -> list:
    """The node itself and every container below it, depth first (document order)."""
    found = [node]
    for child in _children(node):
        if isinstance(child, (dict, list)):
            found.extend(_descendants(child))
    return found


def _write(node: Any, steps: tuple, position: int, value: Any, source: str) -> Any:
    if position == len(steps):
        return value
    step = steps[position]
    if isinstance(step, _Key):
        if node is _MISSING or node is None:
            node = {}
        if not isinstance(node, dict):
            raise StatesError(
                "States.Runtime",
                f"Unable to apply the ResultPath '{source}': the node before '{step.name}' is not an object",
            )
        copy = dict(node)
        copy[step.name] = _write(node.get(step.name, _MISSING), steps, position + 1, value, source)
        return copy
    if not isinstance(node, list) or not -len(node) <= step.index < len(node):
        raise StatesError(
            "States.Runtime",
            f"Unable to apply the ResultPath '{source}': index {step.index} is not in an array",
        )
    copy = list(node)
    copy[step.index] = _write(node[step.index], steps, position + 1, value, source)
    return copy


# --- parsing ----------------------------------------------------------------------------


class _Parser:
    """A small recursive-descent parser for Step Functions' JsonPath subset."""

    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        self.pos = 0

    def fail(self, problem: str) -> DefinitionError:
        return DefinitionError(f"Invalid JSONPath '{self.text}': {problem}", self.where)

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def parse(self) -> tuple[str, str | None, list]:
        text = self.text
        if not text.startswith("$"):
            raise self.fail("a path must start with '$'")
        root, variable = INPUT, None
        if text.startswith("$$"):
            root, self.pos = CONTEXT, 2
        else:
            match = _VARIABLE_NAME.match(text, 1)
            if match:
                root, variable, self.pos = VARIABLE, match.group(0), match.end()
            else:
                self.pos = 1
        steps = self.parse_steps(stop="")
        return root, variable, steps

    def parse_steps(self, stop: str) -> list:
        steps: list = []
        text = self.text
        while self.pos < len(text) and text[self.pos] not in stop:
            char = text[self.pos]
            if text.startswith("..", self.pos):
                self.pos += 2
                if self.peek() == "[":
                    steps.append(_Descend(self.parse_bracket()))
                elif self.peek() == "*":
                    self.pos += 1
                    steps.append(_Descend(_Wildcard()))
                else:
                    steps.append(_Descend(_Key(self.parse_name())))
            elif char == ".":
                self.pos += 1
                if self.peek() == "[":
                    steps.append(self.parse_bracket())
                elif self.peek() == "*":
                    self.pos += 1
                    steps.append(_Wildcard())
                else:
                    steps.append(_Key(self.parse_name()))
            elif char == "[":
                steps.append(self.parse_bracket())
            elif char.isspace() and stop:
                break
            else:
                raise self.fail(f"unexpected '{char}' at position {self.pos}")
        return steps

    def parse_name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _NAME_END:
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"a field name is missing at position {start}")
        return self.text[start : self.pos]

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse_bracket(self) -> Any:
        self.pos += 1  # "["
        self.skip_space()
        if self.peek() == "*":
            self.pos += 1
            step: Any = _Wildcard()
        elif self.peek() == "?":
            step = self.parse_filter()
        else:
            step = self.parse_members()
        self.skip_space()
        if self.peek() != "]":
            raise self.fail(f"expected ']' at position {self.pos}")
        self.pos += 1
        return step

    def parse_members(self) -> Any:
        members: list = []
        slice_parts: list | None = None
        while True:
            self.skip_space()
            char = self.peek()
            if char in ("'", '"'):
                members.append(self.parse_string())
            elif char == ":" or char == "-" or char.isdigit():
                number = self.parse_int() if char != ":" else None
                self.skip_space()
                if self.peek() == ":":
                    slice_parts = [number]
                    while self.peek() == ":":
                        self.pos += 1
                        self.skip_space()
                        nxt = self.peek()
                        slice_parts.append(self.parse_int() if nxt == "-" or nxt.isdigit() else None)
                        self.skip_space()
                    break
                members.append(number)
            else:
                raise self.fail(f"expected a name, an index or a slice at position {self.pos}")
            self.skip_space()
            if self.peek() != ",":
                break
            self.pos += 1
        if slice_parts is not None:
            if members or len(slice_parts) > 3:
                raise self.fail("a slice is written [start:end] or [start:end:step]")
            start, stop, step = (slice_parts + [None, None])[:3]
            if step == 0:
                raise self.fail("a slice step cannot be 0")
            return _Slice(start, stop, step)
        if len(members) == 1:
            only = members[0]
            return _Key(only) if isinstance(only, str) else _Index(only)
        return _Union(tuple(members))

    def parse_int(self) -> int:
        match = re.compile(r"-?\d+").match(self.text, self.pos)
        if not match:
            raise self.fail(f"expected an integer at position {self.pos}")
        self.pos = match.end()
        return int(match.group(0))

    def parse_string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(chars)
            chars.append(char)
            self.pos += 1
        raise self.fail("a quoted name is not closed")

    def parse_filter(self) -> _Filter:
        start = self.pos
        self.pos += 1  # "?"
        self.skip_space()
        if self.peek() != "(":
            raise self.fail("a filter is written [?(expression)]")
        self.pos += 1
        test = _FilterParser(self).parse_or()
        self.skip_space()
        if self.peek() != ")":
            raise self.fail(f"expected ')' at position {self.pos}")
        self.pos += 1
        return _Filter(test, self.text[start : self.pos])


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_COMPARATORS = ("==", "!=", "<=", ">=", "<", ">", "=~")
_WORD_COMPARATOR = re.compile(r"(in|nin)\b")


class _FilterParser:
    """Filter expressions: comparisons of @/$ paths and literals, joined by &&, || and !."""

    def __init__(self, parser: _Parser):
        self.p = parser

    def parse_or(self) -> Callable[[Any, Any], bool]:
        left = self.parse_and()
        while True:
            self.p.skip_space()
            if self.p.peek(2) != "||":
                return left
            self.p.pos += 2
            right = self.parse_and()
            left = (lambda a, b: lambda item, root: a(item, root) or b(item, root))(left, right)

    def parse_and(self) -> Callable[[Any, Any], bool]:
        left = self.parse_unary()
        while True:
            self.p.skip_space()
            if self.p.peek(2) != "&&":
                return left
            self.p.pos += 2
            right = self.parse_unary()
            left = (lambda a, b: lambda item, root: a(item, root) and b(item, root))(left, right)

    def parse_unary(self) -> Callable[[Any, Any], bool]:
        self.p.skip_space()
        if self.p.peek() == "!" and self.p.peek(2) != "!=":
            self.p.pos += 1
            inner = self.parse_unary()
            return lambda item, root: not inner(item, root)
        if self.p.peek() == "(":
            self.p.pos += 1
            inner = self.parse_or()
            self.p.skip_space()
            if self.p.peek() != ")":
                raise self.p.fail(f"expected ')' at position {self.p.pos}")
            self.p.pos += 1
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Callable[[Any, Any], bool]:
        left = self.parse_operand()
        self.p.skip_space()
        operator = next((op for op in _COMPARATORS if self.p.peek(len(op)) == op), None)
        word = _WORD_COMPARATOR.match(self.p.text, self.p.pos)
        if word:
            operator = word.group(1)
        if operator is None:
            return lambda item, root: _truthy(left(item, root))
        self.p.pos += len(operator)
        self.p.skip_space()
        if operator == "=~":
            pattern = self.parse_regex()
            return lambda item, root: _regex_match(left(item, root), pattern)
        right = self.parse_operand()
        compare = _COMPARE[operator]
        return lambda item, root: compare(left(item, root), right(item, root))

    def parse_regex(self) -> re.Pattern:
        p = self.p
        if p.peek() != "/":
            raise p.fail("a regular expression is written /pattern/")
        end = p.text.find("/", p.pos + 1)
        while end != -1 and p.text[end - 1] == "\\":
            end = p.text.find("/", end + 1)
        if end == -1:
            raise p.fail("a regular expression is not closed")
        source = p.text[p.pos + 1 : end]
        p.pos = end + 1
        flags = 0
        if p.peek() == "i":
            flags, p.pos = re.IGNORECASE, p.pos + 1
        try:
            return re.compile(source, flags)
        except re.error as err:
            raise p.fail(f"bad regular expression: {err}") from None

    def parse_operand(self) -> Callable[[Any, Any], Any]:
        p = self.p
        p.skip_space()
        char = p.peek()
        if char in ("@", "$"):
            p.pos += 1
            steps = p.parse_steps(stop=")=!<>&|, ]")
            for step in steps:
                if not isinstance(step, _DEFINITE_STEPS):
                    raise p.fail("filter operands must name a single value")
            relative = char == "@"

            def operand(item: Any, root: Any) -> Any:
                node = item if relative else root
                for step in steps:
                    node = _child(node, step)
                    if node is _MISSING:
                        return _MISSING
                return node

            return operand
        if char in ("'", '"'):
            text = p.parse_string()
            return lambda item, root: text
        match = _NUMBER.match(p.text, p.pos)
        if match:
            p.pos = match.end()
            number = _number(match.group(0))
            return lambda item, root: number
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if p.text.startswith(word, p.pos):
                p.pos += len(word)
                return lambda item, root, literal=literal: literal
        if char == "[":
            values = self.parse_list()
            return lambda item, root: values
        raise p.fail(f"unexpected '{char}' in a filter at position {p.pos}")

    def parse_list(self) -> list:
        """A literal list of strings, numbers, booleans and null: the right side of in / nin."""
        p = self.p
        p.pos += 1
        values: list = []
        p.skip_space()
        while p.peek() != "]":
            operand = self.parse_operand()
            values.append(operand(None, None))
            p.skip_space()
            if p.peek() == ",":
                p.pos += 1
            elif p.peek() != "]":
                raise p.fail(f"expected ',' or ']' at position {p.pos}")
        p.pos += 1
        return values


def _truthy(value: Any) -> bool:
    return value is not _MISSING


def _regex_match(value: Any, pattern: re.Pattern) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def _equal(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return False
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        return a is not _MISSING and b is not _MISSING and _comparable(a, b) and op(a, b)

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda a, b: a is not _MISSING and b is not _MISSING and not _equal(a, b),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "in": lambda a, b: a is not _MISSING and isinstance(b, list) and any(_equal(a, x) for x in b),
    "nin": lambda a, b: a is not _MISSING and isinstance(b, list) and not any(_equal(a, x) for x in b),
}


def _number(text: str) -> int | float:
    """A numeric literal: an int unless it has a fraction or an exponent."""
    return float(text) if any(c in text for c in ".eE") else int(text)
