"""ItemReader formats and ResultWriter files (pure functions; the S3 round trip is tested with Map Runs)."""

from __future__ import annotations

import gzip
import json

import pytest

from sfn_runtime.errors import StatesError
from sfn_runtime.distributed.item_io import (
    WriterConfig,
    items_from_inventory_file,
    items_from_object,
    manifest_files,
    parse_reader_config,
    parse_writer_config,
    render_result_file,
)


def cfg(**values):
    return parse_reader_config(values, needs_type=True)


def test_json_array_jsonl_and_max_items():
    assert items_from_object(b'[1, {"a": 2}, "x"]', cfg(InputType="JSON"), "k") == [1, {"a": 2}, "x"]
    assert items_from_object(b'{"a":1}\n\n{"a":2}\n{"a":3}\n', cfg(InputType="JSONL", MaxItems=2), "k") == [{"a": 1}, {"a": 2}]


def test_csv_first_row_given_headers_and_delimiter():
    text = 'id,note\n1,"a, b"\n2,"line\nbreak"\n'.encode()
    assert items_from_object(text, cfg(InputType="CSV"), "k") == [{"id": "1", "note": "a, b"}, {"id": "2", "note": "line\nbreak"}]
    given = cfg(InputType="CSV", CSVHeaderLocation="GIVEN", CSVHeaders=["x", "y"], CSVDelimiter="PIPE")
    assert items_from_object(b"1|2\n3|4\n", given, "k") == [{"x": "1", "y": "2"}, {"x": "3", "y": "4"}]


@pytest.mark.parametrize(
    "data, config, words",
    [
        (b"{not json", {"InputType": "JSON"}, "not valid JSON"),
        (b'{"a": 1}', {"InputType": "JSON"}, "JSON array"),
        (b"a,b\n1\n", {"InputType": "CSV"}, "row 2"),
        (b'{"a":1}\nnope\n', {"InputType": "JSONL"}, "line 2"),
    ],
)
def test_bad_objects_fail_with_item_reader_failed(data, config, words):
    with pytest.raises(StatesError) as info:
        items_from_object(data, cfg(**config), "s3://b/k")
    assert info.value.error == "States.ItemReaderFailed" and words in info.value.cause


@pytest.mark.parametrize(
    "config, field",
    [({}, "InputType"), ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}, "CSVHeaders"), ({"InputType": "JSON", "MaxItems": -1}, "MaxItems")],
)
def test_bad_reader_config_names_the_field(config, field):
    with pytest.raises(StatesError) as info:
        parse_reader_config(config, needs_type=True)
    assert field in info.value.cause


def test_inventory_manifest_and_gzip_csv_file():
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": "arn:aws:s3:::inv",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/1.csv.gz", "size": 10, "MD5checksum": "x"}],
    }
    bucket, keys, columns = manifest_files(json.dumps(manifest).encode(), "m")
    assert (bucket, keys, columns) == ("inv", ["inv/data/1.csv.gz"], ["Bucket", "Key", "Size"])
    rows = items_from_inventory_file(gzip.compress(b'"src","a.json","3"\n"src","b.json","4"\n'), columns, "f")
    assert rows == [{"Bucket": "src", "Key": "a.json", "Size": "3"}, {"Bucket": "src", "Key": "b.json", "Size": "4"}]


def test_result_files_transformations_keep_failed_entries_whole():
    ok = {"Status": "SUCCEEDED", "Output": "[1,2]", "Name": "a"}
    failed = {"Status": "FAILED", "Error": "E", "Cause": "c", "Name": "b"}
    assert json.loads(render_result_file([ok], WriterConfig("JSON", "NONE"))) == [ok]
    assert json.loads(render_result_file([ok, failed], WriterConfig("JSON", "COMPACT"))) == [[1, 2], failed]
    assert json.loads(render_result_file([ok, ok], WriterConfig("JSON", "FLATTEN"))) == [1, 2, 1, 2]
    lines = render_result_file([ok, ok], WriterConfig("JSONL", "COMPACT")).decode().splitlines()
    assert [json.loads(line) for line in lines] == [[1, 2], [1, 2]]
    with pytest.raises(StatesError):
        parse_writer_config({"OutputType": "CSV"})
