"""Distributed Map: Map Runs and their child executions, as AWS's "Using Map state in Distributed mode" describes.

A Map state with ``ProcessorConfig.Mode: DISTRIBUTED`` starts a *Map Run*. Its items come from
Items/ItemsPath or an ItemReader (S3, see :mod:`.item_io`), each optionally reshaped by
ItemSelector and grouped by ItemBatcher; each item or batch runs as its own child execution
(STANDARD or EXPRESS, ``ExecutionType``) of the ItemProcessor, at most MaxConcurrency at a time
(changeable while running with UpdateMapRun). Failed children are counted against
ToleratedFailureCount/Percentage; past them the Map Run fails and the state fails with
``States.ExceedToleratedFailureThreshold``. Results come back as an array, or are written by
ResultWriter to S3 (manifest plus SUCCEEDED/FAILED/PENDING files).

Names and links follow AWS: the Map Run ARN is
``arn:aws:states:REGION:ACCOUNT:mapRun:PARENT_MACHINE/LABEL:MAP_RUN_ID``, the children run the
state machine ``PARENT_MACHINE/LABEL`` and each child execution has a generated name. The parent
history shows MapRunStarted and MapRunSucceeded / MapRunFailed / MapRunAborted. :class:`MapRuns`
holds every Map Run (the API operations ListMapRuns, DescribeMapRun and UpdateMapRun read it).

When the parent execution is redriven (``Execution.redrive``) and re-enters a Map state whose Map Run
failed or was aborted, that same Map Run is redriven (MapRunRedriven): its succeeded children are
kept, STANDARD children that did not succeed are redriven themselves, EXPRESS and never-started
ones start anew.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from sfn_runtime.distributed import item_io
from sfn_runtime.engine.clock import iso_timestamp, to_datetime
from sfn_runtime.engine.definition import StateMachineDefinition
from sfn_runtime.errors import StatesError
from sfn_runtime.engine.execution import Execution
from sfn_runtime.engine.machine import StateMachineRevision
from sfn_runtime.engine.runtime import Runtime
from sfn_runtime.authorization import AccessDenied, iam_machine_arn, partition_of
from sfn_runtime.expressions.jsonata_eval import NOTHING, compile_template
from sfn_runtime.expressions.jsonpath import compile_path
from sfn_runtime.expressions.payload import compile_payload

__all__ = ["MapRun", "MapRuns", "ChildRecord", "DistributedMapRunner", "AwsCalls", "batch_items"]


class AwsCalls(Protocol):
    """The boto3 clients Distributed Map reads items and writes results with (``integrations.clients.AwsClients``)."""

    def client(self, service: str) -> Any: ...
    async def run(self, call: Callable[[], Any]) -> Any: ...

# AWS: a Distributed Map runs at most 10,000 child executions at once (MaxConcurrency 0 = that).
DEFAULT_MAX_CONCURRENCY = 10_000
COUNT_KEYS = ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten")


@dataclass
class ChildRecord:
    """One child execution of a Map Run (or a pending one that never started)."""

    index: int
    input: Any
    items: int  # how many items the child carries (1 without ItemBatcher)
    name: str = ""
    arn: str = ""
    status: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start_date: float | None = None
    stop_date: float | None = None

    def result_entry(self, state_machine_arn: str) -> dict[str, Any]:
        """The child as ResultWriter files list it (DescribeExecution-like, dates as ISO text)."""
        entry: dict[str, Any] = {
            "ExecutionArn": self.arn,
            "Input": json.dumps(self.input, separators=(",", ":"), ensure_ascii=False),
            "InputDetails": {"Included": True},
            "Name": self.name,
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "StateMachineArn": state_machine_arn,
            "Status": self.status,
        }
        if self.start_date is not None:
            entry["StartDate"] = iso_timestamp(self.start_date)
        if self.stop_date is not None:
            entry["StopDate"] = iso_timestamp(self.stop_date)
        if self.status == "SUCCEEDED":
            entry["Output"] = json.dumps(self.output, separators=(",", ":"), ensure_ascii=False)
            entry["OutputDetails"] = {"Included": True}
        elif self.status != "PENDING":
            if self.error is not None:
                entry["Error"] = self.error
            if self.cause is not None:
                entry["Cause"] = self.cause
        return entry


@dataclass
class MapRun:
    """A Map Run: its settings, counters and children."""

    arn: str
    execution_arn: str
    state_machine_arn: str  # the parent's state machine
    child_state_machine_arn: str
    execution_type: str
    max_concurrency: int
    tolerated_failure_count: int
    tolerated_failure_percentage: float
    start_date: float = field(default_factory=time.time)
    stop_date: float | None = None
    status: str = "RUNNING"
    children: list[ChildRecord] = field(default_factory=list)
    total_items: int = 0
    count_given: bool = False
    percentage_given: bool = False
    items_written: int = 0
    children_written: int = 0
    failed_item_count: int = 0
    state_name: str = ""
    redrive_count: int = 0
    redrive_date: float | None = None
    concurrency_changed: asyncio.Event = field(default_factory=asyncio.Event)
    concurrency_cap: int = DEFAULT_MAX_CONCURRENCY  # MaxConcurrency above it (or 0) means it

    @property
    def run_id(self) -> str:
        return self.arn.rpartition(":")[2]

    def counts(self, by_items: bool) -> dict[str, int]:
        """itemCounts (``by_items``) or executionCounts, as DescribeMapRun reports them."""
        counts = dict.fromkeys(COUNT_KEYS, 0)
        for child in self.children:
            weight = child.items if by_items else 1
            key = "timedOut" if child.status == "TIMED_OUT" else child.status.lower()
            counts[key] += weight
            counts["total"] += weight
        counts["resultsWritten"] = self.items_written if by_items else self.children_written
        counts["failuresNotRedrivable"] = 0
        counts["pendingRedrive"] = 0
        return counts

    def child_ended(self, child: ChildRecord) -> None:
        """Count a child that has just ended (kept incrementally: checked after every child)."""
        if child.status in ("FAILED", "TIMED_OUT", "ABORTED"):
            self.failed_item_count += child.items

    def failed_items(self) -> int:
        return self.failed_item_count

    def exceeds_tolerance(self) -> bool:
        """True once failures pass ToleratedFailureCount or ToleratedFailurePercentage.

        With neither given any failure is too many; with one or both, exceeding either fails.
        """
        failed = self.failed_items()
        if not failed:
            return False
        if not self.count_given and not self.percentage_given:
            return True
        if self.count_given and failed > self.tolerated_failure_count:
            return True
        percentage = 100.0 * failed / max(1, self.total_items)
        return self.percentage_given and percentage > self.tolerated_failure_percentage

    def update(self, *, max_concurrency: int | None = None, tolerated_failure_count: int | None = None,
               tolerated_failure_percentage: float | None = None) -> None:
        """UpdateMapRun: change the settings of a running Map Run (MaxConcurrency 0 means the default)."""
        if max_concurrency is not None:
            self.max_concurrency = min(max_concurrency or self.concurrency_cap, self.concurrency_cap)
            self.concurrency_changed.set()
        if tolerated_failure_count is not None:
            self.tolerated_failure_count = tolerated_failure_count
            self.count_given = True
        if tolerated_failure_percentage is not None:
            self.tolerated_failure_percentage = float(tolerated_failure_percentage)
            self.percentage_given = True

    def describe(self) -> dict[str, Any]:
        """DescribeMapRun's answer."""
        answer: dict[str, Any] = {
            "mapRunArn": self.arn,
            "executionArn": self.execution_arn,
            "status": self.status,
            "startDate": to_datetime(self.start_date),
            "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": self.tolerated_failure_percentage,
            "toleratedFailureCount": self.tolerated_failure_count,
            "itemCounts": self.counts(by_items=True),
            "executionCounts": self.counts(by_items=False),
            "redriveCount": self.redrive_count,
        }
        if self.stop_date is not None:
            answer["stopDate"] = to_datetime(self.stop_date)
        if self.redrive_date is not None:
            answer["redriveDate"] = to_datetime(self.redrive_date)
        return answer

    def summary(self) -> dict[str, Any]:
        """One entry of ListMapRuns."""
        entry = {
            "executionArn": self.execution_arn,
            "mapRunArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "startDate": to_datetime(self.start_date),
        }
        if self.stop_date is not None:
            entry["stopDate"] = to_datetime(self.stop_date)
        return entry


