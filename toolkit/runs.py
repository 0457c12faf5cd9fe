"""Task runs: start the aggregator for a task, watch it with progress, list and describe runs.

A run is one execution of the aggregator state machine for one task. Its progress comes from
the APIs an operator would look at: the execution, its Map Run's item counts, and the outputs
of the locations finished so far (pages and rows, each child described once). Nothing lists
S3: on a large task that would cost more than the run's own requests. The same calls work
against AWS and the local stack.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from toolkit import aws, layout, run_lock
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.failure_causes import FAILURE_CLASSES, FAILURE_COLUMNS, classify_error, explain
from toolkit.layout import TaskRecord
from toolkit.locations import LocationsError, require_task

__all__ = [
    "RunError",
    "Run",
    "RunProgress",
    "start_run",
    "progress",
    "follow",
    "watch",
    "task_records",
    "list_tasks",
    "latest_task",
    "reconcile_task",
    "reconcile_tasks",
    "history",
    "FAILURE_CLASSES",
    "classify_error",
    "failures",
    "failure_counts",
    "lost_locations",
    "COVERAGE_COLUMNS",
    "coverage",
    "TaskStatus",
    "task_status",
    "coverage_status",
    "rerun",
    "redrive",
]

_UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")
TERMINAL_EXECUTION_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
LOST = "LOST"  # a run's execution no longer exists (progress's status, not an AWS status)
EXECUTION_LOST = "Execution.Lost"  # the error a reconciled record and a lost run's progress carry
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class RunError(ToolkitError):
    """A run cannot be started or found."""


@dataclass(frozen=True)
class Run:
    """A handle on one aggregator execution for one task."""

    task_id: str
    execution_arn: str
    config: StackConfig = field(repr=False)

    @property
    def console_url(self) -> str | None:
        """The execution's page in the AWS console (None on the local stack)."""
        if self.config.is_local:
            return None
        region = self.config.region
        return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
                f"#/v2/executions/details/{self.execution_arn}")


@dataclass
class RunProgress:
    """A snapshot of a run: execution status, phase, location counts, pages and rows (of finished
    locations, plus what running ones have fetched so far)."""

    status: str
    locations_total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    pages: int = 0
    rows: int = 0
    elapsed_seconds: float = 0.0
    phase: str = "STARTING"  # STARTING, EXTRACTING, CONSOLIDATING, then the execution's final status
    map_run_arn: str | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_EXECUTION_STATUSES or self.status == LOST

    @property
    def locations_done(self) -> int:
        return self.succeeded + self.failed


def start_run(
    config: StackConfig,
    task_id: str,
    *,
    locations: list[str] | None = None,
    max_concurrency: int | None = None,
    tolerated_failure_percentage: float | None = None,
    force: bool = False,
    session: boto3.Session | None = None,
) -> Run:
    """Start the aggregator for ``task_id`` (all its enabled locations, or only ``locations``).

    Refused before anything is started or written: a task id the locations table does not know,
    a location that is not the task's, a task with no enabled location
    (:func:`toolkit.locations.require_task`), and a task whose previous run is still going: the
    task's run lock (:mod:`toolkit.run_lock`) is taken with a conditional write naming the new
    execution before it starts, so of two starts at the same moment one is refused. ``force``
    takes the lock from a running execution.
    """
    try:
        require_task(config, task_id, locations, session=session)
    except LocationsError as exc:
        raise RunError(str(exc)) from None
    payload: dict[str, Any] = {"task_id": task_id}
    if locations is not None:
        payload["locations"] = list(dict.fromkeys(locations))
    if max_concurrency is not None:
        payload["max_concurrency"] = int(max_concurrency)
    if tolerated_failure_percentage is not None:
        payload["tolerated_failure_percentage"] = tolerated_failure_percentage
    sfn = aws.client(config, "stepfunctions", session)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    name = f"{_NAME_UNSAFE.sub('-', task_id)[:50]}-{stamp}"
    machine = config.state_machine_arn(config.aggregator_state_machine)
    execution_arn = f"{machine.replace(':stateMachine:', ':execution:', 1)}:{name}"
    holder = run_lock.acquire(config, task_id, execution_arn, force=force, session=session)
    if holder is not None:
        busy = f"task_id: task {task_id!r} is already running ({holder.execution_arn}); wait for it, or pass"
        raise RunError(f"{busy} force=True to start another run", cli=f"{busy} --force to start another run")
    try:
        response = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError:  # refused, so nothing started: a timeout keeps the lock (the start may have run)
        run_lock.release(config, task_id, execution_arn, session=session)
        raise
    run_lock.mark_started(config, task_id, execution_arn, response["executionArn"], session=session)
    return Run(task_id=task_id, execution_arn=response["executionArn"], config=config)


