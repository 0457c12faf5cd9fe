"""Child executions per second of a Distributed Map whose EXPRESS children each make one HTTP call.

The local Step Functions runtime (every integration registered) is served in this process
behind the AWS JSON protocol and driven through boto3, as a user would. The Map reads its
items (10,000 by default) from a JSONL object in S3 with MaxConcurrency 1,000; each EXPRESS child runs one
HTTP Task (``http:invoke``, API_KEY EventBridge connection read from moto's EventBridge and
Secrets Manager) against the sample third-party API over HTTPS (as on AWS), which runs in its own
process (``dsa sample-api serve``, its CA trusted by the runtime) so it does not share this
process's interpreter. AWS's quotas are
NOT lifted: each child's output is kept small so the Map result stays under 256 KiB.

Each run is timed from StartExecution until DescribeExecution reports the end; the table shows
every run and the median. The machine is shared: compare runs of one invocation only; the CPU
seconds this process used per run (and children per CPU-second) depend less on other load. State transitions count every state entered (the parent's Map state
plus one per child). Peak RSS is this process's (runtime + moto + boto3 client; the sample API
excluded). Targets: >= 500 children/s and < 1 GiB RSS.

    .venv/bin/python bench/bench_distributed_map.py [--items 10000] [--concurrency 1000] [--runs 3]

Writes bench/results/distributed_map.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from aiohttp import web
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sfn_runtime.api.awsjson import json_handler  # noqa: E402
from toolkit.local.server import BackgroundServer  # noqa: E402
from sfn_runtime.integrations import HttpTaskSettings, register_all  # noqa: E402
from sfn_runtime.api.service import StepFunctionsService  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "distributed_map.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"
API_KEY = "bench-key"
BUCKET = "bench-distributed-map"
TARGET_CHILDREN_PER_SECOND = 500.0
TARGET_RSS_MIB = 1024.0


def start_sample_api(ca_file: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli", "sample-api", "serve", "--port", "0", "--locations", "50",
         "--ca-file", str(ca_file)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "DSA_API_KEY": API_KEY},
    )
    url = process.stdout.readline().strip() if process.stdout else ""
    if not url.startswith("https://"):
        process.kill()
        raise SystemExit(f"the sample API did not start (printed {url!r})")
    return process, url


def definition(connection_arn: str, concurrency: int, bucket: str) -> dict:
    """Items come from a JSONL object in S3 (one page URL per line), as a Distributed Map reads them."""
    child = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {
                    "ApiEndpoint": "{% $states.input.url %}",
                    "Method": "GET",
                    "InvocationConfig": {"ConnectionArn": connection_arn},
                },
                "Output": "{% $states.result.StatusCode %}",
                "End": True,
            }
        },
    }
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSONL"},
                    "Arguments": {"Bucket": bucket, "Key": "{% $states.input.key %}"},
                },
                "MaxConcurrency": concurrency,
                "ItemProcessor": child,
                "Output": "{% {'children': $count($states.result), 'ok': $count($states.result[$ = 200])} %}",
                "End": True,
            }
        },
    }


def write_items(s3, bucket: str, api_url: str, items: int) -> str:
    """One get-summary URL per item, over 50 locations, as a JSONL object; returns its key."""
    key = f"items-{items}.jsonl"
    lines = (json.dumps({"url": f"{api_url}/loc-{i % 50 + 1:03d}/get-summary"}) for i in range(items))
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
    return key


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(sfn, machine_arn: str, items: int, key: str) -> dict:
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"key": key}))["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    if described["status"] != "SUCCEEDED":
        raise SystemExit(f"the run ended {described['status']}: {described.get('error')} {described.get('cause')}")
    output = json.loads(described["output"])
    if output != {"children": items, "ok": items}:
        raise SystemExit(f"unexpected output {output}")
    transitions = 1 + items  # the parent's Map state plus each child's one state
    return {
        "seconds": round(seconds, 3),
        "children_per_second": round(items / seconds, 1),
        "transitions_per_second": round(transitions / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "children_per_cpu_second": round(items / cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
    ca_file = Path(tempfile.mkdtemp(prefix="bench-ca-")) / "ca.pem"
    api, api_url = start_sample_api(ca_file)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    holder: dict = {}

    async def app() -> web.Application:
        service = StepFunctionsService(region=REGION, account_id=ACCOUNT, endpoint_url=moto_url)
        holder["integrations"] = register_all(service, max_http_connections=args.concurrency,
                                              http_settings=HttpTaskSettings(ca_file=str(ca_file)))
        application = web.Application()
        application.router.add_post("/", json_handler(service))

        async def cleanup(_app: web.Application) -> None:
            await service.close()
            await holder["integrations"].close()

        application.on_cleanup.append(cleanup)
        return application

    server = BackgroundServer(app, name="sfn-bench").start()
    try:
        keys = dict(region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        events = boto3.client("events", endpoint_url=moto_url, **keys)
        connection = events.create_connection(
            Name="bench-api", AuthorizationType="API_KEY",
            AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": API_KEY}},
        )["ConnectionArn"]
        s3 = boto3.client("s3", endpoint_url=moto_url, **keys)
        s3.create_bucket(Bucket=BUCKET)
        key = write_items(s3, BUCKET, api_url, args.items)
        sfn = boto3.client("stepfunctions", endpoint_url=server.url, **keys)
        machine = sfn.create_state_machine(
            name="bench-distributed-map", definition=json.dumps(definition(connection, args.concurrency, BUCKET)),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bench",
        )["stateMachineArn"]
        runs = [run_once(sfn, machine, args.items, key) for _ in range(args.runs)]
    finally:
        server.stop()
        moto.stop()
        api.terminate()
        api.wait(10)

    peak_rss_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"Distributed Map: {args.items} items, MaxConcurrency {args.concurrency}, EXPRESS children, one HTTP Task each")
    print(f"{'run':>6} {'seconds':>9} {'children/s':>11} {'transitions/s':>14} {'cpu s':>7} {'children/cpu-s':>15}")
    rows = [(str(n), r) for n, r in enumerate(runs, 1)] + [("median", median)]
    for label, r in rows:
        print(f"{label:>6} {r['seconds']:>9.2f} {r['children_per_second']:>11.1f} {r['transitions_per_second']:>14.1f}"
              f" {r['cpu_seconds']:>7.2f} {r['children_per_cpu_second']:>15.1f}")
    print(f"peak RSS: {peak_rss_mib} MiB (target < {TARGET_RSS_MIB:.0f}); children/s target >= {TARGET_CHILDREN_PER_SECOND:.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "distributed_map",
        "items": args.items,
        "max_concurrency": args.concurrency,
        "child_execution_type": "EXPRESS",
        "quotas": "AWS defaults (not lifted)",
        "runs": runs,
        "median": median,
        "peak_rss_mib": peak_rss_mib,
        "targets": {"children_per_second": TARGET_CHILDREN_PER_SECOND, "rss_mib": TARGET_RSS_MIB},
        "meets_targets": median["children_per_second"] >= TARGET_CHILDREN_PER_SECOND and peak_rss_mib < TARGET_RSS_MIB,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
