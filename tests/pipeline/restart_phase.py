"""Run in a fresh process by test_guards.py (moto's state is per process): a stack restart mid-run.

``start DIR STACK``: start a stack with ``data_dir=DIR``, deploy STACK, start a slow run of a
task and stop the stack while it runs (the state is saved, the running execution is not).
``after DIR STACK TASK``: start the stack again from DIR and print, as JSON, what the library
says about that task: progress, reconciled record, failures, the overview, and a new start.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from toolkit import deploy, locations, runs
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.local.sample_api import FaultPlan
from toolkit.local.stack import LocalStack

TASK = "restarted"


def start(stack: LocalStack, config: StackConfig) -> dict:
    deploy.deploy(config)
    ids = stack.sample_api.location_ids()[:3]
    frame = pd.DataFrame({"task_id": TASK, "location_id": ids, "api_url": stack.sample_api.url})
    locations.load_locations(config, frame)
    # Every answer takes a while: the run is still extracting when the stack stops.
    slow = {"seed": 1, "rules": [{"kind": "latency", "rate": 1, "seconds": 1}]}
    stack.sample_api.set_faults(FaultPlan.from_dict(slow))
    run = runs.start_run(config, TASK)
    deadline = time.monotonic() + 60
    while runs.latest_task(config, TASK) is None:  # the aggregator recorded the run
        assert time.monotonic() < deadline, "the run was never recorded"
        time.sleep(0.1)
    assert runs.progress(run).status == "RUNNING"
    return {"task": TASK, "execution_arn": run.execution_arn}


def after(stack: LocalStack, config: StackConfig, execution_arn: str) -> dict:
    run = runs.Run(task_id=TASK, execution_arn=execution_arn, config=config)
    out: dict = {"stored": runs.latest_task(config, TASK).status}
    snapshot = runs.progress(run)
    out["progress"] = [snapshot.status, snapshot.error, snapshot.cause]
    try:
        runs.failures(run)
        out["failures"] = None
    except ToolkitError as exc:
        out["failures"] = str(exc)
    reconciled = [r for r in runs.reconcile_tasks(config) if r.task_id == TASK]
    out["reconciled"] = [(r.status, r.error) for r in reconciled]
    overview = runs.list_tasks(config)
    out["overview"] = overview.loc[overview["task_id"] == TASK, ["status", "error"]].values.tolist()
    again = runs.start_run(config, TASK)  # the lost run's lock is taken over
    out["again"] = again.execution_arn
    stack.client("stepfunctions").stop_execution(executionArn=again.execution_arn)
    return out


if __name__ == "__main__":
    phase, data_dir, stack_name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    with LocalStack(port=0, sample_api_port=0, time_scale=0.2, data_dir=data_dir) as running_stack:
        stack_config = running_stack.config.replace(stack_name=stack_name)
        result = (start(running_stack, stack_config) if phase == "start"
                  else after(running_stack, stack_config, sys.argv[4]))
    print(json.dumps(result))
