"""export_output writes load_output's rows to Parquet, CSV and Excel, each read back whole."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from openpyxl import load_workbook

from toolkit import layout, results
from toolkit.results import ResultsError

from .conftest import STAMPS, SECOND, TASK


@pytest.fixture(scope="module")
def frame(output) -> pd.DataFrame:
    return results.load_output(TASK, config=output.config)


def _messages(frame: pd.DataFrame) -> list[list[str]]:
    return [list(m) for m in frame["error_messages"]]


def test_parquet_and_csv_round_trip(frame, tmp_path) -> None:
    parquet = pd.read_parquet(results.export_output(frame, tmp_path / "out.parquet"))
    assert len(parquet) == len(frame) and _messages(parquet) == _messages(frame)
    csv_path = results.export_output(frame, tmp_path / "out.txt", fmt="csv")
    text = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    assert list(text.columns) == list(layout.OUTPUT_COLUMNS)
    assert [json.loads(m) for m in text["error_messages"]] == _messages(frame)  # whole messages, newlines kept
    assert set(text["extracted_at"]) == {STAMPS[SECOND]}
    assert not list(tmp_path.glob("*.tmp"))


def test_excel_holds_every_row_as_text_and_the_dictionary(frame, tmp_path) -> None:
    tricky = frame.head(3).copy()
    tricky["error_messages"] = pd.Series([["=SUM(A1:A2)", "line one\nline two"], ["bell\x07 here"], []],
                                         index=tricky.index, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    tricky["discount_code"] = pd.Series(["K=1", "K\x01", "K3"], index=tricky.index, dtype=frame["discount_code"].dtype)
    rows = pd.concat([tricky, frame])
    book = load_workbook(results.export_output(rows, tmp_path / "out.xlsx"))
    sheet = book["output"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(layout.OUTPUT_COLUMNS) and len(values) == len(rows) + 1
    assert json.loads(values[1][1]) == ["=SUM(A1:A2)", "line one\nline two"]
    assert sheet.cell(row=2, column=2).data_type == "s"  # not a formula
    assert json.loads(values[2][1]) == ["bell\x07 here"]  # JSON escapes it: nothing lost
    assert [v[0] for v in values[1:4]] == ["K=1", "K\ufffd", "K3"]  # Excel cannot hold \x01
    assert values[4][0] == frame["discount_code"].iloc[0] and json.loads(values[4][1]) == _messages(frame)[0]
    assert values[4][7] == pd.Timestamp(STAMPS[SECOND]).tz_localize(None).to_pydatetime()
    dictionary = list(book["data dictionary"].iter_rows(values_only=True))
    assert [r[0] for r in dictionary[1:]] == list(layout.OUTPUT_COLUMNS)


def test_bad_exports_name_the_field(frame, tmp_path) -> None:
    with pytest.raises(ResultsError, match="^fmt: must be one of parquet, csv, xlsx"):
        results.export_output(frame, tmp_path / "out.json")
    with pytest.raises(ResultsError, match="^path: directory"):
        results.export_output(frame, tmp_path / "missing" / "out.csv")
