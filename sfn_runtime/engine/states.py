"""The Amazon States Language state types and what each does when an execution enters it.

One class per state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map), built by
:mod:`.definition` from a validated definition with every expression compiled. ``run`` takes the
state's raw input and returns ``(output, next state name or None)``; errors are ``StatesError``.
Retry and Catch apply to Task, Parallel and Map (see :class:`Recoverable`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from sfn_runtime.engine.choice import Condition, parse_timestamp
from sfn_runtime.engine.dataflow import NO_RESULT, Flow, states_of
from sfn_runtime.errors import StatesError
from sfn_runtime.expressions.jsonata_eval import NOTHING, json_type
from sfn_runtime.engine.retry import Catcher, Retrier, first_match
from sfn_runtime.engine.resources import ExecutionHandle, ResourceRef, TaskInvocation
from sfn_runtime.engine.runtime import Runtime

_DEFAULT_TASK_TIMEOUT = 99_999_999  # AWS's default TimeoutSeconds for a Task
INLINE_MAX_CONCURRENCY = 40  # AWS: an inline Map runs at most 40 iterations at once
_YIELD_EVERY = 16  # Map iterations that never wait still give the loop a turn this often


class Frame(Protocol):
    """Where a state runs, as states see it (implemented by ``engine.execution.Frame``)."""

    runtime: Runtime
    execution: ExecutionHandle
    variables: Mapping[str, Any]
    depth: int

    def child(self) -> "Frame": ...
    async def run_graph(self, graph: "StateGraph", value: Any) -> Any: ...
    def context(self, state: "State", retry_count: int = 0) -> dict: ...
    def record(self, type_: str, details: dict | None = None) -> None: ...
    def record_brief(self, type_: str, name: str, value: Any) -> None: ...
    def evaluation_failed(self, state: "State", err: StatesError) -> None: ...
    def check_payload(self, value: Any, where: str) -> None: ...
    def assign(self, values: dict | None) -> None: ...
    def exited(self, state: "State", output: Any, assigned: dict | None) -> None: ...


# Map fields whose *Path may select a number written as text ("5"), which AWS accepts.
_NUMERIC_TEXT_FIELDS = frozenset({"MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"})


def _number_in(text: str) -> Any:
    """The number a text holds ("5" -> 5, "2.5" -> 2.5), or the text itself when it holds none."""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() else number


def _map_number(field: str, path: str, selected: Any) -> Any:
    """A Map's MaxConcurrency / ToleratedFailureCount / ToleratedFailurePercentage read by its
    ``*Path``: a number, or a number written as text; otherwise States.Runtime in the words
    LocalStack reproduces from AWS (AWS's own documentation gives no text)."""
    value = _number_in(selected) if isinstance(selected, str) else selected
    whole = field != "ToleratedFailurePercentage"
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not number or (whole and not float(value).is_integer()):
        shown = selected if isinstance(selected, str) else json.dumps(selected, separators=(",", ":"))
        kind = "integer" if whole else "float"
        raise StatesError("States.Runtime", f'The {field}Path field refers to value "{shown}" which is not a valid {kind}: {path}')
    if field == "MaxConcurrency" and value < 0:
        raise StatesError("States.Runtime", f"Expected non-negative integer for MaxConcurrency, got '{value}' instead.")
    if field == "ToleratedFailureCount" and value < 0:
        raise StatesError("States.Runtime", "ToleratedFailureCount cannot be negative.")
    if field == "ToleratedFailurePercentage" and not 0 <= value <= 100:
        raise StatesError("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
    return int(value) if whole else value


@dataclass
class DynamicNumber:
    """A number given literally, by a JSONPath ``*Path`` field, or by a JSONata template."""

    field: str
    literal: Any = None
    path: Any = None  # JSONPath Path
    template: Any = None  # JSONata Template
    minimum: int = 0

    async def resolve(self, data: Any, raw: Any, context: dict, variables: Any) -> Any:
        if self.path is not None:
            value = self.path.read(data, context, variables)
            if self.field == "Seconds":
                _check_seconds_path(self.path.source, value)
                return value
            if self.field in _NUMERIC_TEXT_FIELDS:
                return _map_number(self.field, self.path.source, value)
            error = "States.Runtime"
        elif self.template is not None:
            value = await self.template.render_async({"input": raw, "context": context}, variables)
            error = "States.QueryEvaluationError"
        else:
            return self.literal
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < self.minimum:
            raise StatesError(error, f"The {self.field} field must resolve to a number >= {self.minimum}, got {value!r}")
        return value


@dataclass
class State:
    """What every state has: its name, type, query language and transition."""

    name: str
    type: str
    flow: Flow
    next: str | None = None
    end: bool = False
    uses_context: bool = True  # False when no field can read the context object (saves building it)

    def __post_init__(self) -> None:
        self.entered_event = f"{self.type}StateEntered"
        self.exited_event = f"{self.type}StateExited"

    @property
    def jsonata(self) -> bool:
        return self.flow.language == "JSONata"

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:  # pragma: no cover
        raise NotImplementedError

    def _exit(self, frame: "Frame", output: Any, assigned: dict | None) -> Any:
        """Leave the state: check the output's size, apply the assignments, record Exited."""
        frame.check_payload(output, self.name)
        frame.assign(assigned)
        frame.exited(self, output, assigned)
        return output

    async def finish(self, frame: "Frame", raw: Any, result: Any, context: dict) -> Any:
        """Assign and Output (both see pre-state variables), then record the Exited event."""
        variables = frame.variables
        assigned = await self.flow.assignments(raw, result, context, variables)
        output = await self.flow.output(raw, result, context, variables)
        return self._exit(frame, output, assigned)


@dataclass
class Pass(State):
    result: Any = NO_RESULT  # JSONPath "Result"

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        if self.jsonata:
            result = NO_RESULT
        elif self.result is not NO_RESULT:
            result = self.result
        else:
            result = await self.flow.arguments(raw, context, frame.variables)
        return await self.finish(frame, raw, result, context), self.next


@dataclass
class Succeed(State):
    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        result = NO_RESULT if self.jsonata else self.flow.effective_input(raw, context, frame.variables)
        return await self.finish(frame, raw, result, context), None


@dataclass
class Fail(State):
    error: Any = None  # literal str, Path/Intrinsic (JSONPath), or Template (JSONata)
    cause: Any = None

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        error = await self._resolve(self.error, raw, context, frame, "Error")
        cause = await self._resolve(self.cause, raw, context, frame, "Cause")
        raise StatesError(error or "", cause or "", located=True)  # a Fail state's words pass through as written

    async def _resolve(self, spec: Any, raw: Any, context: dict, frame: "Frame", name: str) -> Any:
        if spec is None or isinstance(spec, str):
            return spec
        if self.jsonata:
            value = await spec.render_async({"input": raw, "context": context}, frame.variables)
            kind = "States.QueryEvaluationError"
        elif hasattr(spec, "read"):
            value = spec.read(raw, context, frame.variables)
            kind = "States.Runtime"
        else:
            value = spec.evaluate(raw, context, frame.variables)
            kind = "States.Runtime"
        if value is NOTHING or value is None:
            return None
        if not isinstance(value, str):
            raise StatesError(kind, f"The Fail state's {name} must be a string, got {type(value).__name__}")
        return value


@dataclass
class ChoiceRuleEntry:
    """A top-level Choice Rule: its Boolean rule, target and (optional) Assign/Output."""

    rule: Any
    next: str
    flow: Flow | None = None  # the rule's own Assign/Output, if any


@dataclass
class Choice(State):
    choices: list[ChoiceRuleEntry] = field(default_factory=list)
    default: str | None = None

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        variables = frame.variables
        if self.jsonata:
            states = {"input": raw, "context": context}
            data = raw
        else:
            data = self.flow.effective_input(raw, context, variables)
        for entry in self.choices:
            if isinstance(entry.rule, Condition):
                matched = await entry.rule.evaluate(states, variables)
            else:
                matched = entry.rule.matches(data, context, variables)
            if matched:
                return await self._leave(frame, raw, data, context, entry.flow), entry.next
        if self.default is None:
            raise StatesError("States.NoChoiceMatched", f"No Choice Rule matched and no Default in state '{self.name}'")
        return await self._leave(frame, raw, data, context, None), self.default

    async def _leave(self, frame: "Frame", raw: Any, data: Any, context: dict, rule_flow: Flow | None) -> Any:
        result = NO_RESULT if self.jsonata else data
        variables = frame.variables
        assigned = await self.flow.assignments(raw, result, context, variables)
        if rule_flow is not None and rule_flow.assign is not None:
            assigned = {**(assigned or {}), **(await rule_flow.assignments(raw, result, context, variables) or {})}
        flow = rule_flow if rule_flow is not None and getattr(rule_flow, "output_template", None) is not None else self.flow
        output = await flow.output(raw, result, context, variables)
        return self._exit(frame, output, assigned)


@dataclass
class Wait(State):
    seconds: DynamicNumber | None = None
    timestamp: Any = None  # literal str, Path (JSONPath) or Template (JSONata)

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        variables = frame.variables
        data = raw if self.jsonata else self.flow.effective_input(raw, context, variables)
        delay = await self._delay(frame, raw, data, context)
        try:
            await frame.runtime.clock.sleep(delay)
        except asyncio.CancelledError:
            frame.record("WaitStateAborted", {"name": self.name})
            raise
        result = NO_RESULT if self.jsonata else data
        return await self.finish(frame, raw, result, context), self.next

    async def _delay(self, frame: "Frame", raw: Any, data: Any, context: dict) -> float:
        seconds = self.seconds
        if seconds is not None:
            return float(await seconds.resolve(data, raw, context, frame.variables))
        spec = self.timestamp
        if isinstance(spec, str):
            value, field, written = spec, "Timestamp", spec
        elif self.jsonata:
            value = await spec.render_async({"input": raw, "context": context}, frame.variables)
            field, written = "Timestamp", spec.expression.source if spec.expression is not None else ""
        else:
            value = spec.read(data, context, frame.variables)
            field, written = "TimestampPath", spec.source
        moment = parse_timestamp(value)
        if moment is None:
            kind = "States.QueryEvaluationError" if self.jsonata else "States.Runtime"
            shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            raise StatesError(kind, f"The {field} parameter does not reference a valid ISO-8601 extended offset "
                                    f"date-time format string: {written} == {shown}")
        return max(0.0, moment.timestamp() - dt.datetime.now(dt.timezone.utc).timestamp())


def _check_seconds_path(source: str, value: Any) -> None:
    """SecondsPath must select a whole, non-negative number of seconds (States.Runtime otherwise)."""
    shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise StatesError("States.Runtime", f"The SecondsPath parameter cannot be parsed as a long value: {source} == {shown}")
    if value < 0:
        raise StatesError("States.Runtime", f"The SecondsPath parameter references a negative value: {source} == {shown}")


@dataclass
class Recoverable(State):
    """A state with Retry and Catch (Task, Parallel, Map)."""

    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()

    async def run(self, frame: "Frame", raw: Any) -> tuple[Any, str | None]:
        context = frame.context(self)
        counts = [0] * len(self.retriers)
        retry_count = 0
        while True:
            try:
                result = await self.attempt(frame, raw, context)
                if frame.depth == 0:
                    frame.execution.redrive_results.pop(self.name, None)
                return await self.finish(frame, raw, result, context), self.next
            except StatesError as err:
                frame.evaluation_failed(self, err)
                index = first_match(self.retriers, err.error)
                if index >= 0 and counts[index] < self.retriers[index].max_attempts:
                    delay = self.retriers[index].delay(counts[index])
                    counts[index] += 1
                    retry_count += 1
                    await frame.runtime.clock.sleep(delay)
                    context = frame.context(self, retry_count)
                    continue
                index = first_match(self.catchers, err.error)
                if index < 0:
                    raise
                if frame.depth == 0:
                    frame.execution.redrive_results.pop(self.name, None)
                return await self._catch(frame, raw, context, self.catchers[index], err), self.catchers[index].next

    async def attempt(self, frame: "Frame", raw: Any, context: dict) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def _catch(self, frame: "Frame", raw: Any, context: dict, catcher: Catcher, err: StatesError) -> Any:
        error_output = {"Error": err.error, "Cause": err.cause}
        variables = frame.variables
        if self.jsonata:
            states = states_of(raw, NO_RESULT, context)
            states["errorOutput"] = error_output
            assigned = await catcher.assign.render_async(states, variables) if catcher.assign is not None else None
            if catcher.output is None:
                output = error_output
            else:
                output = await catcher.output.render_async(states, variables)
                output = None if output is NOTHING else output
        else:
            assigned = catcher.assign.render(error_output, context, variables) if catcher.assign is not None else None
            if catcher.discard_result:
                output = raw
            elif catcher.result_path is None:
                output = error_output
            else:
                output = catcher.result_path.write(raw, error_output)
        if assigned is NOTHING:
            assigned = None
        return self._exit(frame, output, assigned)


@dataclass
class Task(Recoverable):
    ref: ResourceRef | None = None
    timeout: DynamicNumber | None = None
    heartbeat: DynamicNumber | None = None
    credentials: Any = None  # compiled like Arguments/Parameters (or None)

    async def attempt(self, frame: "Frame", raw: Any, context: dict) -> Any:
        assert self.ref is not None
        runtime = frame.runtime
        variables = frame.variables
        data = raw if self.jsonata else self.flow.effective_input(raw, context, variables)
        timeout = await self.timeout.resolve(data, raw, context, variables) if self.timeout else _DEFAULT_TASK_TIMEOUT
        heartbeat = await self.heartbeat.resolve(data, raw, context, variables) if self.heartbeat else None
        pending = None
        if self.ref.pattern == "waitForTaskToken":
            pending = runtime.tokens.issue()
            context = {**context, "Task": {"Token": pending.token}}
        try:
            arguments = await self.flow.arguments(raw, context, variables)
            frame.check_payload(arguments, self.name, "has Parameters/Arguments")
            credentials = await self._credentials(raw, data, context, variables)
            result = await self._invoke(frame, arguments, context, credentials, timeout, heartbeat, pending)
        finally:
            if pending is not None and not pending.future.done():
                pending.future.cancel()
            if pending is not None:
                runtime.tokens.close(pending.token)
        frame.check_payload(result, self.ref.resource)
        return await self.flow.select(result, context, variables)

    async def _credentials(self, raw: Any, data: Any, context: dict, variables: Any) -> dict | None:
        if self.credentials is None:
            return None
        if self.jsonata:
            return await self.credentials.render_async({"input": raw, "context": context}, variables)
        return self.credentials.render(data, context, variables)

    async def _invoke(self, frame: "Frame", arguments: Any, context: dict, credentials: Any,
                      timeout: float, heartbeat: float | None, pending: Any) -> Any:
        ref = self.ref
        assert ref is not None
        runtime = frame.runtime
        kind = {"resourceType": ref.resource_type, "resource": ref.resource_name}
        scheduled = {**kind, "region": runtime.region, "parameters": arguments}
        if self.timeout is not None:
            scheduled["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None:
            scheduled["heartbeatInSeconds"] = int(heartbeat)
        frame.record("TaskScheduled", scheduled)
        plugin = runtime.resource_for(ref.service_resource)
        if plugin is None:
            cause = f"No local integration serves the resource '{ref.resource}'"
            frame.record("TaskFailed", {**kind, "error": "States.Runtime", "cause": cause})
            raise StatesError("States.Runtime", cause, located=True)
        frame.record("TaskStarted", dict(kind))
        loop = asyncio.get_running_loop()
        clock = runtime.clock
        timed = clock.time_scale > 0  # at time scale 0 waits are instant and no timeout could be met
        deadline = loop.time() + clock.scaled(timeout) if timed else math.inf
        beat = {"due": loop.time() + clock.scaled(heartbeat) if heartbeat is not None and timed else None}

        def on_heartbeat() -> None:
            if beat["due"] is not None:
                beat["due"] = loop.time() + clock.scaled(heartbeat)

        call = TaskInvocation(
            resource=ref.resource, service_resource=ref.service_resource, pattern=ref.pattern,
            arguments=arguments, context=context, execution=frame.execution,
            task_token=pending.token if pending is not None else None, credentials=credentials,
            timeout_seconds=timeout, heartbeat_seconds=heartbeat, on_heartbeat=on_heartbeat,
            on_submitted=lambda response: frame.record("TaskSubmitted", {**kind, "output": response}),
        )
        if pending is not None:
            pending.on_heartbeat = on_heartbeat
        work = asyncio.ensure_future(self._call(frame, plugin, call, pending, kind))
        try:
            while True:
                due = deadline if beat["due"] is None else min(deadline, beat["due"])
                done, _ = await asyncio.wait({work}, timeout=None if due == math.inf else max(0.0, due - loop.time()))
                if done:
                    break
                now = loop.time()
                if now >= deadline:
                    raise self._timed_out(frame, kind, "States.Timeout", "The task timed out", pending)
                if beat["due"] is not None and now >= beat["due"]:
                    raise self._timed_out(frame, kind, "States.HeartbeatTimeout", "The task heartbeat timed out", pending)
        except asyncio.CancelledError:
            frame.record("TaskStateAborted")
            raise
        finally:
            if not work.done():
                work.cancel()
        try:
            result = work.result()
        except StatesError as err:
            frame.record("TaskFailed", {**kind, "error": err.error, "cause": err.cause})
            raise
        frame.record("TaskSucceeded", {**kind, "output": result})
        return result

    def _timed_out(self, frame: "Frame", kind: dict, error: str, cause: str, pending: Any) -> StatesError:
        if pending is not None:
            frame.runtime.tokens.close(pending.token, timed_out=True)
        frame.record("TaskTimedOut", {**kind, "error": error, "cause": cause})
        return StatesError(error, cause)

    @staticmethod
    async def _call(frame: "Frame", plugin: Any, call: TaskInvocation, pending: Any, kind: dict) -> Any:
        try:
            submitted = await plugin.invoke(call)
        except StatesError as err:
            err.located = True  # the resource's own error and cause pass through unchanged
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plug-in bug or an unexpected library error: the task fails
            raise StatesError("States.TaskFailed", f"{type(exc).__name__}: {exc}") from None
        if pending is None:
            return submitted
        frame.record("TaskSubmitted", {**kind, "output": submitted})
        return await pending.future


@dataclass
class Parallel(Recoverable):
    branches: list["StateGraph"] = field(default_factory=list)

    async def attempt(self, frame: "Frame", raw: Any, context: dict) -> Any:
        value = await self.flow.arguments(raw, context, frame.variables)
        frame.record("ParallelStateStarted")
        carried = _redriven(frame, self.name)
        running = [i for i in range(len(self.branches)) if i not in carried]
        tasks = [asyncio.ensure_future(frame.child().run_graph(self.branches[i], value)) for i in running]
        try:
            finished = dict(zip(running, await _all_or_first_error(tasks)))
            results = [carried[i] if i in carried else finished[i] for i in range(len(self.branches))]
        except StatesError:
            frame.record("ParallelStateFailed")
            raise
        except asyncio.CancelledError:
            frame.record("ParallelStateAborted")
            raise
        frame.record("ParallelStateSucceeded")
        return await self.flow.select(results, context, frame.variables)


@dataclass
class MapState(Recoverable):
    processor: "StateGraph | None" = None
    mode: str = "INLINE"  # ItemProcessor.ProcessorConfig.Mode
    execution_type: str | None = None  # DISTRIBUTED: STANDARD | EXPRESS
    items_path: Any = None  # JSONPath reference Path (None = "$")
    items: Any = None  # JSONata Template (None = $states.input)
    item_selector: Any = None  # PayloadTemplate (JSONPath) or Template (JSONata)
    max_concurrency: DynamicNumber | None = None
    tolerated_failure_count: DynamicNumber | None = None
    tolerated_failure_percentage: DynamicNumber | None = None
    label: str | None = None
    spec: dict = field(default_factory=dict)  # the state's definition as written (for Distributed Map)

    async def attempt(self, frame: "Frame", raw: Any, context: dict) -> Any:
        variables = frame.variables
        data = raw if self.jsonata else self.flow.effective_input(raw, context, variables)
        limit = await self.max_concurrency.resolve(data, raw, context, variables) if self.max_concurrency else 0
        if self.mode == "DISTRIBUTED":
            runner = frame.runtime.distributed_map
            if runner is None:
                raise StatesError("States.Runtime", "Distributed Map requires the Map Run runner")
            result = await runner(self, raw, data, context, frame)
            return await self.flow.select(result, context, variables)
        items = await self.read_items(raw, data, context, variables)
        inputs = [await self.item_input(raw, data, context, variables, index, item) for index, item in enumerate(items)]
        self.check_item_inputs(frame, inputs)
        frame.record("MapStateStarted", {"length": len(inputs)})
        try:
            results = await self._iterate(frame, inputs, int(limit), _redriven(frame, self.name))
        except StatesError:
            frame.record("MapStateFailed")
            raise
        except asyncio.CancelledError:
            frame.record("MapStateAborted")
            raise
        frame.record("MapStateSucceeded")
        return await self.flow.select(results, context, variables)

    async def read_items(self, raw: Any, data: Any, context: dict, variables: Any) -> list:
        """The items to iterate: ItemsPath (JSONPath) or Items (JSONata)."""
        if self.jsonata:
            items = raw if self.items is None else await self.items.render_async({"input": raw, "context": context}, variables)
            if not isinstance(items, list):
                expression = getattr(self.items, "expression", None)
                if expression is not None:
                    raise expression.type_error("array", items)
                raise StatesError("States.QueryEvaluationError", f"Map state input must be an array but was: {json_type(items)}")
            return items
        items = data if self.items_path is None else self.items_path.read(data, context, variables)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"Map state input must be an array but was: {json_type(items)}")
        return items

    def check_item_inputs(self, frame: "Frame", inputs: list) -> None:
        """Each iteration's input (what ItemSelector made of an item) is a state input: 256 KiB at most."""
        if self.item_selector is not None:
            for index, value in enumerate(inputs):
                frame.check_payload(value, self.name, f"made an ItemSelector output for item {index}")

    async def item_input(self, raw: Any, data: Any, context: dict, variables: Any, index: int, item: Any) -> Any:
        """One iteration's input: the item, or ItemSelector rendered with the Map item context."""
        if self.item_selector is None:
            return item
        item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
        if self.jsonata:
            value = await self.item_selector.render_async({"input": raw, "context": item_context}, variables)
            return None if value is NOTHING else value
        return self.item_selector.render(data, item_context, variables)

    async def _iterate(self, frame: "Frame", inputs: list, limit: int, carried: dict[int, Any]) -> list:
        """Run the iterations (all but those ``carried`` over from before a redrive); results in order."""
        assert self.processor is not None
        graph = self.processor
        results: list[Any] = [carried.get(index) for index in range(len(inputs))]
        pending = [index for index in range(len(inputs)) if index not in carried]
        workers = min(len(pending), limit if limit > 0 else INLINE_MAX_CONCURRENCY, INLINE_MAX_CONCURRENCY)
        position = iter(pending)
        name = self.name

        async def worker() -> None:
            for index in position:
                child = frame.child()
                child.record_brief("MapIterationStarted", name, index)
                if index % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let other executions and API calls run between iterations
                try:
                    results[index] = await child.run_graph(graph, inputs[index])
                except StatesError:
                    child.record_brief("MapIterationFailed", name, index)
                    raise
                except asyncio.CancelledError:
                    child.record_brief("MapIterationAborted", name, index)
                    raise
                child.record_brief("MapIterationSucceeded", name, index)

        if workers:
            await _all_or_first_error([asyncio.ensure_future(worker()) for _ in range(workers)])
        return results


@dataclass
class StateGraph:
    """A set of states with a start: the machine itself, a Parallel branch, or a Map's ItemProcessor."""

    start_at: str
    states: dict[str, State]
    spec: dict = field(default_factory=dict)


def _redriven(frame: "Frame", name: str) -> dict[int, Any]:
    """Results carried over by a redrive for the top-level state ``name`` (empty otherwise)."""
    if frame.depth:
        return {}
    return frame.execution.redrive_results.get(name, {})


async def _all_or_first_error(tasks: list[asyncio.Future]) -> list:
    """Wait for all tasks; on the first failure cancel the rest and raise it (results keep task order)."""
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    first: BaseException | None = None
    for task in tasks:
        if task.cancelled():
            continue
        error = task.exception()  # also marks every failure as retrieved
        if error is not None and first is None:
            first = error
    if first is not None:
        raise first
    return [task.result() for task in tasks]
