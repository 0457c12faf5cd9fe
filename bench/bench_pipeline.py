"""End-to-end time of the whole pipeline on the local stack, against fetching the same pages directly.

For 25, 100 and 400 locations of the sample dataset (API-key auth on), one task run through
the real workflows (``--repeats`` times; medians are printed): the extraction phase (execution
start to the end of its Map Run, from the history) and consolidation (the Glue run on PySpark,
Spark start-up included) are timed apart. The same pages are then fetched by a plain aiohttp
client that knows every page from the summaries and keeps as many requests in flight as the
pipeline may (the stack's ``api_concurrency``): the best a direct client can do under the same
politeness limit. The ratio pipeline/direct compares the extraction phase with the direct fetch
that follows it in the same repeat; the ratio column is the median of those per-repeat ratios
(each listed after it), and the run fails unless every repeat wrote the direct client's row
count. Rows/s counts consolidated rows over the whole run. The machine's load average is kept
with each size (the pipeline and the direct client share the machine with whatever else runs).

The cost table prices each run on AWS from what the run did, counted from its histories: state
transitions of the STANDARD executions (every ``...StateEntered`` event, retries included), page-
fetch (EXPRESS) requests and their billed duration, S3 requests (a PUT and a GET per part), and the
Glue job's DPU-hours.
Prices are AWS's published us-east-1 prices (see PRICES); EXPRESS duration cannot be measured
locally (the API's latency is loopback's), so each page is billed ``--page-seconds`` of it.

    .venv/bin/python bench/bench_pipeline.py [--sizes 25 100 400] [--concurrency 25] [--repeats 3]

Writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import statistics
import platform
import secrets
import time
from pathlib import Path

import aiohttp
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "pipeline.json"
PAGE_LIMIT = 100

#: AWS's published prices, us-east-1 (Step Functions, S3 and Glue pricing pages).
PRICES = {
    "standard_transition": 0.025 / 1000,  # Step Functions Standard: per state transition
    "express_request": 1.00 / 1_000_000,  # Step Functions Express: per request
    "express_gb_second": 0.00001667,  # Express duration, billed per 64 MB and per 100 ms
    "s3_put": 0.005 / 1000,  # S3 Standard PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,  # S3 Standard GET
    "glue_dpu_hour": 0.44,  # Glue Spark job, per DPU-hour, billed per second with a 1-minute minimum
}
EXPRESS_MEMORY_GB = 64 / 1024  # the smallest billing chunk; these children are small


def direct_fetch(url: str, key: str, location_ids: list[str], concurrency: int) -> tuple[float, int, int]:
    """Fetch every page the pipeline fetches with at most `concurrency` requests in flight:
    each location's summary, then every page it promises; (seconds, pages, rows)."""

    async def main() -> tuple[float, int, int]:
        gate = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, headers={"x-api-key": key}) as session:

            async def get(path: str, **params: str) -> dict:
                async with gate, session.get(f"{url}/{path}", params=params) as reply:
                    return await reply.json()

            async def location(location_id: str) -> list[dict]:
                summary = (await get(f"{location_id}/get-summary"))["states"]
                return await asyncio.gather(*(
                    get(f"{location_id}/get-data", state=data_type, limit=str(PAGE_LIMIT), offset=str(offset))
                    for data_type in ("failed", "rejected")
                    for offset in range(0, summary.get(data_type) or 0, PAGE_LIMIT)))

            start = time.perf_counter()
            done = await asyncio.gather(*(location(i) for i in location_ids))
            pages = [page for location_pages in done for page in location_pages]
            return time.perf_counter() - start, len(pages), sum(page["count"] for page in pages)

    return asyncio.run(main())