def progress(run: Run, *, session: boto3.Session | None = None,
             _cache: dict[str, Any] | None = None) -> RunProgress:
    """One snapshot of a run's progress (a few API calls; safe to call every second or two).

    Pages and rows count the finished locations (each described once) and what running ones
    have fetched so far, read from the histories of at most ``RUNNING_READS_PER_POLL`` of their
    extraction executions per call (in turn), so the cost stays flat however wide the Map Run.
    """
    config = run.config
    sfn = aws.client(config, "stepfunctions", session)
    try:
        execution = sfn.describe_execution(executionArn=run.execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return RunProgress(status=LOST, error=EXECUTION_LOST, cause=_lost_cause(run.execution_arn))
    started = execution["startDate"]
    ended = execution.get("stopDate") or dt.datetime.now(started.tzinfo)
    snapshot = RunProgress(status=execution["status"], elapsed_seconds=(ended - started).total_seconds())
    if execution.get("output"):
        snapshot.output = json.loads(execution["output"])
    snapshot.error, snapshot.cause = execution.get("error"), execution.get("cause")
    map_runs = sfn.list_map_runs(executionArn=run.execution_arn).get("mapRuns", [])
    if map_runs:
        snapshot.map_run_arn = map_runs[0]["mapRunArn"]
        counts = sfn.describe_map_run(mapRunArn=snapshot.map_run_arn)["itemCounts"]
        snapshot.locations_total = counts.get("total", 0)
        snapshot.pending = counts.get("pending", 0)
        snapshot.running = counts.get("running", 0)
        snapshot.succeeded = counts.get("succeeded", 0)
        snapshot.failed = counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0)
        cache = _cache if _cache is not None else {}
        pages, rows = _finished_totals(sfn, snapshot.map_run_arn, cache.setdefault("finished", {}))
        running_pages, running_rows = _running_totals(sfn, snapshot.map_run_arn, cache.setdefault("running", {}))
        snapshot.pages, snapshot.rows = pages + running_pages, rows + running_rows
        snapshot.phase = "EXTRACTING"
    if snapshot.done:
        snapshot.phase = snapshot.status
    elif snapshot.map_run_arn:
        record = latest_task(config, run.task_id, session=session)
        if record is not None and record.execution_arn == run.execution_arn and record.status == "CONSOLIDATING":
            snapshot.phase = "CONSOLIDATING"
    return snapshot


def follow(run: Run, *, interval: float = 2.0, session: boto3.Session | None = None) -> Iterator[RunProgress]:
    """Snapshots of the run, one every ``interval`` seconds, ending with the one where it is done.

    Drawing them is the caller's job (the CLI's progress bar, the widgets' run monitor).
    """
    cache: dict[str, Any] = {}
    while True:
        snapshot = progress(run, session=session, _cache=cache)
        yield snapshot
        if snapshot.done:
            return
        time.sleep(interval)


def watch(
    run: Run,
    *,
    interval: float = 2.0,
    on_update: Callable[[RunProgress], None] | None = None,
    session: boto3.Session | None = None,
) -> RunProgress:
    """Poll the run until it ends, passing each snapshot to ``on_update``; return the last one.

    Ctrl-C stops watching, not the run (it carries on; watch it again with the same ``run``):
    the last snapshot is returned, its ``done`` False.
    """
    last: RunProgress | None = None
    try:
        for last in follow(run, interval=interval, session=session):
            if on_update is not None:
                on_update(last)
    except KeyboardInterrupt:
        if last is None:
            raise
    assert last is not None  # follow yields at least once
    return last


