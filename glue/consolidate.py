"""Consolidate the covered parts of one task into a CSV, a Parquet copy and a JSON manifest per run.

Runs unchanged as an AWS Glue 5.0 Spark job and on local PySpark 3.5. S3 I/O goes through
boto3 (present on Glue and locally), not the s3a connector. The driver reads the task's enabled
locations from the locations table and each one's coverage manifest (its last complete
extraction: run, page size, pages per data type), from which the exact part keys follow; a
location without one is missing, and nothing else under ``parts/`` is read (stale pages of
another page size, partial pages of a failed rerun, disabled locations). The executors fetch and
validate the parts in parallel and encode them, in output order, as CSV records and Arrow tables;
the driver streams those blocks into one Parquet file under
``consolidated/task_id={task}/run_id={run}/`` (the table's partition: Parquet only) and one CSV,
the manifest and a summary under ``runs/task_id={task}/run_id={run}/``, then points
``latest/{task}.json`` at them. Unreadable or invalid parts are copied under ``quarantine/`` and
listed in the manifest. Parts are removed only after the outputs are written and verified, and
only when asked (``--parts_action``, default ``keep``: coverage refers to them until a later
extraction replaces them, and the work bucket's lifecycle rule expires them).

Arguments: ``--task_id --run_id --work_bucket --output_bucket --locations_table`` and optionally
``--parts_action keep|archive|delete``, ``--partitions N``. The endpoint comes from
``AWS_ENDPOINT_URL`` when set (botocore reads it). On failure the job prints one line
``ConsolidationError: ...`` on stderr (the form Glue and the local Glue runner report as the
run's ErrorMessage) and exits non-zero; on Glue the exception itself fails the run.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import importlib.util
import io
import itertools
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from json.encoder import encode_basestring
from typing import Iterable, Iterator, Sequence

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ("discount_code", "error_messages", "status", "location_id", "data_type", "task_id",
           "run_id", "extracted_at")
ROW_FIELDS = ("discount_code", "error_messages", "status")
LIST_COLUMNS = ("error_messages",)
CSV_NAME, PARQUET_NAME, MANIFEST_NAME = "data.csv", "data.parquet", "manifest.json"
PARTS_ACTIONS = ("keep", "archive", "delete")
#: What the aggregator reads back (summary.json): fixed-size fields of the manifest only.
SUMMARY_NAME = "summary.json"
SUMMARY_FIELDS = ("task_id", "run_id", "job_run_id", "total_rows", "locations_enabled", "locations_complete",
                  "locations_missing", "part_files_read", "part_files_quarantined",
                  "csv_uri", "parquet_uri", "manifest_uri")
#: The pointer to a task's latest consolidation, outside the Hive tree.
LATEST_FIELDS = ("task_id", "run_id", "created_at", "total_rows", "locations_missing", "csv_uri", "parquet_uri", "manifest_uri")
REQUIRED_ARGS = ("task_id", "run_id", "work_bucket", "output_bucket", "locations_table")
OPTIONAL_ARGS = ("parts_action", "partitions", "JOB_NAME", "catalog_database", "catalog_table")
# Glue passes --JOB_RUN_ID itself and its parser returns it without being asked; asking for it
# (or JOB_ID) fails the run on Glue with "RuntimeError: Using reserved arguments --JOB_RUN_ID".
GLUE_IMPLICIT_ARGS = ("JOB_RUN_ID",)
FETCH_THREADS = 16
UNREADABLE = "unreadable"  # the problem of a part S3 did not give
PARQUET_BATCH = 50_000  # rows per Parquet row group (and at most per encoded block)
#: Rows per slice at most (from the coverage's page sizes): the driver receives a slice's blocks
#: whole in the JVM (toLocalIterator), about 200 bytes a row, so a slice stays near 40 MB.
SLICE_ROWS = 200_000
SCHEMA = pa.schema([(name, pa.list_(pa.string()) if name in LIST_COLUMNS else pa.string()) for name in COLUMNS])
_KEY_PART = re.compile(r"^[A-Za-z0-9_.:@=+-]{1,255}$")
_OFFSET = re.compile(r"^(0|[1-9][0-9]{0,17})\.json$")


class ConsolidationError(Exception):
    """A failure the job reports as one line and a failed run."""


@dataclasses.dataclass(frozen=True)
class JobArgs:
    """The job's arguments, as Glue passes them (``--name value``)."""

    task_id: str
    run_id: str
    work_bucket: str
    output_bucket: str
    locations_table: str
    parts_action: str = "keep"
    partitions: int = 0
    job_name: str = "consolidate"
    job_run_id: str = "local"
    catalog_database: str = ""  # with catalog_table: the Data Catalog table the run's partition is added to
    catalog_table: str = ""

    @property
    def parts_prefix(self) -> str:
        return f"parts/{self.task_id}/"

    @property
    def output_prefix(self) -> str:
        return f"consolidated/task_id={self.task_id}/run_id={self.run_id}/"

    @property
    def files_prefix(self) -> str:
        """The run's CSV, manifest and summary: outside the Parquet table, whose partitions hold Parquet only."""
        return f"runs/task_id={self.task_id}/run_id={self.run_id}/"

    @property
    def coverage_prefix(self) -> str:
        return f"coverage/{self.task_id}/complete/"

    @property
    def latest_key(self) -> str:
        return f"latest/{self.task_id}.json"


