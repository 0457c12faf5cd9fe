"""toolkit.layout is the pipeline's contract: the asl/ templates and the standalone Glue script,
which keep their own copies of its names, are held to it here, and the task record reads and
writes the tasks table's items."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path

import jsonata
import pytest

from toolkit import layout
from toolkit.layout import TaskRecord, TaskRecordError

ROOT = Path(__file__).resolve().parent.parent
ASL = ROOT / "asl"
TASK, RUN, LOCATION, DATA_TYPE, OFFSET = "task-7", "task-7-20261202T120000", "loc-003", "failed", 200


def _glue_script():
    spec = importlib.util.spec_from_file_location("consolidate_under_test", ROOT / "glue" / "consolidate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _states(name: str) -> dict:
    return json.loads((ASL / name).read_text())["States"]


def _expression(template: str) -> str:
    match = re.fullmatch(r"\{%(.*)%\}", template.strip(), re.S)
    assert match, f"not a JSONata template: {template!r}"
    return match.group(1)


def _evaluate(template: str, bindings: dict) -> object:
    return jsonata.Jsonata(_expression(template)).evaluate(None, bindings)


# ----------------------------------------------------------------------------- the Glue script


def test_the_glue_script_reads_and_writes_where_the_layout_says() -> None:
    glue = _glue_script()
    args = glue.JobArgs(task_id=TASK, run_id=RUN, work_bucket="work", output_bucket="out", locations_table="locs")
    part = layout.part_key(TASK, RUN, LOCATION, DATA_TYPE, OFFSET)
    assert tuple(glue.COLUMNS) == layout.OUTPUT_COLUMNS
    assert glue.LIST_COLUMNS == layout.LIST_COLUMNS
    assert args.parts_prefix == layout.parts_prefix(TASK)
    assert args.output_prefix == layout.run_output_prefix(TASK, RUN)
    assert f"{args.coverage_prefix}{LOCATION}.json" == layout.coverage_key(TASK, LOCATION)
    assert args.latest_key == layout.latest_key(TASK)
    assert glue.quarantine_key(args, part) == layout.quarantine_key(part)
    key, location, data_type, offset, _, problem = glue.parse_part(part, b'{"rows": []}', TASK)
    assert (key, location, data_type, offset, problem) == (part, LOCATION, DATA_TYPE, OFFSET, "")
    source = (ROOT / "glue" / "consolidate.py").read_text()
    assert f'f"{layout.archive_key("{key}")}"' in source
    assert (glue.CSV_NAME, glue.PARQUET_NAME, glue.MANIFEST_NAME, glue.SUMMARY_NAME) == (
        layout.CSV_NAME, layout.PARQUET_NAME, layout.MANIFEST_NAME, layout.SUMMARY_NAME)
    assert args.files_prefix == layout.run_files_prefix(TASK, RUN)
    assert layout.csv_key(TASK, RUN) == f"{args.files_prefix}{glue.CSV_NAME}"
    assert layout.parquet_key(TASK, RUN) == f"{args.output_prefix}{glue.PARQUET_NAME}"
    assert layout.manifest_key(TASK, RUN) == f"{args.files_prefix}{glue.MANIFEST_NAME}"
    # The table's partition holds the Parquet file only (catalog readers read all it holds).
    assert not any(key(TASK, RUN).startswith(args.output_prefix)
                   for key in (layout.csv_key, layout.manifest_key, layout.summary_key))


def test_the_glue_script_derives_the_part_keys_coverage_lists_as_the_layout_does() -> None:
    glue = _glue_script()
    doc = _coverage_doc()
    derived = glue.coverage_from(doc, TASK, LOCATION)
    assert list(derived.keys) == layout.coverage_part_keys(doc)
    # Parts of 2, 2 and 1 pages of 250 rows: each starts where the pages before it end.
    assert layout.coverage_part_keys(doc) == [layout.part_key(TASK, RUN, LOCATION, "failed", o) for o in (0, 500, 1000)]
    assert (derived.run_id, derived.extracted_at, derived.pages) == (RUN, doc["extracted_at"], 5)
    wrong_parts = {"data_type": "failed", "pages": 5, "part_pages": [2, 2]}
    for change, message in [({"page_limit": 0}, "page_limit"), ({"run_id": "a/b"}, "run_id"),
                            ({"location_id": "other"}, "location_id"), ({"data_types": [{"data_type": "x"}]}, "pages"),
                            ({"data_types": [wrong_parts]}, "part_pages of failed add up to 4 pages, not 5"),
                            ({"data_types": [{**wrong_parts, "part_pages": [5, 0]}]}, "positive whole numbers")]:
        with pytest.raises(ValueError, match=message):
            glue.coverage_from({**doc, **change}, TASK, LOCATION)


def test_coverage_written_before_parts_gathered_pages_has_one_part_per_page() -> None:
    doc = _coverage_doc()
    for entry in doc["data_types"]:
        del entry["part_pages"]
    expected = [layout.part_key(TASK, RUN, LOCATION, "failed", o) for o in (0, 250, 500, 750, 1000)]
    assert layout.coverage_part_keys(doc) == expected
    assert list(_glue_script().coverage_from(doc, TASK, LOCATION).keys) == expected


def _coverage_doc() -> dict:
    return {"task_id": TASK, "location_id": LOCATION, "run_id": RUN, "extracted_at": "2026-12-02T12:00:01.000Z",
            "page_limit": 250, "pages": 5, "rows": 1020,
            "data_types": [{"data_type": "failed", "total": 1020, "pages": 5, "rows": 1020, "part_pages": [2, 2, 1]},
                           {"data_type": "rejected", "total": 0, "pages": 0, "rows": 0, "part_pages": []}]}


# ----------------------------------------------------------------------------- the workflows


def test_page_fetch_writes_each_part_at_its_part_key_with_the_output_columns() -> None:
    page = _states("page-fetch.asl.json")
    write = page["Write Part"]["Arguments"]
    request = {"task_id": TASK, "run_id": RUN, "location_id": LOCATION, "data_type": DATA_TYPE, "offset": 0}
    bindings = {"request": request, "partOffset": OFFSET}
    assert _evaluate(write["Key"], bindings) == layout.part_key(TASK, RUN, LOCATION, DATA_TYPE, OFFSET)
    fetch, keep = page["Fetch Page"]["Assign"], page["Keep Page"]["Assign"]
    pages = [[{"resourceKey": "K1", "errors": [{"message": "a\nb"}, {"message": "c"}], "state": DATA_TYPE},
              {"resourceKey": "K2", "errors": [], "state": DATA_TYPE}],
             [{"resourceKey": "K3", "errors": {"message": "d"}, "state": DATA_TYPE}]]
    rows_text = ""
    for results in pages:  # two pages gathered into one part, as the workflow does
        page_text = _evaluate(fetch["pageText"], {"states": {"result": {"ResponseBody": {"results": results}}}})
        rows_text = _evaluate(keep["rowsText"], {"rowsText": rows_text, "pageText": page_text})
    body = json.loads(_evaluate(write["Body"], {**bindings, "rowsText": rows_text}))
    rows = body["rows"]
    # The Glue job adds the part's location_id, data_type, task_id, the run and the extraction time.
    assert set(rows[0]) | {"location_id", "data_type", "task_id", "run_id", "extracted_at"} == set(layout.OUTPUT_COLUMNS)
    assert [r["error_messages"] for r in rows] == [["a\nb", "c"], [], ["d"]]
    assert body["run_id"] == RUN and body["offset"] == OFFSET and [r["discount_code"] for r in rows] == ["K1", "K2", "K3"]
    # The Glue script reads such a part back as the page wrote it.
    parsed = _glue_script().parse_part(layout.part_key(TASK, RUN, LOCATION, DATA_TYPE, OFFSET),
                                       json.dumps(body).encode(), TASK)
    assert parsed[5] == "" and parsed[4][0] == ("K1", ("a\nb", "c"), DATA_TYPE)


def test_the_extraction_records_coverage_the_glue_script_reads() -> None:
    states = _states("extraction.asl.json")
    record = states["Record Coverage"]["Arguments"]
    bindings = {"taskId": TASK, "locationId": LOCATION, "runId": RUN, "extractedAt": "2026-12-02T12:00:01.000Z",
                "pageLimit": 250, "summary": {"failed": 520, "rejected": 0},
                "states": {"input": {"pages": 3, "rows": 520,
                                     "data_types": [{"data_type": "failed", "pages": 3, "rows": 520,
                                                     "part_pages": [1, 2]}]}}}
    assert _evaluate(record["Key"], bindings) == layout.coverage_key(TASK, LOCATION)
    doc = json.loads(_evaluate(record["Body"], bindings))
    assert layout.coverage_part_keys(doc) == [layout.part_key(TASK, RUN, LOCATION, "failed", o) for o in (0, 250)]
    assert _glue_script().coverage_from(doc, TASK, LOCATION).extracted_at == "2026-12-02T12:00:01.000Z"
    failure = states["Record Failure"]["Arguments"]
    assert _evaluate(failure["Key"], bindings) == layout.failure_key(TASK, LOCATION)


def test_the_aggregator_uses_the_layouts_prefixes() -> None:
    states = _states("aggregator.asl.json")
    prefix = states["Extract Locations"]["ResultWriter"]["Arguments"]["Prefix"]
    assert _evaluate(prefix, {"taskId": TASK}) == layout.map_runs_prefix(TASK)
    summary = states["Read Output Summary"]["Arguments"]["Key"]
    context = {"states": {"context": {"Execution": {"Name": RUN}}}, "taskId": TASK}
    assert _evaluate(summary, context) == layout.summary_key(TASK, RUN)
    assert _evaluate(states["Extract Locations"]["ItemSelector"]["run_id"], context) == RUN
    arguments = states["Consolidate"]["Arguments"]["Arguments"]
    assert _evaluate(arguments["--run_id"], context) == RUN
    assert set(_glue_script().REQUIRED_ARGS) <= {name.removeprefix("--") for name in arguments}


def test_the_aggregator_writes_only_task_record_fields() -> None:
    fields = {f.name for f in dataclasses.fields(TaskRecord)}
    written: set[str] = set()
    for state in _states("aggregator.asl.json").values():
        arguments = state.get("Arguments")
        if not isinstance(arguments, dict) or arguments.get("TableName") != "${TasksTable}":
            continue
        if "Item" in arguments:  # PutItem: a JSONata $merge of typed attributes
            written |= set(re.findall(r"'(\w+)': \{ '(?:S|N|SS)'", arguments["Item"]))
        if "UpdateExpression" in arguments:
            assert set(arguments["Key"]) == {"task_id", "created_at"}
            names = arguments.get("ExpressionAttributeNames", {})
            for target in re.findall(r"([#\w]+) = ", arguments["UpdateExpression"].removeprefix("SET ")):
                written.add(names.get(target, target))
    assert {"task_id", "created_at", "status", "rows", "error", "map_run_results", "locations_missing"} <= written
    assert written <= fields, written - fields


# ----------------------------------------------------------------------------- the task record


def _item(**changes: dict) -> dict:
    item = {
        "task_id": {"S": TASK}, "created_at": {"S": "2026-12-02T12:00:00.000Z"}, "status": {"S": "PARTIAL"},
        "execution_arn": {"S": "arn:aws:states:us-east-1:000000000000:execution:agg:run-1"},
        "locations_total": {"N": "3"}, "locations_failed": {"N": "1"}, "rows": {"N": "120"},
        "rerun_locations": {"SS": ["b", "a"]},
        "map_run_results": {"S": "s3://work/map-runs/t/manifest.json"},
    }
    item.update(changes)
    return item


def test_a_task_record_reads_an_item_and_writes_it_back() -> None:
    record = TaskRecord.from_item(_item(future_field={"S": "ignored"}))
    assert (record.status, record.rows, record.locations_failed) == ("PARTIAL", 120, 1)
    assert record.rerun_locations == ["a", "b"] and record.map_run_results == "s3://work/map-runs/t/manifest.json"
    assert record.redriven_locations == [] and record.redrive_count == 0 and not record.active
    assert record.key() == {"task_id": {"S": TASK}, "created_at": {"S": "2026-12-02T12:00:00.000Z"}}
    assert TaskRecord.from_item(record.to_item()) == record
    assert "redriven_locations" not in record.to_item() and "error" not in record.to_item()


@pytest.mark.parametrize("changes, message", [
    ({"status": None}, "status: missing"),
    ({"rows": {"N": "1.5"}}, "rows: must be a whole number"),
    ({"map_run_results": {"N": "3"}}, "map_run_results: must be a string"),
    ({"output_uri": {"N": "3"}}, "output_uri: must be a string"),
])
def test_a_malformed_item_is_named_by_its_field(changes: dict, message: str) -> None:
    item = {k: v for k, v in _item(**changes).items() if v is not None}
    with pytest.raises(TaskRecordError, match=message):
        TaskRecord.from_item(item)