class MapRuns:
    """Every Map Run of one runtime, by ARN and by parent execution."""

    def __init__(self) -> None:
        self._runs: dict[str, MapRun] = {}
        self._by_execution: dict[str, list[MapRun]] = {}

    def add(self, run: MapRun) -> None:
        self._runs[run.arn] = run
        self._by_execution.setdefault(run.execution_arn, []).append(run)

    def get(self, arn: str) -> MapRun | None:
        return self._runs.get(arn)

    def of_execution(self, execution_arn: str) -> list[MapRun]:
        """The Map Runs an execution started, oldest first."""
        return self._by_execution.get(execution_arn, [])

    def unsuccessful(self, execution_arn: str, state_name: str) -> MapRun | None:
        """The latest Map Run of ``state_name`` in the execution, if it failed or was aborted."""
        for run in reversed(self._by_execution.get(execution_arn, [])):
            if run.state_name == state_name:
                return run if run.status in ("FAILED", "ABORTED") else None
        return None


# ------------------------------------------------------------------ batching


def batch_items(items: list[Any], max_items: int | None, limit_bytes: int, batch_input: Any) -> list[dict[str, Any]]:
    """Group items as ItemBatcher does: each batch is ``{"Items": [...]}`` plus BatchInput if given.

    A batch closes when it holds MaxItemsPerBatch items or the next item would take its JSON
    size past MaxInputBytesPerBatch.
    """
    base = {"BatchInput": batch_input} if batch_input is not None else {}
    base_size = len(json.dumps({**base, "Items": []}, separators=(",", ":")).encode())
    batches: list[dict[str, Any]] = []
    current: list[Any] = []
    size = base_size
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()) + (1 if current else 0)
        if base_size + item_size > limit_bytes:
            raise StatesError(
                "States.Runtime", f"An item of {item_size} bytes does not fit in a batch of at most {limit_bytes} bytes"
            )
        if current and ((max_items and len(current) >= max_items) or size + item_size > limit_bytes):
            batches.append({**base, "Items": current})
            current, size = [], base_size
            item_size -= 1
        current.append(item)
        size += item_size
    if current:
        batches.append({**base, "Items": current})
    return batches


