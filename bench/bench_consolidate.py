"""Consolidation of one task's part files (10,000 by default) by glue/consolidate.py on local PySpark.

The job runs as Glue runs it: a subprocess of the script with ``--task_id --run_id --work_bucket
--output_bucket --locations_table``, against the embedded local stack's S3 and DynamoDB (moto behind
the stack's endpoint, in this process), with a coverage manifest per location listing its parts. Each part holds ``--rows`` rows with quotes, commas and newlines in the message.
The job reports its own phase timings (Spark start-up, listing, parallel fetch and validation,
writing and uploading the CSV and Parquet, manifest): Spark start-up is printed separately and
rows/s is computed without it. Every run is checked: the manifest must count every row and part.
Before each run, a plain process lists and GETs the same parts with as many threads as the job
uses in all (16 per core): the S3 side's limit, against which the job's fetch phase is compared.

The machine is shared and the S3 is moto in one Python process (its request rate bounds the
fetch phase): compare runs of one invocation only and quote the median.

    .venv/bin/python bench/bench_consolidate.py [--parts 10000] [--rows 5] [--runs 3]

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.local.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "consolidate.json"
SCRIPT = ROOT / "glue" / "consolidate.py"
TASK = "bench-task"
RUN = "bench-run"
LOCATIONS = 100


def _place(i: int) -> tuple[str, str, int]:
    """Part i's location, data type and page: pages of each location and type are contiguous from 0."""
    location, rest = f"loc-{i % LOCATIONS:04d}", i // LOCATIONS
    return location, ("failed", "rejected")[rest % 2], rest // 2


def upload_parts(s3, dynamodb, bucket: str, table: str, parts: int, rows: int) -> float:
    """Write the task's parts (LOCATIONS locations x 2 data types x pages), each location's coverage
    manifest and locations table item; return the seconds taken."""
    def body(i: int) -> tuple[str, bytes]:
        location, data_type, page = _place(i)
        doc = {"task_id": TASK, "run_id": RUN, "location_id": location, "data_type": data_type, "offset": page * rows,
               "rows": [{"discount_code": f"D{i}-{r}", "error_messages": [f'code {r}: "bad", see\nline 2', "more"],
                         "status": data_type} for r in range(rows)]}
        return f"parts/{TASK}/{RUN}/{location}/{data_type}/{page * rows}.json", json.dumps(doc).encode()

    pages: dict[str, dict[str, int]] = {}
    for i in range(parts):
        location, data_type, _ = _place(i)
        pages.setdefault(location, {"failed": 0, "rejected": 0})[data_type] += 1

    def cover(location: str) -> None:
        doc = {"task_id": TASK, "location_id": location, "run_id": RUN, "extracted_at": "2026-12-02T12:00:00Z",
               "page_limit": rows, "data_types": [{"data_type": t, "pages": n} for t, n in pages[location].items()]}
        s3.put_object(Bucket=bucket, Key=f"coverage/{TASK}/complete/{location}.json", Body=json.dumps(doc).encode())
        dynamodb.put_item(TableName=table, Item={"task_id": {"S": TASK}, "location_id": {"S": location}})

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=body(i)[0], Body=body(i)[1]), range(parts)))
        list(pool.map(cover, pages))
    return time.perf_counter() - started


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


def direct_fetch(stack: LocalStack, work: str, threads: int) -> tuple[float, float]:
    """List and GET every part from a plain process with the job's total thread count: the S3 side's limit."""
    done = subprocess.run([sys.executable, "-c", DIRECT_FETCH, work, f"parts/{TASK}/", str(threads)],
                          env={**os.environ, **stack.env()}, capture_output=True, text=True, timeout=1800, check=True)
    _, list_s, fetch_s = done.stdout.split()
    return float(list_s), float(fetch_s)


def run_job(stack: LocalStack, work: str, output: str, table: str) -> tuple[float, dict]:
    env = {**os.environ, **stack.env()}
    cmd = [sys.executable, str(SCRIPT), "--task_id", TASK, "--run_id", RUN, "--work_bucket", work,
           "--output_bucket", output, "--locations_table", table]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"job failed: {done.stderr.strip().splitlines()[-1]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with LocalStack(port=0, sample_api=False) as stack:
        s3 = stack.client("s3")
        suffix = str(os.getpid())
        work, output = f"bench-work-{suffix}", f"bench-output-{suffix}"
        for bucket in (work, output):
            s3.create_bucket(Bucket=bucket)
        dynamodb, table = stack.client("dynamodb"), f"bench-locations-{suffix}"
        dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"},
                                         {"AttributeName": "location_id", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                                                    {"AttributeName": "location_id", "AttributeType": "S"}])
        upload_s = upload_parts(s3, dynamodb, work, table, args.parts, args.rows)
        runs = []
        for _ in range(args.runs):
            direct_list_s, direct_fetch_s = direct_fetch(stack, work, threads=16 * (os.cpu_count() or 1))
            wall, summary = run_job(stack, work, output, table)
            if summary["total_rows"] != args.parts * args.rows or summary["part_files_read"] != args.parts:
                raise SystemExit(f"wrong counts in {summary}")
            phases = summary["seconds"]
            without_start = wall - phases["spark_start"]
            runs.append({"wall_s": round(wall, 3), **{f"{k}_s": v for k, v in phases.items()},
                         "without_spark_start_s": round(without_start, 3),
                         "rows_per_s": round(summary["total_rows"] / without_start, 1),
                         "parts_per_s": round(args.parts / without_start, 1),
                         "direct_list_s": direct_list_s, "direct_fetch_s": direct_fetch_s,
                         "fetch_vs_direct": round(phases["fetch"] / direct_fetch_s, 2)})

    columns = list(runs[0])
    median = {c: round(statistics.median(r[c] for r in runs), 3) for c in columns}
    print(f"consolidate: {args.parts} parts x {args.rows} rows = {args.parts * args.rows} rows, "
          f"{args.runs} runs (parts uploaded in {upload_s:.1f} s)")
    print(f"{'run':>6} " + " ".join(f"{c:>22}" for c in columns))
    for i, r in enumerate(runs, 1):
        print(f"{i:>6} " + " ".join(f"{r[c]:>22}" for c in columns))
    print(f"{'median':>6} " + " ".join(f"{median[c]:>22}" for c in columns))
    print(f"Spark start-up (median): {median['spark_start_s']} s; "
          f"consolidation without it: {median['without_spark_start_s']} s, {median['rows_per_s']} rows/s; "
          f"job fetch phase / plain concurrent GETs of the same parts: {median['fetch_vs_direct']}x")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "bench": "consolidate", "parts": args.parts, "rows_per_part": args.rows, "runs": runs, "median": median,
        "upload_s": round(upload_s, 3), "cpus": os.cpu_count(), "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
