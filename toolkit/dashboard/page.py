"""The operator's page: task and runs, launcher, run monitor, workflow graph, Map Run children, failures.

One run is *attached* at a time: the newest run of the chosen task when the page opens, a run
chosen in the runs list, or one the page started (Start, Rerun, Redrive). The monitor follows it
in a background thread and, on each snapshot, the workflow graph is redrawn from the execution's
history; when the run ends the Map Run's children and the failed locations are listed.
"""

from __future__ import annotations

import html

import ipywidgets as w

from toolkit import runs
from toolkit.config import StackConfig
from toolkit.dashboard.panels import MapRunChildren, RunsPanel, WorkflowView
from toolkit.widgets import REFRESH_SECONDS, FailureBrowser, Launcher, RunMonitor

__all__ = ["Dashboard"]


class Dashboard:
    """The whole page; ``.widget`` to display, ``close()`` to stop the background refreshes."""

    def __init__(self, config: StackConfig, task_id: str = "", *, interval: float = REFRESH_SECONDS):
        self.config = config
        self.run: runs.Run | None = None
        self.monitor = RunMonitor(config, interval=interval, on_update=self._updated, on_done=self._done)
        self.workflow = WorkflowView(config)
        self.children = MapRunChildren(config)
        self.failures = FailureBrowser(config, on_start=self.attach)
        self.runs = RunsPanel(config, task_id, on_task=self._task_chosen, on_attach=self.attach)
        self.launcher = Launcher(config, self.runs.task_id, on_start=self.attach)
        self.launcher.task.layout.display = "none"  # the task is the one picked above
        target = "local stack at " + config.endpoint_url if config.is_local else f"AWS {config.region}"
        header = w.HTML(f"<h2>Data Stream Aggregator · {html.escape(config.stack_name)}</h2>"
                        f"<small>{html.escape(target)}</small>")
        self.widget = w.VBox([header, self.runs.widget, w.HBox([self.launcher.widget, self.monitor.widget]),
                              self.workflow.widget, self.children.widget, self.failures.widget])
        self.widget.add_class("dsa-dashboard")
        if self.runs.run.value:
            self.runs.attach()

    def attach(self, run: runs.Run) -> None:
        """Follow ``run``: monitor, graph, children and failures all show it."""
        self.run = run
        self.workflow.show(run.execution_arn)
        self.children.show(None)
        self.monitor.watch(run)
        self.runs.refresh()
        if self.runs.run.value != run.execution_arn and run.execution_arn in {v for _, v in self.runs.run.options}:
            self.runs.run.value = run.execution_arn

    def close(self) -> None:
        """Stop the background refreshes (runs go on)."""
        self.monitor.close()

    def _task_chosen(self, task_id: str) -> None:
        self.launcher.task.value = task_id
        if self.runs.run.value:
            self.runs.attach()

    def _updated(self, run: runs.Run, snapshot: runs.RunProgress) -> None:
        self.workflow.show(run.execution_arn)
        if snapshot.map_run_arn and snapshot.map_run_arn != self.children.map_run_arn:
            self.children.show(snapshot.map_run_arn)

    def _done(self, run: runs.Run, final: runs.RunProgress) -> None:
        self.workflow.show(run.execution_arn)
        self.children.show(final.map_run_arn)
        self.failures.show(run)
        self.runs.refresh()
