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

from toolkit import aws
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit import layout
from toolkit.layout import TaskRecord

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
    """A snapshot of a run: execution status, location counts, pages and rows of finished locations."""

    status: str
    locations_total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    pages: int = 0
    rows: int = 0
    elapsed_seconds: float = 0.0
    map_run_arn: str | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_EXECUTION_STATUSES

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

    Refuses to start while the task's latest run is still RUNNING or CONSOLIDATING, unless
    ``force`` is set.
    """
    if not force:
        latest = latest_task(config, task_id, session=session)
        if latest is not None:
            latest = reconcile_task(config, latest, session=session)
        if latest is not None and latest.active:
            raise RunError(f"task_id: task {task_id!r} is still {latest.status} "
                           f"({latest.execution_arn}); pass force=True to start another run")
    payload: dict[str, Any] = {"task_id": task_id}
    if locations is not None:
        if not locations:
            raise RunError("locations: the list of locations to run is empty")
        payload["locations"] = list(dict.fromkeys(locations))
    if max_concurrency is not None:
        payload["max_concurrency"] = int(max_concurrency)
    if tolerated_failure_percentage is not None:
        payload["tolerated_failure_percentage"] = tolerated_failure_percentage
    sfn = aws.client(config, "stepfunctions", session)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    name = f"{_NAME_UNSAFE.sub('-', task_id)[:50]}-{stamp}"
    response = sfn.start_execution(
        stateMachineArn=config.state_machine_arn(config.aggregator_state_machine),
        name=name,
        input=json.dumps(payload),
    )
    return Run(task_id=task_id, execution_arn=response["executionArn"], config=config)


def progress(run: Run, *, session: boto3.Session | None = None,
             _cache: dict[str, tuple[int, int]] | None = None) -> RunProgress:
    """One snapshot of a run's progress (a few API calls; safe to call every second or two)."""
    config = run.config
    sfn = aws.client(config, "stepfunctions", session)
    execution = sfn.describe_execution(executionArn=run.execution_arn)
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
        snapshot.pages, snapshot.rows = _finished_totals(sfn, snapshot.map_run_arn,
                                                         _cache if _cache is not None else {})
    return snapshot


def follow(run: Run, *, interval: float = 2.0, session: boto3.Session | None = None) -> Iterator[RunProgress]:
    """Snapshots of the run, one every ``interval`` seconds, ending with the one where it is done.

    Drawing them is the caller's job (the CLI's progress bar, the widgets' run monitor).
    """
    cache: dict[str, tuple[int, int]] = {}
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

    Ctrl-C stops watching, not the run: the last snapshot is returned.
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
    """Every record of the tasks table, as stored (reads only)."""
    client = aws.client(config, "dynamodb", session)
    return [TaskRecord.from_item(item)
            for page in client.get_paginator("scan").paginate(TableName=config.tasks_table)
            for item in page.get("Items", [])]


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
    marked FAILED with the execution's error; any other record is returned as it is. A redrive
    that succeeds records the final status over it. Reads never do this: call it where a write
    is meant (``dsa run status|watch``, the dashboard, before starting a run).
    """
    if not task.active or not task.execution_arn:
        return task
    sfn = aws.client(config, "stepfunctions", session)
    execution = sfn.describe_execution(executionArn=task.execution_arn)
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


def reconcile_tasks(config: StackConfig, *, session: boto3.Session | None = None) -> list[TaskRecord]:
    """:func:`reconcile_task` on every record of the tasks table; return the records as they now are."""
    return [reconcile_task(config, record, session=session) for record in task_records(config, session=session)]


def history(config: StackConfig, execution_arn: str, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """An execution's event history as a DataFrame: id, time, type, state, error, cause."""
    sfn = aws.client(config, "stepfunctions", session)
    rows = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
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

FAILURE_CLASSES = ("auth", "rate limit", "server error", "timeout", "bad data", "other")
_HTTP_STATUS = re.compile(r"^States\.Http\.StatusCode\.(\d{3})$")
_BAD_DATA_ERRORS = {"Page.CountMismatch", "States.QueryEvaluationError", "Location.NotFound",
                    "States.DataLimitExceeded"}


def classify_error(error: str | None) -> str:
    """The class of a location's failure, from its error name (see FAILURE_CLASSES)."""
    if not error:
        return "other"
    match = _HTTP_STATUS.match(error)
    if match:
        status = int(match.group(1))
        if status in (401, 403):
            return "auth"
        if status == 429:
            return "rate limit"
        if status >= 500:
            return "server error"
        return "bad data"
    if error in ("States.Timeout", "States.HeartbeatTimeout"):
        return "timeout"
    if error in _BAD_DATA_ERRORS:
        return "bad data"
    return "other"