# ------------------------------------------------------------------- runner

@dataclass
class MapRunContext:
    """What a child execution needs from its Map Run and parent."""

    run: MapRun
    frame: Any  # the parent's frame
    machine: Any  # the children's StateMachineRevision (PARENT/LABEL running the ItemProcessor)


class _Fields:
    """Evaluates the Map state's ItemReader/ItemBatcher/ResultWriter fields in its query language."""

    def __init__(self, state: Any, raw: Any, data: Any, context: dict, variables: Any):
        self.state, self.raw, self.data, self.context, self.variables = state, raw, data, context, variables

    async def value(self, value: Any, where: str) -> Any:
        if self.state.jsonata:
            rendered = await compile_template(value, where=where).render_async({"input": self.raw, "context": self.context}, self.variables)
            return None if rendered is NOTHING else rendered
        return compile_payload(value, where=where).render(self.data, self.context, self.variables)

    async def number(self, block: dict, name: str, where: str) -> Any:
        """A field given literally, as ``namePath`` (JSONPath) or as a JSONata template."""
        if name + "Path" in block and not self.state.jsonata:
            value = compile_path(block[name + "Path"], where=f"{where}/{name}Path").read(self.data, self.context, self.variables)
        elif name in block:
            value = await self.value(block[name], f"{where}/{name}")
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise StatesError("States.Runtime", f"{where.strip('/')}.{name} must be a number >= 0, got {value!r}")
        return int(value)


