"""The consolidation job run as Glue would run it (a subprocess on local PySpark) against real S3."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from collections import Counter

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit.spec import SCRIPT_PATH as SCRIPT

TASK = "task-7"
RUN = "task-7-20261202T120000"          # the consolidation's run
OLD = "task-7-20261201T090000"          # an earlier run, whose parts coverage may still list
TRICKY = [
    'He said "no", then left',
    "comma, separated, values",
    "line one\nline two\r\nline three",
    "naïve café — 日本語 ✓ 🚀",
    "",
    '"quoted at both ends"',
    " leading and trailing spaces ",
    "=SUM(A1:A2)",
    '["looks", "like JSON"]',
]
COLUMNS = ["discount_code", "error_messages", "status", "location_id", "data_type", "task_id", "run_id",
           "extracted_at"]
STAMP = "2026-12-02T12:00:00.000Z"


def _load_module():
    spec = importlib.util.spec_from_file_location("consolidate_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _messages(n: int) -> list[str]:
    """0, 1 or 2 messages per record, the tricky texts among them."""
    return [TRICKY[(n + i) % len(TRICKY)] + f" #{n}" for i in range(n % 3)]


def _dataset(locations: int, data_types: tuple[str, ...], pages: int, limit: int, run_id: str = RUN):
    """Part files of one run for TASK plus the rows they hold (the ground truth)."""
    parts, truth, n = {}, Counter(), 0
    for loc in range(locations):
        location_id = f"loc-{loc:03d}"
        for data_type in data_types:
            for page in range(pages):
                rows = []
                for _ in range(limit if page < pages - 1 else 1):
                    rows.append({"discount_code": f"DC{n:06d}", "error_messages": _messages(n), "status": data_type})
                    truth[(f"DC{n:06d}", json.dumps(_messages(n), ensure_ascii=False), data_type, location_id,
                           data_type, TASK, RUN, STAMP)] += 1
                    n += 1
                key = f"parts/{TASK}/{run_id}/{location_id}/{data_type}/{page * limit}.json"
                parts[key] = {"task_id": TASK, "run_id": run_id, "location_id": location_id, "data_type": data_type,
                              "offset": page * limit, "rows": rows}
    return parts, truth


BAD_PARTS = {
    f"parts/{TASK}/{OLD}/loc-bad/failed/0.json": b"{not json",
    f"parts/{TASK}/{OLD}/loc-bad/failed/2.json": b"\xff\xfe binary",
    f"parts/{TASK}/{OLD}/loc-bad/failed/4.json": {"rows": [{"discount_code": "X", "status": "failed"}]},
    f"parts/{TASK}/{OLD}/loc-bad/failed/6.json": {"task_id": "other-task", "rows": []},
    f"parts/{TASK}/{OLD}/loc-bad/failed/8.json": {"rows": [{"discount_code": 5, "error_messages": [], "status": "x"}]},
}
GONE = [f"parts/{TASK}/{OLD}/loc-gone/failed/{offset}.json" for offset in (0, 2)]
DECOY = [{"discount_code": "DECOY", "error_messages": [], "status": "failed"}]
# Parts no coverage lists: another task's, a stale run's, another page size's, a disabled location's.
DECOYS = {
    f"parts/{TASK}0/{RUN}/loc-000/failed/0.json": {"rows": DECOY},
    f"parts/{TASK}/{OLD}/loc-000/failed/0.json": {"rows": DECOY},
    f"parts/{TASK}/{RUN}/loc-000/failed/300.json": {"rows": DECOY},
    f"parts/{TASK}/{RUN}/loc-off/failed/0.json": {"rows": DECOY},
    f"parts/{TASK}/stray.txt": b"hello",
}


def _read_csv(raw: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8")


def _as_counter(frame: pd.DataFrame) -> Counter:
    return Counter(tuple(r) for r in frame[COLUMNS].itertuples(index=False, name=None))


@pytest.mark.slow
def test_consolidates_exactly_the_covered_parts_quarantines_bad_ones_and_reruns_identically(s3_place):
    # 5 locations x 2 types x 150 pages = 1,500 good parts: beyond one 1,000-key listing page.
    parts, truth = _dataset(locations=5, data_types=("failed", "rejected"), pages=150, limit=2)
    s3_place.put_parts({**parts, **BAD_PARTS, **DECOYS})
    for loc in range(5):
        s3_place.put_location(TASK, f"loc-{loc:03d}")
        s3_place.put_coverage(TASK, f"loc-{loc:03d}", RUN, 2, {"failed": 150, "rejected": 150}, STAMP)
    s3_place.put_location(TASK, "loc-bad")
    s3_place.put_coverage(TASK, "loc-bad", OLD, 2, {"failed": 5, "rejected": 0}, "2026-12-01T09:00:00.000Z")
    s3_place.put_location(TASK, "loc-never")          # enabled, never extracted completely
    s3_place.put_location(TASK, "loc-gone")           # covered, but its parts have expired
    s3_place.put_coverage(TASK, "loc-gone", OLD, 2, {"failed": 2})
    s3_place.put_location(TASK, "loc-off", enabled=False)
    s3_place.put_coverage(TASK, "loc-off", RUN, 2, {"failed": 1})
    s3_place.put_location(f"{TASK}0", "loc-000")
    s3_place.put_coverage(f"{TASK}0", "loc-000", RUN, 2, {"failed": 1})
    common = ["--task_id", TASK, "--run_id", RUN, "--work_bucket", s3_place.work_bucket,
              "--output_bucket", s3_place.output_bucket, "--locations_table", s3_place.locations_table]

    first = s3_place.run_job(*common, run_id="jr_first")
    assert first.returncode == 0, first.stderr
    out, prefix, files = s3_place.output_bucket, f"consolidated/task_id={TASK}/run_id={RUN}/", f"runs/task_id={TASK}/run_id={RUN}/"
    csv_raw = s3_place.get(out, f"{files}data.csv")
    parquet_raw = s3_place.get(out, f"{prefix}data.parquet")
    manifest = json.loads(s3_place.get(out, f"{files}manifest.json"))
    assert s3_place.keys(out, prefix) == [f"{prefix}data.parquet"]  # the table's partition: Parquet only

    # Rows in == rows out, with no duplicates, through pandas (CSV) and pyarrow (Parquet).
    frame = _read_csv(csv_raw)
    assert list(frame.columns) == COLUMNS
    assert _as_counter(frame) == truth
    table = pq.read_table(io.BytesIO(parquet_raw))
    assert table.schema.field("error_messages").type.equals(pa.list_(pa.string()))
    parquet = table.to_pandas()
    assert list(parquet.columns) == COLUMNS
    parquet["error_messages"] = parquet["error_messages"].map(lambda m: json.dumps(list(m), ensure_ascii=False))
    assert _as_counter(parquet) == truth
    # The csv module (RFC 4180 reader) sees the same records; lines end in CRLF.
    records = list(csv.reader(io.StringIO(csv_raw.decode("utf-8"), newline="")))
    assert len(records) == sum(truth.values()) + 1
    assert csv_raw.startswith(b"discount_code,error_messages,status,location_id,data_type,task_id,run_id,"
                              b"extracted_at\r\n")
    # Rows come out ordered by location, data type, then page offset.
    keys = list(zip(frame.location_id, frame.data_type))
    assert keys == sorted(keys)
    assert "DECOY" not in set(frame.discount_code)

    assert manifest["total_rows"] == sum(truth.values())
    assert manifest["part_files_read"] == len(parts) + len(BAD_PARTS) + len(GONE)
    assert (manifest["locations_enabled"], manifest["locations_complete"], manifest["locations_missing"]) == (8, 7, 1)
    assert manifest["missing_locations"] == [{"location_id": "loc-never", "reason": "no complete extraction"}]
    assert manifest["rows_by_location"]["loc-000"] == {"failed": 299, "rejected": 299}
    assert manifest["rows_by_data_type"] == {"failed": 1495, "rejected": 1495}
    assert manifest["job_run_id"] == "jr_first" and manifest["run_id"] == RUN
    assert manifest["csv_uri"] == f"s3://{out}/{files}data.csv"
    # The workflow reads only the summary: the manifest's fixed-size fields, nothing that grows.
    summary = json.loads(s3_place.get(out, f"{files}summary.json"))
    assert summary == {k: manifest[k] for k in (
        "task_id", "run_id", "job_run_id", "total_rows", "locations_enabled", "locations_complete",
        "locations_missing", "part_files_read", "part_files_quarantined", "csv_uri", "parquet_uri", "manifest_uri")}
    latest = json.loads(s3_place.get(out, f"latest/{TASK}.json"))
    assert latest["run_id"] == RUN and latest["total_rows"] == manifest["total_rows"]
    assert latest["parquet_uri"] == manifest["parquet_uri"] and pd.Timestamp(latest["created_at"]).tzname() == "UTC"
    reasons = {q["key"]: q["reason"] for q in manifest["quarantined"]}
    assert set(reasons) == set(BAD_PARTS) | set(GONE)
    assert all(reasons[k] == "unreadable (NoSuchKey)" for k in GONE)
    assert [q["quarantine_uri"] for q in manifest["quarantined"] if q["key"] in GONE] == [None, None]
    assert "not UTF-8 JSON" in reasons[f"parts/{TASK}/{OLD}/loc-bad/failed/0.json"]
    assert "error_messages: missing" in reasons[f"parts/{TASK}/{OLD}/loc-bad/failed/4.json"]
    assert "task_id 'other-task'" in reasons[f"parts/{TASK}/{OLD}/loc-bad/failed/6.json"]
    quarantine = s3_place.keys(s3_place.work_bucket, f"quarantine/{TASK}/")
    assert quarantine == sorted(f"quarantine/{TASK}/" + k[len(f"parts/{TASK}/"):] for k in BAD_PARTS)
    # Default parts action is keep.
    assert len(s3_place.keys(s3_place.work_bucket, f"parts/{TASK}/")) == len(parts) + len(BAD_PARTS) + 4

    # The same run consolidated again, archiving the parts: byte-identical outputs, parts moved only afterwards.
    second = s3_place.run_job(*common, "--parts_action", "archive", run_id="jr_second")
    assert second.returncode == 0, second.stderr
    assert s3_place.get(out, f"{files}data.csv") == csv_raw
    assert s3_place.get(out, f"{prefix}data.parquet") == parquet_raw
    again = json.loads(s3_place.get(out, f"{files}manifest.json"))
    differs = {k for k in manifest if manifest[k] != again[k]}
    assert differs == {"job_run_id", "created_at", "parts_action"}
    assert s3_place.keys(s3_place.work_bucket, f"parts/{TASK}/") == sorted(
        k for k in DECOYS if k.startswith(f"parts/{TASK}/"))  # only what coverage listed was moved
    archived = s3_place.keys(s3_place.work_bucket, f"archive/parts/{TASK}/")
    assert len(archived) == len(parts) + len(BAD_PARTS)
    assert s3_place.keys(s3_place.work_bucket, f"parts/{TASK}0/")  # another task's parts untouched


@pytest.mark.slow
def test_a_task_without_coverage_gives_header_only_csv_and_zero_manifest(s3_place):
    s3_place.put_location("empty-task", "loc-1")
    run = s3_place.run_job("--task_id", "empty-task", "--run_id", "r1", "--work_bucket", s3_place.work_bucket,
                           "--output_bucket", s3_place.output_bucket, "--locations_table", s3_place.locations_table,
                           "--parts_action", "delete")
    assert run.returncode == 0, run.stderr
    prefix, files = "consolidated/task_id=empty-task/run_id=r1/", "runs/task_id=empty-task/run_id=r1/"
    raw = s3_place.get(s3_place.output_bucket, f"{files}data.csv")
    assert raw == b"discount_code,error_messages,status,location_id,data_type,task_id,run_id,extracted_at\r\n"
    assert _read_csv(raw).empty
    table = pq.read_table(io.BytesIO(s3_place.get(s3_place.output_bucket, f"{prefix}data.parquet")))
    assert table.num_rows == 0 and table.column_names == COLUMNS
    manifest = json.loads(s3_place.get(s3_place.output_bucket, f"{files}manifest.json"))
    assert manifest["total_rows"] == 0 and manifest["part_files_read"] == 0 and manifest["quarantined"] == []
    assert (manifest["locations_enabled"], manifest["locations_complete"], manifest["locations_missing"]) == (1, 0, 1)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["total_rows"] == 0 and summary["locations_missing"] == 1
    assert set(summary["seconds"]) == {"spark_start", "list", "fetch", "write", "finish"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task_id", "t", "--run_id", "r", "--work_bucket", "w", "--locations_table", "l"], "--output_bucket"),
        (["--task_id", "t", "--run_id", "r", "--work_bucket", "w", "--output_bucket", "o"], "--locations_table"),
        (["--task_id", "a/b", "--run_id", "r", "--work_bucket", "w", "--output_bucket", "o", "--locations_table", "l"],
         "--task_id"),
        (["--task_id", "t", "--run_id", "r/1", "--work_bucket", "w", "--output_bucket", "o", "--locations_table", "l"],
         "--run_id"),
        (["--task_id", "t", "--run_id", "r", "--work_bucket", "w", "--output_bucket", "o", "--locations_table", "l",
          "--parts_action", "burn"], "--parts_action: must be one of keep, archive, delete"),
    ],
)
def test_bad_arguments_fail_with_one_line(s3_place, args, message):
    run = s3_place.run_job(*args)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ConsolidationError: ") and message in lines[0]


def test_missing_bucket_fails_before_spark_starts(s3_place):
    run = s3_place.run_job("--task_id", "t", "--run_id", "r", "--work_bucket", "no-such-bucket-here",
                           "--output_bucket", s3_place.output_bucket, "--locations_table", s3_place.locations_table)
    assert run.returncode == 1
    assert run.stderr.strip() == "ConsolidationError: bucket no-such-bucket-here: not reachable (404)"


def test_parse_part_accepts_valid_parts_and_names_each_problem():
    module = _load_module()
    good = json.dumps({"offset": 10, "run_id": "r", "rows": [
        {"discount_code": "A", "error_messages": ["x", "y"], "status": "failed"}]}).encode()
    key = "parts/t/r/loc/failed/10.json"
    assert module.parse_part(key, good, "t") == (key, "loc", "failed", 10, (("A", ("x", "y"), "failed"),), "")
    cases = {
        "parts/t/r/loc/failed/x.json": (good, "key is not"),
        "parts/t/loc/failed/10.json": (good, "key is not"),
        "parts/t/r/loc/failed/12.json": (good, "offset 10 does not match the key (12)"),
        "parts/t/r2/loc/failed/10.json": (good, "run_id 'r' does not match the key ('r2')"),
        "parts/t/r/loc/rejected/10.json": (json.dumps({"data_type": "failed", "rows": []}).encode(),
                                            "data_type 'failed' does not match"),
        "parts/t/r/l/failed/0.json": (b"[]", "not a JSON object"),
        "parts/t/r/l/failed/1.json": (b'{"rows": {}}', "rows: missing or not a list"),
        "parts/t/r/l/failed/2.json": (b'{"rows": [{"discount_code": "", "error_messages": [], "status": "s"}]}',
                                      "rows[0]: discount_code: empty"),
        "parts/t/r/l/failed/3.json": (b'{"rows": [{"discount_code": "a", "error_messages": [], "status": "s", '
                                      b'"extra": 1}]}', "rows[0]: unexpected field 'extra'"),
        "parts/t/r/l/failed/4.json": (b'{"rows": [{"discount_code": "a", "error_messages": "m", "status": "s"}]}',
                                      "rows[0]: error_messages: must be a list of strings"),
    }
    for key, (body, problem) in cases.items():
        result = module.parse_part(key, body, "t")
        assert problem in result[5], (key, result)
        assert result[4] == ()
