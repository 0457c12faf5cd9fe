"""The dashboard's own panels: the task picker with its runs, the workflow view, the Map Run's children.

Runs are found in the tasks table, where the aggregator records every run it starts, so the page
lists and attaches to runs started anywhere (CLI, notebook, another dashboard). Every widget a
browser test needs carries a CSS class starting with ``dsa-``.
"""

from __future__ import annotations

import html
import json
from typing import Any, Callable

import ipywidgets as w
import pandas as pd

from toolkit import aws, runs
from toolkit.config import StackConfig
from toolkit.dashboard import execution as executions
from toolkit.dashboard.graph import legend_html, workflow_svg
from toolkit.layout import TaskRecord
from toolkit.widgets import _expected, _message, _table, attempt, error_line

__all__ = ["known_tasks", "task_runs", "coverage_text", "RunsPanel", "WorkflowView", "MapRunChildren"]

RUNS_LISTED = 20
CHILDREN_LISTED = 200     # children rows drawn; the counts above the table cover them all
CHILDREN_DESCRIBED = 50   # children whose input is read to name their location
PAYLOAD_CHARS = 400       # a state's input or output is cut here in the history table
CHILD_STATUSES = ("all", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def known_tasks(config: StackConfig) -> list[str]:
    """Every task id of the stack: those with locations and those with runs, sorted (reads only)."""
    client = aws.client(config, "dynamodb")
    found: set[str] = set()
    for table in (config.locations_table, config.tasks_table):
        for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="task_id"):
            found.update(item["task_id"]["S"] for item in page.get("Items", []))
    return sorted(found)


def task_runs(config: StackConfig, task_id: str, *, limit: int = RUNS_LISTED) -> list[TaskRecord]:
    """The task's newest runs, newest first, made true to their executions (``runs.reconcile_task``)."""
    response = aws.client(config, "dynamodb").query(
        TableName=config.tasks_table, KeyConditionExpression="task_id = :task",
        ExpressionAttributeValues={":task": {"S": task_id}}, ScanIndexForward=False, Limit=limit,
        ConsistentRead=True)
    return [runs.reconcile_task(config, TaskRecord.from_item(item)) for item in response.get("Items", [])]


def coverage_text(config: StackConfig, task_id: str, shown: int = 5) -> str:
    """The task's coverage in one cell: its status from coverage (:func:`toolkit.runs.task_status`),
    complete locations out of the enabled ones, and the first ``shown`` without complete data."""
    try:
        state = runs.task_status(config, task_id)
    except Exception as exc:  # noqa: BLE001 - shown in the cell
        if not _expected(exc):
            raise
        return f"coverage: {error_line(exc)}"
    text = f"{state.status}: {state.locations_complete}/{state.locations_enabled} complete"
    if state.missing:
        more = f" and {len(state.missing) - shown} more" if len(state.missing) > shown else ""
        text += f"; missing {', '.join(state.missing[:shown])}{more}"
    return text


def _short(text: str | None, limit: int = PAYLOAD_CHARS) -> str:
    text = text or ""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


# ----------------------------------------------------------------------------- task picker and runs


