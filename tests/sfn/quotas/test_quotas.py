"""Each Step Functions quota the pipeline could meet, one unit past it and (where exact) just under
it, with AWS's error name and text. docs/quotas.md is the table: quota, AWS value, where the
runtime enforces it and which test here proves it. Values past a quota are built directly; a
quota whose reaching would be slow is lowered through ``Quotas`` and a test shows its default."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest
from botocore.exceptions import ClientError

from sfn_runtime.distributed.map_run import DEFAULT_MAX_CONCURRENCY
from sfn_runtime.engine.execution import MAX_REDRIVES, REDRIVABLE_DAYS
from sfn_runtime.jsontext import size as json_size
from sfn_runtime.engine.quotas import Quotas
from tests.sfn.conftest import SfnApi, make_client, serve

KIB = 1024
PAYLOAD = 256 * KIB
TOO_BIG = "The state/task '{}' {} with a size exceeding the maximum number of bytes service limit."


def name() -> str:
    return f"q{uuid.uuid4().hex[:12]}"


@contextmanager
def served(quotas: Quotas, time_scale: float = 0.01) -> Iterator[SfnApi]:
    """A runtime of its own with ``quotas`` (to reach a quota quickly)."""
    server, holder = serve(time_scale, quotas=quotas)
    try:
        yield SfnApi(make_client(server.url), holder["service"], server)
    finally:
        server.stop()


def text_of_size(total: int, wrap=lambda s: s) -> str:
    """A string ``s`` such that ``wrap(s)`` measures ``total`` bytes as compact JSON."""
    overhead = json_size(wrap(""))
    return "x" * (total - overhead)


def pass_result(size: int) -> dict:
    return {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": text_of_size(size), "End": True}}}


def failed(described: dict) -> tuple[str, str, str]:
    return described["status"], described.get("error", ""), described.get("cause", "")


# ----------------------------------------------------------------------------- payloads


def test_state_output_of_256_kib_passes_and_one_byte_more_fails(sfn):
    assert sfn.run(pass_result(PAYLOAD), name=name())["status"] == "SUCCEEDED"
    described = sfn.run(pass_result(PAYLOAD + 1), name=name())
    assert failed(described) == ("FAILED", "States.DataLimitExceeded", TOO_BIG.format("Big", "returned a result"))


def test_parameters_result_of_256_kib_passes_and_one_byte_more_fails(sfn):
    def machine(size: int) -> dict:
        blob = text_of_size(size, lambda s: {"Result": s})
        return {"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::local:test", "Parameters": {"Result": blob}, "End": True}}}

    assert sfn.run(machine(PAYLOAD), name=name())["status"] == "SUCCEEDED"
    described = sfn.run(machine(PAYLOAD + 1), name=name())
    assert failed(described) == ("FAILED", "States.DataLimitExceeded", TOO_BIG.format("Call", "has Parameters/Arguments"))


def test_jsonata_arguments_are_held_to_the_same_quota(sfn):
    blob = text_of_size(PAYLOAD + 1, lambda s: {"Result": s})
    definition = {"QueryLanguage": "JSONata", "StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::local:test", "Arguments": {"Result": blob}, "End": True}}}
    assert failed(sfn.run(definition, name=name()))[1] == "States.DataLimitExceeded"


def test_task_result_of_256_kib_passes_and_one_byte_more_fails_naming_the_resource(stack, aws):
    """An S3 GetObject result: its size is the body plus fields whose length a first run measures."""
    bucket = name()
    aws("s3").create_bucket(Bucket=bucket)
    resource = "arn:aws:states:::aws-sdk:s3:getObject"
    machine = stack.machine(name(), {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": resource, "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
        "ResultSelector": {"n.$": "$.ContentLength"}, "End": True}}})

    def run_with_body(size: int) -> dict:
        key = f"body-{size}"
        aws("s3").put_object(Bucket=bucket, Key=key, Body=b"x" * size)
        return stack.run(machine, {"key": key})

    probe = run_with_body(200_000)  # same number of digits in ContentLength as the sizes below
    result = next(json.loads(e["taskSucceededEventDetails"]["output"]) for e in stack.history(probe["executionArn"])
                  if e["type"] == "TaskSucceeded")
    overhead = json_size(result) - 200_000
    assert run_with_body(PAYLOAD - overhead)["status"] == "SUCCEEDED"
    described = run_with_body(PAYLOAD - overhead + 1)
    assert failed(described) == ("FAILED", "States.DataLimitExceeded", TOO_BIG.format(resource, "returned a result"))


def test_start_execution_input_of_256_kib_is_accepted_and_one_byte_more_refused(sfn):
    arn = sfn.create({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}}, name())
    sfn.client.start_execution(stateMachineArn=arn, input=json.dumps(text_of_size(PAYLOAD)))
    with pytest.raises(ClientError) as caught:
        sfn.client.start_execution(stateMachineArn=arn, input=json.dumps(text_of_size(PAYLOAD + 1)))
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                   "Member must have length less than or equal to 262144"}


# ----------------------------------------------------------------------------- variables


def assign_machine(values: dict) -> dict:
    return {"StartAt": "Set", "States": {"Set": {"Type": "Pass", "Assign": values, "Result": 1, "End": True}}}


def test_a_variable_of_256_kib_passes_and_one_byte_more_fails(sfn):
    assert sfn.run(assign_machine({"v": text_of_size(PAYLOAD)}), name=name())["status"] == "SUCCEEDED"
    described = sfn.run(assign_machine({"v": text_of_size(PAYLOAD + 1)}), name=name())
    assert failed(described)[:2] == ("FAILED", "States.DataLimitExceeded")
    assert "The variable 'v' exceeds the maximum variable size" in described["cause"]


def test_the_values_of_one_assign_may_hold_256_kib_together(sfn):
    half = PAYLOAD // 2
    assert sfn.run(assign_machine({"a": text_of_size(half), "b": text_of_size(half)}), name=name())["status"] == "SUCCEEDED"
    described = sfn.run(assign_machine({"a": text_of_size(half), "b": text_of_size(half + 1)}), name=name())
    assert failed(described)[:2] == ("FAILED", "States.DataLimitExceeded")
    assert "The values of Assign together exceed the maximum size" in described["cause"]


def test_all_variables_of_an_execution_may_hold_10_mib():
    assert Quotas().max_variables_total_bytes == 10 * KIB * KIB
    steps = {f"S{i}": {"Type": "Pass", "Assign": {f"v{i}": text_of_size(100)}, "Next": f"S{i + 1}"} for i in range(10)}
    steps["S10"] = {"Type": "Succeed"}
    with served(Quotas(max_variables_total_bytes=1000)) as api:  # ten variables of 100 bytes
        assert api.run({"StartAt": "S0", "States": steps}, name=name())["status"] == "SUCCEEDED"
        steps["S9"]["Assign"]["v9"] = text_of_size(101)
        described = api.run({"StartAt": "S0", "States": steps}, name=name())
    assert failed(described)[:2] == ("FAILED", "States.DataLimitExceeded")
    assert "The variables of the execution exceed the maximum total size" in described["cause"]


# ----------------------------------------------------------------------------- Map


def inline_map(selector_size: int) -> dict:
    blob = text_of_size(selector_size, lambda s: {"x": s, "i": 0})
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemSelector": {"x": blob, "i.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "Result": 1, "End": True}}},
        "End": True}}}


def test_an_item_selector_output_of_256_kib_passes_and_one_byte_more_fails(sfn):
    assert sfn.run(inline_map(PAYLOAD), [0, 1], name=name())["status"] == "SUCCEEDED"
    described = sfn.run(inline_map(PAYLOAD + 1), [0, 1], name=name())
    assert failed(described) == ("FAILED", "States.DataLimitExceeded",
                                 TOO_BIG.format("Each", "made an ItemSelector output for item 0"))


def distributed(extra: dict, child: dict | None = None) -> dict:
    child = child or {"StartAt": "One", "States": {"One": {"Type": "Pass", "Result": 1, "End": True}}}
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **child}
    return {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemProcessor": processor, **extra, "End": True}}}


def test_a_distributed_map_child_input_of_256_kib_passes_and_one_byte_more_fails(sfn):
    def machine(size: int) -> dict:
        blob = text_of_size(size, lambda s: {"x": s, "i": 0})
        return distributed({"ItemSelector": {"x": blob, "i.$": "$$.Map.Item.Value"}})

    assert sfn.run(machine(PAYLOAD), [0, 1], name=name())["status"] == "SUCCEEDED"
    described = sfn.run(machine(PAYLOAD + 1), [0, 1], name=name())
    assert failed(described) == ("FAILED", "States.DataLimitExceeded",
                                 TOO_BIG.format("Fan", "made a child execution input for item 0"))


def test_max_input_bytes_per_batch_may_be_256_kib_and_no_more(sfn):
    ok = sfn.run(distributed({"ItemBatcher": {"MaxInputBytesPerBatch": PAYLOAD}}), [1, 2, 3], name=name())
    assert ok["status"] == "SUCCEEDED"
    described = sfn.run(distributed({"ItemBatcher": {"MaxInputBytesPerBatch": PAYLOAD + 1}}), [1, 2, 3], name=name())
    assert failed(described)[:2] == ("FAILED", "States.Runtime")
    assert "ItemBatcher.MaxInputBytesPerBatch must be at most 262144, got 262145" in described["cause"]


def test_batches_keep_to_max_items_and_max_bytes_per_batch(sfn):
    """Each child gets at most MaxItemsPerBatch items, and a batch never passes MaxInputBytesPerBatch."""
    child = {"StartAt": "Count", "States": {"Count": {
        "Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.Items)"}, "End": True}}}
    by_count = sfn.run(distributed({"ItemBatcher": {"MaxItemsPerBatch": 3}}, child), list(range(10)), name=name())
    assert [r["n"] for r in json.loads(by_count["output"])] == [3, 3, 3, 1]
    item = "y" * 98
    three = json_size({"Items": [item] * 3})  # a batch of three items, to the byte
    by_bytes = sfn.run(distributed({"ItemBatcher": {"MaxInputBytesPerBatch": three}}, child), [item] * 7, name=name())
    assert [r["n"] for r in json.loads(by_bytes["output"])] == [3, 3, 1]
    too_small = sfn.run(distributed({"ItemBatcher": {"MaxInputBytesPerBatch": 110}}, child), [item], name=name())
    assert failed(too_small)[:2] == ("FAILED", "States.Runtime")
    assert "does not fit in a batch of at most 110 bytes" in too_small["cause"]


def map_run_of(api: SfnApi, execution_arn: str) -> dict:
    started = next(e for e in api.history(execution_arn) if e["type"] == "MapRunStarted")
    return api.client.describe_map_run(mapRunArn=started["mapRunStartedEventDetails"]["mapRunArn"])


def test_a_map_run_runs_at_most_10000_children_at_once():
    assert Quotas().max_map_run_concurrency == DEFAULT_MAX_CONCURRENCY == 10_000
    child = {"StartAt": "Nap", "States": {"Nap": {
        "Type": "Task", "Resource": "arn:aws:states:::local:test", "Parameters": {"SleepSeconds": 2}, "End": True}}}
    with served(Quotas(max_map_run_concurrency=2)) as api:
        for asked in (0, 5):
            described = api.run(distributed({"MaxConcurrency": asked}, child), list(range(6)), name=name())
            assert described["status"] == "SUCCEEDED"
            run = map_run_of(api, described["executionArn"])
            assert run["maxConcurrency"] == 2
            children = api.client.list_executions(mapRunArn=run["mapRunArn"])["executions"]
            spans = [(c["startDate"].timestamp(), c["stopDate"].timestamp()) for c in children]
            most = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
            assert most <= 2
    unlimited = distributed({"MaxConcurrency": 20_000})
    with served(Quotas()) as api:
        described = api.run(unlimited, [1], name=name())
        assert map_run_of(api, described["executionArn"])["maxConcurrency"] == 10_000


def test_a_csv_header_of_10_kib_is_read_and_one_byte_more_fails(stack, aws):
    bucket = name()
    aws("s3").create_bucket(Bucket=bucket)
    assert Quotas().max_csv_header_bytes == 10 * KIB

    def run_with_header(size: int) -> dict:
        header = "a," + "h" * (size - 2)
        aws("s3").put_object(Bucket=bucket, Key=f"h{size}.csv", Body=f"{header}\n1,2\n".encode())
        reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"},
                  "Parameters": {"Bucket": bucket, "Key": f"h{size}.csv"}}
        return stack.run(stack.machine(name(), distributed({"ItemReader": reader})))

    assert run_with_header(10 * KIB)["status"] == "SUCCEEDED"
    described = run_with_header(10 * KIB + 1)
    assert failed(described)[:2] == ("FAILED", "States.ItemReaderFailed")
    assert "the CSV header has 10241 bytes, more than the 10240 supported" in described["cause"]


def test_results_past_256_kib_need_a_result_writer(stack, aws):
    """Without ResultWriter the Map state's output is the children's outputs, held to 256 KiB; with
    one they go to S3 and the state's output is the small manifest reference."""
    bucket = name()
    aws("s3").create_bucket(Bucket=bucket)
    child = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": text_of_size(100 * KIB), "End": True}}}
    items = [1, 2, 3]
    without = stack.run(stack.machine(name(), distributed({}, child)), items)
    assert failed(without)[:2] == ("FAILED", "States.DataLimitExceeded")
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "out"}}
    with_writer = stack.run(stack.machine(name(), distributed({"ResultWriter": writer}, child)), items)
    assert with_writer["status"] == "SUCCEEDED"
    assert json.loads(with_writer["output"])["ResultWriterDetails"]["Bucket"] == bucket


