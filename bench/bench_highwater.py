"""High-water marks against AWS's quotas: the largest task and the largest location, run on the local stack.

Two runs through the real workflows (IAM, HTTPS and quotas enforced), each checked against the
sample API's ground truth: a task of ``--locations`` tiny locations, and a task of one location
of about ``--records`` records per data type, both at ``--page-limit`` rows a page (default: the
largest the config allows, which makes the largest pages). Then every execution of each run is
read back through the API (GetExecutionHistory; the Map Run's children by ListMapRuns and
ListExecutions; the children a Task started from the ExecutionArn in its result) and two figures
are kept per run: the largest state payload in bytes in any event (an execution's or state's
input or output, a Task's parameters or result) and the most history events in one execution,
each against AWS's quota (262,144 bytes; 25,000 events).

EXPRESS executions (the page-fetch batches) have no GetExecutionHistory on AWS (their history
goes to CloudWatch Logs); where the local API answers it they are counted, and the table says how
many EXPRESS histories were read.

    .venv/bin/python bench/bench_highwater.py [--locations 200] [--records 20000] [--page-limit 1000]

Writes bench/results/highwater.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "highwater.json"
PAYLOAD_QUOTA = 262_144  # bytes, a state's input or output (UTF-8)
HISTORY_QUOTA = 25_000  # events in one execution's history
PAYLOAD_FIELDS = ("input", "output", "parameters")


@dataclass
class HighWater:
    """The largest payload and the longest history seen in one run's executions."""

    executions: int = 0
    express_histories: int = 0
    largest_payload: int = 0
    largest_payload_at: str = ""
    most_events: int = 0
    most_events_at: str = ""
    unreadable: int = 0  # histories the API would not give (EXPRESS on AWS)
    unreadable_example: str = ""

    def see_history(self, arn: str, events: list[dict[str, Any]]) -> None:
        self.executions += 1
        if len(events) > self.most_events:
            self.most_events, self.most_events_at = len(events), arn
        for event in events:
            for name, details in event.items():
                if not name.endswith("EventDetails") or not isinstance(details, dict):
                    continue
                for key in PAYLOAD_FIELDS:
                    value = details.get(key)
                    size = len(value.encode("utf-8")) if isinstance(value, str) else 0
                    if size > self.largest_payload:
                        self.largest_payload = size
                        self.largest_payload_at = f"{arn} event {event['id']} {event['type']}.{key}"


def walk_run(sfn: Any, execution_arn: str) -> HighWater:
    """Every execution the run started, read through the API, into one HighWater."""
    marks = HighWater()
    pending, seen = [execution_arn], set()
    while pending:
        arn = pending.pop()
        if arn in seen:
            continue
        seen.add(arn)
        try:
            events = [e for page in sfn.get_paginator("get_execution_history").paginate(
                executionArn=arn, PaginationConfig={"PageSize": 1000}) for e in page["events"]]
        except ClientError as exc:  # e.g. an EXPRESS execution, as on AWS
            marks.unreadable += 1
            marks.unreadable_example = marks.unreadable_example or f"{arn}: {exc.response['Error'].get('Code')}"
            continue
        marks.express_histories += ":express:" in arn
        marks.see_history(arn, events)
        pending += _children(sfn, arn, events)
    return marks


def _children(sfn: Any, arn: str, events: list[dict[str, Any]]) -> list[str]:
    """Executions started by this one: its Map Runs' children, and the ones its Tasks started."""
    found = []
    if any(e["type"] == "MapRunStarted" for e in events):
        for map_run in sfn.list_map_runs(executionArn=arn)["mapRuns"]:
            for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run["mapRunArn"]):
                found += [child["executionArn"] for child in page["executions"]]
    for event in events:
        output = (event.get("taskSucceededEventDetails") or {}).get("output")
        if not output:
            continue
        try:
            result = json.loads(output)
        except ValueError:
            continue
        if isinstance(result, dict):
            child = result.get("ExecutionArn") or result.get("executionArn")
            if isinstance(child, str):
                found.append(child)
    return found


