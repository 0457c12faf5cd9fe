"""The local Glue jobs API: job definitions and job runs that really run their script on PySpark.

Served through the gateway in AWS's JSON protocol (awsJson1_1) with AWS's request and response
shapes: CreateJob, GetJob, GetJobs, UpdateJob, DeleteJob, ListJobs, StartJobRun, GetJobRun,
GetJobRuns, BatchStopJobRun. The Data Catalog part of Glue stays with moto.

A run downloads the job's ``Command.ScriptLocation`` from the local S3 and runs ``python script.py``
with Glue 5.0's own arguments first (see :func:`glue_argv`), then the job's (DefaultArguments,
overridden by the run's Arguments, overridden by NonOverridableArguments), in its own process
group. The job process gets the job role's credentials only: the runner calls STS AssumeRole for
the job's ``Role`` through the stack's endpoint and builds the child's environment from an
allow-list (:func:`job_environment`), so nothing of the operator's environment (``DSA_*``, the API
key, the operator's ``AWS_*``) reaches the job. An ``awsglue`` stand-in (``awsglue_stub/``) on the
job's ``PYTHONPATH`` gives scripts Glue's ``getResolvedOptions`` rules. Local PySpark 3.5 stands in
for Glue 5.0. Its stdout and stderr go to CloudWatch Logs
(``/aws-glue/jobs/output`` and ``/aws-glue/jobs/error``, stream = run id). The job's Timeout
(minutes, multiplied by ``time_scale``) ends a run in TIMEOUT; MaxConcurrentRuns is enforced;
BatchStopJobRun and :meth:`GlueJobs.close` kill the run's whole process group.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime as dt
import hashlib
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

__all__ = ["GlueJobs", "JobRun", "RoleSession", "OUTPUT_LOG_GROUP", "ERROR_LOG_GROUP", "RUN_STATES",
           "AWSGLUE_STUB_PATH", "glue_argv", "job_environment"]

OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
RUN_STATES = ("STARTING", "RUNNING", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT")
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING"})
DEFAULT_TIMEOUT_MINUTES = 2880  # AWS's default for Spark jobs
MAX_TIMEOUT_MINUTES = 10080  # 7 days
LOCAL_GLUE_VERSION = "5.0"  # what local PySpark 3.5 / Python 3.11 imitate
KILL_GRACE_SECONDS = 5.0
LOG_FLUSH_SECONDS = 1.0
AWSGLUE_STUB_PATH = Path(__file__).resolve().parent / "awsglue_stub"
# The session name AWS Glue uses when it assumes a job's role (what CloudTrail shows for job runs).
ROLE_SESSION_NAME = "GlueJobRunnerSession"
ROLE_SESSION_SECONDS = 3600  # AssumeRole's default; the local stack does not expire credentials
# What a job process may inherit from the stack's environment: what Python, Java and Spark need to
# start and nothing else. Everything else the runner sets itself (see job_environment).
INHERITED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "JAVA_HOME")

# Worker types by job command, as the CreateJob API reference states them ("Accepts a value of
# G.1X, G.2X, G.4X, G.8X or G.025X for Spark jobs. Accepts the value Z.2X for Ray jobs.", G.025X
# for streaming jobs only) and the worker types page adds (G.12X, G.16X and R.1X-R.8X for Spark).
# Python shell jobs take no worker type at all (they use MaxCapacity).
_SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")
WORKER_TYPES_BY_COMMAND: dict[str, tuple[str, ...]] = {
    "glueetl": _SPARK_WORKER_TYPES,
    "gluestreaming": ("G.025X",) + _SPARK_WORKER_TYPES,
    "glueray": ("Z.2X",),
    "pythonshell": (),
}

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
    # The access key id of the role session the run's process got (never the secret): the seam
    # for authorising the job's own calls with the job role's policies.
    role_access_key_id: str | None = field(default=None, repr=False)

    def to_api(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None and k not in _RUN_PRIVATE_FIELDS}
        out["PredecessorRuns"] = []
        return out

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "JobRun":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("StartedOn", "LastModifiedOn", "CompletedOn"):
            if isinstance(fields.get(name), (int, float)):
                fields[name] = dt.datetime.fromtimestamp(fields[name], dt.timezone.utc)
        return cls(**fields)


_RUN_PRIVATE_FIELDS = frozenset({"stop_requested", "role_access_key_id"})


@dataclass(frozen=True)
class RoleSession:
    """The job role's temporary credentials (STS AssumeRole) that one run's process gets."""

    role_arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


def glue_argv(job: dict[str, Any], run: JobRun, *, account_id: str, region: str) -> list[str]:
    """The arguments a Glue 5.0 Spark job's script gets, in Glue's order.

    Glue's own arguments come first: ``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME``,
    ``--job-bookmark-option`` (the job's, else ``job-bookmark-disable``, Glue's default) and
    ``--TempDir`` (the job's, else the console's default ``s3://aws-glue-assets-{account}-{region}/temporary/``),
    then the ``--enable-*`` flags the job's arguments set, then the job's other arguments.
    Sources: the AWS Glue developer guide, "Using job parameters in AWS Glue jobs"
    (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html: the
    special parameters, their defaults, and which argument overrides which) and "Accessing parameters
    using getResolvedOptions" (JOB_ID and JOB_RUN_ID are passed by Glue and reserved). Glue's own
    values win over a job argument of the same name.
    """
    merged = {**(job.get("DefaultArguments") or {}), **run.Arguments, **(job.get("NonOverridableArguments") or {})}
    own = {
        "--JOB_ID": _job_id(job, account_id=account_id, region=region),
        "--JOB_RUN_ID": run.Id,
        "--JOB_NAME": run.JobName,
        "--job-bookmark-option": merged.get("--job-bookmark-option") or "job-bookmark-disable",
        "--TempDir": merged.get("--TempDir") or f"s3://aws-glue-assets-{account_id}-{region}/temporary/",
    }
    flags = {k: v for k, v in merged.items() if k.startswith("--enable-")}
    rest = {k: v for k, v in merged.items() if k not in own and k not in flags}
    argv: list[str] = []
    for arguments in (own, flags, rest):
        for key, value in arguments.items():
            argv += [key, value]
    return argv


def _job_id(job: dict[str, Any], *, account_id: str, region: str) -> str:
    """Glue's internal job id (``j_`` and 64 hex digits), stable for one job definition."""
    created = job.get("CreatedOn")
    stamp = created.timestamp() if isinstance(created, dt.datetime) else created
    digest = hashlib.sha256(f"{account_id}:{region}:{job.get('Name')}:{stamp}".encode()).hexdigest()
    return "j_" + digest


def job_environment(session: RoleSession, *, endpoint_url: str, region: str, python: str,
                    home: Path) -> dict[str, str]:
    """A job process's whole environment: an allow-list of the stack's, the role session, the endpoint.

    Built from nothing rather than filtered, so a variable the operator adds later (a ``DSA_*``
    setting, an API key, their own ``AWS_*`` credentials or profile) never reaches a job. ``HOME``
    and the AWS config files point into the run's own directory, so the operator's ``~/.aws`` is
    not read either.
    """
    env = {k: os.environ[k] for k in INHERITED_ENVIRONMENT if k in os.environ}
    env.update(
        AWS_ACCESS_KEY_ID=session.access_key_id,
        AWS_SECRET_ACCESS_KEY=session.secret_access_key,
        AWS_SESSION_TOKEN=session.session_token,
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        HOME=str(home),
        PYTHONPATH=str(AWSGLUE_STUB_PATH),
        PYSPARK_PYTHON=python,
        PYSPARK_DRIVER_PYTHON=python,
        PYTHONUNBUFFERED="1",
        SPARK_LOCAL_IP="127.0.0.1",
    )
    return env


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
    scripts are fetched and logs written through it (signed with the run's role session, as Glue
    does them as the job's role), and runs receive it as ``AWS_ENDPOINT_URL``.
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
        client_config = self._client_config = Config(retries={"max_attempts": 2, "mode": "standard"})
        self._logs = session.client("logs", endpoint_url=endpoint_url, config=client_config)
        self._sts = session.client("sts", endpoint_url=endpoint_url, config=client_config)
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

    def role_access_key_id(self, job_name: str, run_id: str) -> str | None:
        """The access key id of the role session a run's process was given (None before it started).

        The seam for IAM evaluation: calls signed with this key are the job role's calls.
        """
        run = self._runs.get(job_name, {}).get(run_id)
        return run.role_access_key_id if run is not None else None

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
        _check_workers(job["Command"].get("Name"), job.get("WorkerType"), job.get("NumberOfWorkers"))
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
        if params.get("WorkerType") is not None or params.get("NumberOfWorkers") is not None:
            _check_workers(job["Command"].get("Name"), params.get("WorkerType") or job.get("WorkerType"),
                           params.get("NumberOfWorkers") or job.get("NumberOfWorkers"))
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
            session = await self._assume_role(job, run)
            # Glue reads the script and writes the run's logs as the job's role, as the role's
            # policy must allow (the seam for IAM evaluation: these calls carry the session's key).
            output.logs = errors.logs = self._role_client(session, "logs")
            script = await self._fetch_script(job, work_dir, self._role_client(session, "s3"))
            if run.stop_requested:
                final_state = "STOPPED"
                return
            argv = glue_argv(job, run, account_id=self.account_id, region=self.region)
            env = job_environment(session, endpoint_url=self.endpoint_url, region=self.region,
                                  python=self.python, home=work_dir)
            process = await asyncio.create_subprocess_exec(
                self.python, str(script), *argv,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=work_dir, env=env,
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

    async def _fetch_script(self, job: dict[str, Any], work_dir: Path, s3: Any) -> Path:
        location = (job.get("Command") or {}).get("ScriptLocation", "")
        match = re.match(r"^s3://([^/]+)/(.+)$", location or "")
        if not match:
            raise _RunError(f"Command.ScriptLocation must be an s3:// URI, got {location!r}")
        bucket, key = match.groups()
        if key.endswith("/"):
            raise _RunError(_folder_message(location))
        try:
            body = await asyncio.to_thread(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:  # noqa: BLE001 - any fetch failure fails the run, as on AWS
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise _RunError(f"Command.ScriptLocation {location}: the bucket does not exist") from None
            if code != "NoSuchKey":
                raise _RunError(f"Could not download script {location}: {exc}") from None
            if await asyncio.to_thread(_is_folder, s3, bucket, key):
                raise _RunError(_folder_message(location)) from None
            raise _RunError(f"Command.ScriptLocation {location}: the object does not exist") from None
        name = Path(key).name
        script = work_dir / (name if name not in (".", "..") else "script.py")
        script.write_bytes(body)
        return script

    def _role_client(self, session: RoleSession, service: str) -> Any:
        """A client of the stack signed with the role session's credentials."""
        credentials = boto3.session.Session(
            aws_access_key_id=session.access_key_id, aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token, region_name=self.region)
        return credentials.client(service, endpoint_url=self.endpoint_url, config=self._client_config)

    async def _assume_role(self, job: dict[str, Any], run: JobRun) -> RoleSession:
        """STS AssumeRole for the job's role, as Glue does before a run; records the session's key id."""
        role = job.get("Role") or ""
        role_arn = role if role.startswith("arn:") else f"arn:aws:iam::{self.account_id}:role/{role}"
        try:
            reply = await asyncio.to_thread(lambda: self._sts.assume_role(
                RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, DurationSeconds=ROLE_SESSION_SECONDS))
        except Exception as exc:  # noqa: BLE001 - a role Glue cannot assume fails the run, as on AWS
            raise _RunError(f"Could not assume role {role_arn}: {exc}") from None
        credentials = reply["Credentials"]
        run.role_access_key_id = credentials["AccessKeyId"]
        return RoleSession(role_arn=role_arn, access_key_id=credentials["AccessKeyId"],
                           secret_access_key=credentials["SecretAccessKey"],
                           session_token=credentials["SessionToken"])

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
    async def ship_logs(self, group: str, stream: str, events: list[dict[str, Any]], logs: Any = None) -> None:
        """Append events to a CloudWatch Logs stream of the stack (groups and stream made on first use).

        The groups are Glue's and made with the stack's own client; the stream and its events are
        written with ``logs`` (the run's role session) when given.
        """
        await asyncio.to_thread(self._put_logs_blocking, group, stream, events, logs or self._logs)

    def _put_logs_blocking(self, group: str, stream: str, events: list[dict[str, Any]], logs: Any) -> None:
        if not self._log_groups_ready:
            for name in (OUTPUT_LOG_GROUP, ERROR_LOG_GROUP):
                try:
                    self._logs.create_log_group(logGroupName=name)
                except self._logs.exceptions.ResourceAlreadyExistsException:
                    pass
            self._log_groups_ready = True
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


class _RunError(Exception):
    """A run failed before its script started (bad ScriptLocation, missing script)."""


def _folder_message(location: str) -> str:
    return (f"Command.ScriptLocation {location} names a folder: give the key of the script object, "
            f"such as {location.rstrip('/')}/job.py")


def _is_folder(s3: Any, bucket: str, key: str) -> bool:
    """Whether objects exist under ``key/`` (a ScriptLocation naming a folder without its slash)."""
    try:
        return s3.list_objects_v2(Bucket=bucket, Prefix=key + "/", MaxKeys=1).get("KeyCount", 0) > 0
    except Exception:  # noqa: BLE001 - a role that may not list the bucket gets "does not exist"
        return False


class _LogStream:
    """Lines of one output of a run, shipped to CloudWatch Logs in batches."""

    def __init__(self, owner: GlueJobs, group: str, stream: str):
        self._owner = owner
        self._group = group
        self._stream = stream
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self.logs: Any = None  # the run's role-session client once there is one, else the stack's

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
            await self._owner.ship_logs(self._group, self._stream, events, self.logs)
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


def _check_workers(command: Any, worker_type: Any, workers: Any) -> None:
    """WorkerType must suit the job's command, as CreateJob, UpdateJob and StartJobRun answer it."""
    allowed = WORKER_TYPES_BY_COMMAND.get(command) if isinstance(command, str) else None
    if allowed is None:
        raise ServiceError("InvalidInputException",
                           f"Command.Name must be one of {', '.join(WORKER_TYPES_BY_COMMAND)}, got {command!r}")
    if worker_type is None:
        if command == "glueray":  # AWS's own wording for this case
            raise ServiceError("InvalidInputException",
                               "Worker type cannot be null and only [Z.2X] worker types are supported for glueray jobs.")
        return
    if not allowed:  # AWS's own wording for this case
        raise ServiceError("InvalidInputException", f"Worker Type is not supported for Job Command {command}")
    if worker_type not in allowed:
        raise ServiceError("InvalidInputException",
                           f"WorkerType {worker_type} is not supported for Job Command {command}: "
                           f"use one of {', '.join(allowed)}")
    if isinstance(workers, int) and not isinstance(workers, bool) and workers < 2 and command != "glueray":
        # AWS's own wording (StartJobRun with one G.1X worker)
        raise ServiceError("InvalidInputException",
                           f"To use Worker Type {worker_type}, minimum allowed value of Number of Workers is 2.")


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
