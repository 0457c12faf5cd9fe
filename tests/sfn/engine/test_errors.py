"""Retry, Catch, timeouts and heartbeats ("Handling errors in Step Functions workflows", AWS docs).

Timing is checked on the history's timestamps under the fixture's time scale (0.01), never on
wall-clock time.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import TIME_SCALE

TEST_RESOURCE = "arn:aws:states:::local:test"


def _task(args: dict, **extra) -> dict:
    return {"Type": "Task", "Resource": TEST_RESOURCE, "Parameters": args, **extra}


def _times(events: list[dict], type_: str) -> list[float]:
    return [e["timestamp"].timestamp() for e in events if e["type"] == type_]


def test_retry_backoff_schedule_in_history(sfn, unique):
    # IntervalSeconds 2, BackoffRate 2 => waits of 2 s then 4 s before the 2nd and 3rd attempts.
    definition = {"StartAt": "T", "States": {"T": _task(
        {"FailAttempts": 2, "Error": "Custom.Flaky", "Result": "ok"},
        Retry=[{"ErrorEquals": ["Custom.Flaky"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}],
        End=True)}}
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == "ok"
    events = sfn.history(described["executionArn"])
    assert [e["type"] for e in events if e["type"].startswith("Task")] == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
    ]
    failed, scheduled = _times(events, "TaskFailed"), _times(events, "TaskScheduled")
    gaps = [scheduled[1] - failed[0], scheduled[2] - failed[1]]
    assert gaps[0] >= 2 * TIME_SCALE * 0.9 and gaps[1] >= 4 * TIME_SCALE * 0.9
    assert gaps[1] > gaps[0]


def test_max_attempts_zero_never_retries_and_max_delay_caps(sfn, unique):
    definition = {"StartAt": "T", "States": {"T": _task(
        {"FailAttempts": 5, "Error": "E1"},
        Retry=[{"ErrorEquals": ["E1"], "MaxAttempts": 0}], End=True)}}
    described = sfn.run(definition, name=unique)
    assert described["error"] == "E1"
    assert len(_times(sfn.history(described["executionArn"]), "TaskScheduled")) == 1


def test_retrier_delay_rules():
    from sfn_runtime.engine.retry import Retrier

    capped = Retrier(("E",), interval_seconds=1, backoff_rate=10, max_delay_seconds=5)
    assert [capped.delay(n) for n in range(3)] == [1, 5, 5]
    jittered = Retrier(("E",), interval_seconds=8, backoff_rate=1, jitter_strategy="FULL")
    assert all(0 <= jittered.delay(0) <= 8 for _ in range(50))


@pytest.mark.parametrize(
    "error, error_equals, matched",
    [
        ("Custom.X", ["States.ALL"], True),
        ("States.Timeout", ["States.TaskFailed"], False),
        ("Custom.X", ["States.TaskFailed"], True),
        ("States.Runtime", ["States.ALL"], False),
        ("States.DataLimitExceeded", ["States.ALL"], False),
        ("States.DataLimitExceeded", ["States.DataLimitExceeded"], True),
        ("Custom.X", ["Custom.Y", "Custom.X"], True),
    ],
)
def test_error_name_matching(error, error_equals, matched):
    from sfn_runtime.engine.retry import error_matches

    assert error_matches(tuple(error_equals), error) is matched


def test_catch_result_path_keeps_input(sfn, unique):
    # Doc example: ResultPath "$.error" adds the error output to the state's input.
    definition = {"StartAt": "T", "States": {
        "T": _task({"FailAttempts": 1, "Error": "CustomError", "Cause": "This is a custom error!"},
                   Catch=[{"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "Done"}], End=True),
        "Done": {"Type": "Succeed"}}}
    described = sfn.run(definition, {"foo": "bar"}, name=unique)
    assert json.loads(described["output"]) == {"foo": "bar", "error": {"Error": "CustomError", "Cause": "This is a custom error!"}}


def test_retry_exhausted_then_caught(sfn, unique):
    definition = {"StartAt": "T", "States": {
        "T": _task({"FailAttempts": 9, "Error": "E"},
                   Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                   Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}], End=True),
        "Done": {"Type": "Pass", "End": True}}}
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == {"Error": "E", "Cause": ""}
    assert len(_times(sfn.history(described["executionArn"]), "TaskScheduled")) == 3


def test_task_timeout_is_states_timeout_and_not_task_failed(sfn, unique):
    definition = {"StartAt": "T", "States": {
        "T": _task({"SleepSeconds": 100}, TimeoutSeconds=2,
                   Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}], End=True),
        "Wrong": {"Type": "Succeed"}}}
    described = sfn.run(definition, name=unique)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    events = sfn.history(described["executionArn"])
    assert "TaskTimedOut" in [e["type"] for e in events]


def test_heartbeat_timeout_and_heartbeats_keep_task_alive(sfn, unique):
    silent = {"StartAt": "T", "States": {"T": _task({"SleepSeconds": 50}, HeartbeatSeconds=2, TimeoutSeconds=100, End=True)}}
    described = sfn.run(silent, name=unique)
    assert described["error"] == "States.HeartbeatTimeout"
    beating = {"StartAt": "T", "States": {"T": _task(
        {"SleepSeconds": 6, "HeartbeatEverySeconds": 1, "Result": "alive"}, HeartbeatSeconds=3, TimeoutSeconds=100, End=True)}}
    described = sfn.run(beating, name=unique + "b")
    assert json.loads(described["output"]) == "alive"


def test_timeout_seconds_path(sfn, unique):
    definition = {"StartAt": "T", "States": {"T": _task({"SleepSeconds": 100}, TimeoutSecondsPath="$.t", End=True)}}
    described = sfn.run(definition, {"t": 1}, name=unique)
    assert described["error"] == "States.Timeout"


def test_jsonata_timeout_template(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TEST_RESOURCE, "Arguments": {"SleepSeconds": 100},
        "TimeoutSeconds": "{% $states.input.t %}", "End": True}}}
    described = sfn.run(definition, {"t": 1}, name=unique)
    assert described["error"] == "States.Timeout"


def test_execution_timeout(sfn, unique):
    definition = {"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}
    described = sfn.run(definition, name=unique)
    assert (described["status"], described["error"]) == ("TIMED_OUT", "States.Timeout")
    assert sfn.history(described["executionArn"])[-1]["type"] == "ExecutionTimedOut"


def test_wait_for_task_token_success_and_failure(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TEST_RESOURCE + ".waitForTaskToken",
        "Arguments": {"Result": {"token": "{% $states.context.Task.Token %}"}}, "End": True}}}
    arn = sfn.create(definition, unique)
    for outcome in ("success", "failure"):
        execution = sfn.client.start_execution(stateMachineArn=arn)["executionArn"]
        token = _submitted_token(sfn, execution)
        sfn.client.send_task_heartbeat(taskToken=token)
        if outcome == "success":
            sfn.client.send_task_success(taskToken=token, output=json.dumps({"done": True}))
            described = sfn.wait(execution)
            assert json.loads(described["output"]) == {"done": True}
        else:
            sfn.client.send_task_failure(taskToken=token, error="Remote.Error", cause="remote said no")
            described = sfn.wait(execution)
            assert (described["error"], described["cause"]) == ("Remote.Error", "remote said no")
        with pytest.raises(sfn.client.exceptions.TaskDoesNotExist):
            sfn.client.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.client.exceptions.InvalidToken):
        sfn.client.send_task_heartbeat(taskToken="x" * 1025)


def _submitted_token(sfn, execution_arn: str) -> str:
    import time

    for _ in range(500):
        for event in sfn.history(execution_arn):
            if event["type"] == "TaskSubmitted":
                return json.loads(event["taskSubmittedEventDetails"]["output"])["token"]
        time.sleep(0.01)
    raise AssertionError("no TaskSubmitted event")


def test_wait_for_task_token_times_out(sfn, unique):
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TEST_RESOURCE + ".waitForTaskToken",
        "Parameters": {"Result": {"token.$": "$$.Task.Token"}}, "TimeoutSeconds": 2, "End": True}}}
    arn = sfn.create(definition, unique)
    execution = sfn.client.start_execution(stateMachineArn=arn)["executionArn"]
    token = _submitted_token(sfn, execution)
    assert sfn.wait(execution)["error"] == "States.Timeout"
    with pytest.raises(sfn.client.exceptions.TaskTimedOut):
        sfn.client.send_task_success(taskToken=token, output="{}")


def test_sync_pattern_records_task_submitted(sfn, unique):
    definition = {"StartAt": "T", "States": {"T": _task({"Result": "done"}, Resource=TEST_RESOURCE + ".sync", End=True)}}
    described = sfn.run(definition, name=unique)
    events = sfn.history(described["executionArn"])
    types = [e["type"] for e in events]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    submitted = events[4]["taskSubmittedEventDetails"]
    assert (submitted["resourceType"], submitted["resource"]) == ("local", "test.sync")
    assert json.loads(described["output"]) == "done"