def task_records(config: StackConfig, *, session: boto3.Session | None = None) -> list[TaskRecord]:
    """Every record of the tasks table, as stored (reads only; run locks are not runs)."""
    client = aws.client(config, "dynamodb", session)
    return [TaskRecord.from_item(item)
            for page in client.get_paginator("scan").paginate(TableName=config.tasks_table)
            for item in page.get("Items", []) if not run_lock.is_lock_item(item)]


def list_tasks(config: StackConfig, *, limit: int = 50, session: boto3.Session | None = None) -> pd.DataFrame:
    """Recent task runs of the stack, newest first: status, duration, rows, failures, output (reads only)."""
    records = task_records(config, session=session)
    columns = ["task_id", "created_at", "status", "locations_total", "locations_failed", "rows",
               "duration_seconds", "output_uri", "error", "rerun_locations", "redriven_locations",
               "execution_arn"]
    frame = pd.DataFrame([_row(record) for record in records], columns=[f.name for f in _RECORD_FIELDS])
    frame["duration_seconds"] = None
    if not frame.empty:
        created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce", format="ISO8601")
        finished = pd.to_datetime(frame.get("finished_at"), utc=True, errors="coerce", format="ISO8601")
        frame["duration_seconds"] = (finished - created).dt.total_seconds()
        frame = frame.sort_values("created_at", ascending=False).head(limit)
    return frame[columns].reset_index(drop=True)


