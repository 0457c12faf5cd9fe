"""Local stack start-up time, idle memory, and request throughput through the gateway.

Start-up and idle RSS are measured in fresh processes (moto's import cost is per process): the
time from before ``import toolkit.local.stack`` until ``LocalStack.start()`` returns (every
component answering), and the stack process's RSS after 2 s idle (no Spark run). Median of 3.

Throughput compares, in one process, S3 GetObject and DynamoDB GetItem through our gateway
(moto's WSGI app on a thread pool behind aiohttp) with the same calls against moto's own
threaded server, from 8 client threads. Prints a table; writes bench/results/local_stack.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "local_stack.json"
STARTS = 3
CLIENT_THREADS = 8
CALLS_PER_THREAD = 150


def child() -> None:
    """One fresh start: print start seconds and idle RSS as JSON."""
    began = time.perf_counter()
    from toolkit.local.stack import LocalStack

    stack = LocalStack(port=0, sample_api_port=0).start()
    started = time.perf_counter() - began
    time.sleep(2.0)
    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    stack.stop(save=False)
    print(json.dumps({"start_s": started, "idle_rss_mib": rss}))


def _throughput(clients: dict, calls: int, threads: int) -> dict[str, float]:
    out = {}
    for name, (s3, ddb) in clients.items():
        def work(_: int) -> None:
            for _ in range(calls):
                s3.get_object(Bucket="bench-bucket", Key="k")["Body"].read()
                ddb.get_item(TableName="bench-table", Key={"k": {"S": "a"}})

        began = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        out[name] = 2 * calls * threads / (time.perf_counter() - began)
    return out


def _account_header(account_id: str):
    def add(request, **_: object) -> None:
        request.headers["x-moto-account-id"] = account_id
    return add


def throughput() -> dict[str, float]:
    import logging

    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    from toolkit.aws import LOCAL_CREDENTIALS
    from toolkit.local.stack import LocalStack

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    config = Config(max_pool_connections=CLIENT_THREADS * 2)
    with LocalStack(port=0, sample_api=False) as stack:
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        try:
            host, port = moto_server.get_host_and_port()
            clients = {}
            for name, url in (("gateway", stack.endpoint_url), ("moto ThreadedMotoServer", f"http://{host}:{port}")):
                session = boto3.Session(region_name="us-east-1", **LOCAL_CREDENTIALS)
                pair = (session.client("s3", endpoint_url=url, config=config),
                        session.client("dynamodb", endpoint_url=url, config=config))
                for client in pair:  # the same moto account the gateway uses
                    client.meta.events.register("before-sign", _account_header(stack.config.account_id))
                clients[name] = pair
            s3, ddb = clients["gateway"]  # moto's state is shared in-process: create once
            s3.create_bucket(Bucket="bench-bucket")
            s3.put_object(Bucket="bench-bucket", Key="k", Body=b"x" * 1024)
            ddb.create_table(TableName="bench-table", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
            ddb.put_item(TableName="bench-table", Item={"k": {"S": "a"}})
            _throughput(clients, 10, 2)  # warm-up
            return _throughput(clients, CALLS_PER_THREAD, CLIENT_THREADS)
        finally:
            moto_server.stop()


def main() -> None:
    runs = []
    for _ in range(STARTS):
        result = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, check=True)
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    start = statistics.median(r["start_s"] for r in runs)
    rss = statistics.median(r["idle_rss_mib"] for r in runs)
    rates = throughput()
    rows = [
        ("start-up to all components answering (s, median of 3)", f"{start:.2f}", "< 10"),
        ("idle RSS of the stack process (MiB, median of 3)", f"{rss:.0f}", "< 400"),
    ]
    rows += [(f"requests/s via {name} ({CLIENT_THREADS} client threads)", f"{rate:.0f}", "") for name, rate in rates.items()]
    ratio = rates["gateway"] / rates["moto ThreadedMotoServer"]
    rows.append(("gateway / ThreadedMotoServer throughput ratio", f"{ratio:.2f}", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>8}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>8}  {target}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "starts": runs, "start_s_median": start, "idle_rss_mib_median": rss,
        "requests_per_s": rates, "gateway_to_moto_server_ratio": ratio,
        "client_threads": CLIENT_THREADS, "calls_per_thread": 2 * CALLS_PER_THREAD,
    }, indent=2))


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
