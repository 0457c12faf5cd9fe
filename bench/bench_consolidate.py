"""Consolidation of one task's part files by glue/consolidate.py on local PySpark, next to issue 15's targets.

The job runs as Glue runs it: a subprocess of the script with ``--task_id --run_id --work_bucket
--output_bucket --locations_table``, against the embedded local stack's S3 and DynamoDB (moto behind
the stack's endpoint, in this process), with a coverage manifest per location listing its parts. Each
part holds ``--rows`` rows with quotes, commas and newlines in the message. Every ``--parts`` size
gets its own buckets and parts; each run is checked: the manifest must count every row and part.
The job reports its own phase timings (Spark start-up, listing, parallel fetch, validation and
encoding, writing and uploading the CSV and Parquet, manifest). Before each run, a plain process
lists and GETs the same parts with as many threads as the job uses in all (16 per core): the S3
side's limit, against which the job's fetch phase is compared.

For sizes up to 1,000 parts the original AWS sample's driver-only script (/work/shared/seed, or
``--sample``; run unchanged, never copied) consolidates the same rows from its own ``tmp/{task}/``
prefix in each run, with ``awsglue.utils`` from the local Glue runner's stand-in and a GlueContext
stand-in that only hands over the SparkSession. Its time includes what the script does: Spark
start-up, listing, GETs, pandas, the CSV, the upload and its one-by-one deletes of the parts
(put back, untimed, before each run). It lists one page of keys, so beyond 1,000 parts it
consolidates a tenth of the rows and is not run.

Targets (issue 15): at 1,000 parts, no slower than the sample; between the smallest and the largest
size, a marginal rate (extra rows / extra seconds of the median totals) of at least 170k rows/s.
The machine is shared and the S3 is moto in one Python process (its request rate bounds the fetch
phase): compare runs of one invocation only and quote the medians.

    .venv/bin/python bench/bench_consolidate.py --parts 1000 10000 --rows 400 [--runs 3]

Writes bench/results/consolidate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.local.glue import AWSGLUE_STUB_PATH  # noqa: E402
from toolkit.local.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "consolidate.json"
SCRIPT = ROOT / "glue" / "consolidate.py"
SAMPLE_SCRIPT = Path("/work/shared/seed/original/app.py")
SAMPLE_MAX_PARTS = 1000  # the sample lists one page of keys
TARGET_MARGINAL_ROWS_PER_S = 170_000
RUN = "bench-run"
LOCATIONS = 100


@dataclass(frozen=True)
class Place:
    """One size's buckets, locations table and task on the local stack."""

    task: str
    work: str
    output: str
    table: str


def _place(i: int) -> tuple[str, str, int]:
    """Part i's location, data type and page: pages of each location and type are contiguous from 0."""
    location, rest = f"loc-{i % LOCATIONS:04d}", i // LOCATIONS
    return location, ("failed", "rejected")[rest % 2], rest // 2


def _rows(i: int, data_type: str, rows: int) -> list[dict]:
    return [{"discount_code": f"D{i}-{r}", "error_messages": [f'code {r}: "bad", see\nline 2', "more"],
             "status": data_type} for r in range(rows)]


def upload_parts(s3, dynamodb, place: Place, parts: int, rows: int) -> float:
    """Write the task's parts (LOCATIONS locations x 2 data types x pages), each location's coverage
    manifest and locations table item; return the seconds taken."""
    def put(i: int) -> None:
        location, data_type, page = _place(i)
        doc = {"task_id": place.task, "run_id": RUN, "location_id": location, "data_type": data_type,
               "offset": page * rows, "rows": _rows(i, data_type, rows)}
        s3.put_object(Bucket=place.work, Key=f"parts/{place.task}/{RUN}/{location}/{data_type}/{page * rows}.json",
                      Body=json.dumps(doc).encode())

    pages: dict[str, dict[str, int]] = {}
    for i in range(parts):
        location, data_type, _ = _place(i)
        pages.setdefault(location, {"failed": 0, "rejected": 0})[data_type] += 1

    def cover(location: str) -> None:
        doc = {"task_id": place.task, "location_id": location, "run_id": RUN, "extracted_at": "2026-12-02T12:00:00Z",
               "page_limit": rows, "data_types": [{"data_type": t, "pages": n} for t, n in pages[location].items()]}
        s3.put_object(Bucket=place.work, Key=f"coverage/{place.task}/complete/{location}.json",
                      Body=json.dumps(doc).encode())
        dynamodb.put_item(TableName=place.table, Item={"task_id": {"S": place.task}, "location_id": {"S": location}})

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(parts)))
        list(pool.map(cover, pages))
    return time.perf_counter() - started


