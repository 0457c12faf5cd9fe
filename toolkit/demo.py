"""The main job, end to end, on the embedded local stack: what ``dsa demo`` and ``make demo`` run.

Starts the local stack and the sample third-party API, deploys the stack, loads the sample
locations, runs one task with a progress bar, checks the consolidated output against the
sample API's ground truth, and prints a summary. Every step either succeeds or stops the demo
with a one-line error and a non-zero exit: it never reports work that did not happen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from toolkit import deploy, locations, results, runs
from toolkit.commands.common import watch_run
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.layout import TaskRecord
from toolkit.local.stack import LocalStack
from toolkit.local.sample_api import read_locations_csv

SAMPLE_LOCATIONS = Path(__file__).resolve().parent.parent / "sample_data" / "locations.csv"


def _step(text: str) -> float:
    print(f"==> {text}", flush=True)
    return time.monotonic()


def run_demo(port: int = 4566, sample_api_port: int = 4567, locations_count: int = 0, keep: bool = False) -> int:
    """Run the demo (``locations_count``: only the first N sample locations; ``keep``: leave the stack
    running until Ctrl-C); return the exit code."""
    started = time.monotonic()
    config = StackConfig.load()
    _step(f"Starting the local stack on 127.0.0.1:{port} (sample API on {sample_api_port})")
    with LocalStack(config, port=port, sample_api_port=sample_api_port) as stack:
        config = stack.config
        print(f"    endpoint {stack.endpoint_url}, sample API {stack.sample_api.url}")

        t = _step("Deploying the stack (tables, buckets, Glue job, connection, roles, state machines)")
        # The connection gets the key the sample API wants: DSA_API_KEY, else the stack's own.
        changes = deploy.deploy(config, stack.session(), environ={**os.environ, config.api_key_env: stack.api_key})
        created = sum(c.action in ("create", "update") for c in changes)
        print(f"    {created} resources created or updated, {len(changes) - created} unchanged "
              f"({time.monotonic() - t:.1f} s)")

        _step("Loading the sample locations from sample_data/locations.csv")
        frame = read_locations_csv(SAMPLE_LOCATIONS)
        task_id = f"demo-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
        frame = frame.assign(task_id=task_id, api_url=stack.sample_api.url)
        if locations_count:
            frame = frame.head(locations_count)
        report = locations.load_locations(config, frame, session=stack.session())
        if report.attrs["rejected"]:
            raise ToolkitError(f"locations: {report.attrs['rejected']} sample rows were rejected")
        print(f"    {report.attrs['written']} locations loaded for task {task_id}")

        t = _step(f"Running task {task_id}")
        run = runs.start_run(config, task_id, session=stack.session())
        final = watch_run(run, interval=1.0, session=stack.session())
        if not final.done:
            print("    stopped watching; the run stops with the stack, which is now shutting down")
            return 130
        if final.status != "SUCCEEDED":
            raise ToolkitError(f"run: the aggregator ended {final.status}: {final.error}: {final.cause}")
        run_seconds = time.monotonic() - t

        _step("Checking the output against the sample API's ground truth")
        output = results.load_output(config, task_id, session=stack.session())
        expected = stack.sample_api.ground_truth_frame(list(frame["location_id"]))
        check = results.compare_with_ground_truth(output, expected)
        print(f"    {check.summary()}")

        task = runs.latest_task(config, task_id, session=stack.session())
        manifest = results.load_manifest(config, task_id, session=stack.session())
        _print_summary(task, manifest, final, run_seconds, time.monotonic() - started)
        if not check.ok:
            raise ToolkitError("output: the consolidated output does not match the ground truth (see above)")
        if keep:
            print("\nThe stack keeps running; point any AWS tool at it with:")
            for key, value in stack.env().items():
                print(f"    export {key}={value}")
            print("Press Ctrl-C to stop it.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


def _print_summary(task: TaskRecord | None, manifest: dict, final: runs.RunProgress, run_seconds: float, total: float) -> None:
    ok = final.succeeded
    print("\nSummary")
    print(f"  task status      {task.status if task else None}")
    print(f"  locations        {ok} ok, {final.failed} failed, {final.locations_total} in all")
    for data_type, rows in sorted(manifest.get("rows_by_data_type", {}).items()):
        print(f"  rows {data_type:<11} {rows}")
    print(f"  rows in all      {manifest.get('total_rows')}")
    print(f"  output CSV       {manifest.get('csv_uri')}")
    print(f"  output Parquet   {manifest.get('parquet_uri')}")
    print(f"  manifest         {manifest.get('manifest_uri')}")
    print(f"  run time         {run_seconds:.1f} s (whole demo {total:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.demo (or: dsa demo)",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4566, help="the stack's endpoint port (0: a free one)")
    parser.add_argument("--sample-api-port", type=int, default=4567, help="the sample API's port (0: a free one)")
    parser.add_argument("--locations", type=int, default=0, help="run only the first N sample locations")
    parser.add_argument("--keep", action="store_true", help="keep the stack running after the run, until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.port, args.sample_api_port, args.locations, args.keep)
    except ToolkitError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
