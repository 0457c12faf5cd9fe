"""A deployed stack of its own for the widget tests, and a helper to load a task's locations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd
import pytest

from toolkit import deploy, locations
from toolkit.config import StackConfig
from toolkit.local.stack import LocalStack


@dataclass
class Deployed:
    stack: LocalStack
    config: StackConfig

    def load(self, task_id: str, location_ids: list[str]) -> None:
        frame = pd.DataFrame({"task_id": task_id, "location_id": location_ids,
                              "api_url": self.stack.sample_api.url})
        assert locations.load_locations(self.config, frame).attrs["written"] == len(location_ids)


@pytest.fixture(scope="module")
def deployed():
    """Time runs 5x faster (retry back-offs), as in the pipeline tests, so Spark is never cut short."""
    with LocalStack(port=0, sample_api_port=0, time_scale=0.2) as stack:
        config = stack.config.replace(stack_name=f"w{uuid.uuid4().hex[:8]}")
        deploy.deploy(config)
        yield Deployed(stack, config)
        deploy.teardown(config, force=True)