class RunsPanel:
    """Pick a task from the stack's tasks; list its recent runs with status; attach to one."""

    def __init__(self, config: StackConfig, task_id: str = "", *,
                 on_task: Callable[[str], None] | None = None,
                 on_attach: Callable[[runs.Run], None] | None = None):
        self.config = config
        self.on_task = on_task
        self.on_attach = on_attach
        self.records: list[TaskRecord] = []
        self.task = w.Dropdown(options=[], description="Task", style={"description_width": "60px"})
        self.task.add_class("dsa-task-picker")
        self.message = w.HTML(layout=w.Layout(min_height="1.6em"))
        self.message.add_class("dsa-task-message")
        self.table = w.HTML(layout=w.Layout(min_height="6em"))
        self.table.add_class("dsa-runs")
        self.run = w.Dropdown(options=[], description="Run", layout=w.Layout(width="46em"),
                              style={"description_width": "60px"})
        self.run.add_class("dsa-run-select")
        self.attach_button = w.Button(description="Attach", icon="link", tooltip="follow the chosen run")
        self.attach_button.add_class("dsa-attach")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.widget = w.VBox([w.HTML("<h3>Task and runs</h3>"), w.HBox([self.task, self.refresh_button]),
                              self.message, self.table, w.HBox([self.run, self.attach_button])])
        self.attach_button.on_click(lambda _: self.attach())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.load_tasks(task_id)
        self.task.observe(lambda _: self._task_changed(), names="value")

    def load_tasks(self, wanted: str = "") -> None:
        """List the stack's tasks and pick ``wanted``; a task that does not exist is named, not created."""
        tasks = attempt(lambda: known_tasks(self.config), self.message, "tasks")
        if tasks is None:
            return
        self.task.options = tasks
        if wanted and wanted not in tasks:
            self.task.value = None
            self.message.value = _message(
                f"Task {wanted} does not exist on this stack (no locations, no runs): load its locations "
                "with `dsa locations load`, or pick a task above.", "warn")
        else:
            self.task.value = wanted or (tasks[0] if tasks else None)
            self.message.value = "" if tasks else _message("No task on this stack yet: load locations first.",
                                                           "warn")
        self.refresh()

    @property
    def task_id(self) -> str:
        return self.task.value or ""

    def refresh(self) -> list[TaskRecord]:
        """Re-read the chosen task's runs into the table and the run chooser (the choice is kept)."""
        if not self.task_id:
            self.records, self.table.value, self.run.options = [], "", []
            return []
        records = attempt(lambda: task_runs(self.config, self.task_id), self.message, "runs")
        if records is None:
            return self.records
        self.records = records
        chosen = self.run.value
        self.table.value = self._runs_table() if self.records else "<i>No run of this task yet.</i>"
        options = [(_run_label(r), r.execution_arn) for r in self.records if r.execution_arn]
        self.run.options = options
        arns = [arn for _, arn in options]
        self.run.value = chosen if chosen in arns else (arns[0] if arns else None)
        return self.records

    def attach(self, execution_arn: str | None = None) -> runs.Run | None:
        """Follow the chosen run (or ``execution_arn``): what Attach does."""
        arn = execution_arn or self.run.value
        if not arn:
            self.message.value = _message("run: this task has no run to attach to", "error")
            return None
        run = runs.Run(task_id=self.task_id, execution_arn=arn, config=self.config)
        if self.on_attach is not None:
            self.on_attach(run)
        return run

    def _task_changed(self) -> None:
        self.message.value = ""
        self.run.options = []
        self.refresh()
        if self.on_task is not None:
            self.on_task(self.task_id)

    def _runs_table(self) -> str:
        coverage = coverage_text(self.config, self.task_id)
        rows = [{
            "started": r.created_at, "status": r.status,
            "locations failed / total": f"{r.locations_failed if r.locations_failed is not None else '–'} / "
                                        f"{r.locations_total if r.locations_total is not None else '–'}",
            "task rows (output)": "" if r.rows is None else f"{r.rows:,}",
            "coverage": coverage if index == 0 else "",
            "redrives": r.redrive_count or "",
            "rerun of": ", ".join(r.rerun_locations),
            "error": _short(r.error, 120),
            "execution": (r.execution_arn or "").rsplit(":", 1)[-1],
        } for index, r in enumerate(self.records)]
        return _table(pd.DataFrame(rows))


def _run_label(record: TaskRecord) -> str:
    return f"{record.created_at} · {record.status} · {(record.execution_arn or '').rsplit(':', 1)[-1]}"


# ----------------------------------------------------------------------------- workflow view


class WorkflowView:
    """The chosen execution's state graph, coloured by status, and the history of a chosen state."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.view: executions.ExecutionView | None = None
        self._drawn: tuple[Any, ...] | None = None
        self.heading = w.HTML("<h3>Workflow</h3><small>No execution shown.</small>")
        self.graph = w.HTML(layout=w.Layout(height="640px", overflow="auto", border="1px solid #ddd"))
        self.graph.add_class("dsa-graph")
        self.state = w.Dropdown(options=[], description="State", style={"description_width": "60px"})
        self.state.add_class("dsa-state-select")
        self.state_history = w.HTML(layout=w.Layout(min_height="4em"))
        self.state_history.add_class("dsa-state-history")
        self.state.observe(lambda _: self.draw_state_history(), names="value")
        history = w.VBox([w.HTML("<h4>State history</h4>"), self.state, self.state_history],
                         layout=w.Layout(width="46%", max_height="640px", overflow="auto"))
        graph = w.VBox([self.graph, w.HTML(legend_html())], layout=w.Layout(width="54%"))
        self.widget = w.VBox([self.heading, w.HBox([graph, history])])

    def show(self, execution_arn: str) -> executions.ExecutionView | None:
        """Read the execution and draw it (the drawing is redone only when something changed)."""
        view = attempt(lambda: executions.read_execution(aws.client(self.config, "stepfunctions"), execution_arn),
                       self.heading, "execution")
        if view is None:
            return self.view
        self.view = view
        drawn = (execution_arn, view.status, tuple((v.state, v.status) for v in view.visits),
                 tuple((k, tuple(sorted(c.items()))) for k, c in view.map_runs.items()))
        if drawn != self._drawn:
            self._drawn = drawn
            self.heading.value = (f"<h3>Workflow</h3><small>execution <code>{html.escape(execution_arn)}</code>: "
                                  f"<b class='dsa-execution-status'>{html.escape(view.status)}</b></small>")
            self.graph.value = workflow_svg(view.definition, view.statuses(), _map_run_notes(view))
            states = list(dict.fromkeys(v.state for v in view.visits))
            chosen = self.state.value
            self.state.options = states
            self.state.value = chosen if chosen in states else (states[-1] if states else None)
            self.draw_state_history()
        return view

    def draw_state_history(self) -> None:
        """The chosen state's visits: status, when, retries, input and output (cut), error."""
        if self.view is None or not self.state.value:
            self.state_history.value = ""
            return
        rows = [{"entered": v.entered_at, "status": v.status, "retries": v.retries, "input": _short(v.input),
                 "output": _short(v.output), "error": v.error or "", "cause": _short(v.cause)}
                for v in self.view.visits_of(self.state.value)]
        self.state_history.value = _table(pd.DataFrame(rows))


