"""Distributed Map through the served API: Map Runs, batching, tolerated failures, item readers,
result writers and the Map Run API operations."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid

import pytest

PROCESSOR = {
    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $states.input.bad = true %}", "Next": "Broken"}],
            "Default": "Done",
        },
        "Broken": {"Type": "Fail", "Error": "Item.Bad", "Cause": "{% 'item ' & $string($states.input.id) %}"},
        "Done": {"Type": "Pass", "Output": "{% {'id': $states.input.id, 'square': $states.input.id * $states.input.id} %}", "End": True},
    },
}

BATCH_PROCESSOR = {
    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $count($states.input.Items[bad = true]) > 0 %}", "Next": "Broken"}],
            "Default": "Sum",
        },
        "Broken": {"Type": "Fail", "Error": "Batch.Bad", "Cause": "a bad item"},
        "Sum": {
            "Type": "Pass",
            "Output": "{% {'tag': $states.input.BatchInput.tag, 'n': $count($states.input.Items), 'sum': $sum($states.input.Items.id)} %}",
            "End": True,
        },
    },
}


def map_machine(map_state: dict) -> dict:
    return {"QueryLanguage": "JSONata", "StartAt": "Fan", "States": {"Fan": {"Type": "Map", "End": True, **map_state}}}


def items(n: int, bad_every: int = 0) -> list[dict]:
    return [{"id": i, "bad": bool(bad_every) and i % bad_every == 0} for i in range(n)]


def map_run_of(stack, execution_arn: str) -> dict:
    runs = stack.sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    return stack.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])


def test_inline_items_return_outputs_in_order_and_children_are_listed(stack):
    machine = stack.machine("dmap-basic", map_machine({"Items": "{% $states.input.items %}", "ItemProcessor": PROCESSOR, "MaxConcurrency": 3, "Label": "Squares"}))
    described = stack.run(machine, {"items": items(12)})
    assert described["status"] == "SUCCEEDED", described
    assert [o["square"] for o in json.loads(described["output"])] == [i * i for i in range(12)]
    run = map_run_of(stack, described["executionArn"])
    assert run["status"] == "SUCCEEDED" and run["maxConcurrency"] == 3
    assert ":mapRun:dmap-basic/Squares:" in run["mapRunArn"]
    assert run["itemCounts"]["succeeded"] == 12 and run["itemCounts"]["total"] == 12
    assert run["executionCounts"]["succeeded"] == 12
    children = stack.sfn.list_executions(mapRunArn=run["mapRunArn"], maxResults=100)["executions"]
    assert len(children) == 12 and {c["status"] for c in children} == {"SUCCEEDED"}
    assert all(c["stateMachineArn"].endswith(":stateMachine:dmap-basic/Squares") for c in children)
    child = stack.sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == run["mapRunArn"]
    types = [e["type"] for e in stack.history(described["executionArn"])]
    assert types.index("MapRunStarted") < types.index("MapRunSucceeded")


def test_thousand_items_batched_with_tolerated_failures(stack):
    state = {
        "Items": "{% $states.input.items %}",
        "ItemProcessor": BATCH_PROCESSOR,
        "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"tag": "{% $states.input.tag %}"}},
        "MaxConcurrency": 50,
        "ToleratedFailurePercentage": 5,
    }
    machine = stack.machine("dmap-batched", map_machine(state))
    # Every 250th item is bad: items 0, 250, 500, 750 -> 4 failed batches = 40 items = 4 %.
    described = stack.run(machine, {"items": items(1000, bad_every=250), "tag": "t1"})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert len(output) == 100
    good = [o for o in output if "sum" in o]
    assert len(good) == 96 and {o["n"] for o in good} == {10} and {o["tag"] for o in good} == {"t1"}
    failed = [o for o in output if "sum" not in o]
    assert {o["Error"] for o in failed} == {"Batch.Bad"}
    run = map_run_of(stack, described["executionArn"])
    assert run["itemCounts"]["failed"] == 40 and run["itemCounts"]["succeeded"] == 960
    assert run["executionCounts"]["failed"] == 4 and run["executionCounts"]["total"] == 100
    assert run["toleratedFailurePercentage"] == 5.0


def test_exceeding_the_tolerated_failure_count_fails_the_state(stack):
    state = {"Items": "{% $states.input.items %}", "ItemProcessor": PROCESSOR, "ToleratedFailureCount": 2, "MaxConcurrency": 1}
    described = stack.run(stack.machine("dmap-too-many", map_machine(state)), {"items": items(20, bad_every=4)})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    run = map_run_of(stack, described["executionArn"])
    assert run["status"] == "FAILED"
    assert run["itemCounts"]["failed"] == 3  # stopped as soon as the third failure passed the count
    assert run["itemCounts"]["pending"] > 0
    types = [e["type"] for e in stack.history(described["executionArn"])]
    assert "MapRunFailed" in types


def test_a_single_failure_without_tolerance_fails(stack):
    state = {"Items": "{% $states.input.items %}", "ItemProcessor": PROCESSOR}
    described = stack.run(stack.machine("dmap-no-tolerance", map_machine(state)), {"items": items(5, bad_every=3)})
    assert described["error"] == "States.ExceedToleratedFailureThreshold"


@pytest.fixture(scope="module")
def bucket(aws):
    name = f"dmap-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    return name


def put(aws, bucket: str, key: str, body: bytes) -> None:
    aws("s3").put_object(Bucket=bucket, Key=key, Body=body)


def reader_machine(stack, name: str, reader: dict, selector: dict | None = None) -> str:
    state = {
        "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": True}},
        },
    }
    if selector:
        state["ItemSelector"] = selector
    return stack.machine(name, map_machine(state))


def test_item_reader_json_jsonl_and_csv(stack, aws, bucket):
    put(aws, bucket, "in/items.json", json.dumps([{"a": 1}, {"a": 2}, {"a": 3}]).encode())
    put(aws, bucket, "in/items.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    put(aws, bucket, "in/items.csv", b"a,b\n1,x\n2,y\n3,z\n")
    put(aws, bucket, "in/nohead.csv", b"1;x\n2;y\n")
    cases = {
        "json": ({"InputType": "JSON", "MaxItems": 2}, "in/items.json", [{"a": 1}, {"a": 2}]),
        "jsonl": ({"InputType": "JSONL"}, "in/items.jsonl", [{"a": 1}, {"a": 2}, {"a": 3}]),
        "csv": ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "in/items.csv", [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}, {"a": "3", "b": "z"}]),
        "given": (
            {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["n", "s"], "CSVDelimiter": "SEMICOLON"},
            "in/nohead.csv",
            [{"n": "1", "s": "x"}, {"n": "2", "s": "y"}],
        ),
    }
    for name, (config, key, expected) in cases.items():
        reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config, "Arguments": {"Bucket": bucket, "Key": "{% $states.input.key %}"}}
        described = stack.run(reader_machine(stack, f"dmap-read-{name}", reader), {"key": key})
        assert described["status"] == "SUCCEEDED", (name, described)
        assert json.loads(described["output"]) == expected, name


def test_item_reader_inventory_manifest_and_list_objects(stack, aws, bucket):
    rows = io.StringIO()
    csv.writer(rows).writerows([[bucket, "data/a.json", "3"], [bucket, "data/b.json", "4"]])
    put(aws, bucket, "inv/data/part-1.csv.gz", gzip.compress(rows.getvalue().encode()))
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/part-1.csv.gz", "size": 1, "MD5checksum": "x"}],
    }
    put(aws, bucket, "inv/manifest.json", json.dumps(manifest).encode())
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}, "Arguments": {"Bucket": bucket, "Key": "inv/manifest.json"}}
    described = stack.run(reader_machine(stack, "dmap-read-manifest", reader))
    assert json.loads(described["output"]) == [
        {"Bucket": bucket, "Key": "data/a.json", "Size": "3"},
        {"Bucket": bucket, "Key": "data/b.json", "Size": "4"},
    ]
    for key in ("listed/x.txt", "listed/y.txt", "other/z.txt"):
        put(aws, bucket, key, b"hello")
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Arguments": {"Bucket": bucket, "Prefix": "listed/"}}
    selector = {"key": "{% $states.context.Map.Item.Value.Key %}", "size": "{% $states.context.Map.Item.Value.Size %}", "i": "{% $states.context.Map.Item.Index %}"}
    described = stack.run(reader_machine(stack, "dmap-read-list", reader, selector))
    assert json.loads(described["output"]) == [{"key": "listed/x.txt", "size": 5, "i": 0}, {"key": "listed/y.txt", "size": 5, "i": 1}]


def test_missing_object_fails_with_item_reader_failed(stack, bucket):
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Arguments": {"Bucket": bucket, "Key": "nope.json"}}
    described = stack.run(reader_machine(stack, "dmap-read-missing", reader))
    assert described["error"] == "States.ItemReaderFailed"


def test_result_writer_files_read_back(stack, aws, bucket):
    state = {
        "Items": "{% $states.input.items %}",
        "ItemProcessor": PROCESSOR,
        "ToleratedFailureCount": 5,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": bucket, "Prefix": "results"}},
    }
    described = stack.run(stack.machine("dmap-writer", map_machine(state)), {"items": items(9, bad_every=4)})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    run_id = output["MapRunArn"].rpartition(":")[2]
    assert output["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"results/{run_id}/manifest.json"}
    s3 = aws("s3")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"results/{run_id}/manifest.json")["Body"].read())
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == output["MapRunArn"]
    assert manifest["ResultFiles"]["PENDING"] == []
    [succeeded_file] = manifest["ResultFiles"]["SUCCEEDED"]
    [failed_file] = manifest["ResultFiles"]["FAILED"]
    succeeded = json.loads(s3.get_object(Bucket=bucket, Key=succeeded_file["Key"])["Body"].read())
    failed = json.loads(s3.get_object(Bucket=bucket, Key=failed_file["Key"])["Body"].read())
    assert sorted(json.loads(e["Output"])["id"] for e in succeeded) == [1, 2, 3, 5, 6, 7]
    assert sorted(json.loads(e["Input"])["id"] for e in failed) == [0, 4, 8]
    assert {e["Status"] for e in failed} == {"FAILED"} and {e["Error"] for e in failed} == {"Item.Bad"}
    assert {"ExecutionArn", "Name", "StartDate", "StopDate", "StateMachineArn"} <= set(succeeded[0])
    run = map_run_of(stack, described["executionArn"])
    assert run["itemCounts"]["resultsWritten"] == 9


def test_writer_config_alone_shapes_the_output(stack):
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Pair",
        "States": {"Pair": {"Type": "Pass", "Output": "{% [$states.input, $states.input] %}", "End": True}},
    }
    state = {"Items": [1, 2], "ItemProcessor": processor, "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}}
    described = stack.run(stack.machine("dmap-flatten", map_machine(state)))
    assert json.loads(described["output"]) == [1, 1, 2, 2]


def test_update_map_run_and_api_errors(stack):
    slow = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Nap",
        "States": {"Nap": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    machine = stack.machine("dmap-update", map_machine({"Items": "{% $states.input.items %}", "ItemProcessor": slow, "MaxConcurrency": 1}))
    arn = stack.sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": list(range(6))}))["executionArn"]
    import time

    deadline = time.monotonic() + 10
    while not (runs := stack.sfn.list_map_runs(executionArn=arn)["mapRuns"]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    map_run_arn = runs[0]["mapRunArn"]
    assert stack.sfn.describe_map_run(mapRunArn=map_run_arn)["executionCounts"]["running"] == 1
    stack.sfn.update_map_run(mapRunArn=map_run_arn, maxConcurrency=6)
    deadline = time.monotonic() + 10
    while stack.sfn.describe_map_run(mapRunArn=map_run_arn)["executionCounts"]["running"] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert stack.wait(arn)["status"] == "SUCCEEDED"
    assert stack.sfn.describe_map_run(mapRunArn=map_run_arn)["maxConcurrency"] == 6
    with pytest.raises(stack.sfn.exceptions.ResourceNotFound):
        stack.sfn.describe_map_run(mapRunArn=map_run_arn + "x")
    with pytest.raises(stack.sfn.exceptions.ValidationException):
        stack.sfn.update_map_run(mapRunArn=map_run_arn, maxConcurrency=2)  # no longer running


def test_stopping_the_parent_aborts_the_map_run_and_its_children(stack):
    slow = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Nap",
        "States": {"Nap": {"Type": "Wait", "Seconds": 100000, "End": True}},
    }
    machine = stack.machine("dmap-stop", map_machine({"Items": [1, 2, 3], "ItemProcessor": slow}))
    arn = stack.sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    import time

    deadline = time.monotonic() + 10
    while not (runs := stack.sfn.list_map_runs(executionArn=arn)["mapRuns"]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stack.sfn.stop_execution(executionArn=arn)
    assert stack.wait(arn)["status"] == "ABORTED"
    run = stack.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "ABORTED" and run["executionCounts"]["aborted"] == 3


def test_jsonpath_mode_reader_parameters_batcher_paths_and_item_selector(stack, aws, bucket):
    put(aws, bucket, "jp/items.json", json.dumps([{"v": i} for i in range(7)]).encode())
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.max"},
                    "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
                },
                "ItemSelector": {"value.$": "$$.Map.Item.Value.v", "index.$": "$$.Map.Item.Index"},
                "ItemBatcher": {"MaxItemsPerBatchPath": "$.size", "BatchInput": {"who.$": "$.who"}},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    described = stack.run(stack.machine("dmap-jsonpath", definition), {"key": "jp/items.json", "max": 5, "size": 2, "who": "ops"})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"BatchInput": {"who": "ops"}, "Items": [{"value": 0, "index": 0}, {"value": 1, "index": 1}]},
        {"BatchInput": {"who": "ops"}, "Items": [{"value": 2, "index": 2}, {"value": 3, "index": 3}]},
        {"BatchInput": {"who": "ops"}, "Items": [{"value": 4, "index": 4}]},
    ]


def test_batches_close_at_max_input_bytes():
    from sfn_runtime.distributed.map_run import batch_items

    entries = [{"pad": "x" * 40, "i": i} for i in range(10)]
    batches = batch_items(entries, None, 200, None)
    assert [len(b["Items"]) for b in batches] == [3, 3, 3, 1]
    assert all(len(json.dumps(b, separators=(",", ":"))) <= 200 for b in batches)
    assert [i["i"] for b in batches for i in b["Items"]] == list(range(10))


def test_finished_children_survive_a_service_snapshot(stack):
    from sfn_runtime.api.service import StepFunctionsService

    state = {"Items": [{"id": 1}, {"id": 2, "bad": True}], "ItemProcessor": PROCESSOR, "ToleratedFailureCount": 1}
    described = stack.run(stack.machine("dmap-snapshot", map_machine(state)), {})
    assert described["status"] == "SUCCEEDED"
    child_arns = [e["executionArn"] for e in stack.sfn.list_executions(mapRunArn=map_run_of(stack, described["executionArn"])["mapRunArn"])["executions"]]

    async def round_trip():
        fresh = StepFunctionsService(region=stack.service.region, account_id=stack.service.account_id)
        fresh.restore_snapshot(stack.service.to_snapshot())
        return sorted([(await fresh.dispatch("DescribeExecution", {"executionArn": arn}))["status"] for arn in child_arns])

    assert stack.server.run(round_trip(), timeout=30) == ["FAILED", "SUCCEEDED"]


def test_describe_map_run_through_aws_sdk_inside_the_workflow(stack):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "ItemProcessor": PROCESSOR,
                "ToleratedFailurePercentage": 50,
                "ResultWriter": {"WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}},
                "Assign": {"arn": "{% $states.result[0].ExecutionArn %}"},
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:listMapRuns",
                "Arguments": {"ExecutionArn": "{% $states.context.Execution.Id %}"},
                "Next": "Counts",
            },
            "Counts": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:describeMapRun",
                "Arguments": {"MapRunArn": "{% $states.input.MapRuns[0].MapRunArn %}"},
                "Output": "{% {'total': $states.result.ItemCounts.Total, 'failed': $states.result.ItemCounts.Failed, 'status': $states.result.Status, 'started': $type($states.result.StartDate)} %}",
                "End": True,
            },
        },
    }
    described = stack.run(stack.machine("dmap-describe-sdk", definition), {"items": items(6, bad_every=3)})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"total": 6, "failed": 2, "status": "SUCCEEDED", "started": "string"}
