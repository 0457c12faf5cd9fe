"""RedriveExecution: continue an unsuccessful STANDARD execution from the state that did not succeed.

As AWS documents it: an execution that FAILED, TIMED_OUT or was ABORTED within the last 14 days
can be redriven, at most 1,000 times; it keeps its ARN, input, definition and the history of
the steps that succeeded; an ``ExecutionRedriven`` event is added and the run continues at the
top-level state that was entered but never left, with the input that state received then and
the variables as they stood. A Distributed Map state that is re-entered this way redrives its
Map Run (see :mod:`.map_run`): only unsuccessful children run again; STANDARD children are
themselves redriven, EXPRESS children start anew.

A redriven top-level inline Map or Parallel state reruns only its iterations or branches that
did not succeed; the others keep the results they had (read back from the history).

Limits of this runtime: inside a rerun iteration or branch, a nested Map or Parallel reruns
whole, and the machine's TimeoutSeconds restarts with the redrive.

DescribeExecution and ListExecutions are wrapped to report redriveCount, redriveDate,
redriveStatus and redriveStatusReason, and ListExecutions' ``redriveFilter``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sfn_runtime.api.awsjson import ServiceError
from sfn_runtime.engine.definition import StateGraph
from sfn_runtime.engine.execution import RUNNING, SUCCEEDED, Execution, Frame
from sfn_runtime.engine.states import MapState, Parallel, State

__all__ = ["Redrives", "RedriveRecord", "resume_point"]

REDRIVABLE_DAYS = 14
MAX_REDRIVES = 1000


@dataclass
class RedriveRecord:
    """How often an execution was redriven, and when last."""

    count: int = 0
    date: float | None = None


def resume_point(execution: Execution) -> tuple[str, Any] | None:
    """The top-level state that was entered but not left, and the input it was entered with."""
    top = execution.machine.definition.graph.states
    open_state: tuple[str, Any] | None = None
    for event in execution.history.events:
        details = event.details or {}
        name = details.get("name")
        if name not in top:
            continue
        if event.type.endswith("StateEntered"):
            open_state = (name, details.get("input"))
        elif event.type.endswith("StateExited") and open_state and open_state[0] == name:
            open_state = None
    return open_state


def succeeded_parts(execution: Execution, state: State) -> dict[int, Any]:
    """The outputs of the iterations (inline Map) or branches (Parallel) of top-level ``state``
    that succeeded since it was last entered, by index; empty for other states.

    A Map iteration's result is the output of the event its MapIterationSucceeded follows; a
    branch succeeded when one of its terminal states exited (state names are unique in a machine).
    """
    events = execution.history.events
    entered = max((e.id for e in events if e.type == state.entered_event and (e.details or {}).get("name") == state.name), default=None)
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


class Redrives:
    """RedriveExecution and the redrive fields of DescribeExecution / ListExecutions."""

    def __init__(self, service: Any):
        self._service = service
        self.records: dict[str, RedriveRecord] = {}

    def count(self, execution_arn: str) -> int:
        record = self.records.get(execution_arn)
        return record.count if record else 0

    # ------------------------------------------------------------ eligibility
    def not_redrivable(self, execution: Execution) -> str | None:
        """Why ``execution`` cannot be redriven now (AWS's reasons), or None."""
        if execution.express:
            return "Execution is an EXPRESS execution and cannot be redriven."
        if execution.status == RUNNING:
            return "Execution is RUNNING and cannot be redriven."
        if execution.status == SUCCEEDED:
            return "Execution is SUCCEEDED and cannot be redriven."
        stopped = execution.stop_time or execution.start_time
        if self._service.clock.now() - stopped > REDRIVABLE_DAYS * 86400:
            return "Execution redrivable period exceeded."
        limit = execution.history.limit
        if limit is not None and len(execution.history) >= limit:
            return "Execution history event limit exceeded."
        if self.count(execution.arn) >= MAX_REDRIVES:
            return "Execution has been redriven the maximum number of times."
        if resume_point(execution) is None:
            return "Execution has no unsuccessful state to redrive."
        return None

    # ------------------------------------------------------------ operations
    async def redrive_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params.get("executionArn")
        if isinstance(arn, str) and ":express:" in arn:
            raise ServiceError("ExecutionNotRedrivable", "Execution is an EXPRESS execution and cannot be redriven.")
        execution = await self._execution(arn)
        if execution.map_run_arn:
            raise ServiceError(
                "ExecutionNotRedrivable",
                "A child execution of a Map Run is redriven by redriving its parent execution.",
            )
        reason = self.not_redrivable(execution)
        if reason:
            raise ServiceError("ExecutionNotRedrivable", reason)
        self.redrive(execution)
        return {"redriveDate": self.records[execution.arn].date}

    def redrive(self, execution: Execution) -> None:
        """Restart ``execution`` at its resume point (eligibility already checked)."""
        point = resume_point(execution)
        assert point is not None
        state = execution.machine.definition.graph.states[point[0]]
        # Parts that succeeded now or in an earlier redriven attempt of the same state keep their results.
        carried = {**execution.redrive_results.get(state.name, {}), **succeeded_parts(execution, state)}
        execution.redrive_results = {state.name: carried} if carried else {}
        record = self.records.setdefault(execution.arn, RedriveRecord())
        record.count += 1
        record.date = self._service.clock.now()
        execution.context_execution = {**execution.context_execution, "RedriveCount": record.count}
        execution.status = RUNNING
        execution.stop_time = None
        execution.error = execution.cause = None
        execution.output = execution.output_text = None
        execution._stop_reason = None  # noqa: SLF001 - the execution's own stop bookkeeping, reset for the new attempt
        execution.done.clear()
        self._service._running.add(execution)  # noqa: SLF001 - so that closing the service stops it
        last = execution.history.events[-1].id if execution.history.events else 0
        prev = execution.record("ExecutionRedriven", last, {"redriveCount": record.count})
        execution.task = asyncio.get_running_loop().create_task(
            _resume(execution, point[0], point[1], prev), name=f"redrive {execution.name}"
        )

    async def describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = await self._service.op_DescribeExecution(params)
        execution = await self._execution(params.get("executionArn"))
        return self._with_redrive(execution, answer, describe=True)

    async def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        redrive_filter = params.get("redriveFilter")
        if redrive_filter is not None and redrive_filter not in ("REDRIVEN", "NOT_REDRIVEN"):
            raise ServiceError("ValidationException", "redriveFilter: must be REDRIVEN or NOT_REDRIVEN")
        base = {k: v for k, v in params.items() if k != "redriveFilter"}
        if redrive_filter is None:
            answer = await self._service.op_ListExecutions(base)
        else:
            # Filter the whole listing, then page it, so pages hold only matching executions.
            base.pop("nextToken", None)
            base["maxResults"] = 1000
            listed: list[dict[str, Any]] = []
            while True:
                page = await self._service.op_ListExecutions(base)
                listed.extend(page["executions"])
                if "nextToken" not in page:
                    break
                base["nextToken"] = page["nextToken"]
            wanted = redrive_filter == "REDRIVEN"
            listed = [e for e in listed if (self.count(e["executionArn"]) > 0) == wanted]
            start = int(params.get("nextToken") or 0) if str(params.get("nextToken") or "0").isdigit() else 0
            size = params.get("maxResults") or 100
            answer = {"executions": listed[start:start + size]}
            if start + size < len(listed):
                answer["nextToken"] = str(start + size)
        for entry in answer["executions"]:
            record = self.records.get(entry["executionArn"])
            entry["redriveCount"] = record.count if record else 0
            if record and record.date is not None:
                entry["redriveDate"] = record.date
        return answer

    # ------------------------------------------------------------ helpers
    async def _execution(self, arn: Any) -> Execution:
        return self._service._execution(arn)  # noqa: SLF001 - the service's own ARN checks and errors

    def _with_redrive(self, execution: Execution, answer: dict[str, Any], describe: bool) -> dict[str, Any]:
        record = self.records.get(execution.arn)
        answer["redriveCount"] = record.count if record else 0
        if record and record.date is not None:
            answer["redriveDate"] = record.date
        if describe:
            reason = self.not_redrivable(execution)
            if execution.map_run_arn and reason is None:
                reason = "A child execution of a Map Run is redriven by redriving its parent execution."
            answer["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
            if reason:
                answer["redriveStatusReason"] = reason
            else:
                answer.pop("redriveStatusReason", None)
        return answer


async def _resume(execution: Execution, state_name: str, value: Any, prev: int) -> None:
    """Run ``execution`` from ``state_name`` to its end, finishing it as a first attempt would."""
    frame = Frame(execution, execution.variables, execution.variables, prev)
    graph = execution.machine.definition.graph
    resumed = StateGraph(start_at=state_name, states=graph.states, spec=graph.spec)
    await execution.run_to_end(frame, resumed, value)
