"""Distributed Map item I/O: ItemReader formats (what S3 holds -> items) and ResultWriter files.

Readers, as AWS documents ItemReader: ``s3:getObject`` with ReaderConfig.InputType JSON (an
array), JSONL (one value per line), CSV (CSVHeaderLocation FIRST_ROW or GIVEN with CSVHeaders,
CSVDelimiter; every value a string) or MANIFEST (an S3 inventory manifest: its gzip CSV files,
one item per row named by the manifest's fileSchema); ``s3:listObjectsV2`` (one item per object:
Etag, Key, LastModified, Size, StorageClass). ReaderConfig.MaxItems caps the count.

Writers: the ResultWriter's ``manifest.json`` and ``SUCCEEDED_n`` / ``FAILED_n`` / ``PENDING_n``
files in AWS's layout, with WriterConfig OutputType JSON or JSONL and Transformation NONE,
COMPACT or FLATTEN.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from typing import Any, Iterable

from sfn_runtime.errors import StatesError

__all__ = [
    "ReaderConfig",
    "WriterConfig",
    "parse_reader_config",
    "parse_writer_config",
    "items_from_object",
    "items_from_listing",
    "manifest_files",
    "items_from_inventory_file",
    "render_result_file",
    "transform_results",
]

INPUT_TYPES = ("JSON", "JSONL", "CSV", "MANIFEST")
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
OUTPUT_TYPES = ("JSON", "JSONL")
TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")


def _reader_error(message: str) -> StatesError:
    return StatesError("States.ItemReaderFailed", message)


@dataclass(frozen=True)
class ReaderConfig:
    """An ItemReader's ReaderConfig, checked."""

    input_type: str | None = None
    header_location: str = "FIRST_ROW"
    headers: tuple[str, ...] = ()
    delimiter: str = ","
    max_items: int | None = None


def parse_reader_config(config: Any, *, needs_type: bool) -> ReaderConfig:
    """Check ReaderConfig; ``needs_type`` for s3:getObject, where InputType is required."""
    config = config or {}
    if not isinstance(config, dict):
        raise _reader_error("ItemReader.ReaderConfig must be a JSON object")
    input_type = config.get("InputType")
    if needs_type and input_type not in INPUT_TYPES:
        raise _reader_error(f"ItemReader.ReaderConfig.InputType must be one of {', '.join(INPUT_TYPES)}")
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    if location not in ("FIRST_ROW", "GIVEN"):
        raise _reader_error("ItemReader.ReaderConfig.CSVHeaderLocation must be FIRST_ROW or GIVEN")
    headers = config.get("CSVHeaders") or []
    if location == "GIVEN" and (not isinstance(headers, list) or not headers):
        raise _reader_error("ItemReader.ReaderConfig.CSVHeaders is required when CSVHeaderLocation is GIVEN")
    delimiter = config.get("CSVDelimiter", "COMMA")
    if delimiter not in CSV_DELIMITERS:
        raise _reader_error(f"ItemReader.ReaderConfig.CSVDelimiter must be one of {', '.join(CSV_DELIMITERS)}")
    max_items = config.get("MaxItems")
    if max_items is not None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or not 0 <= max_items <= 100_000_000:
            raise _reader_error("ItemReader.ReaderConfig.MaxItems must be an integer from 0 to 100,000,000")
        if max_items == 0:
            max_items = None  # AWS: 0 means no limit
    return ReaderConfig(input_type, location, tuple(str(h) for h in headers), CSV_DELIMITERS[delimiter], max_items)


def _cap(items: Iterable[Any], max_items: int | None) -> list[Any]:
    out = []
    for item in items:
        if max_items is not None and len(out) >= max_items:
            break
        out.append(item)
    return out


