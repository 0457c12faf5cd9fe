"""Execution history in CloudWatch Logs, as a state machine's loggingConfiguration asks (AWS's
Developer Guide, "Using CloudWatch Logs to log execution history" and "Log levels"), through
the embedded local stack: what the runtime writes, an operator reads with filter_log_events."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from sfn_runtime.engine.execution_logs import LoggingConfiguration, log_lines, wanted
from sfn_runtime.engine.history import HistoryEvent

SECRET = "s3cr3t-value-in-input"
LOG_KEYS = {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"}

# What the Developer Guide asks of a role whose machine logs to CloudWatch Logs.
LOG_DELIVERY_POLICY = [{"Effect": "Allow", "Resource": "*", "Action": [
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]}]

PASS_THEN_SUCCEED = {
    "StartAt": "Greet",
    "States": {"Greet": {"Type": "Pass", "Parameters": {"hello.$": "$.who"}, "End": True}},
}
PASS_THEN_FAIL = {
    "StartAt": "Greet",
    "States": {
        "Greet": {"Type": "Pass", "Next": "Stop"},
        "Stop": {"Type": "Fail", "Error": "Page.Broken", "Cause": "the page was broken"},
    },
}


@pytest.fixture
def logs_setup(local_stack, make_role):
    """A fresh log group, its ARN as Step Functions wants it, and a role for the machines."""
    logs = local_stack.client("logs")
    group = f"/aws/vendedlogs/states/test-{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:{local_stack.config.region}:{local_stack.config.account_id}:log-group:{group}:*"
    return logs, group, arn, make_role(LOG_DELIVERY_POLICY)


def logging(level: str, arn: str, include_data: bool = True) -> dict:
    return {"level": level, "includeExecutionData": include_data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]}


def create(sfn, definition: dict, role: str, config: dict, kind: str = "EXPRESS") -> str:
    name = f"logs-{uuid.uuid4().hex[:10]}"
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role, type=kind,
                                    loggingConfiguration=config)["stateMachineArn"]


def read_logs(logs, group: str, last_type: str, timeout: float = 10.0) -> list[dict]:
    """The group's events (stream name and parsed message), once one of type ``last_type`` is there."""
    deadline = time.monotonic() + timeout
    while True:
        events = logs.filter_log_events(logGroupName=group)["events"]
        parsed = [{"stream": e["logStreamName"], **json.loads(e["message"])} for e in events]
        if any(p["type"] == last_type for p in parsed):
            return sorted(parsed, key=lambda p: int(p["id"]))
        if time.monotonic() > deadline:
            raise AssertionError(f"no {last_type} event in {group} after {timeout}s: {parsed}")
        time.sleep(0.05)


def test_express_level_all_logs_every_history_event_in_aws_format(local_stack, logs_setup):
    logs, group, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    machine = create(sfn, PASS_THEN_SUCCEED, role, logging("ALL", arn))
    result = sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"who": "world"}))
    assert result["status"] == "SUCCEEDED"

    events = read_logs(logs, group, "ExecutionSucceeded")
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    for event in events:
        assert set(event) - {"stream"} == LOG_KEYS
        assert event["execution_arn"] == result["executionArn"]
        assert event["redrive_count"] == "0"
        assert event["event_timestamp"].isdigit()
        assert event["stream"].startswith(f"states/{machine.rsplit(':', 1)[1]}/")
    assert [e["id"] for e in events] == ["1", "2", "3", "4"]
    assert [e["previous_event_id"] for e in events] == ["0", "1", "2", "3"]
    assert json.loads(events[0]["details"]["input"]) == {"who": "world"}
    assert events[0]["details"]["inputDetails"] == {"truncated": False}
    assert json.loads(events[-1]["details"]["output"]) == {"hello": "world"}


def test_level_error_logs_only_the_failure_events(local_stack, logs_setup):
    logs, group, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    machine = create(sfn, PASS_THEN_FAIL, role, logging("ERROR", arn))
    assert sfn.start_sync_execution(stateMachineArn=machine, input="{}")["status"] == "FAILED"

    events = read_logs(logs, group, "ExecutionFailed")
    assert [e["type"] for e in events] == ["FailStateEntered", "ExecutionFailed"]
    assert events[-1]["details"] == {"error": "Page.Broken", "cause": "the page was broken"}


def test_without_execution_data_no_input_or_output_is_logged(local_stack, logs_setup):
    logs, group, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    machine = create(sfn, PASS_THEN_SUCCEED, role, logging("ALL", arn, include_data=False))
    sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"who": SECRET}))

    events = read_logs(logs, group, "ExecutionSucceeded")
    assert len(events) == 4
    for event in events:
        assert "input" not in event["details"] and "output" not in event["details"]
        assert SECRET not in json.dumps(event)
    assert events[0]["details"]["roleArn"] == role


