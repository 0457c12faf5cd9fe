"""The job's CSV and Parquet encoding, in process: the bytes the format promises, whatever the blocks."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCRIPT = Path(__file__).resolve().parents[2] / "glue" / "consolidate.py"

MESSAGES = [
    'He said "no", then left',
    "comma, separated, values",
    "line one\nline two\r\nline three",
    "naïve café — 日本語 ✓ 🚀",
    "",
    "back\\slash and \ttab",
    "control \x01 and separators \u2028\u2029",
    " leading and trailing spaces ",
]


def _load_module():
    spec = importlib.util.spec_from_file_location("consolidate_encoding_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _rows(n: int) -> list[tuple]:
    """n rows in output order: runs of rows share location, data type and extraction time."""
    rows = []
    for i in range(n):
        group = i // 333
        messages = tuple(MESSAGES[(i + k) % len(MESSAGES)] for k in range(i % 3))  # 0 to 2 messages
        rows.append((f"code-{i}, \"{i}\"" if i % 5 == 0 else f"code-{i}", messages, ("failed", "rejected")[i % 2],
                     f"loc-{group % 7}", ("failed", "rejected")[group % 2], "task-1", "run-1",
                     f"2026-12-02T12:00:{group % 60:02d}Z"))
    return rows


def _reference_csv(rows: list[tuple], columns: tuple[str, ...]) -> bytes:
    """The promised format: RFC 4180 through Python's csv module (minimal quoting, CRLF), UTF-8,
    the messages as json.dumps of the list (non-ASCII kept)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow((row[0], json.dumps(list(row[1]), ensure_ascii=False), *row[2:]))
    return out.getvalue().encode("utf-8")


def test_messages_cell_is_the_json_array_text():
    module = _load_module()
    for messages in ([], [""], MESSAGES, MESSAGES[2:4], ["🚀"]):
        assert module.messages_cell(messages) == json.dumps(messages, ensure_ascii=False)


def test_outputs_across_blocks_are_the_promised_csv_and_parquet(tmp_path):
    module = _load_module()
    batch = module.PARQUET_BATCH
    rows = _rows(2 * batch + 7)
    csv_path, parquet_path = tmp_path / "out.csv", tmp_path / "out.parquet"

    assert module.write_outputs(iter(rows), str(csv_path), str(parquet_path)) == len(rows)

    assert csv_path.read_bytes() == _reference_csv(rows, module.COLUMNS)
    parquet = pq.ParquetFile(parquet_path)
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [batch, batch, 7]
    table = parquet.read()
    assert table.schema.names == list(module.COLUMNS)
    assert table.schema.field("error_messages").type.equals(pa.list_(pa.string()))
    assert all(table.schema.field(name).type.equals(pa.string()) for name in module.COLUMNS if name != "error_messages")
    assert [tuple(r[c] if c != "error_messages" else tuple(r[c]) for c in module.COLUMNS)
            for r in table.to_pylist()] == rows


def test_no_rows_give_a_header_only_csv_and_an_empty_parquet_with_the_schema(tmp_path):
    module = _load_module()
    csv_path, parquet_path = tmp_path / "out.csv", tmp_path / "out.parquet"

    assert module.write_outputs([], str(csv_path), str(parquet_path)) == 0

    assert csv_path.read_bytes() == _reference_csv([], module.COLUMNS)
    table = pq.read_table(parquet_path)
    assert table.num_rows == 0 and table.schema.names == list(module.COLUMNS)
    assert table.schema.field("error_messages").type.equals(pa.list_(pa.string()))


def test_parts_failing_the_fast_check_are_named_by_the_detailed_one():
    module = _load_module()
    key = "parts/t/r/l/failed/0.json"
    good = {"discount_code": "a", "error_messages": ["m"], "status": "s"}
    cases = {
        "rows[1]: error_messages: must be a list of strings": [good, {**good, "error_messages": ["ok", 1]}],
        "rows[0]: unexpected field 'other'": [{"discount_code": "a", "error_messages": [], "other": "s"}],
        "rows[0]: status: missing": [{"discount_code": "a", "error_messages": []}],
        "rows[2]: discount_code: must be a string, got int": [good, good, {**good, "discount_code": 7}],
        "rows[0]: not an object": [["a", [], "s"]],
    }
    for problem, rows in cases.items():
        result = module.parse_part(key, json.dumps({"rows": rows}).encode(), "t")
        assert result[5] == problem and result[4] == ()
    assert module.parse_part(key, json.dumps({"rows": [good, good]}).encode(), "t")[4] == (("a", ("m",), "s"),) * 2
