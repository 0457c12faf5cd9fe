"""ipywidgets panels for operators: launch a run, watch it, browse its failures, explore results.

The dashboard page (:mod:`toolkit.dashboard.page`) puts these together with its own panels
(task picker and runs list, the state graph, the Map Run's children).

Each panel is a small class with a ``.widget`` to display, built only from the functions of
:mod:`toolkit.runs`, :mod:`toolkit.results` and :mod:`toolkit.locations`: the panels hold no
pipeline logic of their own, so a notebook, the Voilà dashboard and the tests (which set
values and click buttons from Python) all exercise the same calls as the CLI.

The run monitor polls from a background thread (:func:`toolkit.runs.watch` with a callback that
draws each snapshot), so it refreshes in JupyterLab and in Voilà alike without blocking the kernel. Bars in the
results explorer are drawn as HTML rather than with matplotlib: an HTML widget redraws in place
when a filter changes (no figure to clear and re-render through an Output widget), renders the
same in Voilà, and keeps its labels and numbers as text a test or a screen reader can read.

Every widget that a browser test needs to find carries a CSS class starting with ``dsa-``.
"""

from __future__ import annotations

import html
import threading
from typing import Callable, TypeVar

import ipywidgets as w
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from toolkit import aws, layout, locations, results, runs
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.layout import TaskRecord

__all__ = ["Launcher", "RunMonitor", "FailureBrowser", "ResultsExplorer", "error_line", "attempt"]

REFRESH_SECONDS = 1.0
_STATUS_STYLES = {"succeeded": "success", "failed": "danger", "running": "info", "pending": ""}
# failure columns shown, in this order, when runs.failures gives them (the API's message first)
_FAILURE_COLUMNS = ["location_id", "class", "message", "http_status", "error", "failing_state", "attempts", "cause"]
_CAUSE_CHARS = 160  # the table shows the start of a cause; the full text stays in FailureBrowser.table
_LABELS = {"description_width": "90px"}
_TABLE_STYLE = ("<style>.dsa-table{border-collapse:collapse;margin:4px 0}.dsa-table th,.dsa-table td"
                "{padding:3px 10px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}</style>")
_GROUP_BY = {"location": "location_id", "data type": "data_type", "status": "status"}


