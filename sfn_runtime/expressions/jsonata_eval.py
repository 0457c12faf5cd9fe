"""Step Functions' JSONata dialect: ``{% ... %}`` templates evaluated with jsonata-python.

Step Functions binds ``$states`` (input, result, errorOutput, context) and each workflow
variable, adds ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid`` and ``$parse``,
and removes ``$eval``. Expressions are parsed once and evaluated many times; evaluation
errors become ``States.QueryEvaluationError``. Results are plain JSON values: integral
numbers come back as ``int``, and an undefined result is the :data:`NOTHING` sentinel.

jsonata-python keeps per-thread state on the "current" expression object, so each thread
evaluates its own shallow copy of a parsed expression (see :meth:`JsonataExpression._instance`).

Safe to leave running: the engine awaits :meth:`Template.render_async` and
:meth:`JsonataExpression.evaluate_async`, which evaluate on the event loop only what is provably
cheap (the fast path without map steps: one pass over the data) and hand everything else to a
pool of worker threads, so a runaway expression cannot stall the API or other executions. Every
evaluation has a hard time limit (:data:`MAX_EVALUATION_SECONDS`): checked between evaluation
steps, and passed to every regular expression, which runs on the ``regex`` package with its
``timeout=`` and releases the GIL while it matches (stdlib ``re`` can do neither).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping

import jsonata
import regex
from jsonata.jsonata import Jsonata
from jsonata.regex_engine import RegexFlags
from jsonata.utils import Utils

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions import functions
from sfn_runtime.expressions.jsonata_fast import UNDEFINED, Fallback, compile_fast

QUERY_ERROR = "States.QueryEvaluationError"
MAX_EVALUATION_SECONDS = 10
# The loop stops waiting for a worker this long after the limit (a step no check reaches).
_GRACE_SECONDS = 1.0
# Threads for expressions evaluated off the event loop; a runaway one holds its thread until the limit.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="jsonata")


class _Nothing:
    """The type of :data:`NOTHING` (compare with ``is``)."""

    def __repr__(self) -> str:
        return "NOTHING"

    def __bool__(self) -> bool:
        return False


NOTHING: Any = _Nothing()
"""The value of an expression that produced nothing (JSONata's ``undefined``)."""


def is_jsonata_template(value: Any) -> bool:
    """True for a string written ``{% expression %}`` (no text outside the delimiters)."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


class _FunctionError(Exception):
    """Raised inside a Step Functions JSONata function; becomes a QueryEvaluationError."""


class _NotJson(_FunctionError):
    """The expression's value is not JSON (a function): AWS's "unsupported result type"."""


# --- the functions Step Functions adds ---------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSONata value as plain JSON: JSONata null -> None, sequences -> list, 3.0 -> 3.

    Always a copy (the caller may keep it while the engine goes on with the original). Strings,
    the commonest leaves, are copied by reference without a call: this runs on every result.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, dict):
        return {key: item if type(item) is str else _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [item if type(item) is str else _plain(item) for item in value]
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, (str, int)):
        return value
    raise _NotJson(f"the expression produced a {type(value).__name__}, which is not a JSON value")


@contextlib.contextmanager
def _named(function: str) -> Iterator[None]:
    """Report a shared function's FunctionError as ``$function: problem``."""
    try:
        yield
    except functions.FunctionError as err:
        raise _FunctionError(f"${function}: {err}") from None


def _integer(value: Any, function: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise _FunctionError(f"${function}: {what} must be an integer")
    return int(value)


def _partition(array: Any = None, size: Any = None) -> list:
    if not isinstance(array, list):
        raise _FunctionError("$partition: the first argument must be an array")
    chunk = _integer(size, "partition", "the chunk size")
    with _named("partition"):
        return functions.partition(_plain(array), chunk)


def _range(start: Any = None, end: Any = None, step: Any = None) -> Any:
    first = _integer(start, "range", "the start")
    last = _integer(end, "range", "the end")
    increment = _integer(step, "range", "the step")
    with _named("range"):
        values = functions.integer_range(first, last, increment)
    # Like a JSONata sequence, a range of one value is that value itself (as AWS answers).
    return values[0] if len(values) == 1 else values


def _hash(value: Any = None, algorithm: Any = None) -> str:
    if not isinstance(value, str):
        raise _FunctionError("$hash: the first argument must be a string")
    with _named("hash"):
        return functions.hash_text(value, algorithm)


def _random(seed: Any = None) -> float:
    return functions.random_source(None if seed is None else _integer(seed, "random", "the seed")).random()


def _uuid() -> str:
    return functions.new_uuid()


def _parse(text: Any = None) -> Any:
    if not isinstance(text, str):
        raise _FunctionError("$parse: the argument must be a string of JSON text")
    try:
        value = json.loads(text)
    except ValueError as err:
        raise _FunctionError(f"$parse: the argument is not valid JSON text ({err.msg})") from None
    return Utils.NULL_VALUE if value is None else value  # JSON null, not undefined


def _no_eval(*_args: Any) -> Any:
    raise _FunctionError("$eval is not available in Step Functions; use $parse")


def _functions_frame() -> Jsonata.Frame:
    frame = Jsonata.Frame(Jsonata.static_frame)
    for name, function in (
        ("partition", _partition),
        ("range", _range),
        ("hash", _hash),
        ("random", _random),
        ("uuid", _uuid),
        ("parse", _parse),
        ("eval", _no_eval),
    ):
        frame.bind(name, Jsonata.JLambda(function))
    return frame


_FUNCTIONS = _functions_frame()


# --- time limit and regular expressions -------------------------------------------------


def _overtime_message() -> str:
    return f"the expression ran for more than {MAX_EVALUATION_SECONDS} seconds"


class _Deadline:
    """jsonata-python's evaluation-entry hook, used to stop runaway expressions (endless tail calls)."""

    __slots__ = ("expires", "count")

    def __init__(self) -> None:
        self.expires = time.monotonic() + MAX_EVALUATION_SECONDS
        self.count = 0

    def __call__(self, _expr: Any, _input: Any, _environment: Any) -> None:
        self.count += 1
        if not self.count & 1023 and time.monotonic() > self.expires:
            raise _FunctionError(_overtime_message())


_evaluation = threading.local()  # .deadline: the _Deadline of the evaluation running in this thread


def _seconds_left() -> float:
    deadline = getattr(_evaluation, "deadline", None)
    if deadline is None:
        return float(MAX_EVALUATION_SECONDS)
    return max(0.0, deadline.expires - time.monotonic())


_GROUP_REFERENCE = re.compile(r"\\g<(\d+)>")


class _BoundedPattern:
    """A JSONata regex on the ``regex`` package: each search ends by the evaluation's deadline
    (``TimeoutError``) and releases the GIL while it runs, so a catastrophic pattern stops in time
    and other threads, the event loop's included, keep running meanwhile."""

    __slots__ = ("_pattern",)

    def __init__(self, pattern: Any):
        self._pattern = pattern

    def search(self, string: str) -> Any:
        return self._pattern.search(string, timeout=_seconds_left(), concurrent=True)

    def finditer(self, string: str) -> Any:
        return self._pattern.finditer(string, timeout=_seconds_left(), concurrent=True)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        if isinstance(repl, str):
            self._check_groups(repl)
        return self._pattern.sub(repl, string, count, timeout=_seconds_left(), concurrent=True)

    def split(self, string: str, maxsplit: int = 0) -> list:
        return self._pattern.split(string, maxsplit, timeout=_seconds_left(), concurrent=True)

    def _check_groups(self, repl: str) -> None:
        """Raise ``re``'s error for a reference to a missing group: jsonata-python reads its group
        number to retry ``$12`` as group 1 then "2" (JavaScript's rule); ``regex`` omits the number."""
        for found in _GROUP_REFERENCE.finditer(repl):
            if int(found.group(1)) > self._pattern.groups:
                raise re.error(f"invalid group reference {found.group(1)} at position {found.start() + 1}")


def _bounded_regex(pattern: str, flags: RegexFlags) -> _BoundedPattern:
    """jsonata-python's regex engine hook: compile JSONata regex literals with ``regex``."""
    options = (regex.IGNORECASE if flags.case_insensitive else 0) | (regex.MULTILINE if flags.multiline else 0)
    return _BoundedPattern(regex.compile(pattern, options))


async def _off_loop(work: Callable[[], Any], overtime: Callable[[], StatesError]) -> Any:
    """``work()`` on the evaluation pool while the event loop serves others; ``overtime()`` is
    raised if it has not finished shortly after the time limit (it then ends in its thread)."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_POOL, work)
    try:
        return await asyncio.wait_for(future, MAX_EVALUATION_SECONDS + _GRACE_SECONDS)
    except asyncio.TimeoutError:
        raise overtime() from None


class _NeedsEngine(Exception):
    """A value the event loop does not compute: evaluate it off the loop instead."""


# --- expressions ------------------------------------------------------------------------


def state_field(where: str) -> str:
    """The field a definition path names, relative to its state, as AWS writes it in causes.

    ``/States/M/ItemProcessor/States/P/Output/rows/0`` -> ``Output/rows[0]``: the segments after
    the innermost state's name, with array positions in brackets.
    """
    parts = where.split("/")
    start = 0
    for i in range(1, len(parts) - 1):
        before = parts[i - 1]
        if parts[i] == "States" and (i == 1 or before in ("ItemProcessor", "Iterator") or before.startswith("Branches[")):
            start = i + 2  # skip "States" and the state's name
    field = ""
    for part in parts[start:] if start else parts:
        if not part:
            continue
        field += f"[{part}]" if part.isdigit() and field else (f"/{part}" if field else part)
    return field


class JsonataExpression:
    """A parsed JSONata expression, evaluated with ``$states`` and workflow variables bound."""

    def __init__(self, source: str, parsed: Jsonata, where: str = ""):
        self.source = source
        self.where = where
        self.field = state_field(where)
        self._parsed = parsed
        self._fast = compile_fast(parsed.ast)
        # Whether the event loop may evaluate it: the fast path covers it in one pass over the data.
        self.on_loop = compile_fast(parsed.ast, one_pass=True) is not None
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"JsonataExpression({self.source!r})"

    def evaluate(self, states: dict, variables: Mapping[str, Any]) -> Any:
        """The expression's value, or :data:`NOTHING` when it is undefined, computed in this thread.

        Raises ``StatesError("States.QueryEvaluationError", cause)`` when evaluation fails.
        """
        try:
            return self._evaluate_fast(states, variables)
        except _NeedsEngine:
            return self._evaluate_fully(states, variables)

    async def evaluate_async(self, states: dict, variables: Mapping[str, Any]) -> Any:
        """:meth:`evaluate` for the event loop: on it when provably cheap, else on a worker thread."""
        if self.on_loop:
            try:
                return self._evaluate_fast(states, variables)
            except _NeedsEngine:
                pass
        return await _off_loop(lambda: self.evaluate(states, variables), self.overtime_error)

    def _evaluate_fast(self, states: dict, variables: Mapping[str, Any]) -> Any:
        """The fast path's value; :class:`_NeedsEngine` when only the full engine can compute it."""
        if self._fast is None:
            raise _NeedsEngine
        try:
            value = self._fast(states, variables)
        except Fallback:
            raise _NeedsEngine from None
        if value is UNDEFINED:
            return NOTHING
        try:
            return _plain(value)
        except _NotJson:
            raise self.unsupported_error() from None

    def _instance(self) -> Jsonata:
        """This thread's copy of the parsed expression (jsonata-python keeps evaluation state on it)."""
        instance = getattr(self._local, "instance", None)
        if instance is None:
            instance = self._local.instance = copy.copy(self._parsed)
        return instance

    def _evaluate_fully(self, states: dict, variables: Mapping[str, Any]) -> Any:
        instance = self._instance()
        frame = Jsonata.Frame(_FUNCTIONS)
        bindings = frame.bindings
        for name, value in variables.items():
            bindings[name] = Utils.NULL_VALUE if value is None else value  # null, not undefined
        bindings["states"] = states
        bindings["$"] = None
        deadline = bindings["__evaluate_entry"] = _Deadline()
        bindings["__evaluate_exit"] = None  # found here, not after a walk up to the global frame
        Jsonata.CURRENT.jsonata = instance  # $now(), $millis() and higher-order functions read it
        instance.timestamp = int(time.time() * 1000)
        _evaluation.deadline = deadline  # regular expressions read the time left from it
        try:
            result = instance.eval(instance.ast, None, frame)
            return NOTHING if result is None else _plain(result)
        except TimeoutError:  # a regular expression reached the deadline
            raise self._error(_overtime_message()) from None
        except _NotJson:
            raise self.unsupported_error() from None
        except _FunctionError as err:
            raise self._error(str(err)) from None
        except jsonata.JException as err:
            raise self._error(_message(err)) from None
        except RecursionError:
            raise self._error("the expression recursed too deeply") from None
        except ZeroDivisionError:
            raise self._error("Number out of range: division by zero") from None
        except Exception as err:  # jsonata-python's own bugs surface as Python errors
            raise self._error(f"the evaluation failed ({type(err).__name__})") from None
        finally:
            _evaluation.deadline = None

    def overtime_error(self) -> StatesError:
        """The error of an evaluation that outlived the time limit."""
        return self._error(_overtime_message())

    def _located(self, cause: str) -> StatesError:
        """A query error that names its field as EvaluationFailed's ``location``."""
        err = StatesError(QUERY_ERROR, cause)
        err.location = self.field
        return err

    def _error(self, message: str) -> StatesError:
        field = f" specified for the field '{self.field}'" if self.field else ""
        return self._located(f"The JSONata expression '{self.source}'{field} threw an error: {message}")

    def undefined_error(self) -> StatesError:
        """The error AWS raises where a value is required but the expression returned nothing."""
        field = f" specified for the field '{self.field}'" if self.field else ""
        return self._located(f"The JSONata expression '{self.source}'{field} returned nothing (undefined).")

    def unsupported_error(self) -> StatesError:
        """The expression returned a value JSON cannot hold (a function)."""
        return self._located(f"The JSONata expression '{self.source}' for the field '{self.field}' returned an unsupported result type.")

    def type_error(self, expected: str, value: Any) -> StatesError:
        """The expression returned a JSON value of the wrong type (e.g. Items not an array)."""
        return self._located(
            f"The JSONata expression '{self.source}' specified for the field '{self.field}' returned an unexpected "
            f"result type. Expected '{expected}', but was '{json_type(value)}' for value: "
            f"{json.dumps(value, separators=(',', ':'), ensure_ascii=False)}",
        )


def json_type(value: Any) -> str:
    """JSONata's name for the type of a JSON value ($type)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _message(err: Exception) -> str:
    message = getattr(err, "message", None) or str(err)
    return str(message).splitlines()[0] if message else type(err).__name__


def compile_jsonata(source: str, *, where: str = "") -> JsonataExpression:
    """Parse a JSONata expression (without its ``{% %}``); :class:`DefinitionError` if it does not parse."""
    source = source.strip()  # AWS quotes the expression as written, without the padding inside {% %}
    try:
        parsed = Jsonata(source, _bounded_regex)
    except jsonata.JException as err:
        raise DefinitionError(f"The JSONata expression '{source}' is not valid: {_message(err)}", where) from None
    except Exception:  # jsonata-python's parser fails on some inputs with Python errors
        raise DefinitionError(f"The JSONata expression '{source}' is not valid", where) from None
    if parsed.errors:
        raise DefinitionError(f"The JSONata expression '{source}' is not valid", where)
    return JsonataExpression(source, parsed, where)


# --- templates --------------------------------------------------------------------------


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def render(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return self.value

    render_fast = render

    def expressions(self) -> Iterator[JsonataExpression]:
        return iter(())


class _Expression:
    __slots__ = ("expression",)

    def __init__(self, expression: JsonataExpression):
        self.expression = expression

    def render(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return self._defined(self.expression.evaluate(states, variables))

    def render_fast(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return self._defined(self.expression._evaluate_fast(states, variables))

    def _defined(self, value: Any) -> Any:
        if value is NOTHING:
            raise self.expression.undefined_error()
        return value

    def expressions(self) -> Iterator[JsonataExpression]:
        yield self.expression


class _Object:
    __slots__ = ("fields",)

    def __init__(self, fields: list):
        self.fields = fields

    def render(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return {name: node.render(states, variables) for name, node in self.fields}

    def render_fast(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return {name: node.render_fast(states, variables) for name, node in self.fields}

    def expressions(self) -> Iterator[JsonataExpression]:
        for _, node in self.fields:
            yield from node.expressions()


class _Array:
    __slots__ = ("items",)

    def __init__(self, items: list):
        self.items = items

    def render(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return [node.render(states, variables) for node in self.items]

    def render_fast(self, states: dict, variables: Mapping[str, Any]) -> Any:
        return [node.render_fast(states, variables) for node in self.items]

    def expressions(self) -> Iterator[JsonataExpression]:
        for node in self.items:
            yield from node.expressions()


class Template:
    """A JSON value whose ``{% %}`` strings are compiled JSONata expressions."""

    def __init__(self, root: Any):
        self._root = root
        self.is_constant = isinstance(root, _Constant)
        # The expression when the whole value is one ``{% %}`` string (causes quote it), else None.
        self.expression = root.expression if isinstance(root, _Expression) else None
        slow = [expression for expression in root.expressions() if not expression.on_loop]
        self.on_loop = not slow  # every expression may be evaluated on the event loop
        self._slowest = slow[0] if slow else None

    def render(self, states: dict, variables: Mapping[str, Any]) -> Any:
        """The value with every expression evaluated in this thread (values may share structure: do not mutate).

        As AWS documents ("JSON cannot represent an undefined value"), an expression that
        returns nothing is a ``States.QueryEvaluationError`` wherever it appears: the whole
        value, an object field or an array item. The error names the field's path.
        """
        return self._root.render(states, variables)

    async def render_async(self, states: dict, variables: Mapping[str, Any]) -> Any:
        """:meth:`render` for the event loop: on it when every expression is provably cheap, else
        in one hop to a worker thread (a hop costs more than a fast-path evaluation)."""
        if self.on_loop:
            try:
                return self._root.render_fast(states, variables)
            except _NeedsEngine:
                pass
        return await _off_loop(lambda: self._root.render(states, variables), self._overtime_error)

    def _overtime_error(self) -> StatesError:
        expression = self._slowest or next(self._root.expressions())
        return expression.overtime_error()


def compile_template(value: Any, *, where: str = "") -> Template:
    """Compile every ``{% %}`` string inside ``value`` once; other values stay literal."""
    return Template(_compile(value, where))


def _compile(value: Any, where: str) -> Any:
    if is_jsonata_template(value):
        return _Expression(compile_jsonata(value[2:-2], where=where))
    if isinstance(value, dict):
        fields = [(key, _compile(item, f"{where}/{key}")) for key, item in value.items()]
        if all(isinstance(node, _Constant) for _, node in fields):
            return _Constant(value)
        return _Object(fields)
    if isinstance(value, list):
        items = [_compile(item, f"{where}/{i}") for i, item in enumerate(value)]
        if all(isinstance(node, _Constant) for node in items):
            return _Constant(value)
        return _Array(items)
    return _Constant(value)