# ----------------------------------------------------------------------------- executions and machines


def test_history_may_hold_25000_events_and_the_execution_fails_past_them():
    assert Quotas().max_history_events == 25_000
    steps = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(5)}
    steps["P5"] = {"Type": "Succeed"}
    definition = {"StartAt": "P0", "States": steps}
    events = 1 + 2 * 6  # ExecutionStarted, then entered/exited per state; ExecutionSucceeded ends it
    with served(Quotas(max_history_events=events)) as api:
        assert api.run(definition, name=name())["status"] == "SUCCEEDED"
    with served(Quotas(max_history_events=events - 1)) as api:
        described = api.run(definition, name=name())
        assert failed(described)[:2] == ("FAILED", "States.Runtime")
        assert f"The execution reached the maximum number of history events ({events - 1})." in described["cause"]
        assert described["redriveStatusReason"] == "Execution history event limit exceeded."


def test_names_may_have_80_characters_and_no_more(sfn):
    simple = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn = sfn.create(simple, "m" * 80)
    sfn.client.start_execution(stateMachineArn=arn, name="e" * 80)
    for call, field, value in [
        (lambda: sfn.create(simple, "m" * 81), "name", "m" * 81),
        (lambda: sfn.client.start_execution(stateMachineArn=arn, name="e" * 81), "name", "e" * 81),
    ]:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"] == {
            "Code": "ValidationException",
            "Message": f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                       "Member must have length less than or equal to 80"}
    with pytest.raises(ClientError) as caught:
        sfn.client.start_execution(stateMachineArn=arn, name="has space")
    assert caught.value.response["Error"]["Code"] == "InvalidName"