def pipeline_run(config, stack, api_url: str, location_ids: list[str], concurrency: int) -> dict:
    from toolkit import locations, results, runs

    task_id = f"bench-{len(location_ids)}-{secrets.token_hex(3)}"
    frame = pd.DataFrame({"task_id": task_id, "location_id": location_ids, "api_url": api_url})
    locations.load_locations(config, frame, session=stack.session())
    run = runs.start_run(config, task_id, max_concurrency=concurrency, session=stack.session())
    # The run's times come from its history; polling rarely keeps this process's CPU for the stack.
    final = runs.watch(run, interval=5.0, session=stack.session())
    if final.status != "SUCCEEDED":
        raise SystemExit(f"run for {len(location_ids)} locations ended {final.status}: {final.error} {final.cause}")
    events = runs.history(config, run.execution_arn, session=stack.session())
    start = events["timestamp"].iloc[0]
    map_end = events.loc[events["type"].isin(["MapRunSucceeded", "MapRunFailed"]), "timestamp"].iloc[0]
    glue = events[events["state"] == "Consolidate"]
    glue_start = glue.loc[glue["type"] == "TaskStateEntered", "timestamp"].iloc[0]
    glue_end = glue.loc[glue["type"] == "TaskStateExited", "timestamp"].iloc[0]
    manifest = results.load_manifest(config, task_id, session=stack.session())
    total = (events["timestamp"].iloc[-1] - start).total_seconds()
    transitions, express = _counted_work(stack, run.execution_arn)
    return {
        "standard_transitions": transitions,
        "express_requests": express,
        "extraction_seconds": (map_end - start).total_seconds(),
        "consolidation_seconds": (glue_end - glue_start).total_seconds(),
        "total_seconds": total,
        "rows": manifest["total_rows"],
        "pages": int(runs.coverage(config, task_id, session=stack.session())["pages"].sum()),
        "parts": manifest["part_files_read"],
        "rows_per_second": manifest["total_rows"] / total,
    }


def _counted_work(stack, execution_arn: str) -> tuple[int, int]:
    """STANDARD state transitions (StateEntered events, retries included) of the run, its Map Run's
    children and the extraction executions those start, and its page-fetch requests
    (startSyncExecution calls)."""
    sfn = stack.client("stepfunctions")
    pending = [execution_arn]
    for map_run in sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]:
        for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run["mapRunArn"]):
            pending += [child["executionArn"] for child in page["executions"]]
    transitions = express = 0
    while pending:
        arn = pending.pop()
        for page in sfn.get_paginator("get_execution_history").paginate(
                executionArn=arn, PaginationConfig={"PageSize": 1000}):
            for event in page["events"]:
                transitions += event["type"].endswith("StateEntered")
                details = event.get("taskScheduledEventDetails") or {}
                express += details.get("resource") == "startSyncExecution"
                done = event.get("taskSucceededEventDetails") or {}
                if done.get("resource") == "startExecution.sync:2":  # the extraction it ran
                    pending.append(json.loads(done["output"])["ExecutionArn"])
    return transitions, express