# What an executor made of one part file: (key, location_id, data_type, offset, rows, problem), each
# row (discount_code, error_messages, status).
# A plain tuple, not a class: Spark's Python workers cannot import classes from a __main__ script.
PartResult = tuple[str, str, str, int, tuple[tuple[str, tuple[str, ...], str], ...], str]


def _bad(key: str, problem: str) -> PartResult:
    return (key, "", "", 0, (), problem)


# What an executor sends the driver for a run of parts in output order: each part's verdict
# (key, location_id, data_type, rows, problem), then the good parts' rows as CSV records (UTF-8
# bytes, no header) and as an Arrow IPC stream of the same rows with SCHEMA. Plain data again.
Verdict = tuple[str, str, str, int, str]
EncodedBlock = tuple[tuple[Verdict, ...], bytes, bytes]


# ------------------------------------------------------------------ arguments

def parse_args(argv: list[str]) -> JobArgs:
    """Read the job arguments with Glue's parser when present, else argparse with the same names.

    Glue's parser requires every option it is asked for, so the optional ones are asked for only
    when given (``--name value`` or ``--name=value``); the run id is never asked for (reserved).
    """
    present = [name for name in OPTIONAL_ARGS if _given(argv, name)]
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        import argparse

        parser = argparse.ArgumentParser(prog="consolidate", add_help=False)
        for name in REQUIRED_ARGS + OPTIONAL_ARGS + GLUE_IMPLICIT_ARGS:
            parser.add_argument(f"--{name}")  # presence is checked by _job_args, with one-line errors
        known, _ = parser.parse_known_args(argv[1:])
        raw = {k: v for k, v in vars(known).items() if v is not None}
    else:
        raw = getResolvedOptions(argv, list(REQUIRED_ARGS) + present)
    return _job_args(raw)


def _given(argv: list[str], name: str) -> bool:
    return any(arg == f"--{name}" or arg.startswith(f"--{name}=") for arg in argv[1:])


def _job_args(raw: dict[str, str]) -> JobArgs:
    for name in REQUIRED_ARGS:
        if not raw.get(name):
            raise ConsolidationError(f"--{name}: missing or empty")
    for name in ("task_id", "run_id"):
        if not _KEY_PART.match(raw[name]):
            raise ConsolidationError(f"--{name}: must be 1-255 characters of letters, digits and _ . : @ = + -")
    action = raw.get("parts_action") or "keep"
    if action not in PARTS_ACTIONS:
        raise ConsolidationError(f"--parts_action: must be one of {', '.join(PARTS_ACTIONS)}, got {action!r}")
    if bool(raw.get("catalog_database")) != bool(raw.get("catalog_table")):
        missing = "catalog_table" if raw.get("catalog_database") else "catalog_database"
        raise ConsolidationError(f"--{missing}: needed with --catalog_database and --catalog_table together")
    partitions = raw.get("partitions") or "0"
    if not partitions.isdigit():
        raise ConsolidationError(f"--partitions: must be a whole number, got {partitions!r}")
    return JobArgs(
        task_id=raw["task_id"],
        run_id=raw["run_id"],
        work_bucket=raw["work_bucket"],
        output_bucket=raw["output_bucket"],
        locations_table=raw["locations_table"],
        parts_action=action,
        partitions=int(partitions),
        job_name=raw.get("JOB_NAME") or "consolidate",
        job_run_id=raw.get("JOB_RUN_ID") or "local",
        catalog_database=raw.get("catalog_database") or "",
        catalog_table=raw.get("catalog_table") or "",
    )


