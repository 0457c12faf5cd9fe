"""An execution's event history read as the console reads it: each state's visits and status.

A visit opens with a ``<Type>StateEntered`` event and closes with the matching ``StateExited``.
A failure event inside the visit (``TaskFailed``, ``MapRunFailed``, ...) followed by a new
attempt (``TaskScheduled``) is a retry; followed by the state's exit it was caught by a Catch;
followed by the end of the execution it failed the execution. A redriven execution re-enters
its failed state, so the newest visit of a state gives its status.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["STATUSES", "StateVisit", "ExecutionView", "state_visits", "read_execution"]

STATUSES = ("succeeded", "failed", "running", "caught", "not reached")
_EXECUTION_ENDS = {"ExecutionFailed": "failed", "ExecutionTimedOut": "failed", "ExecutionAborted": "failed",
                   "ExecutionSucceeded": "succeeded"}
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_ATTEMPT_EVENTS = {"TaskScheduled", "MapRunStarted", "MapRunRedriven"}


@dataclass
class StateVisit:
    """One entry into a state: when, its status, its input and output, the error that ended it."""

    state: str
    entered_at: dt.datetime | None
    status: str = "running"
    input: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    retries: int = 0


@dataclass
class ExecutionView:
    """What the dashboard draws for one execution: its ASL, status, visits and Map Run counts."""

    execution_arn: str
    status: str
    definition: dict[str, Any]
    visits: list[StateVisit] = field(default_factory=list)
    map_runs: dict[str, dict[str, int]] = field(default_factory=dict)  # Map state name -> itemCounts

    def statuses(self) -> dict[str, str]:
        """Each visited state's status, from its newest visit (states never entered are absent)."""
        return {visit.state: visit.status for visit in self.visits}

    def visits_of(self, state: str) -> list[StateVisit]:
        return [visit for visit in self.visits if visit.state == state]


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((value for key, value in event.items() if key.endswith("EventDetails")), None) or {}


def state_visits(events: Iterable[dict[str, Any]], execution_status: str) -> list[StateVisit]:
    """The visits of an execution's states, in the order they were entered.

    ``events`` are GetExecutionHistory's events, oldest first; ``execution_status`` is
    DescribeExecution's status (a visit still open in a RUNNING execution is running; in an
    ended one it is where the execution failed).
    """
    visits: list[StateVisit] = []
    open_visit: StateVisit | None = None
    for event in events:
        kind, details = event["type"], _details(event)
        if kind.endswith("StateEntered"):
            open_visit = StateVisit(details.get("name", "?"), event.get("timestamp"), input=details.get("input"))
            visits.append(open_visit)
        elif open_visit is None:
            continue
        elif kind.endswith("StateExited"):
            open_visit.output = details.get("output")
            open_visit.status = "caught" if open_visit.error else "succeeded"
            open_visit = None
        elif kind in _EXECUTION_ENDS:
            open_visit.status = "failed"
            open_visit.error = open_visit.error or details.get("error")
            open_visit.cause = open_visit.cause or details.get("cause")
            open_visit = None
        elif kind in _ATTEMPT_EVENTS and open_visit.error:
            open_visit.retries += 1  # a new attempt after a failure: the failure was retried
            open_visit.error = open_visit.cause = None
        elif kind.endswith(_FAILURE_SUFFIXES) and not kind.startswith(("Execution", "MapIteration")):
            open_visit.error, open_visit.cause = details.get("error") or kind, details.get("cause")
    if open_visit is not None and execution_status != "RUNNING":
        open_visit.status = "failed"  # ended without an event naming the end (e.g. history still paging)
    return visits


def read_execution(sfn: Any, execution_arn: str) -> ExecutionView:
    """Read one execution through the Step Functions API: its definition, history and Map Runs.

    The definition is the one the execution ran (DescribeStateMachineForExecution), not the
    state machine's current one, so an older run is drawn as it was.
    """
    execution = sfn.describe_execution(executionArn=execution_arn)
    definition = sfn.describe_state_machine_for_execution(executionArn=execution_arn)["definition"]
    events = [event for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
              for event in page["events"]]
    view = ExecutionView(execution_arn, execution["status"], json.loads(definition),
                         state_visits(events, execution["status"]))
    map_states = {_details(event).get("mapRunArn"): state for event, state in _map_run_events(events)}
    for map_run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
        state = map_states.get(map_run["mapRunArn"])
        if state is not None:
            view.map_runs[state] = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"]
    return view


def _map_run_events(events: list[dict[str, Any]]) -> Iterable[tuple[dict[str, Any], str]]:
    """MapRunStarted events with the Map state they belong to (the state entered just before)."""
    state = None
    for event in events:
        if event["type"].endswith("StateEntered"):
            state = _details(event).get("name")
        elif event["type"] == "MapRunStarted" and state is not None:
            yield event, state

