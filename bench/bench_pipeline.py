"""End-to-end time of the whole pipeline on the local stack, against fetching the same pages directly.

For 25, 100 and 400 locations of the sample dataset (API-key auth on), one task run through
the real workflows: the extraction phase (execution start to the end of its Map Run, from the
history) and consolidation (the Glue run on PySpark, Spark start-up included) are timed apart.
The same pages (summary, then every get-data page of every location and data type, page by
page as the workflows ask for them) are then fetched by a plain aiohttp client with the same
number of locations in flight: the limit the network side allows. The ratio pipeline/direct
compares the extraction phase with that limit. Rows/s counts consolidated rows over the whole run.

    .venv/bin/python bench/bench_pipeline.py [--sizes 25 100 400] [--concurrency 25]

Writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import time
from pathlib import Path

import aiohttp
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "pipeline.json"
PAGE_LIMIT = 100


def direct_fetch(url: str, key: str, location_ids: list[str], concurrency: int) -> tuple[float, int, int]:
    """Fetch every page the pipeline fetches, `concurrency` locations at a time; (seconds, pages, rows)."""

    async def location(session: aiohttp.ClientSession, location_id: str) -> tuple[int, int]:
        pages = rows = 0
        async with session.get(f"{url}/{location_id}/get-summary") as reply:
            summary = (await reply.json())["states"]
        for data_type in ("failed", "rejected"):
            if not summary.get(data_type):
                continue
            offset = 0
            while True:
                params = {"state": data_type, "limit": str(PAGE_LIMIT), "offset": str(offset)}
                async with session.get(f"{url}/{location_id}/get-data", params=params) as reply:
                    page = await reply.json()
                pages, rows, offset = pages + 1, rows + page["count"], offset + PAGE_LIMIT
                if page["count"] < PAGE_LIMIT:
                    break
        return pages, rows

    async def main() -> tuple[float, int, int]:
        gate = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, headers={"x-api-key": key}) as session:

            async def bounded(location_id: str) -> tuple[int, int]:
                async with gate:
                    return await location(session, location_id)

            start = time.perf_counter()
            done = await asyncio.gather(*(bounded(i) for i in location_ids))
            return time.perf_counter() - start, sum(p for p, _ in done), sum(r for _, r in done)

    return asyncio.run(main())


def pipeline_run(config, stack, api_url: str, location_ids: list[str], concurrency: int) -> dict:
    from toolkit import locations, results, runs

    task_id = f"bench-{len(location_ids)}-{secrets.token_hex(3)}"
    frame = pd.DataFrame({"task_id": task_id, "location_id": location_ids, "api_url": api_url})
    locations.load_locations(config, frame, session=stack.session())
    run = runs.start_run(config, task_id, max_concurrency=concurrency, session=stack.session())
    final = runs.watch(run, interval=1.0, session=stack.session())
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
    return {
        "extraction_seconds": (map_end - start).total_seconds(),
        "consolidation_seconds": (glue_end - glue_start).total_seconds(),
        "total_seconds": total,
        "rows": manifest["total_rows"],
        "pages": manifest["part_files_read"],
        "rows_per_second": manifest["total_rows"] / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--concurrency", type=int, default=25, help="locations in flight (MaxConcurrency)")
    args = parser.parse_args()

    from toolkit import deploy
    from toolkit.config import StackConfig
    from toolkit.local.stack import LocalStack
    from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi

    config = StackConfig.load(stack_name="bench")
    key = os.environ.setdefault(config.api_key_env, secrets.token_urlsafe(16))
    api = SampleApi(dataset=DatasetParams(locations=max(args.sizes)), auth=AuthConfig.api_key(key)).start()
    rows = []
    try:
        # The sample API runs outside the stack here, over plain http: the stack's explicit opt-in.
        with LocalStack(config, port=0, sample_api=False, sample_api_tls=False) as stack:
            config = stack.config
            deploy.deploy(config, stack.session())
            for size in args.sizes:
                ids = api.location_ids()[:size]
                measured = pipeline_run(config, stack, api.url, ids, args.concurrency)
                direct_seconds, direct_pages, direct_rows = direct_fetch(api.url, key, ids, args.concurrency)
                if direct_rows != measured["rows"]:
                    raise SystemExit(f"{size} locations: pipeline wrote {measured['rows']} rows, the API holds {direct_rows}")
                rows.append({"locations": size, **measured, "direct_seconds": direct_seconds,
                             "direct_pages": direct_pages,
                             "ratio_extraction_to_direct": measured["extraction_seconds"] / direct_seconds})
    finally:
        api.stop()

    print(f"\nconcurrency {args.concurrency} locations in flight; page limit {PAGE_LIMIT}")
    header = (f"{'locations':>9} {'rows':>8} {'pages':>6} {'extract s':>9} {'direct s':>8} {'ratio':>6} "
              f"{'glue s':>7} {'total s':>8} {'rows/s':>8}")
    print(header)
    for r in rows:
        print(f"{r['locations']:>9} {r['rows']:>8} {r['pages']:>6} {r['extraction_seconds']:>9.1f} "
              f"{r['direct_seconds']:>8.2f} {r['ratio_extraction_to_direct']:>6.1f} "
              f"{r['consolidation_seconds']:>7.1f} {r['total_seconds']:>8.1f} {r['rows_per_second']:>8.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.node(), "cpus": os.cpu_count(),
                                   "load_average": os.getloadavg(), "concurrency": args.concurrency,
                                   "runs": rows}, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
