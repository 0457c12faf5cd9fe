"""Trends across runs, and two runs compared on the locations complete in both."""

from __future__ import annotations

import pytest

from toolkit import trends
from toolkit.results import ResultsError

from .conftest import FIRST, SECOND, TASK, write_run


def test_trends_count_rows_per_status_per_run_oldest_first(output) -> None:
    table = trends.trends(TASK, config=output.config)
    assert list(table["run_id"]) == [FIRST, SECOND]
    assert table["consolidated_at"].is_monotonic_increasing
    for row, ids in zip(table.itertuples(), (output.first_ids, output.second_ids)):
        truth = output.truth(ids)
        assert row.rows == len(truth) and row.locations_complete == len(ids)
        counts = truth["data_type"].value_counts()
        assert (row.rows_failed, row.rows_rejected) == (counts.get("failed", 0), counts.get("rejected", 0))
    assert trends.trends([], config=output.config).empty


def test_runs_are_compared_on_the_locations_complete_in_both(output) -> None:
    table = trends.compare_runs((TASK, FIRST), (TASK, SECOND), config=output.config)
    common = sorted(set(output.first_ids) & set(output.second_ids))
    assert list(table["location_id"]) == common  # loc-001 (first only) and loc-005 (second only) left out
    truth = output.truth(common).groupby("location_id").size().reindex(common, fill_value=0)
    assert list(table["rows_before"]) == list(truth) == list(table["rows_after"])
    assert (table["new"] == 0).all() and (table["resolved"] == 0).all()
    assert table["persisting"].sum() == output.truth(common)["resourceKey"].nunique()


def test_runs_without_a_location_in_common_are_refused(output) -> None:
    elsewhere = output.stack.sample_api.location_ids()[6:7]
    write_run(output.stack, output.config, "analyst-other", "analyst-other-1", output.truth(elsewhere), elsewhere)
    with pytest.raises(ResultsError, match="^after: no location is complete in both"):
        trends.compare_runs((TASK, FIRST), ("analyst-other", "analyst-other-1"), config=output.config)
    assert list(trends.trends(["analyst-other", TASK], config=output.config)["task_id"]) == [
        TASK, TASK, "analyst-other"]  # every task's runs, by when they were consolidated
