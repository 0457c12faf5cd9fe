"""The pipeline's contract in one place: where data lives in S3, the output's columns, the task record.

Every part of the pipeline agrees on these names: the page-fetch workflow writes parts at
:func:`part_key` (under the run that fetched them), the extraction workflow records each
location's last complete extraction at :func:`coverage_key` and its last failure at
:func:`failure_key`, the Glue job reads exactly the parts coverage lists and writes each
consolidation under :func:`run_output_prefix` with a pointer at :func:`latest_key`, the
aggregator records each run as a :class:`TaskRecord` in the tasks table, and the toolkit reads
all of it back. The ``asl/`` templates and the standalone Glue script (which runs on AWS Glue
without this package) keep their own copies of the names; ``tests/test_layout.py`` holds them to
this module. See docs/design.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from toolkit.errors import ToolkitError

__all__ = [
    "PARTS_PREFIX", "CONSOLIDATED_PREFIX", "RUN_FILES_PREFIX", "LATEST_PREFIX", "COVERAGE_PREFIX", "QUARANTINE_PREFIX",
    "ARCHIVE_PREFIX", "MAP_RUNS_PREFIX", "SCRIPTS_PREFIX", "SCRIPT_KEY",
    "MANIFEST_NAME", "SUMMARY_NAME", "CSV_NAME", "PARQUET_NAME",
    "part_key", "parts_prefix", "run_parts_prefix", "coverage_prefix", "coverage_key", "failure_key",
    "coverage_part_keys", "output_prefix", "run_output_prefix", "run_files_prefix", "manifest_key", "summary_key", "csv_key",
    "parquet_key", "latest_key", "quarantine_key", "archive_key", "map_runs_prefix",
    "OUTPUT_COLUMNS", "KEY_COLUMNS", "LIST_COLUMNS", "PARTITION_COLUMNS", "OutputColumn", "DATA_DICTIONARY",
    "TASK_STATUSES", "ACTIVE_TASK_STATUSES", "TaskRecordError", "TaskRecord",
]

# ----------------------------------------------------------------------------- S3 keys

PARTS_PREFIX = "parts/"              # work bucket: JSON files of consecutive pages (parts), per run
COVERAGE_PREFIX = "coverage/"        # work bucket: each location's last complete extraction and last failure
CONSOLIDATED_PREFIX = "consolidated/"  # output bucket: the Parquet table (Hive style, task_id= / run_id=), Parquet only
RUN_FILES_PREFIX = "runs/"           # output bucket: each run's CSV, manifest and summary, beside the table
LATEST_PREFIX = "latest/"            # output bucket: a pointer to each task's latest consolidation
QUARANTINE_PREFIX = "quarantine/"    # work bucket: copies of parts the Glue job could not read
ARCHIVE_PREFIX = "archive/"          # work bucket: parts moved aside by --parts_action archive
MAP_RUNS_PREFIX = "map-runs/"        # work bucket: the aggregator's Distributed Map ResultWriter
SCRIPTS_PREFIX = "scripts/"          # work bucket: the Glue job's script
SCRIPT_KEY = f"{SCRIPTS_PREFIX}consolidate.py"
CSV_NAME = "data.csv"
PARQUET_NAME = "data.parquet"
MANIFEST_NAME = "manifest.json"
# The manifest's fixed-size fields: all the aggregator reads back (the manifest grows with the task).
SUMMARY_NAME = "summary.json"


def parts_prefix(task_id: str) -> str:
    """Where the parts of one task live in the work bucket (every run's)."""
    return f"{PARTS_PREFIX}{task_id}/"


def run_parts_prefix(task_id: str, run_id: str) -> str:
    """Where the parts one run (and its redrives) fetched for a task live."""
    return f"{parts_prefix(task_id)}{run_id}/"


def part_key(task_id: str, run_id: str, location_id: str, data_type: str, offset: int) -> str:
    """The key of one part (consecutive pages of one data type of one location, starting at
    ``offset``), as fetched by one run.

    Deterministic within a run, so a redrive overwrites the parts it writes again; a later run
    writes beside it, so a rerun that fails never spoils the parts of a complete extraction.
    """
    return f"{run_parts_prefix(task_id, run_id)}{location_id}/{data_type}/{offset}.json"


def coverage_prefix(task_id: str) -> str:
    """Where the coverage of one task lives in the work bucket."""
    return f"{COVERAGE_PREFIX}{task_id}/"


def coverage_key(task_id: str, location_id: str) -> str:
    """A location's last complete extraction: run, time, page size; pages, rows and parts per data type."""
    return f"{coverage_prefix(task_id)}complete/{location_id}.json"


def failure_key(task_id: str, location_id: str) -> str:
    """A location's last failed extraction: run, time, error and cause."""
    return f"{coverage_prefix(task_id)}failed/{location_id}.json"


def coverage_part_keys(coverage: dict[str, Any]) -> list[str]:
    """The exact part keys a complete extraction wrote, derived from its coverage manifest.

    A part holds consecutive pages of one data type: part ``i`` holds ``part_pages[i]`` of them and
    starts at ``page_limit`` times the pages of the parts before it. A manifest without
    ``part_pages`` (written before parts gathered pages) has one part per page.
    """
    limit = int(coverage["page_limit"])
    keys = []
    for entry in coverage["data_types"]:
        first = 0
        for pages in entry.get("part_pages", [1] * int(entry["pages"])):
            keys.append(part_key(coverage["task_id"], coverage["run_id"], coverage["location_id"], entry["data_type"],
                                 first * limit))
            first += int(pages)
    return keys


def output_prefix(task_id: str) -> str:
    """Where every consolidation of one task lives in the output bucket (Hive style: ``task_id=``)."""
    return f"{CONSOLIDATED_PREFIX}task_id={task_id}/"


def run_output_prefix(task_id: str, run_id: str) -> str:
    """One run's partition of the Parquet table: its Parquet file and nothing else.

    Athena and the Data Catalog's readers read every object under a partition's location, so the
    run's CSV, manifest and summary live under :func:`run_files_prefix` instead.
    """
    return f"{output_prefix(task_id)}run_id={run_id}/"


def run_files_prefix(task_id: str, run_id: str) -> str:
    """Where one run's CSV, manifest and summary live, outside the Parquet table."""
    return f"{RUN_FILES_PREFIX}task_id={task_id}/run_id={run_id}/"


def manifest_key(task_id: str, run_id: str) -> str:
    return f"{run_files_prefix(task_id, run_id)}{MANIFEST_NAME}"


def summary_key(task_id: str, run_id: str) -> str:
    return f"{run_files_prefix(task_id, run_id)}{SUMMARY_NAME}"


def csv_key(task_id: str, run_id: str) -> str:
    return f"{run_files_prefix(task_id, run_id)}{CSV_NAME}"


def parquet_key(task_id: str, run_id: str) -> str:
    return f"{run_output_prefix(task_id, run_id)}{PARQUET_NAME}"


def latest_key(task_id: str) -> str:
    """The pointer to a task's latest consolidation (run_id, created_at, rows, URIs), outside the tree."""
    return f"{LATEST_PREFIX}{task_id}.json"


def quarantine_key(part: str) -> str:
    """Where the Glue job copies an unreadable part (``part`` is the part's own key)."""
    return f"{QUARANTINE_PREFIX}{part[len(PARTS_PREFIX):]}"


def archive_key(part: str) -> str:
    """Where ``--parts_action archive`` moves a part."""
    return f"{ARCHIVE_PREFIX}{part}"


def map_runs_prefix(task_id: str) -> str:
    """The aggregator's ResultWriter prefix for one task's Map Runs."""
    return f"{MAP_RUNS_PREFIX}{task_id}"


# ----------------------------------------------------------------------------- output rows

# run_id: the consolidation that wrote the row; extracted_at: when its location's data was read
# (ISO-8601, UTC). error_messages is a list of strings in Parquet and a JSON array in the CSV.
OUTPUT_COLUMNS = ("discount_code", "error_messages", "status", "location_id", "data_type", "task_id",
                  "run_id", "extracted_at")
KEY_COLUMNS = ("location_id", "data_type", "discount_code")  # one output row per key
LIST_COLUMNS = ("error_messages",)
PARTITION_COLUMNS = ("task_id", "run_id")  # the catalog table's partition keys (Hive folders of the table)


@dataclass(frozen=True)
class OutputColumn:
    """One column of the output, as the data dictionary states it (README, catalog column comments)."""

    name: str
    type: str      # as the Parquet file and the Glue Data Catalog hold it (Hive type names)
    meaning: str


# The data dictionary: the output's columns in OUTPUT_COLUMNS' order (tests/test_layout.py holds
# it to them and the README's table to it).
DATA_DICTIONARY = (
    OutputColumn("discount_code", "string", "The record's key at the third-party API (its resourceKey)."),
    OutputColumn("error_messages", "array<string>",
                 "The record's error messages as the API returned them, in order; a message may hold "
                 "newlines. The CSV holds them as one JSON array."),
    OutputColumn("status", "string", "The record's state at the API (failed or rejected)."),
    OutputColumn("location_id", "string", "The location the record was read from."),
    OutputColumn("data_type", "string", "The data type queried at the API (failed or rejected)."),
    OutputColumn("task_id", "string", "The task the output belongs to (a partition key in the catalog)."),
    OutputColumn("run_id", "string", "The run whose consolidation wrote the row (a partition key in the catalog)."),
    OutputColumn("extracted_at", "string",
                 "When the location's data was read: its last complete extraction (ISO-8601, UTC)."),
)


# ----------------------------------------------------------------------------- tasks table

TASK_STATUSES = ("RUNNING", "CONSOLIDATING", "SUCCEEDED", "PARTIAL", "FAILED")
ACTIVE_TASK_STATUSES = ("RUNNING", "CONSOLIDATING")


class TaskRecordError(ToolkitError):
    """An item of the tasks table is not a task record."""


@dataclass(frozen=True)
class TaskRecord:
    """One run of a task, as the aggregator records it in the tasks table (key: task_id, created_at).

    The aggregator writes task_id, created_at, status, execution_arn and rerun_locations when it
    starts; locations_total and locations_failed before consolidating; rows, output_uri,
    locations_missing, finished_at and map_run_results (where the Map Run's ResultWriter put its results: the lost
    locations are read from there, never carried through the workflow) at the end, or error on
    failure. A redrive adds
    redriven_locations, redrive_count and redriven_at (toolkit.runs.redrive).
    """

    task_id: str
    created_at: str
    status: str
    execution_arn: str | None = None
    locations_total: int | None = None
    locations_failed: int | None = None
    locations_missing: int | None = None  # enabled locations without complete data when consolidated
    rows: int | None = None
    output_uri: str | None = None
    finished_at: str | None = None
    error: str | None = None
    map_run_results: str | None = None  # s3://bucket/key of the Map Run's ResultWriter manifest
    rerun_locations: list[str] = field(default_factory=list)              # stored as a string set
    redriven_locations: list[str] = field(default_factory=list)           # stored as a string set
    redrive_count: int = 0
    redriven_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the record says the run is still going (RUNNING or CONSOLIDATING)."""
        return self.status in ACTIVE_TASK_STATUSES

    def key(self) -> dict[str, dict[str, str]]:
        """The record's primary key as DynamoDB wants it."""
        return {"task_id": {"S": self.task_id}, "created_at": {"S": self.created_at}}

    def as_dict(self) -> dict[str, Any]:
        """The record as plain values (one row of ``runs.list_tasks``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "TaskRecord":
        """A record from a DynamoDB item (typed, as the low-level client returns it).

        Attributes this toolkit does not know are ignored, so a newer workflow can add some.
        """
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        plain = {name: deserializer.deserialize(value) for name, value in item.items()}
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name not in plain:
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                    raise TaskRecordError(f"{spec.name}: missing from a tasks table item ({_describe(plain)})")
                continue
            values[spec.name] = _field_value(spec.name, plain[spec.name])
        return cls(**values)

    def to_item(self) -> dict[str, Any]:
        """The record as a DynamoDB item (typed); unset fields are left out."""
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        item: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None or value == [] or (spec.name == "redrive_count" and value == 0):
                continue  # unset: the aggregator leaves such attributes out too
            if spec.name in _STRING_SETS:
                value = set(value)
            item[spec.name] = serializer.serialize(value)
        return item


_INTEGERS = ("locations_total", "locations_failed", "locations_missing", "rows", "redrive_count")
_STRING_SETS = ("rerun_locations", "redriven_locations")


def _field_value(name: str, value: Any) -> Any:
    """One attribute's value as the TaskRecord field holds it."""
    if name in _INTEGERS:
        if not isinstance(value, Decimal) or value != int(value):
            raise TaskRecordError(f"{name}: must be a whole number, got {value!r}")
        return int(value)
    if name in _STRING_SETS:
        return sorted(value)
    if not isinstance(value, str):
        raise TaskRecordError(f"{name}: must be a string, got {value!r}")
    return value


def _describe(plain: dict[str, Any]) -> str:
    return ", ".join(f"{k}={plain[k]!r}" for k in ("task_id", "created_at") if k in plain) or "no key"
