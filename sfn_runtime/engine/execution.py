"""Executions: the run loop over states, the context object, variable scopes and history recording.

An execution is one asyncio task. Parallel branches and Map iterations run in :class:`Frame`
objects of their own (their own variable scope, able to read outer scopes; their own chain of
``previousEventId``), all inside the same loop, so thousands of waiting executions cost no
thread each.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import ChainMap
from typing import Any, Mapping

from sfn_runtime.engine.clock import iso_timestamp
from sfn_runtime.errors import StatesError
from sfn_runtime import jsontext
from sfn_runtime.engine.history import History, HistoryEvent
from sfn_runtime.engine.machine import StateMachineRevision
from sfn_runtime.engine.runtime import Runtime
from sfn_runtime.engine.states import MapState, Parallel, Recoverable, State, StateGraph

RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
_UNUSED_CONTEXT: dict = {}  # for states none of whose fields reads the context object
REDRIVABLE_DAYS = 14  # AWS: an execution can be redriven within 14 days of its end
MAX_REDRIVES = 1000
MAP_RUN_CHILD_REASON = "A child execution of a Map Run is redriven by redriving its parent execution."


class Execution:
    """One run of a state machine revision."""

    def __init__(
        self,
        runtime: Runtime,
        machine: StateMachineRevision,
        arn: str,
        name: str,
        input_value: Any,
        input_text: str,
        *,
        express: bool = False,
        map_run_arn: str | None = None,
        parent_arn: str | None = None,
    ):
        self.runtime = runtime
        self.machine = machine
        self.arn = arn
        self.name = name
        self.input = input_value
        self.input_text = input_text
        self.express = express
        self.map_run_arn = map_run_arn
        self.parent_arn = parent_arn
        self.clock = runtime.clock
        self.quotas = runtime.quotas
        self.status = RUNNING
        self.start_time = runtime.clock.now()
        self.stop_time: float | None = None
        self.output: Any = None
        self.output_text: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.history = History(self.quotas.max_history_events)
        self._events = self.history.events
        self._event_limit = self.quotas.max_history_events or sys.maxsize
        self.variables: dict[str, Any] = {}
        self.variable_sizes: dict[str, int] = {}  # bytes of each variable in the top-level scope
        self.logged_events = 0  # history events already handed to the log sink (loggingConfiguration)
        # For a redriven top-level inline Map or Parallel: the results of its iterations or branches
        # that succeeded before, by state name and index; the state reruns only the others (AWS).
        self.redrive_results: dict[str, dict[int, Any]] = {}
        self.task: asyncio.Task | None = None
        self.done = asyncio.Event()
        self._stop_reason: tuple[str, str] | None = None
        self.redrive_count = 0  # RedriveExecution: how often, and when last
        self.redrive_date: float | None = None
        self.context_execution = {  # keys in the order AWS shows them
            "Id": arn,
            "Input": input_value,
            "StartTime": iso_timestamp(self.start_time),
            "Name": name,
            "RoleArn": machine.role_arn,
            "RedriveCount": 0,
        }
        self.context_machine = {"Id": machine.arn, "Name": machine.name}

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Schedule the run on the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"execution {self.name}")

    async def wait(self) -> "Execution":
        """Wait until the execution has finished (any status)."""
        await self.done.wait()
        return self

    def stop(self, error: str | None, cause: str | None) -> None:
        """StopExecution: abort a running execution."""
        if self.status != RUNNING or self.task is None:
            return
        self._stop_reason = (error or "", cause or "")
        self.task.cancel()

    async def _run(self) -> None:
        frame = Frame(self, self.variables, self.variables, 0)
        frame.prev = self.record("ExecutionStarted", 0, {
            "input": self.input, "roleArn": self.machine.role_arn,
        })
        await self.run_to_end(frame, self.machine.definition.graph, self.input)

    async def run_to_end(self, frame: "Frame", graph: StateGraph, value: Any) -> None:
        """Run ``graph`` from its StartAt with ``value`` and finish the execution with its outcome
        (the first attempt from the machine's StartAt; a redrive from the state that failed)."""
        timeout = self.machine.definition.timeout_seconds
        cause = "The execution ran longer than the state machine's TimeoutSeconds"
        express_limit = self.quotas.max_express_seconds if self.express else None
        if express_limit is not None and (timeout is None or timeout > express_limit):
            timeout = express_limit  # AWS: an EXPRESS execution ends after 5 minutes at most
            cause = f"The EXPRESS execution ran longer than the {express_limit:g} seconds it may run"
        body = asyncio.ensure_future(frame.run_graph(graph, value))
        try:
            if timeout is None or not self.clock.time_scale:
                output = await body
            else:
                output = await asyncio.wait_for(body, self.clock.scaled(timeout))
            if self.quotas.max_payload_bytes is not None and jsontext.size(output) > self.quotas.max_payload_bytes:
                raise StatesError("States.DataLimitExceeded", "The execution output exceeds the maximum payload size")
        except StatesError as err:
            self._finish(FAILED, "ExecutionFailed", frame.prev, error=err.error, cause=err.cause)
        except asyncio.TimeoutError:
            self._finish(TIMED_OUT, "ExecutionTimedOut", frame.prev, error="States.Timeout", cause=cause)
        except asyncio.CancelledError:
            error, cause = self._stop_reason or ("", "")
            self._finish(ABORTED, "ExecutionAborted", frame.prev, error=error, cause=cause)
        except Exception as exc:  # a runtime bug: fail the execution visibly rather than hang it
            self._finish(FAILED, "ExecutionFailed", frame.prev, error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
        else:
            self.output = output
            self.output_text = jsontext.dumps(output)
            self.status = SUCCEEDED
            self.stop_time = self.clock.now()
            self.record("ExecutionSucceeded", frame.prev, {"output": output}, final=True)
        finally:
            self.done.set()
            self.runtime.execution_finished(self)

    def _finish(self, status: str, event: str, prev: int, *, error: str, cause: str) -> None:
        self.status = status
        self.error, self.cause = error, cause
        self.stop_time = self.clock.now()
        details: dict[str, Any] = {}
        if error:
            details["error"] = error
        if cause:
            details["cause"] = cause
        self.record(event, prev, details, final=True)

    # ------------------------------------------------------------------ redrive
    def resume_point(self) -> tuple[str, Any] | None:
        """The top-level state that was entered but not left, and the input it was entered with."""
        top = self.machine.definition.graph.states
        open_state: tuple[str, Any] | None = None
        for event in self.history.events:
            details = event.details or {}
            name = details.get("name")
            if name not in top:
                continue
            if event.type.endswith("StateEntered"):
                open_state = (name, details.get("input"))
            elif event.type.endswith("StateExited") and open_state and open_state[0] == name:
                open_state = None
        return open_state

    def redrive_blocker(self) -> str | None:
        """Why RedriveExecution cannot redrive this execution now (AWS's reasons), or None."""
        if self.express:
            return "Execution is an EXPRESS execution and cannot be redriven."
        if self.status == RUNNING:
            return "Execution is RUNNING and cannot be redriven."
        if self.status == SUCCEEDED:
            return "Execution is SUCCEEDED and cannot be redriven."
        stopped = self.stop_time or self.start_time
        if self.clock.now() - stopped > REDRIVABLE_DAYS * 86400:
            return "Execution redrivable period exceeded."
        limit = self.history.limit
        if limit is not None and len(self.history) >= limit:
            return "Execution history event limit exceeded."
        if self.redrive_count >= MAX_REDRIVES:
            return "Execution has been redriven the maximum number of times."
        if self.resume_point() is None:
            return "Execution has no unsuccessful state to redrive."
        return None

    def redrive(self) -> None:
        """Continue from the state that did not succeed, as a new attempt (``redrive_blocker`` was None).

        As AWS documents RedriveExecution: the execution keeps its ARN, input, definition and the
        history of the steps that succeeded; an ``ExecutionRedriven`` event is added and the run
        continues at the top-level state that was entered but never left, with the input that
        state received then and the variables as they stood. A Distributed Map state re-entered
        this way redrives its Map Run (``distributed.map_run``). A redriven top-level inline Map or
        Parallel reruns only the iterations or branches that did not succeed; the others keep the
        results they had (read back from the history). Limits of this runtime: inside a rerun
        iteration or branch, a nested Map or Parallel reruns whole, and TimeoutSeconds restarts.
        """
        point = self.resume_point()
        assert point is not None
        state = self.machine.definition.graph.states[point[0]]
        # Parts that succeeded now or in an earlier redriven attempt of the same state keep their results.
        carried = {**self.redrive_results.get(state.name, {}), **self._succeeded_parts(state)}
        self.redrive_results = {state.name: carried} if carried else {}
        self.redrive_count += 1
        self.redrive_date = self.clock.now()
        self.context_execution = {**self.context_execution, "RedriveCount": self.redrive_count}
        self.status = RUNNING
        self.stop_time = None
        self.error = self.cause = None
        self.output = self.output_text = None
        self._stop_reason = None
        self.done.clear()
        self.runtime.running.add(self)  # so that closing the service stops it
        last = self.history.events[-1].id if self.history.events else 0
        prev = self.record("ExecutionRedriven", last, {"redriveCount": self.redrive_count})
        frame = Frame(self, self.variables, self.variables, prev)
        graph = self.machine.definition.graph
        resumed = StateGraph(start_at=point[0], states=graph.states, spec=graph.spec)
        self.task = asyncio.get_running_loop().create_task(
            self.run_to_end(frame, resumed, point[1]), name=f"redrive {self.name}"
        )

    def _succeeded_parts(self, state: State) -> dict[int, Any]:
        """The outputs of the iterations (inline Map) or branches (Parallel) of top-level ``state``
        that succeeded since it was last entered, by index; empty for other states.

        A Map iteration's result is the output of the event its MapIterationSucceeded follows; a
        branch succeeded when one of its terminal states exited (state names are unique in a machine).
        """
        events = self.history.events
        entered = max((e.id for e in events if e.type == state.entered_event
                       and (e.details or {}).get("name") == state.name), default=None)
        if entered is None:
            return {}
        later = events[entered:]
        parts: dict[int, Any] = {}
        if isinstance(state, MapState) and state.mode == "INLINE":
            for event in later:
                details = event.details or {}
                if event.type == "MapIterationSucceeded" and details.get("name") == state.name:
                    parts[details["index"]] = (events[event.previous_id - 1].details or {}).get("output")
        elif isinstance(state, Parallel):
            terminal = {name: i for i, graph in enumerate(state.branches)
                        for name, inner in graph.states.items() if inner.end or inner.type == "Succeed"}
            for event in later:
                details = event.details or {}
                if event.type.endswith("StateExited") and details.get("name") in terminal:
                    parts[terminal[details["name"]]] = details.get("output")
        return parts

    # ------------------------------------------------------------------ history
    def record(self, type_: str, prev: int, details: dict | None = None, final: bool = False,
               name: str | None = None, value: Any = None) -> int:
        """Append a history event; fails the execution once the history quota is reached.

        Events whose details are just a name and one value (input, output or index) pass them as
        ``name``/``value`` instead of a dict (see :class:`HistoryEvent`).
        """
        events = self._events
        event_id = len(events) + 1
        if event_id > self._event_limit and not final:
            raise StatesError(
                "States.Runtime",
                f"The execution reached the maximum number of history events ({self.history.limit}).",
            )
        if name is None:
            events.append(HistoryEvent(event_id, prev, type_, time.time(), details))
        else:
            events.append(HistoryEvent(event_id, prev, type_, time.time(), None, name, value))
        return event_id

    def describe(self) -> dict[str, Any]:
        """DescribeExecution's response: the ListExecutions item, plus input, output, error and redrive status."""
        out = self.summary()
        out["input"] = self.input_text
        out["inputDetails"] = {"included": True}
        if self.status == SUCCEEDED:
            out["output"] = self.output_text
            out["outputDetails"] = {"included": True}
        if self.error:
            out["error"] = self.error
        if self.cause:
            out["cause"] = self.cause
        reason = self.redrive_blocker() or (MAP_RUN_CHILD_REASON if self.map_run_arn else None)
        out["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            out["redriveStatusReason"] = reason
        return out

    def summary(self) -> dict[str, Any]:
        """ListExecutions' item."""
        out: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.machine.arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_time,
            "redriveCount": self.redrive_count,
        }
        if self.redrive_date is not None:
            out["redriveDate"] = self.redrive_date
        if self.stop_time is not None:
            out["stopDate"] = self.stop_time
        if self.map_run_arn:
            out["mapRunArn"] = self.map_run_arn
        return out


class Frame:
    """Where a chain of states runs: the whole machine, one Parallel branch or one Map iteration."""

    __slots__ = ("execution", "runtime", "scope", "variables", "prev", "entered_time", "entered_id", "depth")

    def __init__(self, execution: Execution, scope: dict, variables: Mapping[str, Any], prev: int, depth: int = 0):
        self.execution = execution
        self.runtime = execution.runtime
        self.scope = scope  # the variables this frame assigns
        self.variables = variables  # what it can read: its scope, then the outer scopes
        self.prev = prev
        self.entered_time = 0.0
        self.entered_id = 0  # the id of the current state's Entered event (AWS names it in causes)
        self.depth = depth

    def child(self) -> "Frame":
        """A nested scope (Parallel branch / Map iteration): reads outer variables, assigns its own."""
        scope: dict[str, Any] = {}
        outer = self.variables.maps if isinstance(self.variables, ChainMap) else [self.variables]
        return Frame(self.execution, scope, ChainMap(scope, *outer), self.prev, self.depth + 1)

    def record(self, type_: str, details: dict | None = None) -> None:
        self.prev = self.execution.record(type_, self.prev, details)

    def record_brief(self, type_: str, name: str, value: Any) -> None:
        """Record an event whose details are a name and one value (entered/exited, Map iteration)."""
        self.prev = self.execution.record(type_, self.prev, None, False, name, value)

    async def run_graph(self, graph: StateGraph, value: Any) -> Any:
        """Run states from StartAt until one ends the chain; returns its output."""
        states = graph.states
        name: str | None = graph.start_at
        while name is not None:
            state = states[name]
            self.entered_time = time.time()
            self.record_brief(state.entered_event, name, value)
            self.entered_id = self.prev
            try:
                value, name = await state.run(self, value)
            except StatesError as err:
                if not isinstance(state, Recoverable):  # Task/Parallel/Map report it before Retry/Catch
                    self.evaluation_failed(state, err)
                raise
        return value

    def evaluation_failed(self, state: State, err: StatesError) -> None:
        """Name the failing state in the cause (see :meth:`StatesError.at_state`), then record
        EvaluationFailed when a JSONata expression of a JSONata state failed (API Reference)."""
        if self.entered_id:  # TestState runs a state without history: no event to name
            err.at_state(state.name, self.entered_id)
        if err.error == QUERY_EVALUATION_ERROR and state.jsonata:
            details = {"error": err.error, "cause": err.cause, "state": state.name}
            if err.location:
                details["location"] = err.location
            self.record("EvaluationFailed", details)

    def context(self, state: State, retry_count: int = 0) -> dict:
        """The context object (``$$`` / ``$states.context``) for a state."""
        if not state.uses_context:
            return _UNUSED_CONTEXT
        execution = self.execution
        # As AWS shows it: a Pass state's State holds Name and EnteredTime only; RetryCount is
        # there in the states that can retry (Task, Parallel, Map). Keys in AWS's order.
        current: dict[str, Any] = {"Name": state.name, "EnteredTime": iso_timestamp(self.entered_time)}
        if isinstance(state, Recoverable):
            current["RetryCount"] = retry_count
        return {
            "Execution": execution.context_execution,
            "StateMachine": execution.context_machine,
            "State": current,
        }

    def check_payload(self, value: Any, where: str, what: str = "returned a result") -> None:
        """Fail with AWS's States.DataLimitExceeded when ``value`` passes the 256 KiB payload quota.

        ``where`` is the state's name (the Task's Resource for a task result, as AWS names it);
        ``what`` says which payload it is (AWS's text is for results; the others are ours).
        """
        limit = self.execution.quotas.max_payload_bytes
        if limit is not None and jsontext.size(value) > limit:
            raise StatesError(
                "States.DataLimitExceeded",
                f"The state/task '{where}' {what} with a size exceeding the maximum number of bytes service limit.",
            )

    def assign(self, values: dict | None) -> None:
        """Store an Assign's values in this frame's scope (after checking AWS's size limits)."""
        if not values:
            return
        quotas = self.execution.quotas
        if quotas.max_variable_bytes is not None or quotas.max_assign_bytes is not None or quotas.max_variables_total_bytes is not None:
            sizes = {name: jsontext.size(value) for name, value in values.items()}
            for name, size in sizes.items():
                if quotas.max_variable_bytes is not None and size > quotas.max_variable_bytes:
                    raise StatesError("States.DataLimitExceeded", f"The variable '{name}' exceeds the maximum variable size")
            if quotas.max_assign_bytes is not None and sum(sizes.values()) > quotas.max_assign_bytes:
                raise StatesError("States.DataLimitExceeded", "The values of Assign together exceed the maximum size")
            if self.depth == 0:  # the workflow's own scope; nested scopes end with their branch/iteration
                stored = self.execution.variable_sizes
                stored.update(sizes)
                if quotas.max_variables_total_bytes is not None and sum(stored.values()) > quotas.max_variables_total_bytes:
                    raise StatesError("States.DataLimitExceeded", "The variables of the execution exceed the maximum total size")
        self.scope.update(values)

    def exited(self, state: State, output: Any, assigned: dict | None) -> None:
        if assigned:
            self.record(state.exited_event, {"name": state.name, "output": output, "assignedVariables": assigned})
        else:
            self.record_brief(state.exited_event, state.name, output)
