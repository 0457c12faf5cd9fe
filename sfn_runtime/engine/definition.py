"""Parse and validate an Amazon States Language definition into compiled state objects.

Validation happens once, at CreateStateMachine / UpdateStateMachine /
ValidateStateMachineDefinition: JSON shape, the fields each state type allows in its query
language (JSONata or JSONPath), transitions (StartAt, Next, Default, Catch targets), reachability
and a terminal state, Retry/Catch rules, and every JSONata / JSONPath / intrinsic expression is
compiled here so execution never parses text. Problems raise ``DefinitionError(message, path)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sfn_runtime.engine.choice import compile_condition, compile_jsonpath_rule, parse_timestamp
from sfn_runtime.engine.dataflow import JsonataFlow, JsonPathFlow
from sfn_runtime.errors import DefinitionError
from sfn_runtime.expressions.intrinsics import compile_intrinsic, is_intrinsic
from sfn_runtime.expressions.jsonata_eval import compile_template
from sfn_runtime.expressions.jsonpath import compile_path
from sfn_runtime.expressions.payload import compile_payload
from sfn_runtime.engine.retry import ALL, Catcher, Retrier
from sfn_runtime.engine.states import (
    Choice,
    ChoiceRuleEntry,
    DynamicNumber,
    Fail,
    MapState,
    Parallel,
    Pass,
    State,
    StateGraph,
    Succeed,
    Task,
    Wait,
)
from sfn_runtime.engine.resources import parse_resource

JSONATA = "JSONata"
JSONPATH = "JSONPath"
MAX_STATE_NAME_LENGTH = 80

_COMMON = {"Type", "Comment", "QueryLanguage"}
_TRANSITION = {"Next", "End"}
_RECOVERY = {"Retry", "Catch"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _TRANSITION | {"InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Assign", "Output"},
    "Task": _TRANSITION | _RECOVERY | {
        "Resource", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "TimeoutSeconds",
        "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Assign", "Credentials", "Arguments", "Output",
    },
    "Choice": {"Choices", "Default", "InputPath", "OutputPath", "Assign", "Output"},
    "Wait": _TRANSITION | {"InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Assign", "Output"},
    "Succeed": {"InputPath", "OutputPath", "Output"},
    "Fail": {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _TRANSITION | _RECOVERY | {
        "Branches", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Assign", "Arguments", "Output",
    },
    "Map": _TRANSITION | _RECOVERY | {
        "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters", "ItemReader", "ItemBatcher",
        "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailureCountPath",
        "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label", "InputPath", "OutputPath",
        "ResultSelector", "ResultPath", "Assign", "Output",
    },
}
_JSONPATH_ONLY = {
    "InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "ResultSelector", "ItemsPath", "SecondsPath",
    "TimestampPath", "ErrorPath", "CausePath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath",
    "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Iterator",
}
_JSONATA_ONLY = {"Arguments", "Output", "Items"}
# AWS accepts ToleratedFailureCount/Percentage in an inline Map's definition too (they have no
# effect there: an inline Map fails on its first failed iteration).
_DISTRIBUTED_ONLY = {
    "ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Label",
}
_TOP_LEVEL = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}


class DefinitionProblem(DefinitionError):
    """A DefinitionError with the diagnostic code AWS reports for it (default SCHEMA_VALIDATION_FAILED)."""

    def __init__(self, code: str, message: str, path: str = ""):
        super().__init__(message, path)
        self.code = code


def problem_code(exc: DefinitionError) -> str:
    """The diagnostic code of a definition error."""
    return getattr(exc, "code", "SCHEMA_VALIDATION_FAILED")


def invalid_definition_message(exc: DefinitionError) -> str:
    """AWS's InvalidDefinition message shape, naming the path."""
    where = f" at {exc.path}" if exc.path else ""
    return f"Invalid State Machine Definition: '{problem_code(exc)}: {exc.message}{where}'"


