"""One test per defect of the original AWS sample (docs/design.md), each able to catch it again.

Static checks read our workflow templates; runtime checks run small state machines on the
local stack. The Glue script's defects (first 1,000 parts only, driver-side reads, deleting
before verifying, failing on an empty task) are caught by tests/glue/; overwriting parts by
tests/pipeline/test_pipeline.py::test_reruns_overwrite_parts_instead_of_adding_them.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from toolkit.config import StackConfig
from toolkit.spec import table_definitions
from toolkit.workflows import WORKFLOWS


def _states(definition: dict, path: str = ""):
    """Every state, nested ones (Map item processors, Parallel branches) included."""
    for name, state in definition.get("States", {}).items():
        yield f"{path}/{name}", state
        for inner in [state.get("ItemProcessor") or state.get("Iterator") or {}] + state.get("Branches", []):
            yield from _states(inner, f"{path}/{name}")


def _all_states():
    for workflow in WORKFLOWS:
        for where, state in _states(json.loads(workflow.template_text())):
            yield workflow.template, where, state


def test_sync_tasks_never_read_a_task_token() -> None:
    """Original: children started with .sync:2 were handed $states.context.Task.Token."""
    for template, where, state in _all_states():
        resource = state.get("Resource", "")
        if re.search(r"\.sync(:2)?$", resource):
            assert "Task.Token" not in json.dumps(state), f"{template}{where}"


def test_sync_results_are_read_under_output() -> None:
    """Original: read $states.result.resultCount from a .sync:2 result, whose payload is under Output."""
    for template, where, state in _all_states():
        if state.get("Resource", "").endswith("states:startExecution.sync:2"):
            text = json.dumps({k: v for k, v in state.items() if k in ("Output", "Assign")})
            for reference in re.findall(r"\$states\.result\.(\w+)", text):
                assert reference == "Output", f"{template}{where} reads $states.result.{reference}"


def test_locations_table_holds_many_locations_per_task() -> None:
    """Original: the locations table was keyed by task_id alone, so a task held one location."""
    config = StackConfig.load(environ={})
    keys = table_definitions(config)[config.locations_table]["KeySchema"]
    assert keys == [{"AttributeName": "task_id", "KeyType": "HASH"},
                    {"AttributeName": "location_id", "KeyType": "RANGE"}]


def test_every_declared_attribute_name_is_used_and_every_used_one_declared() -> None:
    """Original: Update DynamoDb wrote #CsvUrl but declared #errorCsvUrl; DynamoDB rejects both."""
    checked = 0
    for template, where, state in _all_states():
        arguments = state.get("Arguments")
        if not isinstance(arguments, dict) or "ExpressionAttributeNames" not in arguments:
            continue
        expressions = " ".join(str(v) for k, v in arguments.items() if k.endswith("Expression"))
        used = set(re.findall(r"#\w+", expressions))
        assert used == set(arguments["ExpressionAttributeNames"]), f"{template}{where}"
        checked += 1
    assert checked >= 3


def test_part_keys_are_deterministic() -> None:
    """Original: parts were named part-$millis(): same-millisecond pages overwrote each other, reruns duplicated."""
    keys = [state["Arguments"]["Key"] for _, _, state in _all_states()
            if state.get("Resource", "").endswith("s3:putObject") and "parts/" in state.get("Arguments", {}).get("Key", "")]
    assert keys, "no part writer found"
    for key in keys:
        assert not re.search(r"\$(millis|now|random|uuid)\(", key), key
        assert "$partOffset" in key and "$request.location_id" in key and "$request.data_type" in key


def test_glue_is_awaited_with_the_sync_integration_not_a_wait_loop() -> None:
    """Original: a Wait-30s loop polled getJobRun."""
    states = list(_all_states())
    assert not [w for t, w, s in states if s.get("Type") == "Wait" and t == "aggregator.asl.json"]
    assert not [w for _, w, s in states if "getJobRun" in s.get("Resource", "")]
    glue = [s for _, _, s in states if s.get("Resource", "").startswith("arn:${Partition}:states:::glue:")]
    assert [s["Resource"] for s in glue] == ["arn:${Partition}:states:::glue:startJobRun.sync"]


@pytest.mark.parametrize("reference", ["$states.context.Task.Token", "$states.result.rows"])
def test_runtime_rejects_what_the_original_read(local_stack, make_role, reference) -> None:
    """The runtime behaves as AWS: no Task.Token under .sync:2, and a .sync:2 payload only under Output."""
    sfn = local_stack.client("stepfunctions")
    suffix = uuid.uuid4().hex[:8]
    cfg = local_stack.config
    states, events = f"arn:aws:states:{cfg.region}:{cfg.account_id}", f"arn:aws:events:{cfg.region}:{cfg.account_id}"
    role = make_role([  # what startExecution.sync:2 needs, so only the expression can fail
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": f"{states}:stateMachine:defect-child-{suffix}"},
        {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
         "Resource": f"{states}:execution:defect-child-{suffix}:*"},
        {"Effect": "Allow", "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
         "Resource": f"{events}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"},
    ])
    child = sfn.create_state_machine(
        name=f"defect-child-{suffix}", roleArn=role,
        definition=json.dumps({"QueryLanguage": "JSONata", "StartAt": "Done",
                               "States": {"Done": {"Type": "Pass", "Output": {"rows": 3}, "End": True}}}))
    token_in_args = reference.endswith("Token")
    parent_definition = {"QueryLanguage": "JSONata", "StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Arguments": {"StateMachineArn": child["stateMachineArn"],
                      "Input": {"token": "{% " + reference + " %}"} if token_in_args else {}},
        "Output": {"value": "{% " + reference + " %}"} if not token_in_args else {"ok": True},
        "End": True}}}
    parent = sfn.create_state_machine(name=f"defect-parent-{suffix}", roleArn=role,
                                      definition=json.dumps(parent_definition))
    arn = sfn.start_execution(stateMachineArn=parent["stateMachineArn"])["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.QueryEvaluationError"