def error_line(exc: BaseException) -> str:
    """One line for an error a panel shows: the toolkit's message, or an AWS error code and message."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}"
    return str(exc) or exc.__class__.__name__


T = TypeVar("T")


def attempt(call: Callable[[], T], status: w.HTML, what: str = "") -> T | None:
    """``call()``, or None with the error shown in ``status`` as one line (``what: message``).

    Only the errors an operator can act on are shown (toolkit, AWS, network); a bug still raises.
    """
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - shown in the panel
        if not _expected(exc):
            raise
        status.value = _message(f"{what}: {error_line(exc)}" if what else error_line(exc), "error")
        return None


def _expected(exc: BaseException) -> bool:
    return isinstance(exc, (ToolkitError, ClientError, BotoCoreError, OSError))


def _message(text: str, kind: str = "info") -> str:
    colour = {"error": "#b00020", "warn": "#e65100", "ok": "#1b5e20", "info": "#333"}[kind]
    return f'<span style="color:{colour}">{html.escape(text)}</span>'


def _table(frame: pd.DataFrame) -> str:
    """A DataFrame as an escaped HTML table (error causes come from third parties)."""
    return _TABLE_STYLE + frame.to_html(index=False, escape=True, na_rep="", border=0, classes="dsa-table")


# ----------------------------------------------------------------------------- launcher


class Launcher:
    """Choose a task, a subset of its locations, concurrency and tolerated failures; Start a run."""

    def __init__(self, config: StackConfig, task_id: str = "", *,
                 on_start: Callable[[runs.Run], None] | None = None):
        self.config = config
        self.on_start = on_start
        self.run: runs.Run | None = None
        known = sorted(set(runs.list_tasks(config)["task_id"].dropna()) | ({task_id} - {""}))
        self.task = w.Combobox(value=task_id, options=known, description="Task", ensure_option=False,
                               placeholder="task id", style=_LABELS)
        self.locations = w.SelectMultiple(options=[], rows=6, description="Locations", style=_LABELS)
        self.concurrency = w.BoundedIntText(value=config.max_concurrency, min=1, max=10_000,
                                            description="Concurrency", style=_LABELS)
        self.tolerated = w.BoundedFloatText(value=config.tolerated_failure_percentage, min=0, max=100,
                                            step=5, description="Tolerated %", style=_LABELS)
        self.force = w.Checkbox(value=False, description="start even if the task is still running",
                                indent=False)
        self.start = w.Button(description="Start run", button_style="primary", icon="play")
        self.start.add_class("dsa-start")
        self.status = w.HTML()
        self.status.add_class("dsa-launch-status")
        hint = w.HTML('<small>Select no location to run every enabled location of the task.</small>')
        self.widget = w.VBox([w.HTML("<h3>Launch a run</h3>"), self.task, self.locations, hint,
                              self.concurrency, self.tolerated, self.force, self.start, self.status])
        self.task.observe(lambda _: self.refresh_locations(), names="value")
        self.start.on_click(lambda _: self.start_run())
        self.refresh_locations()

    def refresh_locations(self) -> None:
        """List the enabled locations of the chosen task."""
        task_id = self.task.value.strip()
        if not task_id:
            self.locations.options = []
            return
        try:
            frame = locations.read_locations(self.config, task_id)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, not raised into the kernel
            if not _expected(exc):
                raise
            self.status.value = _message(f"locations: {error_line(exc)}", "error")
            return
        enabled = frame[frame["enabled"].astype(bool)]
        self.locations.options = list(enabled["location_id"])
        self.status.value = _message(f"Task {task_id}: {len(enabled)} enabled location(s) "
                                     f"of {len(frame)}.")

    def start_run(self) -> runs.Run | None:
        """Start the run the panel describes (what the Start button does); None if it was refused."""
        task_id = self.task.value.strip()
        chosen = list(self.locations.value)
        try:
            if not task_id:
                raise ToolkitError("task: choose or type a task id")
            locations.check_task_id(task_id)  # it becomes S3 keys and an execution name
            run = runs.start_run(self.config, task_id, locations=chosen or None,
                                 max_concurrency=self.concurrency.value,
                                 tolerated_failure_percentage=self.tolerated.value, force=self.force.value)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            if not _expected(exc):
                raise
            self.status.value = _message(error_line(exc), "error")
            return None
        self.run = run
        link = (f' · <a href="{html.escape(run.console_url)}" target="_blank">open in the AWS console</a>'
                if run.console_url else "")
        scope = f"{len(chosen)} chosen location(s)" if chosen else "every enabled location"
        self.status.value = (_message(f"Started task {task_id} on {scope}: ", "ok")
                             + f"<code class='dsa-run-arn'>{html.escape(run.execution_arn)}</code>{link}")
        if self.on_start is not None:
            self.on_start(run)
        return run


# ----------------------------------------------------------------------------- run monitor


class _StopWatching(Exception):
    """Raised from the watch callback to end a watch that was replaced or closed."""


class RunMonitor:
    """Progress of one run: bars per location status and overall, counts, auto-refresh, Stop.

    :meth:`watch` starts a background thread that refreshes the panel every ``interval`` seconds
    until the run ends; ``on_update`` is called with each :class:`~toolkit.runs.RunProgress` drawn
    and ``on_done`` with the last one. Every line keeps its height whether a run is followed or
    not, so the page does not jump when a run starts; Stop is enabled only while one is followed.
    """

    def __init__(self, config: StackConfig, *, title: str = "Run monitor", interval: float = REFRESH_SECONDS,
                 on_update: Callable[[runs.Run, runs.RunProgress], None] | None = None,
                 on_done: Callable[[runs.Run, runs.RunProgress], None] | None = None):
        self.config = config
        self.interval = interval
        self.on_update = on_update
        self.on_done = on_done
        self.run: runs.Run | None = None
        self.last: runs.RunProgress | None = None
        self.task_record: TaskRecord | None = None
        self._thread: threading.Thread | None = None
        self._generation = 0
        self.heading = w.HTML(f"<h3>{html.escape(title)}</h3>")
        self.overall = w.FloatProgress(value=0, min=0, max=100, description="Overall",
                                       bar_style="info")
        self.overall_label = w.HTML("0 %")
        self.overall_label.add_class("dsa-overall")
        self.bars = {name: w.IntProgress(value=0, min=0, max=1, description=name.capitalize(), bar_style=style)
                     for name, style in _STATUS_STYLES.items()}
        self.bar_labels = {name: w.HTML("0") for name in _STATUS_STYLES}
        for name, label in self.bar_labels.items():
            label.add_class(f"dsa-count-{name}")
        self.details = w.HTML("No run followed.", layout=w.Layout(min_height="3.2em"))
        self.details.add_class("dsa-run-details")
        self.outcome = w.HTML(layout=w.Layout(min_height="3.2em"))
        self.outcome.add_class("dsa-run-outcome")
        self.stop_button = w.Button(description="Stop run", button_style="danger", icon="stop", disabled=True)
        self.stop_button.add_class("dsa-stop")
        self.stop_button.on_click(lambda _: self.stop())
        rows = [w.HBox([self.overall, self.overall_label])]
        rows += [w.HBox([self.bars[n], self.bar_labels[n]]) for n in _STATUS_STYLES]
        rows.insert(1, w.HTML("<small>Locations of this run, by status:</small>"))
        self.widget = w.VBox([self.heading, *rows, self.details, self.stop_button, self.outcome])

    # -- control
    def watch(self, run: runs.Run) -> None:
        """Follow ``run`` (replacing any run followed before) in a background thread."""
        self._generation += 1
        generation = self._generation
        self.run, self.last, self.task_record = run, None, None
        self.outcome.value = ""
        self.details.value = _message(f"Watching {run.execution_arn}")
        self.stop_button.disabled = False
        self._thread = threading.Thread(target=self._follow, args=(run, generation),
                                        name=f"dsa-monitor-{run.task_id}", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> runs.RunProgress | None:
        """Wait until the followed run ends (or ``timeout``); return the last snapshot."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.last

    def close(self) -> None:
        """Stop following (the run itself goes on) and wait for the thread to end."""
        self._generation += 1
        thread = self._thread
        if thread is not None:
            thread.join(self.interval + 30)
        self.stop_button.disabled = True

    def stop(self) -> None:
        """Stop the followed run's execution (StopExecution); the monitor shows it ABORTED."""
        if self.run is None:
            return
        try:
            aws.client(self.config, "stepfunctions").stop_execution(
                executionArn=self.run.execution_arn, error="Operator.Stopped",
                cause="stopped from the run monitor")
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            if not _expected(exc):
                raise
            self.outcome.value = _message(f"stop: {error_line(exc)}", "error")
            return
        self.stop_button.disabled = True
        self.outcome.value = _message("Stop requested.")

    # -- internals
    def _follow(self, run: runs.Run, generation: int) -> None:
        def update(snapshot: runs.RunProgress) -> None:
            if generation != self._generation:
                raise _StopWatching
            self.show(snapshot)
            if self.on_update is not None:
                self.on_update(run, snapshot)

        try:
            final = runs.watch(run, interval=self.interval, on_update=update)
            self._finish(run, final)
        except _StopWatching:
            return
        except Exception as exc:  # noqa: BLE001 - a thread has no caller to raise to: show it
            self.outcome.value = _message(f"monitor: {error_line(exc)}", "error")
            self.stop_button.disabled = True

    def show(self, snapshot: runs.RunProgress) -> None:
        """Draw one snapshot."""
        self.last = snapshot
        total = snapshot.locations_total
        for name, bar in self.bars.items():
            count = getattr(snapshot, name)
            bar.max = max(total, 1)
            bar.value = count
            self.bar_labels[name].value = f"{count}"
        if total:
            percent = 100.0 * snapshot.locations_done / total
        else:
            percent = 100.0 if snapshot.done else 0.0
        self.overall.value = percent
        self.overall_label.value = f"{percent:.0f} %"
        phase = "consolidating" if snapshot.status == "RUNNING" and total and snapshot.locations_done == total else ""
        self.details.value = (
            f"<b>{html.escape(snapshot.status)}</b>{' · ' + phase if phase else ''} · "
            f"{snapshot.locations_done}/{total} locations done · elapsed {snapshot.elapsed_seconds:.0f} s<br>"
            f"this run's finished locations: {snapshot.pages:,} pages, {snapshot.rows:,} run rows fetched")

    def _finish(self, run: runs.Run, final: runs.RunProgress) -> None:
        self.stop_button.disabled = True
        self.overall.bar_style = "success" if final.status == "SUCCEEDED" and not final.failed else "warning"
        record = runs.latest_task(self.config, run.task_id)
        if record is not None:
            record = runs.reconcile_task(self.config, record)
        if record is not None and record.execution_arn == run.execution_arn:
            self.task_record = record
        text = f"Run {final.status}"
        if self.task_record is not None:
            text += f" · task {self.task_record.status}"
            if self.task_record.locations_total is not None:  # recorded only once the Map Run ended well
                text += (f": {self.task_record.locations_failed or 0} of {self.task_record.locations_total} "
                         f"location(s) failed, {self.task_record.rows or 0:,} task rows in the consolidated output")
        if final.error:
            text += f" · {final.error}: {final.cause or ''}"
        task_status = self.task_record.status if self.task_record is not None else None
        kind = "error"
        if final.status == "SUCCEEDED":
            kind = "ok" if task_status == "SUCCEEDED" else "warn"
        self.outcome.value = _message(text, kind)
        if self.on_done is not None:
            self.on_done(run, final)