def run_task(stack: Any, config: Any, api: Any, label: str, max_concurrency: int) -> dict[str, Any]:
    """Load the API's locations as one task, run it, check it, measure it."""
    from toolkit import locations, results, runs

    ids = api.location_ids()
    task = f"hw-{label}-{uuid.uuid4().hex[:6]}"
    frame = pd.DataFrame({"task_id": task, "location_id": ids, "api_url": api.url})
    report = locations.load_locations(config, frame, session=stack.session())
    if report.attrs["written"] != len(ids):
        raise SystemExit(f"{label}: {report.attrs['rejected']} locations rejected")
    started = time.perf_counter()
    run = runs.start_run(config, task, max_concurrency=max_concurrency, session=stack.session())
    final = runs.watch(run, interval=2.0, session=stack.session())
    seconds = time.perf_counter() - started
    if final.status != "SUCCEEDED":
        raise SystemExit(f"{label}: the run ended {final.status}: {final.error} {final.cause}")
    output = results.load_output(config, task, session=stack.session())
    check = results.compare_with_ground_truth(output, api.ground_truth_frame(ids))
    if not check.ok:
        raise SystemExit(f"{label}: output differs from the ground truth: {check}")
    marks = walk_run(stack.client("stepfunctions"), run.execution_arn)
    records = sum(sum(api.dataset.sizes(i).values()) for i in ids)
    return {"run": label, "locations": len(ids), "records": records, "rows_out": len(output),
            "seconds": round(seconds, 1), **asdict(marks)}


def main() -> None:
    from toolkit.config import MAX_PAGE_LIMIT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=200, help="locations of the largest task (tiny ones)")
    parser.add_argument("--records", type=int, default=20_000,
                        help="records per data type, at most, of the largest location")
    parser.add_argument("--page-limit", type=int, default=MAX_PAGE_LIMIT, help="rows a page")
    parser.add_argument("--max-concurrency", type=int, default=50, help="locations in flight")
    args = parser.parse_args()

    from toolkit import deploy
    from toolkit.config import StackConfig
    from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi
    from toolkit.local.stack import LocalStack

    base = StackConfig.load(stack_name="hw", page_limit=args.page_limit)
    key = os.environ.setdefault(base.api_key_env, secrets.token_urlsafe(16))
    shapes = {
        "largest-task": DatasetParams(seed=11, locations=args.locations, max_records=3, empty_location_share=0.3),
        "largest-location": DatasetParams(seed=1, locations=1, max_records=args.records, empty_location_share=0.0,
                                          empty_type_share=0.0),
    }
    rows = []
    with LocalStack(base, port=0, sample_api_port=0, time_scale=0.2) as stack:
        config = stack.config
        deploy.deploy(config, stack.session())
        auth = AuthConfig.api_key(key, header=config.api_key_header)
        for label, params in shapes.items():
            with SampleApi(params, auth=auth, host=stack.host, ca=stack.ca) as api:
                rows.append(run_task(stack, config, api, label, args.max_concurrency))
                print(f"{label}: done in {rows[-1]['seconds']} s", flush=True)

    table = pd.DataFrame([{
        "run": r["run"], "locations": r["locations"], "records": r["records"], "executions": r["executions"],
        "EXPRESS histories": r["express_histories"],
        "largest payload B": r["largest_payload"], "of 262,144": f"{r['largest_payload'] / PAYLOAD_QUOTA:.1%}",
        "most events": r["most_events"], "of 25,000": f"{r['most_events'] / HISTORY_QUOTA:.1%}",
        "run s": r["seconds"],
    } for r in rows])
    print(table.to_string(index=False))
    for r in rows:
        print(f"{r['run']}: largest payload at {r['largest_payload_at']}; most events in {r['most_events_at']}")
        if r["unreadable"]:
            print(f"{r['run']}: {r['unreadable']} histories not readable through the API, e.g. "
                  f"{r['unreadable_example']}; their payloads are not in the figures (the runtime itself "
                  "fails any state over the quota, so the run's SUCCEEDED bounds them)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "parameters": vars(args), "quotas": {"payload_bytes": PAYLOAD_QUOTA, "history_events": HISTORY_QUOTA},
        "runs": rows,
    }, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