def test_a_definition_may_have_1_mib():
    """Lowered to 1,000 bytes here: on AWS (and locally) the 1 MB request quota already refuses a
    CreateStateMachine whose definition nears 1 MiB, so the definition quota is reached directly."""
    assert Quotas().max_definition_bytes == 1024 * KIB

    def definition(size: int) -> str:
        text = json.dumps({"Comment": "", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        return text.replace('"Comment": ""', '"Comment": "' + "c" * (size - len(text.encode())) + '"')

    with served(Quotas(max_definition_bytes=1000)) as api:
        api.create(definition(1000), name())
        with pytest.raises(ClientError) as caught:
            api.create(definition(1001), name())
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value at 'definition' failed to satisfy constraint: "
                   "Member must have length less than or equal to 1000"}


def test_an_express_execution_times_out_after_5_minutes():
    assert Quotas().max_express_seconds == 300
    wait = lambda seconds: {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}}  # noqa: E731
    with served(Quotas(max_express_seconds=2)) as api:  # 2 s of definition time, 20 ms at the tests' scale
        long_wait = api.create(wait(100), name(), type_="EXPRESS")
        ended = api.client.start_sync_execution(stateMachineArn=long_wait, input="{}")
        assert (ended["status"], ended["error"]) == ("TIMED_OUT", "States.Timeout")
        assert ended["cause"] == "The EXPRESS execution ran longer than the 2 seconds it may run"
        assert api.run(wait(3), name=name())["status"] == "SUCCEEDED"  # STANDARD: no such limit
    with served(Quotas(max_express_seconds=100)) as api:
        short_wait = api.create(wait(2), name(), type_="EXPRESS")
        assert api.client.start_sync_execution(stateMachineArn=short_wait, input="{}")["status"] == "SUCCEEDED"