def latest_task(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> TaskRecord | None:
    """The newest record of ``task_id`` in the tasks table, as stored, or None (reads only)."""
    client = aws.client(config, "dynamodb", session)
    response = client.query(
        TableName=config.tasks_table,
        KeyConditionExpression="task_id = :task",
        ExpressionAttributeValues={":task": {"S": task_id}},
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )
    items = response.get("Items", [])
    return TaskRecord.from_item(items[0]) if items else None


def reconcile_task(config: StackConfig, task: TaskRecord, *, session: boto3.Session | None = None) -> TaskRecord:
    """Make a task record true to its execution, in the table too; return the record as it now is.

    A record still RUNNING or CONSOLIDATING whose execution has ended unsuccessfully (a Map Run
    beyond its tolerated failures fails the execution uncaught, so that it can be redriven) is
    marked FAILED with the execution's error; one whose execution no longer exists (the local stack
    was stopped mid-run and restarted from its data directory, or AWS's retention ended) is marked
    FAILED with ``Execution.Lost`` saying so; any other record is returned as it is. A redrive
    that succeeds records the final status over it. Reads never do this: call it where a write
    is meant (``dsa run status|watch``, the dashboard).
    """
    if not task.active or not task.execution_arn:
        return task
    sfn = aws.client(config, "stepfunctions", session)
    try:
        execution = sfn.describe_execution(executionArn=task.execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        error = f"{EXECUTION_LOST}: {_lost_cause(task.execution_arn)}"
    else:
        if execution["status"] not in _UNSUCCESSFUL:
            return task
        error = f"{execution.get('error') or execution['status']}: {(execution.get('cause') or '')[:1000]}"
    client = aws.client(config, "dynamodb", session)
    try:
        client.update_item(
            TableName=config.tasks_table,
            Key=task.key(),
            UpdateExpression="SET #status = :failed, #error = :error",
            ConditionExpression="#status = :seen",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={":failed": {"S": "FAILED"}, ":error": {"S": error},
                                       ":seen": {"S": task.status}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        pass  # the workflow recorded an outcome meanwhile
    return dataclasses.replace(task, status="FAILED", error=error)


def _lost_cause(execution_arn: str) -> str:
    return (f"execution {execution_arn} does not exist (ExecutionDoesNotExist): it was lost when the stack "
            "was stopped during the run and restarted, is past its retention, or the ARN is mistyped; "
            "its outcome is unknown")


def reconcile_tasks(config: StackConfig, *, session: boto3.Session | None = None) -> list[TaskRecord]:
    """:func:`reconcile_task` on every record of the tasks table; return the records as they now are."""
    return [reconcile_task(config, record, session=session) for record in task_records(config, session=session)]


def history(config: StackConfig, execution_arn: str, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """An execution's event history as a DataFrame: id, time, type, state, error, cause.

    An execution that no longer exists is a RunError that says so."""
    sfn = aws.client(config, "stepfunctions", session)
    rows = []
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    try:
        events = [event for page in pages for event in page["events"]]
    except sfn.exceptions.ExecutionDoesNotExist:
        raise RunError(f"execution: {_lost_cause(execution_arn)}") from None
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        rows.append({
            "id": event["id"],
            "timestamp": event["timestamp"],
            "type": event["type"],
            "state": details.get("name"),
            "error": details.get("error"),
            "cause": details.get("cause"),
            "previous_id": event.get("previousEventId"),
        })
    return pd.DataFrame(rows, columns=["id", "timestamp", "type", "state", "error", "cause", "previous_id"])


# ----------------------------------------------------------------------------- failures and reruns

def failures(run: Run, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """The run's failed locations, one row each, from its Map Run's unsuccessful children.

    Columns: :data:`toolkit.failure_causes.FAILURE_COLUMNS` (the API's message, HTTP status, class
    and HTTP attempts of each failure). A run whose execution no longer exists is a RunError.
    """
    sfn = aws.client(run.config, "stepfunctions", session)
    rows = []
    try:
        sfn.describe_execution(executionArn=run.execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise RunError(f"execution: {_lost_cause(run.execution_arn)}") from None
    for map_run in sfn.list_map_runs(executionArn=run.execution_arn).get("mapRuns", []):
        paginator = sfn.get_paginator("list_executions")
        for status in _UNSUCCESSFUL:
            for page in paginator.paginate(mapRunArn=map_run["mapRunArn"], statusFilter=status):
                rows += [_failure_row(sfn, child["executionArn"]) for child in page["executions"]]
    frame = pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))
    frame["http_status"] = frame["http_status"].astype("Int64")
    frame["attempts"] = frame["attempts"].astype("Int64")
    return frame.sort_values("location_id").reset_index(drop=True)


def failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """How many failed locations fall in each class (every class listed, zeros included)."""
    counts = table["class"].value_counts().reindex(FAILURE_CLASSES, fill_value=0)
    return counts.rename_axis("class").rename("locations").reset_index()


def rerun(
    config: StackConfig,
    task_id: str,
    locations: list[str] | None = None,
    *,
    session: boto3.Session | None = None,
    **options: Any,
) -> Run:
    """A targeted rerun of some of a task's locations (default: every enabled one without complete data).

    The rerun fetches those locations again under its own run, records their coverage when they
    complete, and consolidates the whole task from coverage, so the output holds each enabled
    location once, from its last complete extraction. The new task record lists the rerun
    locations.
    """
    if locations is None:
        state = task_status(config, task_id, session=session)
        if not state.locations_enabled:
            raise RunError(f"task_id: task {task_id!r} has no enabled location")
        locations = state.missing
        if not locations:
            raise RunError(f"task_id: every enabled location of task {task_id!r} has complete data; "
                           "name the locations to rerun")
    return start_run(config, task_id, locations=locations, session=session, **options)


def lost_locations(config: StackConfig, task: TaskRecord, *,
                   session: boto3.Session | None = None) -> list[dict[str, str]]:
    """The locations a run lost, with their error and cause, read from its Map Run's results in S3.

    The workflow records only counts and where the Map Run's ResultWriter put its results
    (``map_run_results``): a list of failures grows with the task and would break the 256 KiB
    payload quota in the workflow, so it is read here instead, however long it is.
    """
    uri = task.map_run_results
    if not uri:
        return []
    s3 = aws.client(config, "s3", session)
    bucket, _, key = uri[len("s3://"):].partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    lost = []
    for result_file in manifest.get("ResultFiles", {}).get("FAILED", []):
        for child in json.loads(s3.get_object(Bucket=bucket, Key=result_file["Key"])["Body"].read()):
            lost.append({"location_id": json.loads(child["Input"])["location_id"],
                         "error": child.get("Error", ""), "cause": child.get("Cause", "")})
    return lost


COVERAGE_COLUMNS = ["location_id", "complete", "run_id", "extracted_at", "parts_expire_at", "page_limit", "pages",
                    "rows", "data_types", "failed_at", "failed_run_id", "error", "cause"]


def coverage(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """One row per enabled location of the task: its last complete extraction and its last failure.

    ``complete`` says whether the location has complete data (a coverage manifest whose parts the
    work bucket's lifecycle rule has not expired: ``parts_expire_at``, a day early to be safe): from
    which run, extracted when, with what page size, how many pages and rows, of which data types. The
    last failure (``failed_at``, ``failed_run_id``, ``error``, ``cause``) is shown whenever there is
    one, even when a later extraction completed. The same files are what consolidation reads, so
    this table is what the next consolidation will hold. Reads only.
    """
    from concurrent.futures import ThreadPoolExecutor

    from toolkit.locations import read_locations

    table = read_locations(config, task_id, session=session)
    enabled = sorted(table.loc[table["enabled"].astype(bool), "location_id"]) if not table.empty else []
    s3 = aws.client(config, "s3", session)
    now = dt.datetime.now(dt.timezone.utc)

    def read(key: str) -> dict[str, Any] | None:
        try:
            return json.loads(s3.get_object(Bucket=config.work_bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    def row(location_id: str) -> dict[str, Any]:
        done = read(layout.coverage_key(task_id, location_id)) or {}
        failed = read(layout.failure_key(task_id, location_id)) or {}
        types = done.get("data_types") or []
        expire_at = parts_expire_at(config, done["extracted_at"]) if done.get("extracted_at") else None
        return {
            "location_id": location_id, "complete": bool(done) and (expire_at is None or expire_at > now),
            "run_id": done.get("run_id"), "extracted_at": done.get("extracted_at"),
            "parts_expire_at": expire_at and expire_at.isoformat(timespec="seconds"), "page_limit": done.get("page_limit"),
            "pages": done.get("pages"), "rows": done.get("rows"),
            "data_types": ", ".join(t["data_type"] for t in types if t.get("pages")) if done else None,
            "failed_at": failed.get("failed_at"), "failed_run_id": failed.get("run_id"),
            "error": failed.get("error"), "cause": failed.get("cause"),
        }

    with ThreadPoolExecutor(16) as pool:
        rows = list(pool.map(row, enabled))
    frame = pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
    for column in ("page_limit", "pages", "rows"):
        frame[column] = frame[column].astype("Int64")
    frame["complete"] = frame["complete"].astype(bool)
    return frame


def parts_expire_at(config: StackConfig, extracted_at: str) -> dt.datetime:
    """When the lifecycle rule on parts/ may have removed the parts of an extraction made at
    ``extracted_at`` (ISO 8601): ``parts_expire_days`` later, less a day for S3's rounding to midnight.
    A location whose parts may be gone has no complete data: the default rerun fetches it again."""
    made = dt.datetime.fromisoformat(extracted_at.replace("Z", "+00:00"))
    if made.tzinfo is None:
        made = made.replace(tzinfo=dt.timezone.utc)
    return made + dt.timedelta(days=config.parts_expire_days - 1)


@dataclass(frozen=True)
class TaskStatus:
    """A task's status from its coverage: SUCCEEDED when every enabled location has complete data,
    PARTIAL when some lack it (``missing`` names them), FAILED when none has it (or none is enabled)."""

    task_id: str
    status: str
    locations_enabled: int
    locations_complete: int
    missing: list[str]


def task_status(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> TaskStatus:
    """The task's status derived from :func:`coverage` over its enabled locations (reads only)."""
    return coverage_status(task_id, coverage(config, task_id, session=session))


def coverage_status(task_id: str, table: pd.DataFrame) -> TaskStatus:
    """The status a coverage table (:func:`coverage`) gives its task."""
    missing = sorted(table.loc[~table["complete"], "location_id"])
    complete = len(table) - len(missing)
    status = "SUCCEEDED" if complete and not missing else "PARTIAL" if complete else "FAILED"
    return TaskStatus(task_id, status, len(table), complete, missing)


def redrive(run: Run, *, session: boto3.Session | None = None) -> Run:
    """Redrive the run's execution (RedriveExecution): AWS resumes it from its unsuccessful state.

    Only a FAILED, TIMED_OUT or ABORTED execution can be redriven, and only while no other run of
    the task holds its run lock; anything else is a RunError that says why. The task record of
    the run notes the redrive and the locations it reruns (``redriven_locations``,
    ``redrive_count``, ``redriven_at``).
    """
    sfn = aws.client(run.config, "stepfunctions", session)
    execution = sfn.describe_execution(executionArn=run.execution_arn)
    if execution["status"] not in _UNSUCCESSFUL:
        raise RunError(f"execution: {run.execution_arn} is {execution['status']}; only FAILED, TIMED_OUT "
                       "or ABORTED executions can be redriven")
    if execution.get("redriveStatus") == "NOT_REDRIVABLE":
        raise RunError(f"execution: cannot be redriven: {execution.get('redriveStatusReason')}")
    rerun_locations = sorted(set(failures(run, session=session)["location_id"].dropna()))
    holder = run_lock.acquire(run.config, run.task_id, run.execution_arn, session=session)
    if holder is not None:
        raise RunError(f"task_id: task {run.task_id!r} is running again ({holder.execution_arn}); "
                       "wait for it before redriving an older run")
    sfn.redrive_execution(executionArn=run.execution_arn)
    run_lock.mark_started(run.config, run.task_id, run.execution_arn, run.execution_arn, session=session)
    _record_redrive(run, rerun_locations, session)
    return run


def _record_redrive(run: Run, locations: list[str], session: boto3.Session | None) -> None:
    task = latest_task(run.config, run.task_id, session=session)
    if task is None or task.execution_arn != run.execution_arn:
        return  # a newer run of the task owns the latest record; the execution's history tells
    values: dict[str, Any] = {
        ":one": {"N": "1"}, ":zero": {"N": "0"},
        ":at": {"S": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")},
    }
    expression = "SET redrive_count = if_not_exists(redrive_count, :zero) + :one, redriven_at = :at"
    if locations:
        values[":locations"] = {"SS": locations}
        expression += ", redriven_locations = :locations"
    aws.client(run.config, "dynamodb", session).update_item(
        TableName=run.config.tasks_table,
        Key=task.key(),
        UpdateExpression=expression,
        ExpressionAttributeValues=values,
    )


def _failure_row(sfn: Any, child_arn: str) -> dict[str, Any]:
    child = sfn.describe_execution(executionArn=child_arn)
    child_input = json.loads(child.get("input") or "{}")
    error, cause = child.get("error"), child.get("cause") or ""
    extraction_arn = None
    # A .sync:2 child's failure names the extraction execution and carries its error and cause.
    try:
        details = json.loads(cause)
    except ValueError:
        details = None
    if isinstance(details, dict) and details.get("ExecutionArn"):
        extraction_arn = details["ExecutionArn"]
        error, cause = details.get("Error") or error, details.get("Cause") or ""
    failing_state, tries = _failing_state(sfn, extraction_arn or child_arn)
    explained = explain(error, cause, tries or None)  # no HTTP Task in its history: the cause must say
    stopped = child.get("stopDate") or child["startDate"]
    return {
        "location_id": child_input.get("location_id"),
        "status": child["status"],
        "class": explained.failure_class,
        "http_status": explained.http_status,
        "message": explained.message,
        "attempts": explained.attempts,
        "error": error,
        "failing_state": failing_state,
        "cause": cause,
        "duration_seconds": (stopped - child["startDate"]).total_seconds(),
        "execution_arn": child_arn,
        "extraction_arn": extraction_arn,
    }


#: The extraction workflow's states that only record a failure already made (asl/extraction.asl.json).
_FAILURE_RECORDING_STATES = frozenset({"Record Failure", "Extraction Failed"})


def _failing_state(sfn: Any, execution_arn: str) -> tuple[str | None, int]:
    """The last state entered before the execution failed (the states that record the failure
    aside), and the HTTP Tasks it scheduled (each try of a retried call is scheduled again)."""
    page = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=100)
    tries = 0
    for event in page["events"]:
        scheduled = event.get("taskScheduledEventDetails")
        if scheduled and scheduled.get("resourceType") == "http":
            tries += 1
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name") not in _FAILURE_RECORDING_STATES:
            return details.get("name"), tries
    return None, tries


# ----------------------------------------------------------------------------- internals


def _finished_totals(sfn: Any, map_run_arn: str, cache: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Pages and rows of the Map Run's succeeded children (each described once, then cached)."""
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(mapRunArn=map_run_arn, statusFilter="SUCCEEDED"):
        for child in page["executions"]:
            arn = child["executionArn"]
            if arn not in cache:
                output = json.loads(sfn.describe_execution(executionArn=arn).get("output") or "{}")
                cache[arn] = (int(output.get("pages", 0) or 0), int(output.get("rows", 0) or 0))
    return sum(p for p, _ in cache.values()), sum(r for _, r in cache.values())


RUNNING_READS_PER_POLL = 4


def _running_totals(sfn: Any, map_run_arn: str, cache: dict[str, Any]) -> tuple[int, int]:
    """Pages and rows the Map Run's running children have fetched so far: each child's extraction
    execution is found once (its history's first events), then its finished batches are read from
    its history, a few children per call in turn (the others keep their last counts)."""
    children = [child["executionArn"]
                for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run_arn, statusFilter="RUNNING")
                for child in page["executions"]]
    counts: dict[str, tuple[int, int]] = {arn: cache.get("counts", {}).get(arn, (0, 0)) for arn in children}
    extractions: dict[str, str | None] = cache.setdefault("extractions", {})
    turn = cache.get("turn", 0)
    chosen = children[turn:turn + RUNNING_READS_PER_POLL] or children[:RUNNING_READS_PER_POLL]
    cache["turn"] = (children.index(chosen[-1]) + 1) if chosen else 0
    for child in chosen:
        if extractions.get(child) is None:
            extractions[child] = _started_execution(sfn, child)
        if extractions[child]:
            counts[child] = _fetched_so_far(sfn, extractions[child])
    cache["counts"] = counts
    return sum(p for p, _ in counts.values()), sum(r for _, r in counts.values())


def _started_execution(sfn: Any, child_arn: str) -> str | None:
    """The execution a Map Run child started (.sync:2), from its first history events; None if not yet."""
    events = sfn.get_execution_history(executionArn=child_arn, maxResults=20)["events"]
    for event in events:
        output = (event.get("taskSubmittedEventDetails") or {}).get("output")
        if output:
            return json.loads(output).get("ExecutionArn")
    return None


def _fetched_so_far(sfn: Any, extraction_arn: str) -> tuple[int, int]:
    """Pages and rows of the batches an extraction execution has finished (its startSyncExecution results)."""
    pages = rows = 0
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=extraction_arn,
                                                                    includeExecutionData=True):
        for event in page["events"]:
            details = event.get("taskSucceededEventDetails") or {}
            if details.get("resource") != "startSyncExecution":
                continue
            result = json.loads(details.get("output") or "{}")
            batch = json.loads(result.get("Output") or "{}") if isinstance(result, dict) else {}
            pages += int(batch.get("pages", 0) or 0)
            rows += int(batch.get("rows", 0) or 0)
    return pages, rows


_RECORD_FIELDS = dataclasses.fields(TaskRecord)


def _row(record: TaskRecord) -> dict[str, Any]:
    """A record as one row of list_tasks: lists the record leaves empty show as missing."""
    return {name: (None if value == [] else value) for name, value in record.as_dict().items()}
