"""load_output reads a run's consolidated rows with projection, row filters and analysts' dtypes."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from toolkit import results
from toolkit.results import ResultsError

from .conftest import FIRST, SECOND, STAMPS, TASK


def test_the_latest_run_by_default_matches_the_ground_truth(output) -> None:
    frame = results.load_output(TASK, config=output.config)
    assert set(frame["run_id"]) == {SECOND}
    check = results.compare_with_ground_truth(frame, output.truth(output.second_ids))
    assert check.ok, check.summary()
    older = results.load_output(TASK, FIRST, config=output.config)
    assert set(older["run_id"]) == {FIRST}
    assert set(older["location_id"]) == set(output.truth(output.first_ids)["location_id"])
    assert results.compare_with_ground_truth(older, output.truth(output.first_ids)).ok


def test_dtypes_are_categories_timestamps_and_lists(output) -> None:
    frame = results.load_output(TASK, config=output.config)
    for column in ("status", "data_type", "location_id", "task_id", "run_id"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    assert frame["extracted_at"].dtype == "datetime64[ns, UTC]"
    assert frame["extracted_at"].iloc[0] == pd.Timestamp(STAMPS[SECOND])
    assert frame["discount_code"].dtype == pd.StringDtype("pyarrow")
    assert frame["error_messages"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    truth = output.truth(output.second_ids).set_index("resourceKey")["messages"]
    multiline = next(key for key, messages in truth.items() if any("\n" in m for m in messages))
    row = frame[frame["discount_code"] == multiline].iloc[0]
    assert list(row["error_messages"]) == list(truth[multiline])  # whole messages, newlines kept


def test_the_csv_copy_reads_back_the_same(output) -> None:
    parquet = results.load_output(TASK, config=output.config)
    csv = results.load_output(TASK, config=output.config, fmt="csv")
    assert csv.dtypes.equals(parquet.dtypes)
    pd.testing.assert_frame_equal(csv, parquet)


def test_columns_project_and_filters_select_rows(output) -> None:
    wanted = output.second_ids[1:3]  # loc-002 holds no records
    frame = results.load_output(TASK, columns=["discount_code", "status"], config=output.config,
                                filters=[("location_id", "in", wanted), ("status", "==", "failed")])
    assert list(frame.columns) == ["discount_code", "status"]
    truth = output.truth(wanted)
    expected = set(truth[truth["data_type"] == "failed"]["resourceKey"])
    assert expected and set(frame["discount_code"]) == expected and len(frame) == len(expected)
    either = results.load_output(TASK, config=output.config, fmt="csv", filters=[
        [("location_id", "==", wanted[0])], [("location_id", "==", wanted[1])]])
    assert set(either["location_id"]) == set(wanted) and len(either) == len(truth)
    assert set(truth["location_id"]) == set(wanted)


def test_the_older_call_with_config_first_still_works(output) -> None:
    frame = results.load_output(output.config, TASK)
    assert set(frame["run_id"]) == {SECOND}


def test_config_comes_from_the_environment_when_not_given(output, monkeypatch) -> None:
    monkeypatch.setenv("DSA_ENDPOINT_URL", output.config.endpoint_url)
    monkeypatch.setenv("DSA_STACK_NAME", output.config.stack_name)
    assert results.discovered_config().output_bucket == output.config.output_bucket
    assert len(results.load_output(TASK, columns=["discount_code"])) == len(output.truth(output.second_ids))


@pytest.mark.parametrize("arguments, field", [
    ({"columns": ["nope"]}, "columns: unknown column"),
    ({"columns": "status"}, "columns: must be a list"),
    ({"filters": [("status", "~", "x")]}, "filters:"),
    ({"fmt": "xlsx"}, "fmt:"),
    ({"run": "no-such-run"}, "run: no consolidated output"),
])
def test_bad_arguments_name_the_field(output, arguments, field) -> None:
    with pytest.raises(ResultsError, match=field):
        results.load_output(TASK, config=output.config, **arguments)