# ------------------------------------------------------------- part files

@dataclasses.dataclass(frozen=True)
class Coverage:
    """A location's last complete extraction (driver side only), and the part keys it wrote."""

    location_id: str
    run_id: str
    extracted_at: str
    keys: tuple[str, ...]
    page_limit: int = 0  # rows per page at most
    pages: int = 0  # pages in all its parts


def enabled_locations(dynamodb, table: str, task_id: str) -> list[str]:
    """The task's enabled locations in the locations table now (a missing ``enabled`` means enabled)."""
    from botocore.exceptions import ClientError

    found: list[str] = []
    try:
        for page in dynamodb.get_paginator("query").paginate(
                TableName=table, KeyConditionExpression="task_id = :task",
                ExpressionAttributeValues={":task": {"S": task_id}},
                ProjectionExpression="location_id, enabled", ConsistentRead=True):
            found += [item["location_id"]["S"] for item in page.get("Items", ())
                      if item.get("enabled", {}).get("BOOL", True) is not False]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConsolidationError(f"--locations_table: cannot query {table} ({code or 'error'})") from None
    return sorted(found)


def coverage_from(doc: object, task_id: str, location_id: str) -> Coverage:
    """The coverage manifest's part keys; ValueError names a bad field.

    Part ``i`` of a data type holds ``part_pages[i]`` consecutive pages and starts at ``page_limit``
    times the pages of the parts before it (a manifest without ``part_pages``, written before parts
    gathered pages, has one part per page).
    """
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    for name, value in (("task_id", task_id), ("location_id", location_id)):
        if doc.get(name) != value:
            raise ValueError(f"{name}: {doc.get(name)!r} does not match ({value!r})")
    run_id, extracted_at, limit = doc.get("run_id"), doc.get("extracted_at"), doc.get("page_limit")
    if not isinstance(run_id, str) or not _KEY_PART.match(run_id):
        raise ValueError(f"run_id: not a run id ({run_id!r})")
    if not isinstance(extracted_at, str) or not extracted_at:
        raise ValueError("extracted_at: missing")
    if not _whole(limit) or limit < 1:
        raise ValueError(f"page_limit: must be a positive whole number, got {limit!r}")
    types = doc.get("data_types")
    if not isinstance(types, list):
        raise ValueError("data_types: missing or not a list")
    keys, all_pages = [], 0
    for entry in types:
        data_type = entry.get("data_type") if isinstance(entry, dict) else None
        pages = entry.get("pages") if isinstance(entry, dict) else None
        if not isinstance(data_type, str) or not _KEY_PART.match(data_type):
            raise ValueError(f"data_types: bad data_type {data_type!r}")
        if not _whole(pages) or pages < 0:
            raise ValueError(f"data_types: pages of {data_type} must be a whole number, got {pages!r}")
        part_pages = entry.get("part_pages", [1] * pages)
        if not isinstance(part_pages, list) or not all(_whole(n) and n > 0 for n in part_pages):
            raise ValueError(f"data_types: part_pages of {data_type} must be a list of positive whole numbers")
        if sum(part_pages) != pages:
            raise ValueError(f"data_types: part_pages of {data_type} add up to {sum(part_pages)} pages, not {pages}")
        first = 0
        for n in part_pages:
            keys.append(f"parts/{task_id}/{run_id}/{location_id}/{data_type}/{first * limit}.json")
            first += n
        all_pages += pages
    return Coverage(location_id, run_id, extracted_at, tuple(keys), limit, all_pages)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_coverage(s3, args: JobArgs, locations: list[str]) -> tuple[list[Coverage], list[dict]]:
    """Each enabled location's coverage, and the locations without complete data (with the reason)."""
    def read(location_id: str) -> Coverage | dict:
        key = f"{args.coverage_prefix}{location_id}.json"
        try:
            body = s3.get_object(Bucket=args.work_bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return {"location_id": location_id, "reason": "no complete extraction"}
        try:
            return coverage_from(json.loads(body.decode("utf-8")), args.task_id, location_id)
        except (UnicodeDecodeError, ValueError) as exc:
            return {"location_id": location_id, "reason": f"unreadable coverage s3://{args.work_bucket}/{key}: {exc}"}

    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        found = list(pool.map(read, locations))
    return ([c for c in found if isinstance(c, Coverage)], [m for m in found if isinstance(m, dict)])


def parse_part(key: str, body: bytes, task_id: str) -> PartResult:
    """Validate one part file against its key and the row schema; never raises."""
    rest = key.split("/")[2:]  # parts/{task_id}/{run_id}/{location_id}/{data_type}/{offset}.json
    if len(rest) != 4 or not all(_KEY_PART.match(x) for x in rest[:3]) or not _OFFSET.match(rest[3]):
        return _bad(key, "key is not parts/{task_id}/{run_id}/{location_id}/{data_type}/{offset}.json")
    run_id, location_id, data_type, offset = rest[0], rest[1], rest[2], int(rest[3][: -len(".json")])
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return _bad(key, f"not UTF-8 JSON ({exc.__class__.__name__})")
    if not isinstance(doc, dict):
        return _bad(key, "not a JSON object")
    expected = {"task_id": task_id, "run_id": run_id, "location_id": location_id, "data_type": data_type,
                "offset": offset}
    for field, value in expected.items():
        if field in doc and doc[field] != value:
            return _bad(key, f"{field} {doc[field]!r} does not match the key ({value!r})")
    rows = doc.get("rows")
    if not isinstance(rows, list):
        return _bad(key, "rows: missing or not a list")
    out = _valid_rows(rows)
    if out is None:
        i, problem = next((i, p) for i, p in enumerate(map(_row_problem, rows)) if p)
        return _bad(key, f"rows[{i}]: {problem}")
    return (key, location_id, data_type, offset, out, "")


def _valid_rows(rows: list) -> tuple[tuple[str, tuple[str, ...], str], ...] | None:
    """The rows as tuples when every one is valid, else None (then _row_problem names the first problem).

    The fast path of validation: json.loads makes exact dicts, lists and strs, so type identity
    checks are enough here and cost a fraction of _row_problem's.
    """
    out = []
    for row in rows:
        if type(row) is not dict or len(row) != 3:
            return None
        code, messages, status = row.get("discount_code"), row.get("error_messages"), row.get("status")
        if type(code) is not str or not code or type(status) is not str or type(messages) is not list:
            return None
        messages = tuple(messages)
        if messages and set(map(type, messages)) != {str}:
            return None
        out.append((code, messages, status))
    return tuple(out)


def _row_problem(row: object) -> str:
    if not isinstance(row, dict):
        return "not an object"
    extra = sorted(set(row) - set(ROW_FIELDS))
    if extra:
        return f"unexpected field {extra[0]!r}"
    for field in ROW_FIELDS:
        if field not in row:
            return f"{field}: missing"
    for field in ("discount_code", "status"):
        if not isinstance(row[field], str):
            return f"{field}: must be a string, got {type(row[field]).__name__}"
    messages = row["error_messages"]
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return "error_messages: must be a list of strings"
    if not row["discount_code"]:
        return "discount_code: empty"
    return ""


def fetch_partition(bucket: str, task_id: str, keys: Iterable[str]) -> Iterator[PartResult]:
    """Executor side: one S3 client per partition, parts fetched on a small thread pool."""
    s3 = boto3.client("s3")

    def fetch(key: str) -> PartResult:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - an unreadable part is quarantined, not fatal
            return _bad(key, f"{UNREADABLE} ({exc.__class__.__name__})")
        return parse_part(key, body, task_id)

    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        yield from pool.map(fetch, list(keys))


# ----------------------------------------------------------------- outputs

def quarantine_key(args: JobArgs, key: str) -> str:
    return f"quarantine/{args.task_id}/{key[len(args.parts_prefix):]}"


def messages_cell(messages: Sequence[str]) -> str:
    """The CSV cell of a row's messages: the list as one JSON array, so messages holding newlines or
    commas stay apart; the text ``json.dumps(messages, ensure_ascii=False)`` gives, built directly."""
    return "[" + ", ".join(map(encode_basestring, messages)) + "]"


class BlockEncoder:
    """Rows in output order -> CSV records (RFC 4180, UTF-8, CRLF) and an Arrow table of SCHEMA.

    Rows come a part at a time: the part's own fields (discount_code, messages, status) and the
    fields every row of the part shares (location_id, data_type, task_id, run_id, extracted_at),
    which go to Arrow as run lengths rather than one Python string per row.
    """

    def __init__(self) -> None:
        self.text = io.StringIO()
        self.writer = csv.writer(self.text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self.own: list[list] = [[], [], []]
        self.shared: list[tuple[str, ...]] = []
        self.counts: list[int] = []
        self.rows = 0

    def add(self, rows: Sequence[tuple[str, Sequence[str], str]], shared: tuple[str, ...]) -> None:
        if not rows:
            return
        self.writer.writerows([(code, messages_cell(messages), status, *shared) for code, messages, status in rows])
        for column, values in zip(self.own, zip(*rows)):
            column.extend(values)
        self.shared.append(shared)
        self.counts.append(len(rows))
        self.rows += len(rows)

    def csv_bytes(self) -> bytes:
        return self.text.getvalue().encode("utf-8")

    def table(self) -> pa.Table:
        repeat = pa.array(np.repeat(np.arange(len(self.counts)), self.counts))
        shared = [pa.array(list(values), pa.string()).take(repeat) for values in zip(*self.shared)] or \
            [pa.array([], pa.string()) for _ in COLUMNS[3:]]
        own = [pa.array(values, type) for values, type in zip(self.own, SCHEMA.types)]
        return pa.Table.from_arrays([*own, *shared], schema=SCHEMA)

    def ipc_bytes(self) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, SCHEMA) as stream:
            stream.write_table(self.table())
        return sink.getvalue().to_pybytes()


def encode_partition(bucket: str, task_id: str, run_id: str, extracted_at: dict[str, str],
                     keys: Iterable[str]) -> Iterator[EncodedBlock]:
    """Executor side: fetch and validate a slice of the ordered parts, and encode the good ones'
    rows in blocks of about PARQUET_BATCH rows, so the driver only copies bytes."""
    verdicts: list[Verdict] = []
    block = BlockEncoder()
    for key, location_id, data_type, _, rows, problem in fetch_partition(bucket, task_id, keys):
        verdicts.append((key, location_id, data_type, len(rows), problem))
        block.add(rows, (location_id, data_type, task_id, run_id, extracted_at.get(location_id, "")))
        if block.rows >= PARQUET_BATCH:
            yield tuple(verdicts), block.csv_bytes(), block.ipc_bytes()
            verdicts, block = [], BlockEncoder()
    if verdicts:
        yield tuple(verdicts), block.csv_bytes(), block.ipc_bytes()


class OutputFiles:
    """The CSV (header, then the blocks' records) and the Parquet file (row groups of PARQUET_BATCH rows)."""

    def __init__(self, csv_path: str, parquet_path: str) -> None:
        self.csv = open(csv_path, "wb")
        self.csv.write(("\r\n".join([",".join(COLUMNS), ""])).encode("utf-8"))
        self.parquet = pq.ParquetWriter(parquet_path, SCHEMA)
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows = 0

    def add(self, csv_records: bytes, table: pa.Table) -> None:
        self.csv.write(csv_records)
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        if self.pending_rows >= PARQUET_BATCH:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool) -> None:
        rows = self.pending_rows - self.pending_rows % PARQUET_BATCH if whole_groups_only else self.pending_rows
        if not rows and (whole_groups_only or self.rows):
            return
        pending = pa.concat_tables(self.pending) if self.pending else SCHEMA.empty_table()
        self.parquet.write_table(pending.slice(0, rows), row_group_size=PARQUET_BATCH)
        rest = pending.slice(rows)
        self.pending, self.pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def close(self) -> int:
        """Write what is pending and close both files; return the number of rows written."""
        self._flush(whole_groups_only=False)
        self.parquet.close()
        self.csv.close()
        return self.rows