def upload_sample_parts(s3, place: Place, parts: int, rows: int) -> None:
    """The same rows as the sample's input: one JSON list per part under tmp/{task}/ (its layout)."""
    def put(i: int) -> None:
        location, data_type, page = _place(i)
        s3.put_object(Bucket=place.work, Key=f"tmp/{place.task}/{location}-{data_type}-{page}.json",
                      Body=json.dumps(_rows(i, data_type, rows)).encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(parts)))


DIRECT_FETCH = """
import sys, time, boto3
from concurrent.futures import ThreadPoolExecutor
bucket, prefix, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3")
started = time.perf_counter()
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in p.get("Contents", ())]
listed = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    total = sum(pool.map(lambda k: len(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), keys))
print(len(keys), round(listed - started, 3), round(time.perf_counter() - listed, 3))
"""


def direct_fetch(stack: LocalStack, place: Place, threads: int) -> tuple[float, float]:
    """List and GET every part from a plain process with the job's total thread count: the S3 side's limit."""
    done = subprocess.run([sys.executable, "-c", DIRECT_FETCH, place.work, f"parts/{place.task}/", str(threads)],
                          env={**os.environ, **stack.env()}, capture_output=True, text=True, timeout=1800, check=True)
    _, list_s, fetch_s = done.stdout.split()
    return float(list_s), float(fetch_s)


def run_job(stack: LocalStack, place: Place, script: Path) -> tuple[float, dict]:
    env = {**os.environ, **stack.env()}
    cmd = [sys.executable, str(script), "--task_id", place.task, "--run_id", RUN, "--work_bucket", place.work,
           "--output_bucket", place.output, "--locations_table", place.table]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"job failed: {done.stderr.strip().splitlines()[-1]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


# The sample imports awsglue.context, which needs Glue's JVM: this stand-in hands it the SparkSession.
SAMPLE_RUNNER = """
import runpy, sys, types
from pyspark.sql import SparkSession
import awsglue
class GlueContext:
    def __init__(self, sc):
        self.spark_session = SparkSession(sc)
context = types.ModuleType("awsglue.context")
context.GlueContext = GlueContext
sys.modules["awsglue.context"] = awsglue.context = context
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_sample(stack: LocalStack, place: Place, script: Path) -> float:
    """Run the sample's script unchanged on the same rows; return its wall time."""
    env = {**os.environ, **stack.env(), "PYTHONPATH": str(AWSGLUE_STUB_PATH), "PYSPARK_PYTHON": sys.executable}
    cmd = [sys.executable, "-c", SAMPLE_RUNNER, str(script), "--task_id", place.task, "--bucket", place.work,
           "--output_file_name", f"sample-{place.task}.csv"]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sample script failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return wall


