"""Consolidated output of a task, for analysts: awswrangler loaders, summaries, diffs, checks.

Each consolidation writes one Parquet file under the output bucket's
``consolidated/task_id={task}/run_id={run}/`` (the catalog table's partition) and, under
``runs/task_id={task}/run_id={run}/``, a CSV copy and ``manifest.json`` (coverage, rows per
location and data type, part files read, quarantined files, URIs); ``latest/{task}.json`` points
at the task's latest one (toolkit.layout). These functions read them from AWS or the local stack,
with the stack found as the rest of the toolkit finds it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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
    "discovered_config",
    "data_dictionary",
    "export_output",
    "EXPORT_FORMATS",
    "data_dictionary_markdown",
    "summary",
    "diff_outputs",
    "expected_rows",
    "compare_with_ground_truth",
]

_COLUMNS = list(layout.OUTPUT_COLUMNS)
_KEYS = list(layout.KEY_COLUMNS)
_CATEGORIES = ("status", "data_type", "location_id", "task_id", "run_id")  # few values, many rows
_TIMESTAMPS = ("extracted_at",)
# pyarrow's filters: [(column, op, value), ...] (AND), or a list of such lists (OR of ANDs).
Filters = list[tuple[str, str, Any]] | list[list[tuple[str, str, Any]]]


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
    return json.loads(_read_bytes(config, key, missing, session))


def load_output(
    task: "str | StackConfig",
    run: str | None = None,
    columns: list[str] | None = None,
    filters: Filters | None = None,
    *,
    fmt: Literal["parquet", "csv"] = "parquet",
    config: StackConfig | None = None,
    session: boto3.Session | None = None,
) -> pd.DataFrame:
    """A task's consolidated rows (default: its latest run), read like ``awswrangler.s3.read_parquet``.

    ``columns`` projects (only those are decoded); ``filters`` are pyarrow/pandas row filters
    (``[("status", "==", "failed")]``, or a list of such lists for OR) given to the Parquet
    reader, which skips row groups by their statistics. ``config`` defaults to the one the
    environment names (:func:`discovered_config`). Dtypes: categoricals for status, data_type,
    location_id, task_id and run_id; ``extracted_at`` a UTC timestamp; ``discount_code`` an Arrow
    string; ``error_messages`` a list of strings per row (an Arrow list column). The older call
    ``load_output(config, task_id)`` still works.
    """
    if isinstance(task, StackConfig):  # the older form: load_output(config, task_id, ...)
        config, task, run = task, run, None
    if not isinstance(task, str) or not task:
        raise ResultsError(f"task: must be a task id, got {task!r}")
    if fmt not in ("parquet", "csv"):
        raise ResultsError(f"fmt: must be 'parquet' or 'csv', got {fmt!r}")
    wanted = _wanted_columns(columns)
    config = config or discovered_config()
    run = run or latest_run_id(config, task, session=session)
    key = layout.parquet_key(task, run) if fmt == "parquet" else layout.csv_key(task, run)
    body = _read_bytes(config, key, f"run: no consolidated output for run {run!r} of task {task!r}", session)
    try:
        expression = pq.filters_to_expression(filters) if filters else None
    except (TypeError, ValueError) as exc:
        raise ResultsError(f"filters: {exc}") from None
    try:
        if fmt == "parquet":
            table = pq.read_table(io.BytesIO(body), columns=wanted, filters=expression)
        else:
            table = _csv_table(body)
            table = (table.filter(expression) if expression is not None else table).select(wanted)
    except pa.ArrowInvalid as exc:
        raise ResultsError(f"filters: {str(exc).splitlines()[0]}") from None
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise ResultsError(f"output: the {fmt} file lacks column(s) {', '.join(missing)}")
    return _frame(table.select(wanted))


def discovered_config() -> StackConfig:
    """The stack the toolkit's one discovery rule names (:func:`toolkit.target.load_config`: an
    explicit config file, then ``DSA_*`` variables, then the stack ``dsa local up`` recorded); an
    explicit ``config=`` always wins over it."""
    from toolkit.target import load_config

    return load_config()[0]


def _wanted_columns(columns: list[str] | None) -> list[str]:
    if columns is None:
        return list(_COLUMNS)
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise ResultsError(f"columns: must be a list of column names, got {columns!r}")
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown:
        raise ResultsError(f"columns: unknown column(s) {', '.join(unknown)} (known: {', '.join(_COLUMNS)})")
    return list(columns)


def _read_bytes(config: StackConfig, key: str, missing: str, session: boto3.Session | None) -> bytes:
    s3 = aws.client(config, "s3", session)
    try:
        return s3.get_object(Bucket=config.output_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise ResultsError(f"{missing} (s3://{config.output_bucket}/{key})") from None


def _csv_table(body: bytes) -> pa.Table:
    """The CSV as the Parquet file's Arrow schema: every column text, ``error_messages`` parsed from its JSON array."""
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(f"output: the csv file lacks column(s) {', '.join(missing)}")
    arrays = [pa.array([json.loads(v) for v in frame[c]], type=pa.list_(pa.string())) if c in layout.LIST_COLUMNS
              else pa.array(frame[c].tolist(), type=pa.string()) for c in _COLUMNS]
    return pa.table(arrays, names=_COLUMNS)


