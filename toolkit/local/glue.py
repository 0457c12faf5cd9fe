"""The local Glue jobs API: job definitions and job runs that really run their script on PySpark.

Served through the gateway in AWS's JSON protocol (awsJson1_1) with AWS's request and response
shapes: CreateJob, GetJob, GetJobs, UpdateJob, DeleteJob, ListJobs, StartJobRun, GetJobRun,
GetJobRuns, BatchStopJobRun. The Data Catalog part of Glue stays with moto.

A run downloads the job's ``Command.ScriptLocation`` from the local S3 and runs
``python script.py --JOB_NAME <job> --JOB_RUN_ID <id> --key value ...`` (DefaultArguments, then the
run's Arguments, then NonOverridableArguments, as Glue passes them) in its own process group, with
the stack's endpoint and dummy credentials in its environment so boto3 inside reaches the local
stack. Local PySpark 3.5 stands in for Glue 5.0. Its stdout and stderr go to CloudWatch Logs
(``/aws-glue/jobs/output`` and ``/aws-glue/jobs/error``, stream = run id). The job's Timeout
(minutes, multiplied by ``time_scale``) ends a run in TIMEOUT; MaxConcurrentRuns is enforced;
BatchStopJobRun and :meth:`GlueJobs.close` kill the run's whole process group.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

from sfn_runtime.api.awsjson import ServiceError

__all__ = ["GlueJobs", "JobRun", "OUTPUT_LOG_GROUP", "ERROR_LOG_GROUP", "RUN_STATES"]

OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
RUN_STATES = ("STARTING", "RUNNING", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT")
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING"})
DEFAULT_TIMEOUT_MINUTES = 2880  # AWS's default for Spark jobs
MAX_TIMEOUT_MINUTES = 10080  # 7 days
LOCAL_GLUE_VERSION = "5.0"  # what local PySpark 3.5 / Python 3.11 imitate
KILL_GRACE_SECONDS = 5.0
LOG_FLUSH_SECONDS = 1.0

# Fields of a job definition that CreateJob / UpdateJob's JobUpdate accept and GetJob returns.
_JOB_FIELDS = (
    "Description", "LogUri", "Role", "ExecutionProperty", "Command", "DefaultArguments",
    "NonOverridableArguments", "Connections", "MaxRetries", "AllocatedCapacity", "Timeout",
    "MaxCapacity", "WorkerType", "NumberOfWorkers", "SecurityConfiguration", "NotificationProperty",
    "GlueVersion", "ExecutionClass", "JobMode", "JobRunQueuingEnabled", "MaintenanceWindow",
    "SourceControlDetails", "CodeGenConfigurationNodes",
)
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")


@dataclass
class JobRun:
    """One run of a job, in the shape of Glue's ``JobRun``."""

    Id: str
    JobName: str
    Attempt: int
    Arguments: dict[str, str]
    Timeout: int
    StartedOn: dt.datetime
    LastModifiedOn: dt.datetime
    JobRunState: str = "STARTING"
    GlueVersion: str = LOCAL_GLUE_VERSION
    WorkerType: str | None = None
    NumberOfWorkers: int | None = None
    MaxCapacity: float | None = None
    PreviousRunId: str | None = None
    CompletedOn: dt.datetime | None = None
    ExecutionTime: int = 0
    ErrorMessage: str | None = None
    LogGroupName: str = "/aws-glue/jobs"
    stop_requested: bool = field(default=False, repr=False)

    def to_api(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None and k != "stop_requested"}
        out["PredecessorRuns"] = []
        return out

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "JobRun":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("StartedOn", "LastModifiedOn", "CompletedOn"):
            if isinstance(fields.get(name), (int, float)):
                fields[name] = dt.datetime.fromtimestamp(fields[name], dt.timezone.utc)
        return cls(**fields)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _require(params: dict[str, Any], name: str, kind: type = str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise ServiceError("InvalidInputException", f"{name} is required")
    if not isinstance(value, kind):
        raise ServiceError("InvalidInputException", f"{name} must be a {kind.__name__}")
    return value


def _check_job_name(name: str, field_name: str = "Name") -> None:
    if not 1 <= len(name) <= 255:
        raise ServiceError("InvalidInputException", f"{field_name} must be 1-255 characters long")


def _check_timeout(value: Any, field_name: str = "Timeout") -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT_MINUTES:
        raise ServiceError("InvalidInputException",
                           f"{field_name} must be a whole number of minutes between 1 and {MAX_TIMEOUT_MINUTES}")


def _page(items: list[Any], params: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ServiceError("InvalidInputException", "NextToken is not valid") from None
    size = params.get("MaxResults") or limit
    if not isinstance(size, int) or not 1 <= size <= limit:
        raise ServiceError("InvalidInputException", f"MaxResults must be between 1 and {limit}")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _error_message(stderr_tail: collections.deque[str], returncode: int) -> str:
    """The script's exception as Glue reports it (``ValueError: ...``), else the exit code."""
    for line in reversed(stderr_tail):
        match = _ERROR_LINE.match(line.strip())
        if match:
            return line.strip()
    return f"Command failed with exit code {returncode}"


class GlueJobs:
    """The Glue job APIs of the local stack (a :class:`~sfn_runtime.api.awsjson.JsonService`).

    Construct it on the event loop that serves it. ``endpoint_url`` is the stack's own endpoint:
    scripts are fetched and logs written through it, and runs receive it as ``AWS_ENDPOINT_URL``.
    """

    def __init__(self, *, region: str, account_id: str, endpoint_url: str, time_scale: float = 1.0,
                 python: str = sys.executable):
        self.region = region
        self.account_id = account_id
        self.endpoint_url = endpoint_url
        self.time_scale = time_scale
        self.python = python
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._runs: dict[str, dict[str, JobRun]] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._log_groups_ready = False
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
        client_config = Config(retries={"max_attempts": 2, "mode": "standard"})
        self._s3 = session.client("s3", endpoint_url=endpoint_url, config=client_config)
        self._logs = session.client("logs", endpoint_url=endpoint_url, config=client_config)
        self._operations: dict[str, Callable[[dict[str, Any]], Any]] = {
            "CreateJob": self._create_job, "GetJob": self._get_job, "GetJobs": self._get_jobs,
            "UpdateJob": self._update_job, "DeleteJob": self._delete_job, "ListJobs": self._list_jobs,
            "StartJobRun": self._start_job_run, "GetJobRun": self._get_job_run,
            "GetJobRuns": self._get_job_runs, "BatchStopJobRun": self._batch_stop_job_run,
        }

    async def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            raise ServiceError("UnknownOperationException", f"{operation} is not a Glue job operation")
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def close(self) -> None:
        """Stop every active run (killing its processes) and wait for the runs to end."""
        for runs in self._runs.values():
            for run in runs.values():
                if run.JobRunState in ACTIVE_STATES:
                    run.stop_requested = True
                    self._kill(run.Id)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def to_snapshot(self) -> dict[str, Any]:
        """Job definitions, tags and finished runs, JSON-serialisable (active runs are left out)."""
        runs = {
            name: [_json_run(r) for r in by_id.values() if r.JobRunState not in ACTIVE_STATES]
            for name, by_id in self._runs.items()
        }
        jobs = {name: _json_job(job) for name, job in self._jobs.items()}
        return {"jobs": jobs, "tags": self._tags, "runs": runs}

    def restore_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Load what :meth:`to_snapshot` wrote (replacing jobs of the same name)."""
        for name, job in snapshot.get("jobs", {}).items():
            job = dict(job)
            for key in ("CreatedOn", "LastModifiedOn"):
                job[key] = dt.datetime.fromtimestamp(job[key], dt.timezone.utc)
            self._jobs[name] = job
        self._tags.update(snapshot.get("tags", {}))
        for name, runs in snapshot.get("runs", {}).items():
            self._runs[name] = {r["Id"]: JobRun.from_api(r) for r in runs}

    # ------------------------------------------------------------ job definitions
    def _create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _require(params, "Name")
        _check_job_name(name)
        _require(params, "Role")
        _require(params, "Command", dict)
        job = self._job_definition(params)
        if name in self._jobs:
            existing = {k: v for k, v in self._jobs[name].items() if k not in ("Name", "CreatedOn", "LastModifiedOn")}
            if existing == job:
                return {"Name": name}  # the same definition again: CreateJob is idempotent
            raise ServiceError("IdempotentParameterMismatchException",
                               f"Job {name} already exists with a different definition")
        now = _now()
        job.update(Name=name, CreatedOn=now, LastModifiedOn=now)
        self._jobs[name] = job
        self._tags[name] = dict(params.get("Tags") or {})
        return {"Name": name}

    def _job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        job = {k: copy.deepcopy(params[k]) for k in _JOB_FIELDS if params.get(k) is not None}
        _check_timeout(job.get("Timeout"))
        max_runs = (job.get("ExecutionProperty") or {}).get("MaxConcurrentRuns", 1)
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
            raise ServiceError("InvalidInputException", "ExecutionProperty.MaxConcurrentRuns must be 1 or more")
        retries = job.get("MaxRetries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ServiceError("InvalidInputException", "MaxRetries must be between 0 and 10")
        job.setdefault("Timeout", DEFAULT_TIMEOUT_MINUTES)
        job["ExecutionProperty"] = {"MaxConcurrentRuns": max_runs}
        job.setdefault("MaxRetries", 0)
        job.setdefault("GlueVersion", LOCAL_GLUE_VERSION)
        job.setdefault("DefaultArguments", {})
        job.setdefault("JobMode", "SCRIPT")
        for key in ("DefaultArguments", "NonOverridableArguments"):
            _check_arguments(job.get(key) or {}, key)
        return job

    def _job(self, name: Any) -> dict[str, Any]:
        if not isinstance(name, str) or name not in self._jobs:
            raise ServiceError("EntityNotFoundException", f"Job with name: {name} not found")
        return self._jobs[name]

    def _get_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Job": copy.deepcopy(self._job(_require(params, "JobName")))}

    def _get_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        page, token = _page(sorted(self._jobs), params, 1000)
        out: dict[str, Any] = {"Jobs": [copy.deepcopy(self._jobs[n]) for n in page]}
        if token:
            out["NextToken"] = token
        return out

    def _list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("Tags") or {}
        names = [n for n in sorted(self._jobs)
                 if all(self._tags.get(n, {}).get(k) == v for k, v in wanted.items())]
        page, token = _page(names, params, 1000)
        out: dict[str, Any] = {"JobNames": page}
        if token:
            out["NextToken"] = token
        return out

    def _update_job(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _require(params, "JobName")
        update = _require(params, "JobUpdate", dict)
        old = self._job(name)
        # AWS: the previous definition is completely overwritten by JobUpdate.
        _require(update, "Role")
        _require(update, "Command", dict)
        job = self._job_definition(update)
        job.update(Name=name, CreatedOn=old["CreatedOn"], LastModifiedOn=_now())
        self._jobs[name] = job
        return {"JobName": name}

    def _delete_job(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _require(params, "JobName")
        if name in self._jobs:
            for run in self._runs.get(name, {}).values():
                if run.JobRunState in ACTIVE_STATES:
                    run.stop_requested = True
                    self._kill(run.Id)
            del self._jobs[name]
            self._tags.pop(name, None)
            self._runs.pop(name, None)  # a job made again under this name starts with no runs
        return {"JobName": name}

    # ------------------------------------------------------------ job runs
    def _start_job_run(self, params: dict[str, Any], *, attempt: int = 0,
                       previous: JobRun | None = None) -> dict[str, Any]:
        name = _require(params, "JobName")
        job = self._job(name)
        arguments = params.get("Arguments") or {}
        _check_arguments(arguments, "Arguments")
        _check_timeout(params.get("Timeout"))
        runs = self._runs.setdefault(name, {})
        active = sum(1 for r in runs.values() if r.JobRunState in ACTIVE_STATES)
        if active >= job["ExecutionProperty"]["MaxConcurrentRuns"]:
            raise ServiceError("ConcurrentRunsExceededException", f"Concurrent runs exceeded for {name}")
        now = _now()
        run = JobRun(
            Id="jr_" + secrets.token_hex(32),
            JobName=name,
            Attempt=attempt,
            Arguments=dict(arguments),
            Timeout=params.get("Timeout") or job["Timeout"],
            StartedOn=now,
            LastModifiedOn=now,
            GlueVersion=job["GlueVersion"],
            WorkerType=params.get("WorkerType") or job.get("WorkerType"),
            NumberOfWorkers=params.get("NumberOfWorkers") or job.get("NumberOfWorkers"),
            MaxCapacity=params.get("MaxCapacity") or job.get("MaxCapacity"),
            PreviousRunId=previous.Id if previous else None,
        )
        runs[run.Id] = run
        task = asyncio.get_running_loop().create_task(self._execute(job, run), name=f"glue-run-{run.Id[:12]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"JobRunId": run.Id}

    def _run(self, name: Any, run_id: Any) -> JobRun:
        self._job(name)
        run = self._runs.get(name, {}).get(run_id) if isinstance(run_id, str) else None
        if run is None:
            raise ServiceError("EntityNotFoundException", f"Job run {run_id} of job {name} not found")
        return run

    def _get_job_run(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self._run(_require(params, "JobName"), _require(params, "RunId"))
        return {"JobRun": run.to_api()}

    def _get_job_runs(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _require(params, "JobName")
        self._job(name)
        newest_first = sorted(self._runs.get(name, {}).values(), key=lambda r: r.StartedOn, reverse=True)
        page, token = _page(newest_first, params, 200)
        out: dict[str, Any] = {"JobRuns": [r.to_api() for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def _batch_stop_job_run(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _require(params, "JobName")
        run_ids = _require(params, "JobRunIds", list)
        done: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        for run_id in run_ids:
            run = self._runs.get(name, {}).get(run_id)
            if run is None or name not in self._jobs:
                errors.append(_stop_error(name, run_id, "EntityNotFoundException", f"Job run {run_id} not found"))
            elif run.JobRunState not in ACTIVE_STATES:
                errors.append(_stop_error(name, run_id, "InvalidInputException",
                                          f"Job run {run_id} is not running (state {run.JobRunState})"))
            else:
                run.stop_requested = True
                if run.JobRunState != "STOPPING":
                    self._set_state(run, "STOPPING")
                self._kill(run.Id)
                done.append({"JobName": name, "JobRunId": run_id})
        return {"SuccessfulSubmissions": done, "Errors": errors}

    # ------------------------------------------------------------ running a script
    async def _execute(self, job: dict[str, Any], run: JobRun) -> None:
        work_dir = Path(tempfile.mkdtemp(prefix="dsa-glue-"))
        started = time.monotonic()
        output = _LogStream(self, OUTPUT_LOG_GROUP, run.Id)
        errors = _LogStream(self, ERROR_LOG_GROUP, run.Id)
        final_state, message = "FAILED", None
        flusher: asyncio.Future[None] | None = None
        try:
            script = await self._fetch_script(job, work_dir)
            if run.stop_requested:
                final_state = "STOPPED"
                return
            process = await asyncio.create_subprocess_exec(
                self.python, str(script), *self._command_arguments(job, run),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=work_dir, env=self._environment(),
                start_new_session=True,
            )
            self._processes[run.Id] = process
            self._set_state(run, "RUNNING")
            tail: collections.deque[str] = collections.deque(maxlen=200)
            readers = [
                asyncio.ensure_future(output.pump(process.stdout, None)),
                asyncio.ensure_future(errors.pump(process.stderr, tail)),
            ]
            flusher = asyncio.ensure_future(_flush_every(LOG_FLUSH_SECONDS, output, errors))
            timed_out = False
            try:
                await asyncio.wait_for(process.wait(), run.Timeout * 60 * self.time_scale)
            except asyncio.TimeoutError:
                timed_out = True
                self._kill(run.Id)
                await process.wait()
            _kill_group(process.pid, signal.SIGKILL)  # whatever the script left behind (Spark's JVM)
            await asyncio.gather(*readers)
            if run.stop_requested:
                final_state = "STOPPED"
            elif timed_out:
                final_state, message = "TIMEOUT", f"Job run timed out after {run.Timeout} minutes"
            elif process.returncode == 0:
                final_state = "SUCCEEDED"
            else:
                message = _error_message(tail, process.returncode or 0)
        except _RunError as exc:
            message = str(exc)
            await errors.write(message)
        except asyncio.CancelledError:
            final_state, message = "STOPPED", None
            self._kill(run.Id)
            raise
        finally:
            if flusher is not None:
                flusher.cancel()
            self._processes.pop(run.Id, None)
            await output.flush()
            await errors.flush()
            run.ExecutionTime = int(round(time.monotonic() - started))
            run.ErrorMessage = message
            run.CompletedOn = _now()
            self._set_state(run, final_state)
            shutil.rmtree(work_dir, ignore_errors=True)
        if final_state == "FAILED" and run.Attempt < job.get("MaxRetries", 0) and run.JobName in self._jobs:
            self._start_job_run({"JobName": run.JobName, "Arguments": run.Arguments, "Timeout": run.Timeout},
                                attempt=run.Attempt + 1, previous=run)

    async def _fetch_script(self, job: dict[str, Any], work_dir: Path) -> Path:
        location = (job.get("Command") or {}).get("ScriptLocation", "")
        match = re.match(r"^s3://([^/]+)/(.+)$", location or "")
        if not match:
            raise _RunError(f"Command.ScriptLocation must be an s3:// URI, got {location!r}")
        bucket, key = match.groups()
        try:
            body = await asyncio.to_thread(lambda: self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:  # noqa: BLE001 - any fetch failure fails the run, as on AWS
            raise _RunError(f"Could not download script {location}: {exc}") from None
        script = work_dir / (Path(key).name or "script.py")
        script.write_bytes(body)
        return script

    def _command_arguments(self, job: dict[str, Any], run: JobRun) -> list[str]:
        merged = {**(job.get("DefaultArguments") or {}), **run.Arguments, **(job.get("NonOverridableArguments") or {})}
        args = ["--JOB_NAME", run.JobName, "--JOB_RUN_ID", run.Id]
        for key, value in merged.items():
            args += [key, value]
        return args

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and k not in ("PYSPARK_SUBMIT_ARGS",)}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            PYSPARK_PYTHON=self.python,
            PYSPARK_DRIVER_PYTHON=self.python,
            PYTHONUNBUFFERED="1",
            SPARK_LOCAL_IP="127.0.0.1",
        )
        return env

    def _set_state(self, run: JobRun, state: str) -> None:
        run.JobRunState = state
        run.LastModifiedOn = _now()

    def _kill(self, run_id: str) -> None:
        process = self._processes.get(run_id)
        if process is None or process.returncode is not None:
            return
        _kill_group(process.pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(KILL_GRACE_SECONDS, _kill_group, process.pid, signal.SIGKILL)

    # ------------------------------------------------------------ CloudWatch Logs
    async def ship_logs(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Append events to a CloudWatch Logs stream of the stack (groups and stream made on first use)."""
        await asyncio.to_thread(self._put_logs_blocking, group, stream, events)

    def _put_logs_blocking(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        logs = self._logs
        if not self._log_groups_ready:
            for name in (OUTPUT_LOG_GROUP, ERROR_LOG_GROUP):
                try:
                    logs.create_log_group(logGroupName=name)
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
            self._log_groups_ready = True
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


class _RunError(Exception):
    """A run failed before its script started (bad ScriptLocation, missing script)."""


class _LogStream:
    """Lines of one output of a run, shipped to CloudWatch Logs in batches."""

    def __init__(self, owner: GlueJobs, group: str, stream: str):
        self._owner = owner
        self._group = group
        self._stream = stream
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    async def pump(self, reader: asyncio.StreamReader | None, tail: collections.deque[str] | None) -> None:
        if reader is None:
            return
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            await self.write(line)

    async def write(self, line: str) -> None:
        if line:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line})
        if len(self._pending) >= 1000 or time.monotonic() - self._last_flush >= LOG_FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        events, self._pending = self._pending, []
        try:
            await self._owner.ship_logs(self._group, self._stream, events)
        except Exception as exc:  # noqa: BLE001 - losing log lines must not fail the run
            print(f"dsa local glue: could not write logs to {self._group}: {exc}", file=sys.stderr)


async def _flush_every(seconds: float, *streams: "_LogStream") -> None:
    """Ship what a quiet run printed, so its logs show up while it runs."""
    while True:
        await asyncio.sleep(seconds)
        for stream in streams:
            await stream.flush()


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _check_arguments(arguments: Any, field_name: str) -> None:
    if not isinstance(arguments, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in arguments.items()):
        raise ServiceError("InvalidInputException", f"{field_name} must map argument names to string values")


def _stop_error(name: str, run_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"JobName": name, "JobRunId": run_id, "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message}}


def _json_run(run: JobRun) -> dict[str, Any]:
    out = run.to_api()
    out.pop("PredecessorRuns", None)
    for key in ("StartedOn", "LastModifiedOn", "CompletedOn"):
        if isinstance(out.get(key), dt.datetime):
            out[key] = out[key].timestamp()
    return out


def _json_job(job: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(job)
    for key in ("CreatedOn", "LastModifiedOn"):
        out[key] = out[key].timestamp()
    return out
