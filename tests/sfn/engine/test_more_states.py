"""More state behaviour: JSONata Task data flow, legacy Map fields, MaxConcurrencyPath, Parallel retries, quotas, shutdown."""

from __future__ import annotations

import json

from sfn_runtime.engine.quotas import Quotas

from ..conftest import ROLE, SfnApi, make_client, serve

TEST_RESOURCE = "arn:aws:states:::local:test"


def test_jsonata_task_arguments_output_and_assign(sfn, unique):
    # "Transforming data with JSONata": Arguments builds the request, Output reads $states.result.
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TEST_RESOURCE,
        "Arguments": {"Result": {"sum": "{% $sum($states.input.values) %}"}},
        "Assign": {"lastSum": "{% $states.result.sum %}"},
        "Output": {"total": "{% $states.result.sum %}", "echo": "{% $states.input.tag %}"},
        "Next": "Show"},
        "Show": {"Type": "Pass", "Output": "{% $lastSum %}", "End": True}}}
    described = sfn.run(definition, {"values": [1, 2, 3], "tag": "t"}, name=unique)
    assert json.loads(described["output"]) == 6
    events = sfn.history(described["executionArn"])
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "local" and scheduled["resource"] == "test"
    assert json.loads(scheduled["parameters"]) == {"Result": {"sum": 6}}
    exited = next(e for e in events if e["type"] == "TaskStateExited")["stateExitedEventDetails"]
    assert json.loads(exited["output"]) == {"total": 6, "echo": "t"}


def test_legacy_iterator_parameters_and_max_concurrency_path(sfn, unique):
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.limit",
        "Parameters": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "ResultPath": "$.out", "End": True}}}
    described = sfn.run(definition, {"items": ["a", "b"], "limit": 1}, name=unique)
    assert json.loads(described["output"]) == {"items": ["a", "b"], "limit": 1,
                                                "out": [{"v": "a", "i": 0}, {"v": "b", "i": 1}]}


def test_parallel_is_retried_as_a_whole(sfn, unique):
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True,
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 1}],
        "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TEST_RESOURCE,
                                                         "Parameters": {"FailAttempts": 9, "Error": "E"}, "End": True}}}]}}}
    described = sfn.run(definition, name=unique)
    assert described["error"] == "E"
    types = [e["type"] for e in sfn.history(described["executionArn"])]
    assert types.count("ParallelStateStarted") == 2 and types.count("ParallelStateFailed") == 2


def test_history_quota_fails_the_execution():
    server, holder = serve(quotas=Quotas(max_history_events=30))
    try:
        api = SfnApi(make_client(server.url), holder["service"], server)
        definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
            "Type": "Map", "Items": "{% $range(1, 50, 1) %}",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
        described = api.run(definition, name="TooLong")
        assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
        assert "maximum number of history events" in described["cause"]
        assert len(api.history(described["executionArn"])) <= 31
    finally:
        server.stop()


def test_closing_the_service_aborts_running_executions():
    server, holder = serve()
    client = make_client(server.url)
    arn = client.create_state_machine(name="Forever", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10**7, "End": True}}}))["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=arn)["executionArn"]
    service = holder["service"]
    server.stop()  # the app's cleanup closes the service
    assert service.executions[execution].status == "ABORTED"
    assert service.executions[execution].task.done()


def test_thousands_of_waiting_executions_cost_no_thread_each(sfn, unique):
    import threading

    arn = sfn.create({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::local:test.waitForTaskToken",
        "Parameters": {"Result": {"token.$": "$$.Task.Token"}}, "End": True}}}, unique)
    before = threading.active_count()

    async def start_many() -> list:
        return [sfn.service.start_execution(arn, "{}")[0] for _ in range(2000)]

    executions = sfn.server.run(start_many())

    async def settle() -> int:
        import asyncio

        await asyncio.sleep(0.2)
        waiting = sum(1 for e in executions if e.status == "RUNNING")
        for execution in executions:
            submitted = next(e for e in execution.history.events if e.type == "TaskSubmitted")
            sfn.service.tokens.succeed(submitted.details["output"]["token"], {"ok": True})
        await asyncio.gather(*(e.wait() for e in executions))
        return waiting

    assert sfn.server.run(settle()) == 2000
    assert threading.active_count() == before
    assert {e.status for e in executions} == {"SUCCEEDED"}


def test_time_scale_zero_makes_waits_instant_without_timing_tasks_out():
    server, holder = serve(time_scale=0)
    try:
        api = SfnApi(make_client(server.url), holder["service"], server)
        definition = {"TimeoutSeconds": 5, "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 10**6, "Next": "T"},
            "T": {"Type": "Task", "Resource": TEST_RESOURCE, "TimeoutSeconds": 2, "HeartbeatSeconds": 1,
                  "Parameters": {"Result": "finished"}, "End": True}}}
        described = api.run(definition, name="Instant")
        assert json.loads(described["output"]) == "finished"
    finally:
        server.stop()