@dataclass
class StateMachineDefinition:
    """A validated, compiled definition."""

    graph: StateGraph
    query_language: str
    timeout_seconds: int | None
    comment: str | None
    raw: dict


def parse_definition(text: Any) -> StateMachineDefinition:
    """Parse JSON text (or an already-decoded dict) and validate/compile it."""
    if isinstance(text, str):
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise DefinitionProblem("INVALID_JSON_DESCRIPTION", f"The definition is not valid JSON: {exc}", "/") from None
    else:
        spec = text
    if not isinstance(spec, dict):
        raise DefinitionError("The definition must be a JSON object", "/")
    unknown = set(spec) - _TOP_LEVEL
    if unknown:
        raise DefinitionError(f"Field '{sorted(unknown)[0]}' is not supported at the top level", "/")
    language = spec.get("QueryLanguage", JSONPATH)
    if language not in (JSONATA, JSONPATH):
        raise DefinitionError("QueryLanguage must be 'JSONata' or 'JSONPath'", "/QueryLanguage")
    timeout = spec.get("TimeoutSeconds")
    if timeout is not None and (not _is_int(timeout) or timeout < 1):
        raise DefinitionError("TimeoutSeconds must be a positive integer", "/TimeoutSeconds")
    graph = compile_graph(spec, "", language, language)
    return StateMachineDefinition(graph, language, timeout, spec.get("Comment"), spec)


def parse_single_state(spec: Any, name: str = "TestState") -> State:
    """Compile one state's definition on its own (TestState): transitions are not checked."""
    if not isinstance(spec, dict):
        raise DefinitionError("The state definition must be a JSON object", "/")
    language = spec.get("QueryLanguage", JSONPATH)
    return _compile_state(name, spec, "", language, JSONPATH)