# ----------------------------------------------------------------------------- failure browser


class FailureBrowser:
    """A run's failed locations and why; Rerun the selected ones, or Redrive the run's execution.

    Rerun starts a new run of the selected locations (``runs.rerun``); Redrive resumes a failed,
    timed-out or aborted execution from where it stopped, rerunning only its Map Run's
    unsuccessful children (``runs.redrive``). Either way ``on_start`` gets the run to follow.
    The table shows the columns ``runs.failures`` gives, the API's own message first.
    """

    def __init__(self, config: StackConfig, *, on_start: Callable[[runs.Run], None] | None = None):
        self.config = config
        self.on_start = on_start
        self.run: runs.Run | None = None
        self.table = pd.DataFrame()
        self.started: runs.Run | None = None
        self.summary = w.HTML("No run inspected yet.")
        self.summary.add_class("dsa-failure-summary")
        self.counts = w.HTML()
        self.rows = w.HTML(layout=w.Layout(min_height="4em"))
        self.rows.add_class("dsa-failures")
        self.select = w.SelectMultiple(options=[], rows=5, description="Rerun", layout=w.Layout(width="40em"))
        self.select.add_class("dsa-failure-select")
        self.rerun_button = w.Button(description="Rerun selected", button_style="warning", icon="redo",
                                     disabled=True, tooltip="a new run of the selected locations")
        self.rerun_button.add_class("dsa-rerun")
        self.redrive_button = w.Button(description="Redrive run", button_style="warning", icon="play-circle",
                                       disabled=True, tooltip="resume the failed execution where it stopped")
        self.redrive_button.add_class("dsa-redrive")
        self.status = w.HTML(layout=w.Layout(min_height="1.6em"))
        self.status.add_class("dsa-rerun-status")
        self.widget = w.VBox([w.HTML("<h3>Failed locations</h3>"), self.summary, self.counts, self.rows,
                              self.select, w.HBox([self.rerun_button, self.redrive_button]), self.status])
        self.rerun_button.on_click(lambda _: self.rerun_selected())
        self.redrive_button.on_click(lambda _: self.redrive())

    def show(self, run: runs.Run) -> pd.DataFrame:
        """Load ``run``'s failures into the panel (every failed location selected); return the table."""
        self.run = run
        try:
            table = runs.failures(run)
            redrivable = _redrivable(self.config, run)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            if not _expected(exc):
                raise
            self.summary.value = _message(f"failures: {error_line(exc)}", "error")
            return self.table
        self.table = table
        if table.empty:
            self.summary.value = _message(f"No failed locations in run {run.execution_arn}.", "ok")
            self.counts.value = self.rows.value = ""
        else:
            self.summary.value = _message(f"{len(table)} failed location(s) in run {run.execution_arn}.", "error")
            counts = runs.failure_counts(table)
            self.counts.value = _table(counts[counts["locations"] > 0])
            columns = [c for c in _FAILURE_COLUMNS if c in table.columns]
            shown = table[columns]
            for column in ("message", "cause"):
                if column in shown.columns:
                    shown = shown.assign(**{column: shown[column].map(_shorten)})
            self.rows.value = _table(shown)
        self.select.options = [(f"{r.location_id} · {r['class']} · {r.error}", r.location_id)
                               for _, r in table.iterrows()]
        self.select.value = tuple(table["location_id"])
        self.rerun_button.disabled = table.empty
        self.redrive_button.disabled = not redrivable
        return table

    def rerun_selected(self) -> runs.Run | None:
        """Start a targeted rerun of the selected locations (what Rerun does)."""
        chosen = list(self.select.value)
        if self.run is None or not chosen:
            self.status.value = _message("select: choose at least one failed location to rerun", "error")
            return None
        return self._start(lambda: runs.rerun(self.config, self.run.task_id, chosen),
                           f"Rerunning {', '.join(chosen)}")

    def redrive(self) -> runs.Run | None:
        """Redrive the inspected run's execution (what Redrive does)."""
        if self.run is None:
            self.status.value = _message("run: no run inspected to redrive", "error")
            return None
        return self._start(lambda: runs.redrive(self.run), "Redriving")

    def _start(self, start: Callable[[], runs.Run], verb: str) -> runs.Run | None:
        try:
            run = start()
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            if not _expected(exc):
                raise
            self.status.value = _message(error_line(exc), "error")
            return None
        self.started = run
        self.rerun_button.disabled = self.redrive_button.disabled = True
        self.status.value = _message(f"{verb}: {run.execution_arn}")
        if self.on_start is not None:
            self.on_start(run)
        return run