def write_outputs(rows: Iterable[tuple], csv_path: str, parquet_path: str) -> int:
    """Write rows (tuples in COLUMNS order, messages as a sequence) as the job's CSV and Parquet; return the count."""
    files = OutputFiles(csv_path, parquet_path)
    try:
        for _, batch in itertools.groupby(enumerate(rows), key=lambda item: item[0] // PARQUET_BATCH):
            block = BlockEncoder()
            for shared, part in itertools.groupby((row for _, row in batch), key=lambda row: tuple(row[3:])):
                block.add([row[:3] for row in part], shared)
            files.add(block.csv_bytes(), block.table())
    finally:
        total = files.close()
    return total


def upload_verified(s3, path: str, bucket: str, key: str, content_type: str) -> int:
    """Upload a file and check S3 holds the same number of bytes; return the size."""
    size = os.path.getsize(path)
    s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": content_type})
    stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if stored != size:
        raise ConsolidationError(f"s3://{bucket}/{key}: wrote {size} bytes but S3 holds {stored}")
    return size


def register_partition(glue, args: JobArgs, location: str) -> str:
    """Add (or point again) the run's partition of the output table at ``location``; return its name.

    The partition takes the table's storage descriptor (columns, Parquet SerDe) with its own
    location, so Athena and the catalog's readers find the run as ``task_id=.../run_id=...``.
    """
    from botocore.exceptions import ClientError

    where = f"{args.catalog_database}.{args.catalog_table}"
    try:
        table = glue.get_table(DatabaseName=args.catalog_database, Name=args.catalog_table)["Table"]
        descriptor = {**table["StorageDescriptor"], "Location": location}
        partition = {"Values": [args.task_id, args.run_id], "StorageDescriptor": descriptor}
        try:
            glue.create_partition(DatabaseName=args.catalog_database, TableName=args.catalog_table,
                                  PartitionInput=partition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                raise
            glue.update_partition(DatabaseName=args.catalog_database, TableName=args.catalog_table,
                                  PartitionValueList=partition["Values"], PartitionInput=partition)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ConsolidationError(f"--catalog_table: cannot add the run's partition to {where} "
                                 f"({error.get('Code', 'error')}: {error.get('Message', '')})") from None
    return f"{where}/task_id={args.task_id}/run_id={args.run_id}"


def copy_all(s3, bucket: str, pairs: list[tuple[str, str]]) -> None:
    """Server-side copies (source key, destination key) within one bucket, a few at a time."""
    def copy(pair: tuple[str, str]) -> None:
        s3.copy_object(Bucket=bucket, Key=pair[1], CopySource={"Bucket": bucket, "Key": pair[0]})

    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        list(pool.map(copy, pairs))


def remove_parts(s3, args: JobArgs, keys: list[str]) -> None:
    """Archive (copy under archive/) and/or delete the parts, after the outputs are verified."""
    if args.parts_action == "keep" or not keys:
        return
    if args.parts_action == "archive":
        copy_all(s3, args.work_bucket, [(key, f"archive/{key}") for key in keys])
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        resp = s3.delete_objects(Bucket=args.work_bucket,
                                 Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        if resp.get("Errors"):
            first = resp["Errors"][0]
            raise ConsolidationError(f"deleting parts: {first.get('Key')}: {first.get('Code')}")


# --------------------------------------------------------------------- job

def part_order(key: str) -> tuple:
    """Sort parts by location, data type and numeric offset, so rows come out in page order."""
    rest = key.split("/")[3:]  # parts/{task_id}/{run_id}/...
    if len(rest) == 3 and _OFFSET.match(rest[2]):
        return (0, rest[0], rest[1], int(rest[2][: -len(".json")]), key)
    return (1, "", "", 0, key)


@dataclasses.dataclass(frozen=True)
class Listing:
    """The task's enabled locations now, their coverage, and the ones without complete data."""

    enabled: list[str]
    covered: list[Coverage]
    missing: list[dict]


def list_locations(s3, dynamodb, args: JobArgs) -> Listing:
    """Read the locations table and the coverage manifests (main runs it while Spark starts)."""
    enabled = enabled_locations(dynamodb, args.locations_table, args.task_id)
    covered, missing = read_coverage(s3, args, enabled)
    return Listing(enabled, covered, missing)


def run(spark, args: JobArgs, seconds: dict[str, float] | None = None, listing: Future | None = None) -> dict:
    """Consolidate the task; return the manifest that was written (``seconds`` gets phase timings).

    ``listing`` is the :func:`list_locations` already under way, if any; else it runs here.
    """
    from pyspark import StorageLevel

    seconds = {} if seconds is None else seconds
    clock = [time.monotonic()]

    def lap(phase: str) -> None:
        now = time.monotonic()
        seconds[phase] = round(now - clock[0], 3)
        clock[0] = now

    s3 = boto3.client("s3")
    found = listing.result() if listing else list_locations(s3, boto3.client("dynamodb"), args)
    enabled, covered, missing = found.enabled, found.covered, found.missing
    keys = sorted((key for c in covered for key in c.keys), key=part_order)
    extracted_at = {c.location_id: c.extracted_at for c in covered}
    lap("list")

    # Contiguous slices of the ordered keys: reading the partitions in order yields sorted rows,
    # with no shuffle. One slice per executor core, or more when the parts may hold more than
    # SLICE_ROWS rows a slice: fetching is I/O bound and each slice runs its own thread pool, while
    # every extra slice costs a client and a Spark job when the driver streams the blocks back.
    sc = spark.sparkContext
    most_rows = sum(c.page_limit * c.pages for c in covered)
    slices = args.partitions or max(1, min(len(keys), max(sc.defaultParallelism, -(-most_rows // SLICE_ROWS))))
    bucket, task_id, run_id = args.work_bucket, args.task_id, args.run_id
    # The blocks are cached on disk, not in memory: they are the whole output (about twice the
    # CSV's size) in records of megabytes, which the JVM's memory store cannot unroll at 4M rows.
    blocks = sc.parallelize(keys, slices).mapPartitions(
        lambda part: encode_partition(bucket, task_id, run_id, extracted_at, part)
    ).persist(StorageLevel.DISK_ONLY)

    # One job fetches, validates and encodes every part on the executors (and caches the blocks):
    # bring back only each part's verdict and row count.
    verdicts = [v for found in blocks.map(lambda block: block[0]).collect() for v in found]
    bad = [(key, problem) for key, _, _, _, problem in verdicts if problem]
    expected = sum(n for _, _, _, n, problem in verdicts if not problem)
    counts: dict[tuple[str, str], int] = {}
    for _, location_id, data_type, n, problem in verdicts:
        if not problem and n:
            counts[location_id, data_type] = counts.get((location_id, data_type), 0) + n
    lap("fetch")
    # A part coverage lists but S3 cannot give (expired, deleted) is reported; there is nothing to copy.
    gone = {key for key, problem in bad if problem.startswith(UNREADABLE)}
    quarantined = [{"key": key, "reason": problem,
                    "quarantine_uri": None if key in gone else f"s3://{args.work_bucket}/{quarantine_key(args, key)}"}
                   for key, problem in sorted(bad)]
    copy_all(s3, args.work_bucket, [(key, quarantine_key(args, key)) for key, _ in bad if key not in gone])

    csv_key = f"{args.files_prefix}{CSV_NAME}"
    parquet_key = f"{args.output_prefix}{PARQUET_NAME}"
    manifest_key = f"{args.files_prefix}{MANIFEST_NAME}"
    with tempfile.TemporaryDirectory(prefix="consolidate-") as tmp:
        csv_path, parquet_path = os.path.join(tmp, "out.csv"), os.path.join(tmp, "out.parquet")
        files = OutputFiles(csv_path, parquet_path)
        try:
            for _, csv_records, ipc in blocks.toLocalIterator(prefetchPartitions=True):
                files.add(csv_records, pa.ipc.open_stream(ipc).read_all())
        finally:
            total = files.close()
        if total != expected or pq.ParquetFile(parquet_path).metadata.num_rows != total:
            raise ConsolidationError(f"wrote {total} rows but the parts hold {expected}")
        csv_bytes = upload_verified(s3, csv_path, args.output_bucket, csv_key, "text/csv; charset=utf-8")
        parquet_bytes = upload_verified(s3, parquet_path, args.output_bucket, parquet_key,
                                        "application/vnd.apache.parquet")
    blocks.unpersist()
    lap("write")

    by_location: dict[str, dict[str, int]] = {}
    by_type: dict[str, int] = {}
    for (location_id, data_type), n in sorted(counts.items()):
        by_location.setdefault(location_id, {})[data_type] = n
        by_type[data_type] = by_type.get(data_type, 0) + n
    out = f"s3://{args.output_bucket}/"
    # The Parquet file is in place: the run's partition of the catalog table may point at it.
    catalog_partition = (register_partition(boto3.client("glue"), args, f"{out}{args.output_prefix}")
                         if args.catalog_database else None)
    manifest = {
        "task_id": task_id,
        "run_id": run_id,
        "job_run_id": args.job_run_id,
        # To the millisecond: S3's Last-Modified has whole seconds, too coarse to order runs by.
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "columns": list(COLUMNS),
        "total_rows": total,
        "locations_enabled": len(enabled),
        "locations_complete": len(covered),
        "locations_missing": len(missing),
        "missing_locations": missing,
        "coverage": [{"location_id": c.location_id, "run_id": c.run_id, "extracted_at": c.extracted_at,
                      "parts": len(c.keys)} for c in covered],
        "rows_by_location": by_location,
        "rows_by_data_type": by_type,
        "part_files_read": len(keys),
        "part_files_quarantined": len(quarantined),
        "quarantined": quarantined,
        "parts_action": args.parts_action,
        "input_uri": f"s3://{args.work_bucket}/{args.coverage_prefix}",
        "csv_uri": out + csv_key,
        "parquet_uri": out + parquet_key,
        "manifest_uri": out + manifest_key,
        "csv_bytes": csv_bytes,
        "parquet_bytes": parquet_bytes,
        "catalog_partition": catalog_partition,
    }
    s3.put_object(Bucket=args.output_bucket, Key=manifest_key, ContentType="application/json",
                  Body=json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
    # The workflow reads only this fixed-size summary: the manifest grows with the locations and
    # quarantined parts, and a state's payload is capped at 256 KiB.
    summary = {name: manifest[name] for name in SUMMARY_FIELDS}
    s3.put_object(Bucket=args.output_bucket, Key=f"{args.files_prefix}{SUMMARY_NAME}",
                  ContentType="application/json", Body=json.dumps(summary).encode("utf-8"))
    # Last, once the run's outputs are all written: the pointer to the task's latest consolidation.
    latest = {name: manifest[name] for name in LATEST_FIELDS}
    s3.put_object(Bucket=args.output_bucket, Key=args.latest_key, ContentType="application/json",
                  Body=json.dumps(latest).encode("utf-8"))
    remove_parts(s3, args, [key for key in keys if key not in gone])
    lap("finish")
    return manifest


def _check_bucket(s3, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConsolidationError(f"bucket {bucket}: not reachable ({code or 'error'})") from None


def _spark_session(args: JobArgs):
    """GlueContext's session on Glue; a plain local SparkSession elsewhere."""
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from awsglue.job import Job  # type: ignore[import-not-found]
    except ImportError:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark = (SparkSession.builder.appName(args.job_name)
                 .master(os.environ.get("SPARK_MASTER", "local[*]"))
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .getOrCreate())
        return spark, None
    from pyspark.context import SparkContext

    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args.job_name, {"JOB_NAME": args.job_name})
    return glue.spark_session, job


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    on_glue = importlib.util.find_spec("awsglue") is not None
    try:
        args = parse_args(argv)
        s3 = boto3.client("s3")
        for bucket in (args.work_bucket, args.output_bucket):
            _check_bucket(s3, bucket)
        # The listing needs no Spark: it runs while the JVM starts (clients made here, in one thread).
        listing_pool = ThreadPoolExecutor(1)
        listing = listing_pool.submit(list_locations, s3, boto3.client("dynamodb"), args)
        listing_pool.shutdown(wait=False)
        started = time.monotonic()
        spark, job = _spark_session(args)
        seconds = {"spark_start": round(time.monotonic() - started, 3)}
        try:
            manifest = run(spark, args, seconds, listing)
            if job is not None:
                job.commit()
        finally:
            if job is None:
                spark.stop()
    except Exception as exc:  # noqa: BLE001 - the job's one place to report a failure as one line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
        print(f"{exc.__class__.__name__}: {detail}", file=sys.stderr)
        if on_glue:
            raise
        return 1
    summary = {k: manifest[k] for k in ("task_id", "run_id", "total_rows", "locations_missing", "part_files_read",
                                        "part_files_quarantined",
                                        "csv_uri", "manifest_uri")}
    summary["seconds"] = seconds  # phases, for the logs and bench/; not in the manifest (idempotent)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
