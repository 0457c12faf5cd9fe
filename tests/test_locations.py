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
    assert list(report["action"]) == ["would add", "rejected"]  # nothing is written
    assert "duplicate of row 0" in report.iloc[1]["reason"]
    assert locations.read_locations(config, "t1").empty


def test_partial_load_writes_the_valid_rows_only(config) -> None:
    rows = [GOOD[0], dict(GOOD[1], location_id="no spaces")]
    report = locations.load_locations(config, frame(rows), partial=True)
    assert report.attrs["written"] == 1
    assert list(locations.read_locations(config, "t1")["location_id"]) == ["loc-001"]


def test_dry_run_reports_without_writing(config) -> None:
    report = locations.load_locations(config, frame(GOOD), dry_run=True)
    assert list(report["action"]) == ["would add", "would add"]
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
    assert list(local["action"]) == ["would add"] * 3


@pytest.mark.parametrize("host", [
    "2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "0", "0.0.0.0", "127.0.0.1.",
    "localhost.", "LOCALHOST", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]", "100.64.0.1", "[fe80::1]",
    "224.0.0.1",
])
def test_aws_targets_refuse_every_spelling_of_an_internal_address(host) -> None:
    rows = [dict(GOOD[0], api_url=f"http://{host}:8080/v1")]
    _, report = locations.validate_locations(frame(rows), refuse_private=True)
    assert report.iloc[0]["action"] == "rejected"
    assert "is a loopback, private or link-local address" in report.iloc[0]["reason"]


def test_aws_targets_resolve_host_names() -> None:
    """A name is judged by the addresses it resolves to (here: this machine's own name)."""
    import ipaddress
    import socket

    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        pytest.skip(f"{name} does not resolve on this machine")
    if all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to public addresses only")
    _, report = locations.validate_locations(frame([dict(GOOD[0], api_url=f"http://{name}:8080")]),
                                             refuse_private=True)
    assert report.iloc[0]["action"] == "rejected"
    assert report.iloc[0]["reason"].startswith(f"api_url: {name.lower()} (")
    _, report = locations.validate_locations(frame([dict(GOOD[0], api_url="https://93.184.215.14/v1")]),
                                             refuse_private=True)
    assert report.iloc[0]["action"] == "valid"


@pytest.mark.parametrize("url, reason", [
    ("https://user:s3cret@api.example.com/v1",
     "api_url: must not hold a user name or password (use the connection's authorization)"),
    ("ftp://user:s3cret@api.example.com/v1", "api_url: must not hold a user name or password"),
    ("https://token@api.example.com", "api_url: must not hold a user name or password"),
    ("https://api.example.com/a b", "api_url: must not hold spaces or control characters, found ' '"),
    ("https://api.example.com/a\nHost: evil", "api_url: must not hold spaces or control characters, found '\\n'"),
    ("https://api.example.com:0/", "api_url: the port of 'https://api.example.com:0/' is not between 1 and 65535"),
    ("https://api.example.com:65536", "is not between 1 and 65535"),
    ("https://api.example.com:99999999999", "is not between 1 and 65535"),
    ("https://api.example.com:-1", "is not between 1 and 65535"),
])
def test_bad_api_urls_are_rejected_with_the_field_named(url, reason) -> None:
    _, report = locations.validate_locations(frame([dict(GOOD[0], api_url=url)]))
    assert report.iloc[0]["action"] == "rejected"
    assert report.iloc[0]["reason"].startswith("api_url: ") and reason in report.iloc[0]["reason"]
    assert "s3cret" not in report.iloc[0]["reason"]


@pytest.mark.parametrize("task_id", ["a/b", "../x", "", "..", "x" * 129, "t 1"])
def test_check_task_id_refuses_ids_that_are_not_path_safe(task_id) -> None:
    with pytest.raises(LocationsError, match="^task_id: "):
        locations.check_task_id(task_id)
    assert locations.check_task_id("task-1.a_b") == "task-1.a_b"


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


def test_rows_outside_the_api_endpoints_are_refused_one_line_each(config) -> None:
    scoped = config.replace(api_endpoints=("https://api.example.com/v1/*", "http://127.0.0.1:4567/*"))
    rows = [dict(GOOD[0], location_id="in-1", api_url="https://api.example.com/v1"),
            dict(GOOD[0], location_id="out-1", api_url="https://api.example.com/v2"),
            dict(GOOD[0], location_id="out-2", api_url="https://api.example.com.evil.net/v1"),
            dict(GOOD[0], location_id="in-2", api_url="http://127.0.0.1:4567")]
    report = locations.load_locations(scoped, frame(rows))
    assert list(report["action"]) == ["would add", "rejected", "rejected", "would add"]
    assert report.attrs["written"] == 0  # nothing is written while a row is rejected
    reasons = list(report.loc[report["action"] == "rejected", "reason"])
    assert reasons == [
        "api_url: 'https://api.example.com/v2' is outside the config's api_endpoints "
        "(the HTTP Task may not call https://api.example.com/v2/out-1/get-summary)",
        "api_url: 'https://api.example.com.evil.net/v1' is outside the config's api_endpoints "
        "(the HTTP Task may not call https://api.example.com.evil.net/v1/out-2/get-summary)",
    ]
    # A local target naming no api_endpoints allows any endpoint.
    assert set(locations.load_locations(config, frame(rows), dry_run=True)["action"]) == {"would add"}


def test_an_aws_target_without_api_endpoints_refuses_the_load_in_one_line(config) -> None:
    from toolkit.config import ConfigError

    aws_target = config.replace(target="aws", account_id="123456789012")
    with pytest.raises(ConfigError, match=r"^api_endpoints: an AWS target must name the API base URLs"):
        locations.load_locations(aws_target, frame([GOOD[1]]), dry_run=True)


def test_a_row_reports_every_problem_and_a_csv_its_line_numbers(config, tmp_path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text('task_id,location_id,api_url,name,enabled\n'
                    't1,loc-1,https://api.example.com,"two\nlines",true\n'
                    '\n'
                    't1,bad id,ftp://x.example.com,,maybe\n'
                    't1,loc-1,https://api.example.com,,true\n')
    report = locations.load_locations(config, str(path))
    assert list(report["line"]) == [2, 5, 6]  # the header is line 1; a quoted cell spans line 3
    assert list(report["action"]) == ["would add", "rejected", "rejected"]
    assert report.iloc[1]["reason"].split("; ") == [
        "location_id: 'bad id' may hold only letters, digits, '-', '_' and '.' (at most 128)",
        "api_url: 'ftp://x.example.com' is not an absolute http(s) URL",
        "enabled: 'maybe' is not true or false"]
    assert report.iloc[2]["reason"] == "location_id: duplicate of line 2 for task t1"
    assert report.attrs["written"] == 0 and locations.read_locations(config, "t1").empty


def test_a_missing_task_id_column_suggests_the_parameter(config) -> None:
    rows = [{k: v for k, v in GOOD[0].items() if k != "task_id"}]
    with pytest.raises(locations.LocationsError) as raised:
        locations.load_locations(config, frame(rows))
    assert str(raised.value) == "columns: missing required column(s) task_id; pass task_id=... for rows without one"
    assert raised.value.cli == "columns: missing required column(s) task_id; pass --task-id TASK for rows without one"