def new_place(stack: LocalStack, parts: int) -> Place:
    suffix = f"{os.getpid()}-{parts}"
    place = Place(f"bench-task-{parts}", f"bench-work-{suffix}", f"bench-output-{suffix}", f"bench-locations-{suffix}")
    for bucket in (place.work, place.output):
        stack.client("s3").create_bucket(Bucket=bucket)
    stack.client("dynamodb").create_table(
        TableName=place.table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}, {"AttributeName": "location_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                              {"AttributeName": "location_id", "AttributeType": "S"}])
    return place


def measure(stack: LocalStack, parts: int, rows: int, runs: int, script: Path, sample: Path | None) -> dict:
    """Upload one size's parts, then per run: plain GETs, the job (checked), and the sample when it applies."""
    s3, place = stack.client("s3"), new_place(stack, parts)
    upload_s = upload_parts(s3, stack.client("dynamodb"), place, parts, rows)
    found = []
    for _ in range(runs):
        direct_list_s, direct_fetch_s = direct_fetch(stack, place, threads=16 * (os.cpu_count() or 1))
        wall, summary = run_job(stack, place, script)
        if (summary["total_rows"], summary["part_files_read"], summary["part_files_quarantined"]) != (
                parts * rows, parts, 0):
            raise SystemExit(f"wrong counts in {summary}")
        phases = summary["seconds"]
        without_start = wall - phases["spark_start"]
        found.append({"wall_s": round(wall, 3), **{f"{k}_s": v for k, v in phases.items()},
                      "without_spark_start_s": round(without_start, 3),
                      "rows_per_s": round(summary["total_rows"] / wall, 1),
                      "direct_list_s": direct_list_s, "direct_fetch_s": direct_fetch_s,
                      "fetch_vs_direct": round(phases["fetch"] / direct_fetch_s, 2)})
        if sample is not None and parts <= SAMPLE_MAX_PARTS:
            upload_sample_parts(s3, place, parts, rows)
            found[-1]["sample_s"] = round(run_sample(stack, place, sample), 3)
            found[-1]["vs_sample"] = round(wall / found[-1]["sample_s"], 2)
    median = {c: round(statistics.median(r[c] for r in found), 3) for c in found[0]}
    return {"parts": parts, "rows_per_part": rows, "rows": parts * rows, "upload_s": round(upload_s, 3),
            "runs": found, "median": median}


def report(sizes: list[dict], runs: int) -> dict:
    """Print each size's runs and medians, then the targets; return the targets' figures."""
    for size in sizes:
        columns = list(size["median"])
        print(f"\nconsolidate: {size['parts']} parts x {size['rows_per_part']} rows = {size['rows']} rows, "
              f"{runs} runs (parts uploaded in {size['upload_s']:.1f} s)")
        print(f"{'run':>6} " + " ".join(f"{c:>15}" for c in columns))
        for i, r in enumerate(size["runs"], 1):
            print(f"{i:>6} " + " ".join(f"{r[c]:>15}" for c in columns))
        print(f"{'median':>6} " + " ".join(f"{size['median'][c]:>15}" for c in columns))
    targets: dict = {}
    print("\ntargets (medians):")
    for size in sizes:
        m = size["median"]
        line = (f"  {size['parts']:>6} parts: {m['wall_s']} s in all ({m['spark_start_s']} s Spark start-up, "
                f"{m['fetch_s']} s fetch = {m['fetch_vs_direct']}x plain GETs, {m['write_s']} s write), "
                f"{m['rows_per_s']:.0f} rows/s")
        if "sample_s" in m:
            met = m["wall_s"] <= m["sample_s"]
            targets[f"vs_sample_{size['parts']}"] = {"job_s": m["wall_s"], "sample_s": m["sample_s"], "met": met}
            line += f"; the sample's script {m['sample_s']} s: target no slower -> {'met' if met else 'NOT met'}"
        print(line)
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        extra_s = high["median"]["wall_s"] - low["median"]["wall_s"]
        marginal = (high["rows"] - low["rows"]) / extra_s if extra_s > 0 else float("inf")
        met = marginal >= TARGET_MARGINAL_ROWS_PER_S
        targets["marginal"] = {"from_parts": low["parts"], "to_parts": high["parts"], "extra_s": round(extra_s, 3),
                               "rows_per_s": round(marginal, 1), "target": TARGET_MARGINAL_ROWS_PER_S, "met": met}
        print(f"  marginal {low['parts']} -> {high['parts']} parts: {high['rows'] - low['rows']} rows in "
              f"{extra_s:.1f} extra s = {marginal:.0f} rows/s; target >= {TARGET_MARGINAL_ROWS_PER_S}: "
              f"{'met' if met else 'NOT met'} (output exact: every run's manifest counted every row and part)")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, nargs="+", default=[10_000], help="one or more sizes, in parts")
    parser.add_argument("--rows", type=int, default=5, help="rows per part (issue 15's figures: 400)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--script", type=Path, default=SCRIPT,
                        help="the consolidation script to time (another version of it, to compare)")
    parser.add_argument("--sample", type=Path, default=SAMPLE_SCRIPT,
                        help="the original sample's Glue script, run for comparison up to 1,000 parts")
    parser.add_argument("--no-sample", action="store_true", help="do not run the sample's script")
    args = parser.parse_args()
    sample = None if args.no_sample or not args.sample.is_file() else args.sample
    if sample is None and not args.no_sample:
        print(f"the sample's script is not at {args.sample}: its time is not measured")

    with LocalStack(port=0, sample_api=False) as stack:
        sizes = [measure(stack, parts, args.rows, args.runs, args.script, sample) for parts in sorted(args.parts)]
    targets = report(sizes, args.runs)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "bench": "consolidate", "script": str(args.script), "rows_per_part": args.rows, "sizes": sizes, "targets": targets,
        "sample_script": str(sample) if sample else None, "cpus": os.cpu_count(),
        "python": platform.python_version(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
