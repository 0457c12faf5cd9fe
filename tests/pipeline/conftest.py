"""A deployed stack of its own on the session's local stack, and helpers to run tasks on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd
import pytest

from toolkit import deploy, locations, results, runs
from toolkit.config import StackConfig
from toolkit.local.stack import LocalStack
from toolkit.local.sample_api import FaultPlan


@dataclass
class Pipeline:
    stack: LocalStack
    config: StackConfig

    def load(self, task_id: str, location_ids: list[str]) -> None:
        frame = pd.DataFrame({"task_id": task_id, "location_id": location_ids, "api_url": self.stack.sample_api.url})
        report = locations.load_locations(self.config, frame)
        assert report.attrs["written"] == len(location_ids)

    def run(self, task_id: str, **options) -> tuple[runs.Run, runs.RunProgress]:
        run = runs.start_run(self.config, task_id, **options)
        return run, runs.watch(run, interval=0.5)

    def output(self, task_id: str) -> pd.DataFrame:
        return results.load_output(self.config, task_id)

    def check(self, task_id: str, location_ids: list[str]) -> results.GroundTruthCheck:
        truth = self.stack.sample_api.ground_truth_frame(location_ids)
        return results.compare_with_ground_truth(self.output(task_id), truth)


@pytest.fixture(scope="module")
def pipeline():
    """A stack of its own: time runs 5x faster (retry back-offs), slow enough that the local
    Glue runner's scaled job timeout (60 min x 0.2) never cuts a real Spark run short."""
    with LocalStack(port=0, sample_api_port=0, time_scale=0.2) as stack:
        config = stack.config.replace(stack_name=f"p{uuid.uuid4().hex[:8]}")
        deploy.deploy(config)
        yield Pipeline(stack, config)
        deploy.teardown(config, force=True)


@pytest.fixture()
def faults(pipeline: Pipeline):
    """Set a fault plan on the sample API for one test; cleared afterwards."""

    def set_plan(plan: dict) -> None:
        pipeline.stack.sample_api.set_faults(FaultPlan.from_dict(plan))

    yield set_plan
    pipeline.stack.sample_api.set_faults(None)