def test_level_off_logs_nothing(local_stack, logs_setup):
    """An OFF machine's execution ends before an ALL machine's; only the ALL one reaches the group."""
    logs, group, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    quiet = create(sfn, PASS_THEN_SUCCEED, role, logging("OFF", arn), kind="STANDARD")
    started = sfn.start_execution(stateMachineArn=quiet, input=json.dumps({"who": "quiet"}))["executionArn"]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=started)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    loud = create(sfn, PASS_THEN_SUCCEED, role, logging("ALL", arn))
    sfn.start_sync_execution(stateMachineArn=loud, input=json.dumps({"who": "loud"}))

    events = read_logs(logs, group, "ExecutionSucceeded")
    assert all(e["execution_arn"] != started for e in events)


def test_standard_machines_log_the_same_way(local_stack, logs_setup):
    logs, group, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    machine = create(sfn, PASS_THEN_SUCCEED, role, logging("ALL", arn), kind="STANDARD")
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"who": "standard"}))["executionArn"]

    events = read_logs(logs, group, "ExecutionSucceeded")
    assert {e["execution_arn"] for e in events} == {execution}
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == [e["type"] for e in history]


def test_describe_and_update_return_the_configuration(local_stack, logs_setup):
    _, _, arn, role = logs_setup
    sfn = local_stack.client("stepfunctions")
    machine = create(sfn, PASS_THEN_SUCCEED, role, logging("ERROR", arn, include_data=False))
    assert sfn.describe_state_machine(stateMachineArn=machine)["loggingConfiguration"] == logging("ERROR", arn, False)
    sfn.update_state_machine(stateMachineArn=machine, loggingConfiguration={"level": "OFF"})
    assert sfn.describe_state_machine(stateMachineArn=machine)["loggingConfiguration"] == {
        "level": "OFF", "includeExecutionData": False}


@pytest.mark.parametrize(
    ("config", "code", "text"),
    [
        ({"level": "LOUD"}, "ValidationException", "'loggingConfiguration.level' failed to satisfy constraint"),
        ({"level": "ALL"}, "InvalidLoggingConfiguration", "Must specify exactly one Log Destination."),
        ("two", "InvalidLoggingConfiguration", "Must specify exactly one Log Destination."),
        ("no-star", "InvalidLoggingConfiguration", "Log Group ARN must be provided with '*' qualifier."),
        ("missing", "InvalidLoggingConfiguration", "does not exist"),
    ],
)
def test_create_refuses_a_bad_configuration(local_stack, logs_setup, config, code, text):
    _, group, arn, role = logs_setup
    if config == "two":
        config = {**logging("ALL", arn), "destinations": logging("ALL", arn)["destinations"] * 2}
    elif config == "no-star":
        config = logging("ALL", arn.removesuffix(":*"))
    elif config == "missing":
        config = logging("ALL", arn.replace(group, group + "-absent"))
    sfn = local_stack.client("stepfunctions")
    with pytest.raises(ClientError) as caught:
        create(sfn, PASS_THEN_SUCCEED, role, config)
    assert caught.value.response["Error"]["Code"] == code
    assert text in caught.value.response["Error"]["Message"]


def test_an_input_above_248_kib_is_cut_and_marked_truncated():
    config = LoggingConfiguration("ALL", True, "arn:aws:logs:us-east-1:123456789012:log-group:g:*")
    big = {"blob": "x" * (250 * 1024)}
    small = {"blob": "x" * (240 * 1024)}
    events = [HistoryEvent(1, 0, "ExecutionStarted", 1.0, {"input": big}),
              HistoryEvent(2, 1, "PassStateEntered", 2.0, None, "P", small)]
    first, second = (json.loads(line.message) for line in log_lines(events, config, "arn:x", 0))
    assert first["details"]["inputDetails"] == {"truncated": True}
    assert len(first["details"]["input"].encode()) == 248 * 1024
    assert second["details"]["inputDetails"] == {"truncated": False}


@pytest.mark.parametrize(
    ("event_type", "levels"),
    [("ExecutionFailed", {"ALL", "ERROR", "FATAL"}), ("TaskFailed", {"ALL", "ERROR"}),
     ("FailStateEntered", {"ALL", "ERROR"}), ("TaskStateAborted", {"ALL", "ERROR"}),
     ("TaskSucceeded", {"ALL"}), ("ExecutionStarted", {"ALL"})],
)
def test_levels_follow_the_log_levels_table(event_type, levels):
    assert {level for level in ("ALL", "ERROR", "FATAL", "OFF") if wanted(event_type, level)} == levels


def test_a_role_that_may_not_deliver_logs_is_refused(local_stack, logs_setup, make_role):
    _, _, arn, _ = logs_setup
    role = make_role([{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}])
    sfn = local_stack.client("stepfunctions")
    with pytest.raises(ClientError) as caught:
        create(sfn, PASS_THEN_SUCCEED, role, logging("ALL", arn))
    assert caught.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "The state machine IAM Role is not authorized to access the Log Destination"}
    create(sfn, PASS_THEN_SUCCEED, role, logging("OFF", arn))  # no delivery needed