def aws_cost(run: dict, page_seconds: float, glue_workers: int = 2) -> dict:
    """What the run would cost on AWS, per component, from what it did (see PRICES)."""
    pages, parts = run["pages"], run["parts"]
    per_child = pages / max(1, run["express_requests"]) * page_seconds
    billed_seconds = run["express_requests"] * math.ceil(per_child * 10) / 10  # 100 ms steps
    cost = {
        "standard": run["standard_transitions"] * PRICES["standard_transition"],
        "express": run["express_requests"] * PRICES["express_request"]
        + billed_seconds * EXPRESS_MEMORY_GB * PRICES["express_gb_second"],
        # one PUT per part and a few outputs; Glue GETs every part and lists them
        "s3": (parts + 4 + math.ceil(parts / 1000)) * PRICES["s3_put"] + (parts + 2) * PRICES["s3_get"],
        "glue": glue_workers * max(60.0, run["consolidation_seconds"]) / 3600 * PRICES["glue_dpu_hour"],
    }
    cost["total"] = sum(cost.values())
    return {name: value / pages * 1000 for name, value in cost.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--concurrency", type=int, default=25, help="locations in flight (MaxConcurrency)")
    parser.add_argument("--api-concurrency", type=int, default=100,
                        help="requests in flight to the API, the pipeline's and the direct client's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page-seconds", type=float, default=0.2,
                        help="EXPRESS duration billed per page on AWS (the API's latency there)")
    args = parser.parse_args()

    from toolkit import deploy
    from toolkit.config import StackConfig
    from toolkit.local.stack import LocalStack
    try:
        from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi
    except ImportError:  # a tree from before the sample API's rename, measured for comparison
        from toolkit.local.thirdparty import AuthConfig, DatasetParams, SampleApi

    # An older tree (before the batched extraction) has no api_concurrency: there the pipeline
    # keeps one request in flight per location, and so does the direct client.
    batched = "api_concurrency" in StackConfig.__dataclass_fields__
    in_flight = args.api_concurrency if batched else args.concurrency
    config = StackConfig.load(stack_name="bench", **({"api_concurrency": in_flight} if batched else {}))
    key = os.environ.setdefault(config.api_key_env, secrets.token_urlsafe(16))
    api = SampleApi(dataset=DatasetParams(locations=max(args.sizes)), auth=AuthConfig.api_key(key)).start()
    rows = []
    try:
        # The sample API runs outside the stack here, over plain http: the stack's explicit opt-in.
        # The sample API here serves plain http (the local opt-in); an older tree has no such setting.
        plain = {"sample_api_tls": False} if "sample_api_tls" in inspect.signature(LocalStack).parameters else {}
        with LocalStack(config, port=0, sample_api=False, **plain) as stack:
            config = stack.config
            deploy.deploy(config, stack.session())
            for size in args.sizes:
                ids = api.location_ids()[:size]
                runs_, directs, loads = [], [], []
                for _ in range(args.repeats):
                    loads.append(os.getloadavg()[0])
                    measured = pipeline_run(config, stack, api.url, ids, args.concurrency)
                    direct_seconds, direct_pages, direct_rows = direct_fetch(api.url, key, ids, in_flight)
                    if direct_rows != measured["rows"]:
                        raise SystemExit(f"{size} locations: pipeline wrote {measured['rows']} rows, "
                                         f"the API holds {direct_rows}")
                    runs_.append(measured)
                    directs.append(direct_seconds)
                median = {k: statistics.median(r[k] for r in runs_) for k in runs_[0]}
                ratios = [r["extraction_seconds"] / d for r, d in zip(runs_, directs)]
                rows.append({"locations": size, **median, "direct_seconds": statistics.median(directs),
                             "load_average_at_start": loads,
                             "ratio_extraction_to_direct": statistics.median(ratios), "ratios": ratios,
                             "cost_per_1000_pages": aws_cost(median, args.page_seconds, config.glue_workers)})
    finally:
        api.stop()

    print(f"\n{args.concurrency} locations in flight, {in_flight} requests in flight, page limit {PAGE_LIMIT}, "
          f"median of {args.repeats}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    print(f"{'locations':>9} {'rows':>8} {'pages':>6} {'extract s':>9} {'direct s':>8} {'ratio':>6} "
          f"{'glue s':>7} {'total s':>8} {'rows/s':>8}  ratios of the runs")
    for r in rows:
        print(f"{r['locations']:>9} {r['rows']:>8.0f} {r['pages']:>6.0f} {r['extraction_seconds']:>9.1f} "
              f"{r['direct_seconds']:>8.2f} {r['ratio_extraction_to_direct']:>6.1f} "
              f"{r['consolidation_seconds']:>7.1f} {r['total_seconds']:>8.1f} {r['rows_per_second']:>8.0f}  "
              + " ".join(f"{x:.1f}" for x in r["ratios"]))
    print(f"\nAWS cost per 1,000 pages, USD (us-east-1 prices; EXPRESS billed {args.page_seconds} s per page)")
    print(f"{'locations':>9} {'transitions/page':>16} {'express/page':>12} {'parts/page':>10} {'standard':>9} {'express':>8} "
          f"{'s3':>7} {'glue':>7} {'total':>7}")
    for r in rows:
        c = r["cost_per_1000_pages"]
        print(f"{r['locations']:>9} {r['standard_transitions'] / r['pages']:>16.2f} "
              f"{r['express_requests'] / r['pages']:>12.2f} {r['parts'] / r['pages']:>10.2f} "
              f"{c['standard']:>9.4f} {c['express']:>8.4f} "
              f"{c['s3']:>7.4f} {c['glue']:>7.4f} {c['total']:>7.4f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.node(), "cpus": os.cpu_count(),
                                   "load_average": os.getloadavg(), "concurrency": args.concurrency,
                                   "requests_in_flight": in_flight, "batched_extraction": batched,
                                   "prices": PRICES, "runs": rows}, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
