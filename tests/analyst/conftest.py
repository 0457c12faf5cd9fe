"""Consolidated output of the sample API's ground truth, written by the Glue script's own writer
into a bucket of the session's local stack: two runs of one task, as the pipeline lays them out."""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from toolkit import layout
from toolkit.config import StackConfig
from toolkit.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
TASK = "analyst-task"
FIRST, SECOND = "analyst-task-20261201T090000", "analyst-task-20261202T090000"
STAMPS = {FIRST: "2026-12-01T09:00:05.123Z", SECOND: "2026-12-02T09:00:07.456Z"}


def glue_script():
    """The standalone Glue script as a module (its writer and its catalog step)."""
    spec = importlib.util.spec_from_file_location("consolidate_for_analyst", ROOT / "glue" / "consolidate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Output:
    """Two consolidations of TASK: the first of ``first_ids``, the second (the latest) of ``second_ids``."""

    config: StackConfig
    stack: LocalStack
    first_ids: list[str]
    second_ids: list[str]

    def truth(self, ids: list[str]) -> pd.DataFrame:
        return self.stack.sample_api.ground_truth_frame(ids)


def write_run(stack: LocalStack, config: StackConfig, task: str, run: str, truth: pd.DataFrame,
              complete: list[str]) -> None:
    """One consolidation of ``truth``'s records as the Glue job writes it (Parquet, CSV, manifest, pointer)."""
    glue = glue_script()
    rows = [(r.resourceKey, tuple(r.messages), r.data_type, r.location_id, r.data_type, task, run, STAMPS.get(run, STAMPS[FIRST]))
            for r in truth.sort_values(["location_id", "data_type"]).itertuples()]
    s3 = stack.client("s3")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, parquet_path = f"{tmp}/out.csv", f"{tmp}/out.parquet"
        glue.write_outputs(rows, csv_path, parquet_path)
        s3.upload_file(parquet_path, config.output_bucket, layout.parquet_key(task, run))
        s3.upload_file(csv_path, config.output_bucket, layout.csv_key(task, run))
    out = f"s3://{config.output_bucket}/"
    manifest = {"task_id": task, "run_id": run, "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="milliseconds"),
                "total_rows": len(rows), "locations_complete": len(complete),
                "locations_missing": 0, "part_files_quarantined": 0,
                "coverage": [{"location_id": location_id} for location_id in complete],
                "parquet_uri": out + layout.parquet_key(task, run), "csv_uri": out + layout.csv_key(task, run)}
    s3.put_object(Bucket=config.output_bucket, Key=layout.manifest_key(task, run), Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=config.output_bucket, Key=layout.latest_key(task), Body=json.dumps(manifest).encode())


@pytest.fixture(scope="module")
def output(local_stack: LocalStack) -> Output:
    config = local_stack.config.replace(stack_name=f"a{uuid.uuid4().hex[:8]}")
    local_stack.client("s3").create_bucket(Bucket=config.output_bucket)
    ids = local_stack.sample_api.location_ids()
    first_ids, second_ids = ids[:4], ids[1:5]
    found = Output(config, local_stack, first_ids, second_ids)
    write_run(local_stack, config, TASK, FIRST, found.truth(first_ids), first_ids)
    write_run(local_stack, config, TASK, SECOND, found.truth(second_ids), second_ids)
    return found