# ----------------------------------------------------------------------------- redrive


@pytest.fixture
def failed_execution(sfn) -> tuple[SfnApi, object]:
    """A failed STANDARD execution (redrivable) and the engine's object for it."""
    definition = {"StartAt": "Boom", "States": {"Boom": {
        "Type": "Task", "Resource": "arn:aws:states:::local:test",
        "Parameters": {"FailAttempts": 1, "Error": "E", "Cause": "c"}, "End": True}}}
    described = sfn.run(definition, name=name())
    assert described["status"] == "FAILED"
    return sfn, sfn.service.executions[described["executionArn"]]


def redrive_refusal(api: SfnApi, arn: str) -> str | None:
    try:
        api.client.redrive_execution(executionArn=arn)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ExecutionNotRedrivable"
        return exc.response["Error"]["Message"]
    return None


def test_an_execution_can_be_redriven_within_14_days_of_its_end(failed_execution):
    api, execution = failed_execution
    assert REDRIVABLE_DAYS == 14
    execution.stop_time = time.time() - 14 * 86400 - 1
    assert redrive_refusal(api, execution.arn) == "Execution redrivable period exceeded."
    execution.stop_time = time.time() - 14 * 86400 + 60
    assert redrive_refusal(api, execution.arn) is None


def test_an_execution_can_be_redriven_1000_times(failed_execution):
    api, execution = failed_execution
    assert MAX_REDRIVES == 1000
    execution.redrive_count = 1000
    assert redrive_refusal(api, execution.arn) == "Execution has been redriven the maximum number of times."
    execution.redrive_count = 999
    assert redrive_refusal(api, execution.arn) is None