def _map_run_notes(view: executions.ExecutionView) -> dict[str, str]:
    """'Map Run: N items · ...' under each Map state, from its Map Run's item counts."""
    notes = {}
    for state, counts in view.map_runs.items():
        parts = [f"{counts[key]} {label}" for key, label in _ITEM_COUNTS if counts.get(key)]
        notes[state] = f"Map Run: {counts.get('total', 0)} items" + "".join(f" · {part}" for part in parts)
    return notes


_ITEM_COUNTS = (("succeeded", "succeeded"), ("running", "running"), ("pending", "pending"),
                ("failed", "failed"), ("timedOut", "timed out"), ("aborted", "aborted"))


# ----------------------------------------------------------------------------- Map Run children


class MapRunChildren:
    """The child executions of a run's Map Run (one per location), with their status and a filter."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.map_run_arn: str | None = None
        self.frame = pd.DataFrame()
        self.filter = w.ToggleButtons(options=list(CHILD_STATUSES), value="all", description="Status",
                                      style={"description_width": "60px", "button_width": "105px"})
        self.filter.add_class("dsa-children-filter")
        self.summary = w.HTML("No Map Run yet.", layout=w.Layout(min_height="1.6em"))
        self.summary.add_class("dsa-children-summary")
        self.rows = w.HTML(layout=w.Layout(max_height="360px", overflow="auto"))
        self.rows.add_class("dsa-children")
        self.filter.observe(lambda _: self.refresh(), names="value")
        self.widget = w.VBox([w.HTML("<h3>Map Run children</h3>"), self.filter, self.summary, self.rows])

    def show(self, map_run_arn: str | None) -> pd.DataFrame:
        """List ``map_run_arn``'s children that pass the status filter."""
        self.map_run_arn = map_run_arn
        return self.refresh()

    def refresh(self) -> pd.DataFrame:
        if not self.map_run_arn:
            self.summary.value, self.rows.value, self.frame = "No Map Run yet.", "", pd.DataFrame()
            return self.frame
        frame = attempt(self._children, self.summary, "children")
        if frame is None:
            return self.frame
        self.frame = frame
        which = "" if self.filter.value == "all" else f" {self.filter.value}"
        shown = self.frame.head(CHILDREN_LISTED)
        self.summary.value = _message(f"{len(self.frame):,}{which} child execution(s), one per location"
                                      + (f"; the first {len(shown)} listed" if len(shown) < len(self.frame) else ""))
        self.rows.value = _table(shown) if not shown.empty else ""
        return self.frame

    def _children(self) -> pd.DataFrame:
        sfn = aws.client(self.config, "stepfunctions")
        arguments: dict[str, Any] = {"mapRunArn": self.map_run_arn}
        if self.filter.value != "all":
            arguments["statusFilter"] = self.filter.value
        children = [child for page in sfn.get_paginator("list_executions").paginate(**arguments)
                    for child in page["executions"]]
        rows = []
        for index, child in enumerate(sorted(children, key=lambda c: c["startDate"])):
            location = ""
            if index < CHILDREN_DESCRIBED:
                described = sfn.describe_execution(executionArn=child["executionArn"])
                location = json.loads(described.get("input") or "{}").get("location_id", "")
            stopped = child.get("stopDate")
            rows.append({"location_id": location, "status": child["status"], "started": child["startDate"],
                         "seconds": None if stopped is None else round((stopped - child["startDate"]).total_seconds(), 1),
                         "redrives": child.get("redriveCount", 0), "execution": child["name"]})
        return pd.DataFrame(rows, columns=["location_id", "status", "started", "seconds", "redrives", "execution"])