class DistributedMapRunner:
    """Runs Distributed Map states: the runtime's Map Run runner (``Runtime.distributed_map``).

    ItemReader and ResultWriter call S3 through ``clients``, given once the service integrations
    are registered (:meth:`use_clients`).
    """

    def __init__(self, runtime: Runtime, map_runs: MapRuns, clients: AwsCalls | None = None):
        self.map_runs = map_runs
        self._clients = clients
        self._runtime = runtime
        self._region = runtime.region
        self._account_id = runtime.account_id
        self._machines: dict[str, Any] = {}  # Map Run ARN -> the children's state machine revision

    def use_clients(self, clients: AwsCalls) -> None:
        """Read items and write results with ``clients`` (the service integrations' boto3 clients)."""
        self._clients = clients

    async def __call__(self, state: Any, raw: Any, data: Any, context: dict, frame: Any) -> Any:
        variables = frame.variables
        fields = _Fields(state, raw, data, context, variables)
        spec = state.spec
        if self._clients is None and ("ItemReader" in spec or "ResultWriter" in spec):
            raise StatesError("States.Runtime", "ItemReader and ResultWriter need the service integrations (AWS clients)")
        previous = self._run_to_redrive(state, frame)
        if previous is not None:
            return await self._redrive(previous, spec, fields, frame)
        items = await self._read_items(state, spec, fields, raw, data, context, variables, execution=frame.execution)
        inputs = [await state.item_input(raw, data, context, variables, i, item) for i, item in enumerate(items)]
        batcher = spec.get("ItemBatcher")
        quotas = self._runtime.quotas
        if batcher is not None:
            max_items = await fields.number(batcher, "MaxItemsPerBatch", "/ItemBatcher")
            max_bytes = await fields.number(batcher, "MaxInputBytesPerBatch", "/ItemBatcher")
            if max_bytes is not None and max_bytes > quotas.max_batch_bytes:
                raise StatesError("States.Runtime",
                                  f"ItemBatcher.MaxInputBytesPerBatch must be at most {quotas.max_batch_bytes}, got {max_bytes}")
            batch_input = await fields.value(batcher["BatchInput"], "/ItemBatcher/BatchInput") if "BatchInput" in batcher else None
            batches = batch_items(inputs, max_items, max_bytes or quotas.max_batch_bytes, batch_input)
            records = [ChildRecord(i, b, len(b["Items"])) for i, b in enumerate(batches)]
        else:
            for index, value in enumerate(inputs):  # each becomes a child execution's input
                frame.check_payload(value, state.name, f"made a child execution input for item {index}")
            records = [ChildRecord(i, value, 1) for i, value in enumerate(inputs)]
        self._authorize(frame.execution, "states:StartExecution", iam_machine_arn(frame.execution.machine.arn))
        run = await self._new_run(state, frame, context, data, raw, variables, len(inputs))
        run.children = records
        frame.record("MapRunStarted", {"mapRunArn": run.arn})
        run_context = MapRunContext(run, frame, self._child_machine(run, state, frame))
        return await self._complete(run_context, records, spec, fields)

    def _run_to_redrive(self, state: Any, frame: Any) -> MapRun | None:
        """The failed Map Run this state should redrive: only when its execution is being redriven."""
        execution = frame.execution
        previous = self.map_runs.unsuccessful(execution.arn, state.name)
        if previous is None or execution.redrive_count <= previous.redrive_count:
            return None
        return previous

    async def _redrive(self, run: MapRun, spec: dict, fields: _Fields, frame: Any) -> Any:
        """Run the Map Run's unsuccessful children again; keep what succeeded."""
        for child in run.children:
            if child.status != "SUCCEEDED" and child.arn and run.execution_type == "STANDARD":
                self._authorize(frame.execution, "states:RedriveExecution", child.arn)
        run.redrive_count = frame.execution.redrive_count
        run.redrive_date = time.time()
        run.status, run.stop_date = "RUNNING", None
        run.failed_item_count = 0
        run.items_written = run.children_written = 0
        redo = [c for c in run.children if c.status != "SUCCEEDED"]
        frame.record("MapRunRedriven", {"mapRunArn": run.arn, "redriveCount": run.redrive_count})
        run_context = MapRunContext(run, frame, self._machines[run.arn])
        return await self._complete(run_context, redo, spec, fields)

    async def _complete(self, run_context: MapRunContext, records: list[ChildRecord], spec: dict, fields: _Fields) -> Any:
        """Run ``records`` as children, then settle the Map Run: results, tolerance, history."""
        run, frame = run_context.run, run_context.frame
        self._machines[run.arn] = run_context.machine
        writer = spec.get("ResultWriter")
        try:
            await self._run_children(run_context, records)
        except asyncio.CancelledError:
            run.status, run.stop_date = "ABORTED", time.time()
            frame.record("MapRunAborted")
            raise
        failed = run.exceeds_tolerance()
        result: Any = None
        try:
            if writer is not None:
                result = await self._write_results(run, writer, fields, execution=frame.execution)
        except StatesError as err:
            run.status, run.stop_date = "FAILED", time.time()
            frame.record("MapRunFailed", {"error": err.error, "cause": err.cause})
            raise
        if failed:
            run.status, run.stop_date = "FAILED", time.time()
            cause = "The specified tolerated failure threshold was exceeded"
            frame.record("MapRunFailed", {"error": "States.ExceedToleratedFailureThreshold", "cause": cause})
            raise StatesError("States.ExceedToleratedFailureThreshold", cause)
        run.status, run.stop_date = "SUCCEEDED", time.time()
        frame.record("MapRunSucceeded")
        if result is not None:
            return result
        return [c.output if c.status == "SUCCEEDED" else _failed_entry(c, run) for c in run.children]

    # ----------------------------------------------------------- the run
    def _label(self, state: Any) -> str:
        return state.label or state.name

    async def _new_run(self, state: Any, frame: Any, context: dict, data: Any, raw: Any, variables: Any, total: int) -> MapRun:
        execution = frame.execution
        machine_arn = execution.machine.arn
        machine_name = machine_arn.rpartition(":")[2]
        label = self._label(state)
        run_id = str(uuid.uuid4())
        partition = machine_arn.split(":")[1] if machine_arn.startswith("arn:") else "aws"
        prefix = f"arn:{partition}:states:{self._region}:{self._account_id}"
        limit = await state.max_concurrency.resolve(data, raw, context, variables) if state.max_concurrency else 0
        cap = self._runtime.quotas.max_map_run_concurrency  # AWS: 10,000 children at once at most
        count = await state.tolerated_failure_count.resolve(data, raw, context, variables) if state.tolerated_failure_count else None
        percentage = (
            await state.tolerated_failure_percentage.resolve(data, raw, context, variables)
            if state.tolerated_failure_percentage
            else None
        )
        if percentage is not None and not 0 <= percentage <= 100:
            raise StatesError("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
        run = MapRun(
            arn=f"{prefix}:mapRun:{machine_name}/{label}:{run_id}",
            execution_arn=execution.arn,
            state_machine_arn=machine_arn,
            child_state_machine_arn=f"{prefix}:stateMachine:{machine_name}/{label}",
            execution_type=state.execution_type or "STANDARD",
            max_concurrency=min(int(limit) or cap, cap),
            concurrency_cap=cap,
            tolerated_failure_count=int(count or 0),
            tolerated_failure_percentage=float(percentage or 0.0),
            total_items=total,
            state_name=state.name,
            count_given=count is not None,
            percentage_given=percentage is not None,
        )
        self.map_runs.add(run)
        return run

    async def _run_children(self, ctx: MapRunContext, records: list[ChildRecord]) -> None:
        """Start children in order, never more than MaxConcurrency at once; stop early past tolerance."""
        run = ctx.run
        running: set[asyncio.Task] = set()
        free = asyncio.Event()
        stop = False

        def done(task: asyncio.Task) -> None:
            nonlocal stop
            running.discard(task)
            free.set()
            if run.exceeds_tolerance():
                stop = True

        try:
            for record in records:
                while len(running) >= run.max_concurrency and not stop:
                    free.clear()
                    run.concurrency_changed.clear()
                    waiters = {asyncio.ensure_future(free.wait()), asyncio.ensure_future(run.concurrency_changed.wait())}
                    _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in pending:
                        waiter.cancel()
                if stop:
                    break
                task = asyncio.ensure_future(self._run_child(ctx, record))
                running.add(task)
                task.add_done_callback(done)
                if len(running) % 64 == 0:
                    await asyncio.sleep(0)  # let children and API calls run while many are started
            while running and not stop:
                free.clear()
                await free.wait()
        except asyncio.CancelledError:
            await _cancel_all(running)
            raise
        if running:  # past the tolerated failures: abort the rest, as AWS does
            await _cancel_all(running)

    def _child_machine(self, run: MapRun, state: Any, frame: Any) -> Any:
        """The state machine the children run: the ItemProcessor, named PARENT/LABEL.

        Its definition text is the ItemProcessor as a standalone definition (without
        ProcessorConfig), so a snapshot of the service can parse it again.
        """
        parent = frame.execution.machine
        processor = state.processor
        spec = {k: v for k, v in state.spec.get("ItemProcessor", {}).items() if k != "ProcessorConfig"}
        spec.setdefault("QueryLanguage", state.flow.language)
        definition = StateMachineDefinition(
            graph=processor, query_language=spec["QueryLanguage"], timeout_seconds=None, comment=None, raw=spec
        )
        now = time.time()
        return StateMachineRevision(
            run.child_state_machine_arn, run.child_state_machine_arn.rpartition(":")[2], run.execution_type,
            parent.role_arn, json.dumps(spec), definition, now, now, run.run_id,
        )

    async def _run_child(self, ctx: MapRunContext, record: ChildRecord) -> None:
        """Run one child execution in this loop and record how it ended."""
        run = ctx.run
        express = run.execution_type == "EXPRESS"
        earlier = self._runtime.executions.get(record.arn) if record.arn and not express else None
        if earlier is not None and earlier.redrive_blocker() is None:
            # A STANDARD child is redriven itself (same ARN, from its failed state), as AWS does.
            record.status = "RUNNING"
            earlier.redrive()
            await self._await_child(run, record, earlier)
            return
        name = str(uuid.uuid4())
        machine_name = ctx.machine.name
        if express:
            arn = f"{run.arn.split(':mapRun:')[0]}:express:{machine_name}:{name}:{uuid.uuid4()}"
        else:
            arn = f"{run.arn.split(':mapRun:')[0]}:execution:{machine_name}:{name}"
        text = json.dumps(record.input, separators=(",", ":"), ensure_ascii=False)
        execution = Execution(
            self._runtime, ctx.machine, arn, name, record.input, text,
            express=express, map_run_arn=run.arn, parent_arn=ctx.frame.execution.arn,
        )
        if not express:
            self._runtime.executions[arn] = execution
        record.name, record.arn, record.status, record.start_date = name, arn, "RUNNING", execution.start_time
        execution.start()
        await self._await_child(run, record, execution)

    async def _await_child(self, run: MapRun, record: ChildRecord, execution: Any) -> None:
        """Wait for a child to end (stopping it if the Map Run is aborted) and record the outcome."""
        try:
            await execution.done.wait()
        except asyncio.CancelledError:
            execution.stop("States.Runtime", f"The Map Run {run.arn} was aborted")
            if execution.task is not None:
                await asyncio.gather(execution.task, return_exceptions=True)
            _settle(record, execution)
            run.child_ended(record)
            raise
        _settle(record, execution)
        run.child_ended(record)

    def _authorize(self, execution: Any, action: str, resource: str, error: str = "States.Runtime") -> None:
        """Check one call of the Map Run against the execution's role; fail the state with ``error`` if denied.

        ItemReader and ResultWriter denials fail with States.ItemReaderFailed / States.ResultWriterFailed
        (developer guide, "Error handling" of the Distributed Map); for child starts and redrives AWS
        documents the permissions (states:StartExecution on the state machine, states:RedriveExecution
        on the children) but not the error, so States.Runtime is inferred.
        """
        if execution is None:
            return
        try:
            self._runtime.permissions.check(execution, action, resource)
        except AccessDenied as denied:
            suffix = " (Service: S3, Status Code: 403, Error Code: AccessDenied)" if action.startswith("s3:") else ""
            raise StatesError(error, denied.message + suffix) from None

    def _s3_arn(self, execution: Any, bucket: str, key: str | None = None) -> str:
        partition = partition_of(execution.arn) if execution is not None else "aws"
        return f"arn:{partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")

    async def _read_items(self, state: Any, spec: dict, fields: _Fields, raw: Any, data: Any, context: dict,
                          variables: Any, *, execution: Any = None) -> list:
        reader = spec.get("ItemReader")
        if reader is None:
            return await state.read_items(raw, data, context, variables)
        resource = reader.get("Resource", "")
        arguments_key = "Arguments" if state.jsonata else "Parameters"
        arguments = await fields.value(reader.get(arguments_key) or {}, f"/ItemReader/{arguments_key}") or {}
        config_spec = dict(reader.get("ReaderConfig") or {})
        max_items = await fields.number(config_spec, "MaxItems", "/ItemReader/ReaderConfig")
        config_spec.pop("MaxItemsPath", None)
        if max_items is not None:
            config_spec["MaxItems"] = max_items
        elif "MaxItems" in config_spec:
            del config_spec["MaxItems"]
        if resource == "arn:aws:states:::s3:listObjectsV2":
            config = item_io.parse_reader_config(config_spec, needs_type=False)
            if isinstance(arguments.get("Bucket"), str):
                self._authorize(execution, "s3:ListBucket", self._s3_arn(execution, arguments["Bucket"]),
                                "States.ItemReaderFailed")
            return await self._list_objects(arguments, config)
        if resource == "arn:aws:states:::s3:getObject":
            config = item_io.parse_reader_config(config_spec, needs_type=True)
            return await self._get_object_items(arguments, config, execution)
        raise StatesError("States.ItemReaderFailed", f"ItemReader.Resource {resource!r} is not supported")

    async def _get_bytes(self, bucket: str, key: str, version: str | None = None) -> bytes:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version

        def fetch() -> bytes:
            return self._clients.client("s3").get_object(**params)["Body"].read()

        try:
            return await self._clients.run(fetch)
        except Exception as exc:  # botocore ClientError and connection errors alike
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)
            raise StatesError("States.ItemReaderFailed", f"could not read s3://{bucket}/{key}: {code}") from None

    async def _get_object_items(self, arguments: dict, config: item_io.ReaderConfig, execution: Any = None) -> list:
        bucket, key = arguments.get("Bucket"), arguments.get("Key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise StatesError("States.ItemReaderFailed", "ItemReader Parameters/Arguments need Bucket and Key")
        self._authorize(execution, "s3:GetObject", self._s3_arn(execution, bucket, key), "States.ItemReaderFailed")
        data = await self._get_bytes(bucket, key, arguments.get("VersionId"))
        where = f"s3://{bucket}/{key}"
        if config.input_type != "MANIFEST":
            return item_io.items_from_object(data, config, where, self._runtime.quotas.max_csv_header_bytes)
        inventory_bucket, files, columns = item_io.manifest_files(data, where)
        items: list = []
        for file_key in files:
            if config.max_items is not None and len(items) >= config.max_items:
                break
            source = inventory_bucket or bucket
            self._authorize(execution, "s3:GetObject", self._s3_arn(execution, source, file_key), "States.ItemReaderFailed")
            content = await self._get_bytes(source, file_key)
            items.extend(item_io.items_from_inventory_file(content, columns, f"s3://{inventory_bucket}/{file_key}"))
        return items[: config.max_items] if config.max_items is not None else items

    async def _list_objects(self, arguments: dict, config: item_io.ReaderConfig) -> list:
        if not isinstance(arguments.get("Bucket"), str):
            raise StatesError("States.ItemReaderFailed", "ItemReader Parameters/Arguments need Bucket")
        params = {k: v for k, v in arguments.items() if k in ("Bucket", "Prefix", "Delimiter", "StartAfter", "RequestPayer")}

        def listing() -> list:
            objects: list = []
            paginator = self._clients.client("s3").get_paginator("list_objects_v2")
            for page in paginator.paginate(**params):
                objects.extend(page.get("Contents", []))
                if config.max_items is not None and len(objects) >= config.max_items:
                    break
            return objects

        try:
            objects = await self._clients.run(listing)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)
            raise StatesError("States.ItemReaderFailed", f"could not list s3://{params['Bucket']}: {code}") from None
        return item_io.items_from_listing(objects, config.max_items)

    async def _write_results(self, run: MapRun, writer: dict, fields: _Fields, *, execution: Any = None) -> Any:
        config = item_io.parse_writer_config(writer.get("WriterConfig"))
        records = {status: [] for status in ("SUCCEEDED", "FAILED", "PENDING")}
        for child in run.children:
            group = "SUCCEEDED" if child.status == "SUCCEEDED" else "PENDING" if child.status == "PENDING" else "FAILED"
            records[group].append(child.result_entry(run.child_state_machine_arn))
        if "Resource" not in writer:  # WriterConfig alone: shape the state output, write nothing
            if "WriterConfig" not in writer:
                raise StatesError("States.ResultWriterFailed", "ResultWriter needs Resource and Parameters, WriterConfig, or all three")
            ordered = [c.result_entry(run.child_state_machine_arn) for c in run.children]
            return item_io.transform_results(ordered, config.transformation)
        if writer.get("Resource") != "arn:aws:states:::s3:putObject":
            raise StatesError("States.ResultWriterFailed", "ResultWriter.Resource must be arn:aws:states:::s3:putObject")
        key = "Arguments" if fields.state.jsonata else "Parameters"
        target = await fields.value(writer.get(key) or {}, f"/ResultWriter/{key}") or {}
        bucket = target.get("Bucket")
        if not isinstance(bucket, str) or not bucket:
            raise StatesError("States.ResultWriterFailed", f"ResultWriter.{key}.Bucket is required")
        prefix = str(target.get("Prefix") or "").strip("/")
        base = f"{prefix}/{run.run_id}" if prefix else run.run_id
        if "WriterConfig" not in writer:
            config = item_io.WriterConfig("JSON", "NONE")
        extension = "json" if config.output_type == "JSON" else "jsonl"
        manifest_files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        uploads: list[tuple[str, bytes]] = []
        for status, entries in records.items():
            if not entries:
                continue
            body = item_io.render_result_file(entries, config)
            file_key = f"{base}/{status}_0.{extension}"
            uploads.append((file_key, body))
            manifest_files[status].append({"Key": file_key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": manifest_files}
        uploads.append((f"{base}/manifest.json", json.dumps(manifest, separators=(",", ":")).encode()))
        for file_key, _ in uploads:
            self._authorize(execution, "s3:PutObject", self._s3_arn(execution, bucket, file_key), "States.ResultWriterFailed")

        def put_all() -> None:
            s3 = self._clients.client("s3")
            for file_key, body in uploads:
                s3.put_object(Bucket=bucket, Key=file_key, Body=body)

        try:
            await self._clients.run(put_all)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)
            raise StatesError("States.ResultWriterFailed", f"could not write results to s3://{bucket}/{base}: {code}") from None
        run.items_written = sum(c.items for c in run.children if c.status != "PENDING")
        run.children_written = sum(1 for c in run.children if c.status != "PENDING")
        return {"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}


def _settle(record: ChildRecord, execution: Any) -> None:
    record.status = execution.status
    record.output = execution.output
    record.error, record.cause = execution.error, execution.cause
    record.stop_date = execution.stop_time


def _failed_entry(child: ChildRecord, run: MapRun) -> Any:
    return child.result_entry(run.child_state_machine_arn)


async def _cancel_all(tasks: set[asyncio.Task]) -> None:
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.gather(*list(tasks), return_exceptions=True)