def failures(run: Run, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """The run's failed locations, one row each, from its Map Run's unsuccessful children.

    Columns: location_id, status, error, cause, failing_state, http_status, class, attempts,
    duration_seconds, execution_arn (the Map Run child) and extraction_arn (the extraction
    execution it started, whose history holds the details).
    """
    sfn = aws.client(run.config, "stepfunctions", session)
    rows = []
    for map_run in sfn.list_map_runs(executionArn=run.execution_arn).get("mapRuns", []):
        paginator = sfn.get_paginator("list_executions")
        for status in _UNSUCCESSFUL:
            for page in paginator.paginate(mapRunArn=map_run["mapRunArn"], statusFilter=status):
                rows += [_failure_row(sfn, child["executionArn"]) for child in page["executions"]]
    columns = ["location_id", "status", "error", "cause", "failing_state", "http_status", "class",
               "attempts", "duration_seconds", "execution_arn", "extraction_arn"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["http_status"] = frame["http_status"].astype("Int64")
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


COVERAGE_COLUMNS = ["location_id", "complete", "run_id", "extracted_at", "page_limit", "pages", "rows",
                    "data_types", "failed_at", "failed_run_id", "error", "cause"]


def coverage(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """One row per enabled location of the task: its last complete extraction and its last failure.

    ``complete`` says whether the location has complete data (a coverage manifest): from which
    run, extracted when, with what page size, how many pages and rows, of which data types. The
    last failure (``failed_at``, ``failed_run_id``, ``error``, ``cause``) is shown whenever there is
    one, even when a later extraction completed. The same files are what consolidation reads, so
    this table is what the next consolidation will hold. Reads only.
    """
    from concurrent.futures import ThreadPoolExecutor

    from toolkit.locations import read_locations

    table = read_locations(config, task_id, session=session)
    enabled = sorted(table.loc[table["enabled"].astype(bool), "location_id"]) if not table.empty else []
    s3 = aws.client(config, "s3", session)

    def read(key: str) -> dict[str, Any] | None:
        try:
            return json.loads(s3.get_object(Bucket=config.work_bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    def row(location_id: str) -> dict[str, Any]:
        done = read(layout.coverage_key(task_id, location_id)) or {}
        failed = read(layout.failure_key(task_id, location_id)) or {}
        types = done.get("data_types") or []
        return {
            "location_id": location_id, "complete": bool(done), "run_id": done.get("run_id"),
            "extracted_at": done.get("extracted_at"), "page_limit": done.get("page_limit"),
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

    Only a FAILED, TIMED_OUT or ABORTED execution can be redriven; anything else is a RunError
    that says why. The task record of the run notes the redrive and the locations it reruns
    (``redriven_locations``, ``redrive_count``, ``redriven_at``).
    """
    sfn = aws.client(run.config, "stepfunctions", session)
    execution = sfn.describe_execution(executionArn=run.execution_arn)
    if execution["status"] not in _UNSUCCESSFUL:
        raise RunError(f"execution: {run.execution_arn} is {execution['status']}; only FAILED, TIMED_OUT "
                       "or ABORTED executions can be redriven")
    if execution.get("redriveStatus") == "NOT_REDRIVABLE":
        raise RunError(f"execution: cannot be redriven: {execution.get('redriveStatusReason')}")
    rerun_locations = sorted(set(failures(run, session=session)["location_id"].dropna()))
    sfn.redrive_execution(executionArn=run.execution_arn)
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
    failing_state = _failing_state(sfn, extraction_arn or child_arn)
    match = _HTTP_STATUS.match(error or "")
    stopped = child.get("stopDate") or child["startDate"]
    return {
        "location_id": child_input.get("location_id"),
        "status": child["status"],
        "error": error,
        "cause": cause,
        "failing_state": failing_state,
        "http_status": int(match.group(1)) if match else None,
        "class": classify_error(error),
        "attempts": int(child.get("redriveCount", 0)) + 1,
        "duration_seconds": (stopped - child["startDate"]).total_seconds(),
        "execution_arn": child_arn,
        "extraction_arn": extraction_arn,
    }


def _failing_state(sfn: Any, execution_arn: str) -> str | None:
    """The last state entered before the execution failed."""
    page = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=50)
    for event in page["events"]:
        details = event.get("stateEnteredEventDetails")
        if details:
            return details.get("name")
    return None


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


_RECORD_FIELDS = dataclasses.fields(TaskRecord)


def _row(record: TaskRecord) -> dict[str, Any]:
    """A record as one row of list_tasks: lists the record leaves empty show as missing."""
    return {name: (None if value == [] else value) for name, value in record.as_dict().items()}