def items_from_object(data: bytes, config: ReaderConfig, where: str, max_header_bytes: int = 10 * 1024) -> list[Any]:
    """The items of one S3 object read with ``s3:getObject`` (JSON, JSONL or CSV).

    AWS reads CSV headers of up to 10 KiB (``max_header_bytes``); a longer one fails the reader.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _reader_error(f"{where} is not UTF-8 text") from None
    if config.input_type == "JSON":
        try:
            items = json.loads(text)
        except ValueError:
            raise _reader_error(f"{where} is not valid JSON") from None
        if not isinstance(items, list):
            raise _reader_error(f"{where} must hold a JSON array for InputType JSON")
        return _cap(items, config.max_items)
    if config.input_type == "JSONL":
        return _cap(_jsonl(text, where), config.max_items)
    if config.input_type == "CSV":
        return _cap(_csv_rows(text, config, where, max_header_bytes), config.max_items)
    raise _reader_error(f"InputType {config.input_type} cannot be read from a single object")


def _jsonl(text: str, where: str) -> Iterable[Any]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError:
            raise _reader_error(f"{where} line {number} is not valid JSON") from None


def _csv_rows(text: str, config: ReaderConfig, where: str, max_header_bytes: int) -> Iterable[dict[str, str]]:
    reader = csv.reader(io.StringIO(text), delimiter=config.delimiter)
    headers = list(config.headers)
    if config.header_location == "FIRST_ROW":
        headers = next(reader, [])
        if not headers:
            return
    header_bytes = len(config.delimiter.join(headers).encode("utf-8"))
    if header_bytes > max_header_bytes:
        raise _reader_error(f"{where}: the CSV header has {header_bytes} bytes, more than the {max_header_bytes} supported")
    for number, row in enumerate(reader, 2 if config.header_location == "FIRST_ROW" else 1):
        if not row:
            continue
        if len(row) != len(headers):
            raise _reader_error(f"{where} row {number} has {len(row)} fields, the header has {len(headers)}")
        yield dict(zip(headers, row))


def items_from_listing(objects: Iterable[dict[str, Any]], max_items: int | None) -> list[dict[str, Any]]:
    """ListObjectsV2 entries (boto3's shape) as the items AWS's ItemReader gives."""

    def item(obj: dict[str, Any]) -> dict[str, Any]:
        modified = obj.get("LastModified")
        return {
            "Etag": obj.get("ETag", ""),
            "Key": obj["Key"],
            "LastModified": int(modified.timestamp()) if hasattr(modified, "timestamp") else modified,
            "Size": obj.get("Size", 0),
            "StorageClass": obj.get("StorageClass", "STANDARD"),
        }

    return _cap((item(o) for o in objects), max_items)


def manifest_files(data: bytes, where: str) -> tuple[str, list[str], list[str]]:
    """An S3 inventory manifest: (destination bucket, file keys, column names of fileSchema)."""
    try:
        manifest = json.loads(data)
    except ValueError:
        raise _reader_error(f"{where} is not a valid S3 inventory manifest (not JSON)") from None
    if not isinstance(manifest, dict) or "files" not in manifest or "fileSchema" not in manifest:
        raise _reader_error(f"{where} is not an S3 inventory manifest (files and fileSchema are required)")
    if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
        raise _reader_error(f"{where}: only CSV inventory files can be read")
    bucket = str(manifest.get("destinationBucket", "")).rpartition(":")[2]
    columns = [c.strip() for c in str(manifest["fileSchema"]).split(",")]
    return bucket, [f["key"] for f in manifest["files"]], columns


def items_from_inventory_file(data: bytes, columns: list[str], where: str) -> list[dict[str, str]]:
    """Rows of one inventory CSV file (gzip or plain), named by the manifest's fileSchema."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    out = []
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != len(columns):
            raise _reader_error(f"{where} row {number} has {len(row)} fields, fileSchema has {len(columns)}")
        out.append(dict(zip(columns, row)))
    return out


# ------------------------------------------------------------------ writers


@dataclass(frozen=True)
class WriterConfig:
    """A ResultWriter's WriterConfig, checked."""

    output_type: str = "JSON"
    transformation: str = "NONE"


def parse_writer_config(config: Any) -> WriterConfig:
    config = config or {}
    if not isinstance(config, dict):
        raise StatesError("States.ResultWriterFailed", "ResultWriter.WriterConfig must be a JSON object")
    output_type = config.get("OutputType", "JSON")
    transformation = config.get("Transformation", "NONE")
    if output_type not in OUTPUT_TYPES:
        raise StatesError("States.ResultWriterFailed", "ResultWriter.WriterConfig.OutputType must be JSON or JSONL")
    if transformation not in TRANSFORMATIONS:
        raise StatesError(
            "States.ResultWriterFailed", "ResultWriter.WriterConfig.Transformation must be NONE, COMPACT or FLATTEN"
        )
    return WriterConfig(output_type, transformation)


def transform_result(record: dict[str, Any], transformation: str) -> Any:
    """One child's entry as the Transformation asks: its full description (NONE) or its output.

    AWS keeps the entry of a child that did not succeed unchanged whatever the Transformation.
    """
    if transformation == "NONE" or record.get("Status") != "SUCCEEDED":
        return record
    output = record.get("Output")
    try:
        return json.loads(output) if isinstance(output, str) else output
    except ValueError:
        return output


def transform_results(records: list[dict[str, Any]], transformation: str) -> list[Any]:
    """Every entry transformed; FLATTEN splices array outputs into one array."""
    values: list[Any] = []
    for record in records:
        value = transform_result(record, transformation)
        if transformation == "FLATTEN" and record.get("Status") == "SUCCEEDED" and isinstance(value, list):
            values.extend(value)
        else:
            values.append(value)
    return values


def render_result_file(records: list[dict[str, Any]], config: WriterConfig) -> bytes:
    """The bytes of one SUCCEEDED/FAILED/PENDING file."""
    values = transform_results(records, config.transformation)
    if config.output_type == "JSONL":
        return "".join(json.dumps(v, separators=(",", ":"), ensure_ascii=False) + "\n" for v in values).encode()
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