def compile_graph(spec: dict, path: str, language: str, machine_language: str) -> StateGraph:
    """Compile StartAt/States and check transitions, reachability and termination."""
    start = spec.get("StartAt")
    states_spec = spec.get("States")
    if not isinstance(start, str):
        raise DefinitionError("'StartAt' is required and must be a string", f"{path}/StartAt")
    if not isinstance(states_spec, dict) or not states_spec:
        raise DefinitionError("'States' is required and must be a non-empty object", f"{path}/States")
    states: dict[str, State] = {}
    for name, state_spec in states_spec.items():
        where = f"{path}/States/{name}"
        if not name or len(name) > MAX_STATE_NAME_LENGTH:
            raise DefinitionError(f"State names must be 1-{MAX_STATE_NAME_LENGTH} characters", where)
        states[name] = _compile_state(name, state_spec, where, language, machine_language)
    if start not in states:
        raise DefinitionProblem("MISSING_TRANSITION_TARGET", f"Missing 'StartAt' target: '{start}'", f"{path}/StartAt")
    edges: dict[str, list[tuple[str, str]]] = {name: _targets(state, f"{path}/States/{name}") for name, state in states.items()}
    for name, targets in edges.items():
        for target, where in targets:
            if target not in states:
                raise DefinitionProblem("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: '{target}'", where)
    reached, todo = {start}, [start]
    while todo:
        for target, _ in edges[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    for name in states:
        if name not in reached:
            raise DefinitionProblem("UNREACHABLE_STATE", f"State '{name}' is not reachable", f"{path}/States/{name}")
    if not any(_is_terminal(state) for state in states.values()):
        raise DefinitionProblem("NO_TERMINAL_STATE", "No terminal state: no state has End, or is Succeed or Fail", f"{path}/States")
    return StateGraph(start, states, spec)


def _targets(state: State, where: str) -> list[tuple[str, str]]:
    targets = []
    if state.next is not None:
        targets.append((state.next, f"{where}/Next"))
    if isinstance(state, Choice):
        targets += [(entry.next, f"{where}/Choices[{i}]/Next") for i, entry in enumerate(state.choices)]
        if state.default is not None:
            targets.append((state.default, f"{where}/Default"))
    catchers = getattr(state, "catchers", ())
    targets += [(catcher.next, f"{where}/Catch[{i}]/Next") for i, catcher in enumerate(catchers)]
    return targets


def _is_terminal(state: State) -> bool:
    return state.end or isinstance(state, (Succeed, Fail))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _compile_state(name: str, spec: Any, where: str, default_language: str, machine_language: str) -> State:
    if not isinstance(spec, dict):
        raise DefinitionError("A state must be an object", where)
    kind = spec.get("Type")
    if kind not in _FIELDS:
        raise DefinitionError(f"'Type' must be one of {', '.join(sorted(_FIELDS))}", f"{where}/Type")
    language = spec.get("QueryLanguage", default_language)
    if language not in (JSONATA, JSONPATH):
        raise DefinitionError("QueryLanguage must be 'JSONata' or 'JSONPath'", f"{where}/QueryLanguage")
    if machine_language == JSONATA and language == JSONPATH:
        raise DefinitionError("A state cannot use JSONPath when the state machine's QueryLanguage is JSONata", f"{where}/QueryLanguage")
    for key in spec:
        if key not in _FIELDS[kind] and key not in _COMMON:
            raise DefinitionError(f"Field '{key}' is not supported by {kind} states", f"{where}/{key}")
        if language == JSONATA and key in _JSONPATH_ONLY:
            raise DefinitionError(f"Field '{key}' is not supported in JSONata; use Arguments, Output or Items", f"{where}/{key}")
        if language == JSONPATH and key in _JSONATA_ONLY:
            raise DefinitionError(f"Field '{key}' is supported only when QueryLanguage is JSONata", f"{where}/{key}")
    builder = _Builder(name, spec, where, language, machine_language)
    state = getattr(builder, kind.lower())()
    if kind in ("Pass", "Choice", "Wait", "Succeed") and not _mentions_context(spec):
        state.uses_context = False
    return state


def _mentions_context(spec: dict) -> bool:
    """Whether any field could read the context object (``$$`` or ``$states.context``)."""
    text = json.dumps(spec)
    return "$$" in text or "context" in text


class _Builder:
    """Compiles one state's fields; one method per state type."""

    def __init__(self, name: str, spec: dict, where: str, language: str, machine_language: str):
        self.name, self.spec, self.where = name, spec, where
        self.language, self.machine_language = language, machine_language
        self.jsonata = language == JSONATA

    # ------------------------------------------------------------------ shared pieces
    def at(self, key: str) -> str:
        return f"{self.where}/{key}"

    def transition(self, required: bool = True) -> dict:
        nxt, end = self.spec.get("Next"), self.spec.get("End")
        if nxt is not None and end is not None:
            raise DefinitionError("A state cannot have both 'Next' and 'End'", self.where)
        if end is not None and end is not True:
            raise DefinitionError("'End' must be true", self.at("End"))
        if nxt is not None and not isinstance(nxt, str):
            raise DefinitionError("'Next' must be a state name", self.at("Next"))
        if required and nxt is None and end is None:
            raise DefinitionError("A state must have 'Next' or 'End'", self.where)
        return {"next": nxt, "end": bool(end)}

    def path(self, key: str, reference: bool = False) -> tuple[Any, bool]:
        """A JSONPath field: (compiled path or None for "$"/absent, True if explicitly null)."""
        if key not in self.spec:
            return None, False
        value = self.spec[key]
        if value is None:
            return None, True
        if not isinstance(value, str):
            raise DefinitionError(f"'{key}' must be a path string or null", self.at(key))
        if value == "$":
            return None, False
        return compile_path(value, where=self.at(key), reference=reference), False

    def template(self, key: str) -> Any:
        if key not in self.spec:
            return None
        return compile_template(self.spec[key], where=self.at(key))

    def assign(self, spec: Any, where: str) -> Any:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise DefinitionError("'Assign' must be an object", where)
        for key in spec:
            variable = key[:-2] if key.endswith(".$") and not self.jsonata else key
            if not variable.isidentifier() or variable.startswith("states"):
                raise DefinitionError(f"'{variable}' is not a valid variable name", f"{where}/{key}")
        return compile_template(spec, where=where) if self.jsonata else compile_payload(spec, where=where)

    def flow(self, has_result_fields: bool = True) -> JsonPathFlow | JsonataFlow:
        assign = self.assign(self.spec.get("Assign"), self.at("Assign"))
        if self.jsonata:
            return JsonataFlow(self.template("Arguments"), self.template("Output"), assign)
        input_path, input_null = self.path("InputPath")
        output_path, output_null = self.path("OutputPath")
        result_path, result_null = self.path("ResultPath", reference=True)
        parameters = self.payload("Parameters")
        selector = self.payload("ResultSelector")
        return JsonPathFlow(input_path, input_null, parameters, selector, result_path, result_null,
                            output_path, output_null, assign)

    def payload(self, key: str) -> Any:
        if key not in self.spec:
            return None
        value = self.spec[key]
        if not isinstance(value, dict):
            raise DefinitionError(f"'{key}' must be an object", self.at(key))
        return compile_payload(value, where=self.at(key))

    def number(self, key: str, minimum: int = 0, allow_float: bool = False) -> DynamicNumber | None:
        """A number field with its ``*Path`` (JSONPath) or template (JSONata) form."""
        literal = self.spec.get(key)
        path_key = key + "Path"
        if literal is not None and path_key in self.spec:
            raise DefinitionError(f"Use only one of '{key}' and '{path_key}'", self.where)
        if path_key in self.spec:
            text = self.spec[path_key]
            if not isinstance(text, str):
                raise DefinitionError(f"'{path_key}' must be a reference path", self.at(path_key))
            return DynamicNumber(key, path=compile_path(text, where=self.at(path_key), reference=True), minimum=minimum)
        if literal is None:
            return None
        if isinstance(literal, str) and self.jsonata:
            return DynamicNumber(key, template=compile_template(literal, where=self.at(key)), minimum=minimum)
        ok = isinstance(literal, (int, float)) if allow_float else _is_int(literal)
        if isinstance(literal, bool) or not ok or literal < minimum:
            raise DefinitionError(f"'{key}' must be a number >= {minimum}", self.at(key))
        return DynamicNumber(key, literal=literal, minimum=minimum)

    def retriers(self) -> tuple[Retrier, ...]:
        spec = self.spec.get("Retry", [])
        if not isinstance(spec, list):
            raise DefinitionError("'Retry' must be an array", self.at("Retry"))
        out = []
        for i, entry in enumerate(spec):
            where = self.at(f"Retry[{i}]")
            if not isinstance(entry, dict):
                raise DefinitionError("A Retrier must be an object", where)
            allowed = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}
            _only(entry, allowed, where, "a Retrier")
            errors = _error_equals(entry, where, last=i == len(spec) - 1)
            interval = entry.get("IntervalSeconds", 1)
            attempts = entry.get("MaxAttempts", 3)
            backoff = entry.get("BackoffRate", 2.0)
            max_delay = entry.get("MaxDelaySeconds")
            jitter = entry.get("JitterStrategy", "NONE")
            if not _is_int(interval) or interval < 1:
                raise DefinitionError("'IntervalSeconds' must be a positive integer", f"{where}/IntervalSeconds")
            if not _is_int(attempts) or attempts < 0:
                raise DefinitionError("'MaxAttempts' must be a non-negative integer", f"{where}/MaxAttempts")
            if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 1.0:
                raise DefinitionError("'BackoffRate' must be a number >= 1.0", f"{where}/BackoffRate")
            if max_delay is not None and (not _is_int(max_delay) or max_delay < 1):
                raise DefinitionError("'MaxDelaySeconds' must be a positive integer", f"{where}/MaxDelaySeconds")
            if jitter not in ("FULL", "NONE"):
                raise DefinitionError("'JitterStrategy' must be FULL or NONE", f"{where}/JitterStrategy")
            out.append(Retrier(errors, float(interval), attempts, float(backoff), max_delay, jitter))
        return tuple(out)

    def catchers(self) -> tuple[Catcher, ...]:
        spec = self.spec.get("Catch", [])
        if not isinstance(spec, list):
            raise DefinitionError("'Catch' must be an array", self.at("Catch"))
        out = []
        for i, entry in enumerate(spec):
            where = self.at(f"Catch[{i}]")
            if not isinstance(entry, dict):
                raise DefinitionError("A Catcher must be an object", where)
            allowed = {"ErrorEquals", "Next", "Assign", "Comment"} | ({"Output"} if self.jsonata else {"ResultPath"})
            _only(entry, allowed, where, f"a Catcher in {self.language}")
            errors = _error_equals(entry, where, last=i == len(spec) - 1)
            nxt = entry.get("Next")
            if not isinstance(nxt, str):
                raise DefinitionError("A Catcher needs 'Next'", f"{where}/Next")
            assign = self.assign(entry.get("Assign"), f"{where}/Assign")
            if self.jsonata:
                output = compile_template(entry["Output"], where=f"{where}/Output") if "Output" in entry else None
                out.append(Catcher(errors, nxt, output=output, assign=assign))
                continue
            result_path, discard = None, False
            if "ResultPath" in entry:
                value = entry["ResultPath"]
                if value is None:
                    discard = True
                elif not isinstance(value, str):
                    raise DefinitionError("'ResultPath' must be a path or null", f"{where}/ResultPath")
                elif value != "$":
                    result_path = compile_path(value, where=f"{where}/ResultPath", reference=True)
            out.append(Catcher(errors, nxt, result_path=result_path, discard_result=discard, assign=assign))
        return tuple(out)

    # ------------------------------------------------------------------ state types
    def pass_(self) -> Pass:
        from sfn_runtime.engine.dataflow import NO_RESULT

        result = self.spec["Result"] if "Result" in self.spec else NO_RESULT
        return Pass(self.name, "Pass", self.flow(), result=result, **self.transition())

    def succeed(self) -> Succeed:
        return Succeed(self.name, "Succeed", self.flow(), end=True)

    def fail(self) -> Fail:
        values = {}
        for key in ("Error", "Cause"):
            path_key = key + "Path"
            if key in self.spec and path_key in self.spec:
                raise DefinitionError(f"Use only one of '{key}' and '{path_key}'", self.where)
            if key in self.spec:
                value = self.spec[key]
                if not isinstance(value, str):
                    raise DefinitionError(f"'{key}' must be a string", self.at(key))
                values[key] = compile_template(value, where=self.at(key)) if self.jsonata and value.strip().startswith("{%") else value
            elif path_key in self.spec:
                text = self.spec[path_key]
                if not isinstance(text, str):
                    raise DefinitionError(f"'{path_key}' must be a path or intrinsic function", self.at(path_key))
                if is_intrinsic(text):
                    values[key] = compile_intrinsic(text, where=self.at(path_key))
                else:
                    values[key] = compile_path(text, where=self.at(path_key), reference=True)
        return Fail(self.name, "Fail", JsonataFlow() if self.jsonata else JsonPathFlow(), end=True,
                    error=values.get("Error"), cause=values.get("Cause"))

    def wait(self) -> Wait:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in self.spec]
        if len(given) != 1:
            raise DefinitionError("A Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath", self.where)
        seconds, timestamp = None, None
        key = given[0]
        if key in ("Seconds", "SecondsPath"):
            seconds = self.number("Seconds", minimum=0)
        elif key == "TimestampPath":
            timestamp, _ = self.path("TimestampPath", reference=True)
        else:
            value = self.spec["Timestamp"]
            if self.jsonata and isinstance(value, str) and value.strip().startswith("{%"):
                timestamp = compile_template(value, where=self.at("Timestamp"))
            elif parse_timestamp(value) is None:
                raise DefinitionError("'Timestamp' must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z", self.at("Timestamp"))
            else:
                timestamp = value
        return Wait(self.name, "Wait", self.flow(), seconds=seconds, timestamp=timestamp, **self.transition())

    def choice(self) -> Choice:
        rules = self.spec.get("Choices")
        if not isinstance(rules, list) or not rules:
            raise DefinitionError("'Choices' must be a non-empty array", self.at("Choices"))
        entries = []
        for i, rule in enumerate(rules):
            where = self.at(f"Choices[{i}]")
            if not isinstance(rule, dict):
                raise DefinitionError("A Choice Rule must be an object", where)
            nxt = rule.get("Next")
            if not isinstance(nxt, str):
                raise DefinitionError("A Choice Rule needs 'Next'", f"{where}/Next")
            if self.jsonata:
                _only(rule, {"Condition", "Next", "Assign", "Output", "Comment"}, where, "a JSONata Choice Rule")
                if "Condition" not in rule:
                    raise DefinitionError("A JSONata Choice Rule needs 'Condition'", where)
                compiled = compile_condition(rule["Condition"], f"{where}/Condition")
                output = compile_template(rule["Output"], where=f"{where}/Output") if "Output" in rule else None
                assign = self.assign(rule.get("Assign"), f"{where}/Assign")
                flow = JsonataFlow(None, output, assign) if output is not None or assign is not None else None
            else:
                if "Condition" in rule or "Output" in rule:
                    raise DefinitionError("'Condition' and 'Output' are supported only when QueryLanguage is JSONata", where)
                body = {k: v for k, v in rule.items() if k not in ("Next", "Assign", "Comment")}
                compiled = compile_jsonpath_rule(body, where, top=False)
                assign = self.assign(rule.get("Assign"), f"{where}/Assign")
                flow = JsonPathFlow(assign=assign) if assign is not None else None
            entries.append(ChoiceRuleEntry(compiled, nxt, flow))
        default = self.spec.get("Default")
        if default is not None and not isinstance(default, str):
            raise DefinitionError("'Default' must be a state name", self.at("Default"))
        return Choice(self.name, "Choice", self.flow(), choices=entries, default=default)

    def task(self) -> Task:
        resource = self.spec.get("Resource")
        if not isinstance(resource, str) or not resource.startswith("arn:"):
            raise DefinitionError("'Resource' must be an ARN", self.at("Resource"))
        timeout = self.number("TimeoutSeconds", minimum=1)
        heartbeat = self.number("HeartbeatSeconds", minimum=1)
        if timeout and heartbeat and timeout.literal is not None and heartbeat.literal is not None:
            if heartbeat.literal >= timeout.literal:
                raise DefinitionError("'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'", self.at("HeartbeatSeconds"))
        credentials = None
        if "Credentials" in self.spec:
            value = self.spec["Credentials"]
            if not isinstance(value, dict):
                raise DefinitionError("'Credentials' must be an object", self.at("Credentials"))
            credentials = compile_template(value, where=self.at("Credentials")) if self.jsonata else compile_payload(value, where=self.at("Credentials"))
        return Task(self.name, "Task", self.flow(), retriers=self.retriers(), catchers=self.catchers(),
                    ref=parse_resource(resource), timeout=timeout, heartbeat=heartbeat, credentials=credentials,
                    **self.transition())

    def parallel(self) -> Parallel:
        branches = self.spec.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise DefinitionError("'Branches' must be a non-empty array", self.at("Branches"))
        graphs = []
        for i, branch in enumerate(branches):
            where = self.at(f"Branches[{i}]")
            if not isinstance(branch, dict):
                raise DefinitionError("A branch must be an object with StartAt and States", where)
            _only(branch, {"StartAt", "States", "Comment", "QueryLanguage"}, where, "a branch")
            graphs.append(compile_graph(branch, where, branch.get("QueryLanguage", self.language), self.machine_language))
        return Parallel(self.name, "Parallel", self.flow(), retriers=self.retriers(), catchers=self.catchers(),
                        branches=graphs, **self.transition())

    def map(self) -> MapState:
        key = "ItemProcessor" if "ItemProcessor" in self.spec else "Iterator"
        processor = self.spec.get(key)
        if "ItemProcessor" in self.spec and "Iterator" in self.spec:
            raise DefinitionError("Use 'ItemProcessor' or the older 'Iterator', not both", self.where)
        if not isinstance(processor, dict):
            raise DefinitionError("A Map state needs 'ItemProcessor'", self.at("ItemProcessor"))
        where = self.at(key)
        _only(processor, {"StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"}, where, key)
        config = processor.get("ProcessorConfig", {}) or {}
        if not isinstance(config, dict):
            raise DefinitionError("'ProcessorConfig' must be an object", f"{where}/ProcessorConfig")
        _only(config, {"Mode", "ExecutionType"}, f"{where}/ProcessorConfig", "ProcessorConfig")
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            raise DefinitionError("'Mode' must be INLINE or DISTRIBUTED", f"{where}/ProcessorConfig/Mode")
        execution_type = config.get("ExecutionType")
        if mode == "DISTRIBUTED":
            if execution_type not in ("STANDARD", "EXPRESS"):
                raise DefinitionError("A DISTRIBUTED Map needs ExecutionType STANDARD or EXPRESS", f"{where}/ProcessorConfig/ExecutionType")
        else:
            if execution_type is not None:
                raise DefinitionError("'ExecutionType' is supported only in DISTRIBUTED mode", f"{where}/ProcessorConfig/ExecutionType")
            for field_name in self.spec:
                if field_name in _DISTRIBUTED_ONLY:
                    raise DefinitionError(f"Field '{field_name}' is supported only by a Map in DISTRIBUTED mode", self.at(field_name))
        graph = compile_graph(processor, where, processor.get("QueryLanguage", self.language), self.machine_language)
        if "ItemSelector" in self.spec and "Parameters" in self.spec:
            raise DefinitionError("Use 'ItemSelector' or the older 'Parameters', not both", self.where)
        selector_key = "ItemSelector" if "ItemSelector" in self.spec else ("Parameters" if "Parameters" in self.spec else None)
        item_selector = None
        if selector_key is not None:
            item_selector = self.template(selector_key) if self.jsonata else self.payload(selector_key)
        items_path, _ = (None, False) if self.jsonata else self.path("ItemsPath", reference=True)
        items = self.template("Items") if self.jsonata else None
        flow = self.flow()
        if isinstance(flow, JsonPathFlow):
            flow.parameters = None  # a Map's Parameters is its (legacy) ItemSelector
        return MapState(
            self.name, "Map", flow, retriers=self.retriers(), catchers=self.catchers(),
            processor=graph, mode=mode, execution_type=execution_type, items_path=items_path, items=items,
            item_selector=item_selector, max_concurrency=self.number("MaxConcurrency", minimum=0),
            tolerated_failure_count=self.number("ToleratedFailureCount", minimum=0),
            tolerated_failure_percentage=self.number("ToleratedFailurePercentage", minimum=0, allow_float=True),
            label=self.spec.get("Label"), spec=self.spec, **self.transition(),
        )


# "pass" is a keyword: dispatch by kind.lower() finds this alias.
setattr(_Builder, "pass", _Builder.pass_)


def _only(spec: dict, allowed: set[str], where: str, what: str) -> None:
    for key in spec:
        if key not in allowed:
            raise DefinitionError(f"Field '{key}' is not supported in {what}", f"{where}/{key}")


def _error_equals(entry: dict, where: str, last: bool) -> tuple[str, ...]:
    errors = entry.get("ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) and e for e in errors):
        raise DefinitionError("'ErrorEquals' must be a non-empty array of error names", f"{where}/ErrorEquals")
    if ALL in errors and (len(errors) > 1 or not last):
        raise DefinitionError("'States.ALL' must appear alone in ErrorEquals, in the last Retrier or Catcher", f"{where}/ErrorEquals")
    return tuple(errors)
