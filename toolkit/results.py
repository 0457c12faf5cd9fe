"""Consolidated output of a task, for analysts: awswrangler loaders, summaries, diffs, checks.

Each consolidation writes, under the output bucket's ``consolidated/task_id={task}/run_id={run}/``
(toolkit.layout), one CSV, a Parquet copy and ``manifest.json`` (coverage, rows per location and
data type, part files read, quarantined files, URIs); ``latest/{task}.json`` points at the task's
latest one. These functions read them through awswrangler, pointed at AWS or the local stack by
the same StackConfig.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import boto3
import pandas as pd

from toolkit import aws
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit import layout

__all__ = [
    "ResultsError",
    "GroundTruthCheck",
    "output_prefix",
    "latest_run_id",
    "load_manifest",
    "load_output",
    "csv_frame",
    "summary",
    "diff_outputs",
    "expected_rows",
    "compare_with_ground_truth",
]

_COLUMNS = list(layout.OUTPUT_COLUMNS)
_KEYS = list(layout.KEY_COLUMNS)
_DTYPES = {column: "string" for column in _COLUMNS if column not in layout.LIST_COLUMNS}


class ResultsError(ToolkitError):
    """A task's output is missing or unreadable."""


def output_prefix(config: StackConfig, task_id: str) -> str:
    """The S3 URI under which every consolidation of a task lives (one ``run_id=`` folder each)."""
    return f"s3://{config.output_bucket}/{layout.output_prefix(task_id)}"


def latest_run_id(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> str:
    """The run of the task's latest consolidation, from its pointer ``latest/{task}.json``."""
    return _read_json(config, layout.latest_key(task_id), f"task_id: no consolidated output for task {task_id!r}",
                      session)["run_id"]


def load_manifest(config: StackConfig, task_id: str, run_id: str | None = None, *,
                  session: boto3.Session | None = None) -> dict:
    """The consolidation manifest of one run of a task (default: its latest consolidation), as a dict."""
    run_id = run_id or latest_run_id(config, task_id, session=session)
    return _read_json(config, layout.manifest_key(task_id, run_id),
                      f"run_id: no consolidated output for run {run_id!r} of task {task_id!r}", session)


def _read_json(config: StackConfig, key: str, missing: str, session: boto3.Session | None) -> dict:
    s3 = aws.client(config, "s3", session)
    try:
        body = s3.get_object(Bucket=config.output_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise ResultsError(f"{missing} (s3://{config.output_bucket}/{key})") from None
    return json.loads(body)


def load_output(
    config: StackConfig,
    task_id: str,
    *,
    fmt: Literal["parquet", "csv"] = "parquet",
    run_id: str | None = None,
    session: boto3.Session | None = None,
) -> pd.DataFrame:
    """A task's consolidated rows (default: its latest run) through awswrangler.

    Every column is pandas ``string`` dtype except ``error_messages``, a list of strings per row
    (the CSV holds it as a JSON array).
    """
    import awswrangler as wr

    if fmt not in ("parquet", "csv"):
        raise ResultsError(f"fmt: must be 'parquet' or 'csv', got {fmt!r}")
    manifest = load_manifest(config, task_id, run_id, session=session)
    with aws.wrangler_endpoints(config) as default_session:
        boto_session = session or default_session
        if fmt == "parquet":
            frame = wr.s3.read_parquet(manifest["parquet_uri"], boto3_session=boto_session)
        else:
            frame = wr.s3.read_csv(manifest["csv_uri"], boto3_session=boto_session, dtype=str,
                                   keep_default_na=False, encoding="utf-8")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(f"output: the {fmt} file lacks column(s) {', '.join(missing)}")
    frame = frame[_COLUMNS].copy()
    for column in layout.LIST_COLUMNS:
        frame[column] = frame[column].map(json.loads if fmt == "csv" else list)
    return frame.fillna({c: "" for c in _DTYPES}).astype(_DTYPES)


def csv_frame(output: pd.DataFrame) -> pd.DataFrame:
    """Output rows as the CSV spells them: each list column (``error_messages``) as one JSON array."""
    return output.assign(**{c: output[c].map(_messages_text) for c in layout.LIST_COLUMNS if c in output})


def summary(output: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Row counts grouped by location, data type and status (or the columns given)."""
    by = by or ["location_id", "data_type", "status"]
    return output.groupby(by, observed=True).size().rename("rows").reset_index().sort_values(by)


def diff_outputs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per location: discount codes new in ``after``, resolved (gone), and persisting."""
    old = before.groupby("location_id")["discount_code"].agg(set)
    new = after.groupby("location_id")["discount_code"].agg(set)
    rows = []
    for location_id in sorted(set(old.index) | set(new.index)):
        a, b = old.get(location_id, set()), new.get(location_id, set())
        rows.append({"location_id": location_id, "new": len(b - a), "resolved": len(a - b),
                     "persisting": len(a & b)})
    return pd.DataFrame(rows, columns=["location_id", "new", "resolved", "persisting"])


def expected_rows(ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The output rows the pipeline must produce for the sample API's ground truth.

    One row per record: ``discount_code`` is ``resourceKey``, ``status`` the record's state (its
    data type), and ``error_messages`` the record's messages, unchanged, as a JSON array (so that
    rows compare as text).
    """
    return pd.DataFrame({
        "discount_code": ground_truth["resourceKey"],
        "error_messages": ground_truth["messages"].map(_messages_text),
        "status": ground_truth["data_type"],
        "location_id": ground_truth["location_id"],
        "data_type": ground_truth["data_type"],
    }).astype("string")


@dataclass
class GroundTruthCheck:
    """How the output compares with what the sources hold: missing, extra, duplicated, changed rows."""

    expected: int
    found: int
    missing: pd.DataFrame
    extra: pd.DataFrame
    duplicated: int
    changed: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.missing.empty and self.extra.empty and self.duplicated == 0 and self.changed.empty

    def summary(self) -> str:
        verdict = "matches the ground truth" if self.ok else "DOES NOT match the ground truth"
        return (f"{self.found} rows found, {self.expected} expected: {verdict} "
                f"({len(self.missing)} missing, {len(self.extra)} extra, {self.duplicated} duplicated, "
                f"{len(self.changed)} changed)")


def compare_with_ground_truth(output: pd.DataFrame, ground_truth: pd.DataFrame) -> GroundTruthCheck:
    """Compare output rows with the ground truth as sets keyed by location, data type and code."""
    expected = expected_rows(ground_truth)
    found = output[list(expected.columns)].assign(error_messages=output["error_messages"].map(_messages_text))
    found = found.astype("string")
    duplicated = int(found.duplicated(_KEYS).sum())
    merged = expected.merge(found.drop_duplicates(_KEYS), on=_KEYS, how="outer",
                            suffixes=("_expected", "_found"), indicator=True)
    missing = merged[merged["_merge"] == "left_only"][_KEYS]
    extra = merged[merged["_merge"] == "right_only"][_KEYS]
    both = merged[merged["_merge"] == "both"]
    changed_mask = ((both["error_messages_expected"] != both["error_messages_found"])
                    | (both["status_expected"] != both["status_found"]))
    return GroundTruthCheck(expected=len(expected), found=len(output), missing=missing.reset_index(drop=True),
                            extra=extra.reset_index(drop=True), duplicated=duplicated,
                            changed=both[changed_mask].reset_index(drop=True))


def _messages_text(messages) -> str:
    """A record's messages as one JSON array, the CSV's spelling of ``error_messages``."""
    return json.dumps([str(m) for m in messages], ensure_ascii=False)
