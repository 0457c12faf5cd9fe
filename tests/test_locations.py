"""Locations: validate first, write after, through the local stack's DynamoDB."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from toolkit import locations
from toolkit.locations import LocationsError


@pytest.fixture()
def config(local_stack):
    """A stack config of its own (unique names) with its locations table created."""
    cfg = local_stack.config.replace(stack_name=f"loc{uuid.uuid4().hex[:8]}")
    client = local_stack.client("dynamodb")
    client.create_table(
        TableName=cfg.locations_table,
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"},
                   {"AttributeName": "location_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                              {"AttributeName": "location_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield cfg
    client.delete_table(TableName=cfg.locations_table)


def frame(rows):
    return pd.DataFrame(rows)


GOOD = [
    {"task_id": "t1", "location_id": "loc-001", "api_url": "http://127.0.0.1:4567", "name": "One", "enabled": "true",
     "region": "north"},
    {"task_id": "t1", "location_id": "loc_002.b", "api_url": "https://api.example.com/v1/", "name": "", "enabled": False},
]


def test_load_reports_adds_then_unchanged_then_update(config) -> None:
    report = locations.load_locations(config, frame(GOOD))
    assert list(report["action"]) == ["add", "add"]
    assert report.attrs["written"] == 2
    again = locations.load_locations(config, frame(GOOD))
    assert list(again["action"]) == ["unchanged", "unchanged"]
    assert again.attrs["written"] == 0
    changed = [dict(GOOD[0], name="Renamed"), GOOD[1]]
    third = locations.load_locations(config, frame(changed))
    assert list(third["action"]) == ["update", "unchanged"]
    stored = locations.read_locations(config, "t1").set_index("location_id")
    assert stored.loc["loc-001", "name"] == "Renamed"
    assert stored.loc["loc-001", "tags"] == {"region": "north"}
    assert stored.loc["loc_002.b", "api_url"] == "https://api.example.com/v1"  # trailing slash dropped
    assert not stored.loc["loc_002.b", "enabled"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"location_id": "bad/id"}, "location_id: 'bad/id' may hold only letters"),
        ({"location_id": ".."}, "location_id: '..' is not a usable id"),
        ({"location_id": ""}, "location_id: is empty"),
        ({"task_id": "t 1"}, "task_id: 't 1' may hold only letters"),
        ({"api_url": "ftp://x.example.com"}, "api_url: 'ftp://x.example.com' is not an absolute http(s) URL"),
        ({"api_url": "/relative/path"}, "is not an absolute http(s) URL"),
        ({"api_url": "http://h.example.com/?q=1"}, "must not hold a query or fragment"),
        ({"api_url": ""}, "api_url: is empty"),
        ({"enabled": "maybe"}, "enabled: 'maybe' is not true or false"),
    ],
)
def test_each_rule_rejects_with_its_reason_and_nothing_is_written(config, change, reason) -> None:
    rows = [GOOD[0], dict(GOOD[1], **change)]
    report = locations.load_locations(config, frame(rows))
    rejected = report[report["action"] == "rejected"]
    assert list(rejected["row"]) == [1]
    assert reason in rejected.iloc[0]["reason"]
    assert report.attrs["written"] == 0
    assert locations.read_locations(config, "t1").empty


def test_duplicates_within_the_frame_are_rejected(config) -> None:
    report = locations.load_locations(config, frame([GOOD[0], GOOD[0]]))
    assert list(report["action"]) == ["add", "rejected"]
    assert "duplicate of row 0" in report.iloc[1]["reason"]
    assert locations.read_locations(config, "t1").empty


def test_partial_load_writes_the_valid_rows_only(config) -> None:
    rows = [GOOD[0], dict(GOOD[1], location_id="no spaces")]
    report = locations.load_locations(config, frame(rows), partial=True)
    assert report.attrs["written"] == 1
    assert list(locations.read_locations(config, "t1")["location_id"]) == ["loc-001"]


def test_dry_run_reports_without_writing(config) -> None:
    report = locations.load_locations(config, frame(GOOD), dry_run=True)
    assert list(report["action"]) == ["add", "add"]
    assert locations.read_locations(config, "t1").empty


def test_aws_targets_refuse_internal_addresses(config) -> None:
    rows = [dict(GOOD[0], api_url=url, location_id=f"l{i}") for i, url in enumerate(
        ["http://127.0.0.1:80", "http://10.1.2.3", "http://169.254.169.254/latest", "http://localhost:8080",
         "https://api.example.com"])]
    _, report = locations.validate_locations(frame(rows), refuse_private=True)
    assert list(report["action"]) == ["rejected"] * 4 + ["valid"]
    assert "169.254.169.254 is a loopback, private or link-local address" in report.iloc[2]["reason"]


def test_aws_targets_refuse_plain_http_rows_one_line_each(config) -> None:
    rows = [dict(GOOD[0], api_url=url, location_id=f"h{i}") for i, url in enumerate(
        ["http://api.example.com/v1", "https://api.example.com/v1", "HTTP://api.example.com"])]
    _, report = locations.validate_locations(frame(rows), require_https=True)
    assert list(report["action"]) == ["rejected", "valid", "rejected"]
    rejected = report[report["action"] == "rejected"]
    assert list(rejected["row"]) == [0, 2] and list(rejected["location_id"]) == ["h0", "h2"]
    for reason in rejected["reason"]:
        assert reason.startswith("api_url: ") and "is not https://" in reason and "\n" not in reason
    # Local targets do not require https by default (the stack may run with its plain-http opt-in).
    local = locations.load_locations(config, frame(rows), dry_run=True)
    assert list(local["action"]) == ["add", "add", "add"]


def test_csv_source_keeps_ids_as_text_and_task_id_can_be_given(config, tmp_path) -> None:
    path = tmp_path / "locs.csv"
    path.write_text("location_id,api_url\n007,http://127.0.0.1:4567\n")
    report = locations.load_locations(config, path, task_id="csvtask")
    assert report.iloc[0]["location_id"] == "007"
    assert list(locations.read_locations(config, "csvtask")["location_id"]) == ["007"]


def test_missing_columns_and_missing_files_are_one_line_errors(config, tmp_path) -> None:
    with pytest.raises(LocationsError, match="^columns: missing required column\\(s\\) api_url$"):
        locations.load_locations(config, frame([{"task_id": "t", "location_id": "l"}]))
    with pytest.raises(LocationsError, match="^source: .* does not exist$"):
        locations.load_locations(config, tmp_path / "none.csv")


def test_enable_disable_remove_and_copy(config) -> None:
    locations.load_locations(config, frame(GOOD))
    assert locations.set_enabled(config, "t1", ["loc_002.b"], True) == 1
    assert locations.read_locations(config, "t1")["enabled"].all()
    with pytest.raises(LocationsError, match="'nope' is not a location of task 't1'"):
        locations.set_enabled(config, "t1", ["nope"], False)
    report = locations.copy_locations(config, "t1", "t2")
    assert list(report["action"]) == ["add", "add"]
    copied = locations.read_locations(config, "t2").set_index("location_id")
    assert copied.loc["loc-001", "tags"] == {"region": "north"}
    assert locations.remove_locations(config, "t1", ["loc-001"]) == 1
    assert list(locations.read_locations(config, "t1")["location_id"]) == ["loc_002.b"]


def test_large_loads_are_batched_and_all_written(config) -> None:
    rows = [{"task_id": "big", "location_id": f"l{i:04d}", "api_url": "http://127.0.0.1:4567"} for i in range(130)]
    report = locations.load_locations(config, frame(rows))
    assert report.attrs["written"] == 130
    assert len(locations.read_locations(config, "big")) == 130