def _redrivable(config: StackConfig, run: runs.Run) -> bool:
    """Whether RedriveExecution would accept the run's execution (ended unsuccessfully, redrivable)."""
    execution = aws.client(config, "stepfunctions").describe_execution(executionArn=run.execution_arn)
    return execution["status"] in ("FAILED", "TIMED_OUT", "ABORTED") and \
        execution.get("redriveStatus") != "NOT_REDRIVABLE"


def _shorten(text: object) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= _CAUSE_CHARS else text[:_CAUSE_CHARS - 1] + "…"


# ----------------------------------------------------------------------------- results explorer


class ResultsExplorer:
    """A task's consolidated rows, filtered by location, data type and status, with a bar chart of counts."""

    def __init__(self, config: StackConfig, task_id: str = "", *, fmt: str = "parquet"):
        self.config = config
        self.fmt = fmt
        self.output = pd.DataFrame(columns=list(layout.OUTPUT_COLUMNS))
        self.task = w.Text(value=task_id, description="Task")
        self.load_button = w.Button(description="Load output", icon="download")
        self.load_button.add_class("dsa-load-output")
        self.filters = {column: w.SelectMultiple(options=[], rows=5, description=label.capitalize())
                        for label, column in _GROUP_BY.items()}
        self.group_by = w.Dropdown(options=list(_GROUP_BY), value="location", description="Count by")
        self.status = w.HTML()
        self.chart = w.HTML()
        self.chart.add_class("dsa-chart")
        self.load_button.on_click(lambda _: self.load())
        for control in [*self.filters.values(), self.group_by]:
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = w.VBox([w.HTML("<h3>Results</h3>"), w.HBox([self.task, self.load_button]),
                              w.HBox(list(self.filters.values())), self.group_by, self.status, self.chart])
        if task_id:
            self.load()

    def load(self) -> pd.DataFrame:
        """Load the task's output (every filter value selected) and draw the chart."""
        task_id = self.task.value.strip()
        try:
            if not task_id:
                raise ToolkitError("task: type a task id")
            output = results.load_output(self.config, task_id, fmt=self.fmt)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            if not _expected(exc):
                raise
            self.status.value = _message(error_line(exc), "error")
            return self.output
        self.output = output
        for column, control in self.filters.items():
            values = sorted(output[column].dropna().unique())
            control.options = values
            control.value = tuple(values)
        self.redraw()
        return output

    def filtered(self) -> pd.DataFrame:
        """The loaded rows that pass every filter."""
        keep = pd.Series(True, index=self.output.index)
        for column, control in self.filters.items():
            keep &= self.output[column].isin(control.value)
        return self.output[keep]

    def counts(self) -> pd.DataFrame:
        """Rows per value of the chosen grouping, after filtering (results.summary)."""
        column = _GROUP_BY[self.group_by.value]
        return results.summary(self.filtered(), by=[column])

    def redraw(self) -> None:
        counts = self.counts()
        self.status.value = _message(f"{counts['rows'].sum():,} of {len(self.output):,} rows pass the filters.")
        self.chart.value = _bars(counts, _GROUP_BY[self.group_by.value])


def _bars(counts: pd.DataFrame, label_column: str) -> str:
    """A horizontal bar chart as HTML: one row per label, width proportional to its count."""
    if counts.empty:
        return "<i>no rows</i>"
    peak = int(counts["rows"].max())
    lines = []
    for label, rows in zip(counts[label_column], counts["rows"]):
        width = 100.0 * int(rows) / peak
        lines.append(
            f'<div class="dsa-bar" style="display:flex;align-items:center;gap:6px;margin:2px 0">'
            f'<span style="width:9em;text-align:right">{html.escape(str(label))}</span>'
            f'<span style="display:inline-block;height:1em;width:{width:.1f}%;max-width:60%;'
            f'background:#1976d2"></span><span class="dsa-bar-count">{int(rows):,}</span></div>')
    return "\n".join(lines)
