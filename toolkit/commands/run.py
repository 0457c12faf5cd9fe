"""``dsa run start|watch|status|history|failures|rerun|redrive``: task runs from the shell.

Thin wrappers over :mod:`toolkit.runs`. A run is named by its task id; the task's latest run
is meant unless ``--execution-arn`` names another. Watching shows a progress bar on a terminal and
plain lines elsewhere (CI, cron, ``| tee``), and ends with the task (``TASK_FIELDS``); a run whose
execution does not succeed exits 1; Ctrl-C stops watching (exit 130), not the run, and says how
to follow it again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import pandas as pd
import typer

from toolkit.commands.common import (ConfigOption, JsonOption, frame_records, load_config, print_fields, print_frame,
                                     print_json, watch_run)
from toolkit.config import StackConfig
from toolkit.layout import TaskRecord

app = typer.Typer(help="Start, watch and inspect task runs; rerun or redrive failed locations.",
                  no_args_is_help=True)

TASK_FIELDS = ["task_id", "created_at", "status", "execution_status", "locations_total", "locations_succeeded",
               "locations_failed", "locations_running", "locations_pending", "pages", "rows", "duration_seconds",
               "output_uri", "error", "rerun_locations", "redriven_locations", "execution_arn",
               "coverage_status", "locations_complete", "missing_locations"]
"""A task in every ``--json`` output of ``dsa run`` (one task or the list): docs/cli.md says what each means."""
_LIST_COLUMNS = {"task_id": "task_id", "created_at": "created_at (UTC)", "status": "status",
                 "locations_total": "locations", "locations_failed": "failed", "rows": "rows",
                 "duration_seconds": "seconds"}  # what fits 100 columns; the rest is in --json

TaskArgument = typer.Argument(..., help="The task id.")
ExecutionOption = typer.Option(None, "--execution-arn", help="A run other than the task's latest.")
NoWatchOption = typer.Option(False, "--no-watch", help="Return once started; do not show progress.")
IntervalOption = typer.Option(2.0, "--interval", help="Seconds between progress polls.", min=0.1)


@app.command("start")
def start(
    task_id: str = TaskArgument,
    location_ids: Optional[List[str]] = typer.Option(None, "--location", "-l",
                                                     help="Run only this location (repeatable)."),
    max_concurrency: Optional[int] = typer.Option(None, "--max-concurrency", min=1,
                                                  help="Locations extracted at once."),
    tolerated: Optional[float] = typer.Option(None, "--tolerated-failure-percentage", min=0, max=100,
                                              help="Failed locations allowed before the run fails."),
    force: bool = typer.Option(False, "--force", help="Start even if the task is still running."),
    no_watch: bool = NoWatchOption,
    interval: float = IntervalOption,
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Start the aggregator for a task (its enabled locations, or those named) and watch it."""
    from toolkit import runs
    from toolkit.locations import check_task_id

    check_task_id(task_id)  # before anything starts: the id becomes S3 keys and an execution name
    cfg = load_config(config)
    run = runs.start_run(cfg, task_id, locations=location_ids or None, max_concurrency=max_concurrency,
                         tolerated_failure_percentage=tolerated, force=force)
    _started_or_watch(run, no_watch, interval, as_json)


@app.command("watch")
def watch(task_id: str = TaskArgument, execution_arn: Optional[str] = ExecutionOption,
          interval: float = IntervalOption, config: Optional[Path] = ConfigOption,
          as_json: bool = JsonOption) -> None:
    """Follow a run with a progress bar until it ends (Ctrl-C stops watching, not the run)."""
    run = _find_run(load_config(config), task_id, execution_arn)
    _watch(run, interval, as_json)


