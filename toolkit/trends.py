"""Trends across runs and tasks, and comparisons of like with like, from the consolidated output.

Each consolidation's manifest (``runs/task_id={task}/run_id={run}/manifest.json``) says which
locations it holds complete data for, how many were missing and which parts were quarantined; the
per-status counts come from the run's Parquet file, reading the ``status`` column only. Two runs
are compared on the locations complete in both, so that a location missing from one run does not
show up as codes "resolved" or "new".
"""

from __future__ import annotations

import boto3
import pandas as pd

from toolkit import aws, layout, results
from toolkit.config import StackConfig

__all__ = ["run_ids", "trends", "complete_locations", "compare_runs"]


def run_ids(task_id: str, *, config: StackConfig | None = None, session: boto3.Session | None = None) -> list[str]:
    """The runs of a task that were consolidated, oldest first by their manifest's Last-Modified
    (whole seconds, so runs of the same second by run id; ``trends`` orders by the milliseconds)."""
    config = config or results.discovered_config()
    s3 = aws.client(config, "s3", session)
    prefix = f"{layout.RUN_FILES_PREFIX}task_id={task_id}/"
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.output_bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            if item["Key"].endswith(f"/{layout.MANIFEST_NAME}"):
                found.append((item["LastModified"], item["Key"][len(prefix):].split("/")[0].removeprefix("run_id=")))
    return [run for _, run in sorted(found)]


def trends(task_ids: list[str] | str, *, config: StackConfig | None = None,
           session: boto3.Session | None = None) -> pd.DataFrame:
    """One row per consolidated run of each task, oldest first: when, rows, locations complete and
    missing, quarantined parts, and rows per status (``rows_<status>`` columns, 0 where none)."""
    config = config or results.discovered_config()
    task_ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
    records = []
    for task_id in task_ids:
        for run_id in run_ids(task_id, config=config, session=session):
            manifest = results.load_manifest(config, task_id, run_id, session=session)
            statuses = results.load_output(task_id, run_id, columns=["status"], config=config, session=session)
            record = {"task_id": task_id, "run_id": run_id,
                      "consolidated_at": _consolidated_at(manifest, config, session),
                      "rows": int(manifest["total_rows"]), "locations_complete": int(manifest["locations_complete"]),
                      "locations_missing": int(manifest["locations_missing"]),
                      "part_files_quarantined": int(manifest["part_files_quarantined"])}
            record.update({f"rows_{status}": int(n) for status, n in
                           statuses["status"].value_counts(sort=False).items() if n})
            records.append(record)
    columns = ["task_id", "run_id", "consolidated_at", "rows", "locations_complete", "locations_missing",
               "part_files_quarantined"]
    frame = pd.DataFrame(records, columns=columns + sorted({k for r in records for k in r} - set(columns)))
    status_columns = [c for c in frame.columns if c.startswith("rows_")]
    frame[status_columns] = frame[status_columns].fillna(0).astype("int64")
    frame["consolidated_at"] = pd.to_datetime(frame["consolidated_at"], utc=True)
    return frame.sort_values(["consolidated_at", "task_id"]).reset_index(drop=True)


def complete_locations(task_id: str, run_id: str, *, config: StackConfig | None = None,
                       session: boto3.Session | None = None) -> list[str]:
    """The locations a consolidation holds complete data for (its manifest's coverage)."""
    manifest = results.load_manifest(config or results.discovered_config(), task_id, run_id, session=session)
    return sorted(entry["location_id"] for entry in manifest["coverage"])


def compare_runs(before: tuple[str, str], after: tuple[str, str], *, config: StackConfig | None = None,
                 session: boto3.Session | None = None) -> pd.DataFrame:
    """Two runs, each ``(task_id, run_id)``, compared on the locations complete in both: per
    location, rows before and after and the discount codes new, resolved and persisting."""
    config = config or results.discovered_config()
    common = sorted(set(complete_locations(*before, config=config, session=session))
                    & set(complete_locations(*after, config=config, session=session)))
    if not common:
        raise results.ResultsError(f"after: no location is complete in both {before[1]} and {after[1]}")
    frames = [results.load_output(task, run, columns=["location_id", "discount_code"], config=config,
                                  session=session, filters=[("location_id", "in", common)])
              for task, run in (before, after)]
    table = results.diff_outputs(*frames).set_index("location_id").reindex(common, fill_value=0)
    table.insert(0, "rows_after", frames[1].groupby("location_id", observed=True).size().reindex(common, fill_value=0))
    table.insert(0, "rows_before", frames[0].groupby("location_id", observed=True).size().reindex(common, fill_value=0))
    return table.rename_axis("location_id").reset_index()


def _consolidated_at(manifest: dict, config: StackConfig, session: boto3.Session | None) -> pd.Timestamp:
    """When the job wrote the manifest: its ``created_at`` (milliseconds), else the object's
    Last-Modified (whole seconds, from manifests written before the job recorded the time)."""
    if manifest.get("created_at"):
        return pd.Timestamp(manifest["created_at"])
    head = aws.client(config, "s3", session).head_object(
        Bucket=config.output_bucket, Key=layout.manifest_key(manifest["task_id"], manifest["run_id"]))
    return pd.Timestamp(head["LastModified"])