def _frame(table: pa.Table) -> pd.DataFrame:
    """The Arrow table as analysts want it: categories, timestamps, Arrow strings and lists."""
    frame = table.to_pandas(types_mapper=_arrow_dtype)
    for column in frame.columns:
        if column in _CATEGORIES:
            frame[column] = frame[column].astype("category")
        elif column in _TIMESTAMPS:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _arrow_dtype(arrow_type: pa.DataType):
    if pa.types.is_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


EXPORT_FORMATS = ("parquet", "csv", "xlsx")
EXCEL_MAX_ROWS = 1_048_576 - 1  # a worksheet's rows, less the header


def export_output(output: pd.DataFrame, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write rows as ``load_output`` returns them to a local Parquet, CSV or Excel file (``fmt``
    defaults to the suffix); the file appears whole or not at all. Return its path.

    CSV and Excel spell ``error_messages`` as the Glue job's CSV does, one JSON array, and
    timestamps in ISO-8601 UTC. Excel: text is written as text (a message starting with ``=`` is
    not a formula), timestamps as UTC dates without a zone (Excel has none), a second sheet holds
    the data dictionary; control characters Excel cannot store become U+FFFD (in the messages'
    JSON they are escaped, so no message loses any), and more rows than a sheet holds are refused.
    """
    target = Path(path)
    fmt = (fmt or target.suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise ResultsError(f"fmt: must be one of {', '.join(EXPORT_FORMATS)} (or a path ending in one), got {fmt!r}")
    if not target.parent.is_dir():
        raise ResultsError(f"path: directory {target.parent} does not exist")
    if fmt == "xlsx" and len(output) > EXCEL_MAX_ROWS:
        raise ResultsError(f"fmt: {len(output)} rows exceed an Excel sheet's {EXCEL_MAX_ROWS}; export csv or parquet")
    tmp = target.with_name(target.name + ".tmp")
    if fmt == "parquet":
        # Without pandas' metadata: pandas 2.2 cannot rebuild an Arrow list dtype from it, and the
        # Arrow types (dictionary for categories, list<string>) say all that is needed.
        pq.write_table(pa.Table.from_pandas(output, preserve_index=False).replace_schema_metadata(None), tmp)
    elif fmt == "csv":
        _as_text(output).to_csv(tmp, index=False, lineterminator="\r\n", encoding="utf-8")
    else:
        _write_excel(output, tmp)
    tmp.replace(target)
    return target


def _as_text(output: pd.DataFrame, *, for_excel: bool = False) -> pd.DataFrame:
    """List columns as JSON arrays; timestamps as ISO-8601 UTC text (or, for Excel, zone-less UTC)."""
    text = output.copy()
    for column in text.columns:
        if column in layout.LIST_COLUMNS:
            text[column] = text[column].map(_messages_text).astype(object)
        elif isinstance(text[column].dtype, pd.DatetimeTZDtype):
            utc = text[column].dt.tz_convert("UTC")
            text[column] = (utc.dt.tz_localize(None) if for_excel
                            else utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z")
    return text


def _write_excel(output: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    for title, frame in (("output", _as_text(output, for_excel=True)), ("data dictionary", data_dictionary())):
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            cells = []
            for value in row:
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
                    cell.data_type = "s"  # text stays text: "=..." is not a formula
                else:
                    cell = WriteOnlyCell(sheet, value=None if pd.isna(value) else
                                         value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
                cells.append(cell)
            sheet.append(cells)
    book.save(path)


def data_dictionary() -> pd.DataFrame:
    """The output's columns: name, type (as Parquet and the catalog hold it) and meaning."""
    return pd.DataFrame([dataclasses.asdict(c) for c in layout.DATA_DICTIONARY], columns=["name", "type", "meaning"])


def data_dictionary_markdown() -> str:
    """The data dictionary as the README's Markdown table (a test holds the README to it)."""
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | `{c.type}` | {c.meaning} |" for c in layout.DATA_DICTIONARY]
    return "\n".join(lines)


def summary(output: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Row counts grouped by location, data type and status (or the columns given)."""
    by = by or ["location_id", "data_type", "status"]
    return output.groupby(by, observed=True).size().rename("rows").reset_index().sort_values(by)


def diff_outputs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per location: discount codes new in ``after``, resolved (gone), and persisting."""
    old = before.groupby("location_id", observed=True)["discount_code"].agg(set)
    new = after.groupby("location_id", observed=True)["discount_code"].agg(set)
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