@app.command("status")
def status(
    task_id: Optional[str] = typer.Argument(None, help="A task id; without one, the stack's recent runs."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many recent runs to list."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """A task's latest run (record and live counts) and its coverage, or the recent runs of every task."""
    from toolkit import runs

    cfg = load_config(config)
    if task_id is None:
        runs.reconcile_tasks(cfg)
        frame = runs.list_tasks(cfg, limit=limit).reindex(columns=TASK_FIELDS)
        frame = frame.astype(object).where(frame.notna(), None)
        if as_json:
            print_json(frame_records(frame))
            return
        shown = frame[list(_LIST_COLUMNS)].assign(created_at=frame["created_at"].str.replace("T", " ").str[:19])
        shown = shown.rename(columns=_LIST_COLUMNS)
        print_frame(shown, title="recent runs (`dsa run status TASK` for one, with its execution ARN)")
        return
    run = _find_run(cfg, task_id, None)
    snapshot = runs.progress(run)
    record = _reconciled(cfg, task_id)
    fields = task_fields(task_id, record, snapshot)
    # Coverage: which enabled locations have complete data, from which run; the task's status follows.
    table = runs.coverage(cfg, task_id)
    fields.update(coverage_fields(runs.coverage_status(task_id, table)))
    if as_json:
        print_json(fields)
        return
    print_fields(fields)
    print_frame(table.drop(columns=["cause"]), title=f"coverage of task {task_id} (`dsa run coverage {task_id}`)")


@app.command("coverage")
def coverage(
    task_id: str = TaskArgument,
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Each enabled location of a task: complete or not, from which run, and its last failure."""
    from toolkit import runs

    table = runs.coverage(load_config(config), task_id)
    if as_json:
        print_json(frame_records(table))
        return
    print_frame(table, title=f"coverage of task {task_id}")


@app.command("history")
def history(task_id: str = TaskArgument, execution_arn: Optional[str] = ExecutionOption,
            config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """The run's execution history: one row per event."""
    from toolkit import runs

    cfg = load_config(config)
    run = _find_run(cfg, task_id, execution_arn)
    print_frame(runs.history(cfg, run.execution_arn), title=run.execution_arn, as_json=as_json)


@app.command("failures")
def failures(task_id: str = TaskArgument, execution_arn: Optional[str] = ExecutionOption,
             config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """The run's failed locations (error, cause, failing state, HTTP status, class) and counts per class."""
    from toolkit import runs

    run = _find_run(load_config(config), task_id, execution_arn)
    table = runs.failures(run)
    counts = runs.failure_counts(table)
    if as_json:
        print_json({"failures": frame_records(table), "classes": frame_records(counts)})
        return
    shown = table.drop(columns=["execution_arn", "extraction_arn"])
    print_frame(shown, title=f"failed locations of task {task_id}")
    print_frame(counts[counts["locations"] > 0], title="failures by class")


@app.command("rerun")
def rerun(
    task_id: str = TaskArgument,
    location_ids: Optional[List[str]] = typer.Option(None, "--location", "-l",
                                                     help="Rerun this location (repeatable; default: every enabled one without complete data)."),
    no_watch: bool = NoWatchOption,
    interval: float = IntervalOption,
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Rerun some locations of a task (default: every enabled one without complete data), then re-consolidate."""
    from toolkit import runs
    from toolkit.locations import check_task_id

    check_task_id(task_id)
    run = runs.rerun(load_config(config), task_id, location_ids or None)
    _started_or_watch(run, no_watch, interval, as_json)


@app.command("redrive")
def redrive(task_id: str = TaskArgument, execution_arn: Optional[str] = ExecutionOption,
            no_watch: bool = NoWatchOption, interval: float = IntervalOption,
            config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """Redrive a FAILED, TIMED_OUT or ABORTED run from its unsuccessful state (RedriveExecution)."""
    from toolkit import runs

    run = runs.redrive(_find_run(load_config(config), task_id, execution_arn))
    _started_or_watch(run, no_watch, interval, as_json)


# ----------------------------------------------------------------------------- helpers


def _find_run(cfg: StackConfig, task_id: str, execution_arn: Optional[str]):
    from toolkit import runs

    if execution_arn:
        return runs.Run(task_id=task_id, execution_arn=execution_arn, config=cfg)
    record = runs.latest_task(cfg, task_id)
    if record is None or not record.execution_arn:
        raise runs.RunError(f"task_id: task {task_id!r} has no run in {cfg.tasks_table}")
    return runs.Run(task_id=task_id, execution_arn=record.execution_arn, config=cfg)


def _started_or_watch(run, no_watch: bool, interval: float, as_json: bool) -> None:
    if no_watch:
        fields = {"task_id": run.task_id, "execution_arn": run.execution_arn}
        if run.console_url:
            fields["console_url"] = run.console_url
        print_fields(fields, as_json=as_json)
        return
    _watch(run, interval, as_json)


def _watch(run, interval: float, as_json: bool) -> None:
    from toolkit import runs

    try:
        snapshot = watch_run(run, interval=interval, draw=not as_json)
    except KeyboardInterrupt:  # before the first snapshot
        snapshot = None
    if snapshot is not None:
        print_fields(task_fields(run.task_id, _reconciled(run.config, run.task_id), snapshot), as_json=as_json)
    if snapshot is None or not snapshot.done:  # Ctrl-C: the watching stopped, the run did not
        print(f"stopped watching; the run carries on. Follow it again with: dsa run watch {run.task_id} "
              f"--execution-arn {run.execution_arn}", file=sys.stderr)
        raise typer.Exit(130)
    if snapshot.done and snapshot.status != "SUCCEEDED":
        raise runs.RunError(f"execution: the run ended {snapshot.status}: {snapshot.error or ''} {snapshot.cause or ''}"
                            .strip())


def _reconciled(cfg: StackConfig, task_id: str) -> TaskRecord | None:
    """The task's latest record, made true to its execution first (``runs.reconcile_task``)."""
    from toolkit import runs

    record = runs.latest_task(cfg, task_id)
    return runs.reconcile_task(cfg, record) if record is not None else None


def task_fields(task_id: str, record: TaskRecord | None, snapshot) -> dict:
    """A task as ``TASK_FIELDS``: the tasks table's record, with the live counts of its execution."""
    record = record or TaskRecord(task_id=task_id, created_at="", status="")
    finished = record.finished_at and record.created_at
    duration = ((pd.Timestamp(record.finished_at) - pd.Timestamp(record.created_at)).total_seconds() if finished
                else snapshot.elapsed_seconds)
    values = {
        "task_id": task_id,
        "created_at": record.created_at or None,
        "status": record.status or None,
        "execution_status": snapshot.status,
        "locations_total": snapshot.locations_total or record.locations_total,
        "locations_succeeded": snapshot.succeeded,
        "locations_failed": snapshot.failed,
        "locations_running": snapshot.running,
        "locations_pending": snapshot.pending,
        "pages": snapshot.pages,
        "rows": snapshot.rows if record.rows is None else record.rows,
        "duration_seconds": round(duration, 1),
        "output_uri": record.output_uri,
        "error": record.error,
        "rerun_locations": record.rerun_locations or None,
        "redriven_locations": record.redriven_locations or None,
        "execution_arn": record.execution_arn,
    }
    # Coverage is read per location from S3: `dsa run status TASK` fills it, the list leaves it null.
    values.update(coverage_fields(None))
    return {name: values[name] for name in TASK_FIELDS}


def coverage_fields(state) -> dict:
    """The coverage fields of ``TASK_FIELDS`` from a ``runs.TaskStatus`` (None: not read)."""
    if state is None:
        return {"coverage_status": None, "locations_complete": None, "missing_locations": None}
    return {"coverage_status": state.status,
            "locations_complete": f"{state.locations_complete}/{state.locations_enabled}",
            "missing_locations": list(state.missing) or None}

