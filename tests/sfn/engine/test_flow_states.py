"""Wait, Parallel and inline Map states, JSONPath data flow and the context object."""

from __future__ import annotations

import datetime as dt
import json

from ..conftest import TIME_SCALE


def test_wait_seconds_is_scaled_in_history(sfn, unique):
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}}
    described = sfn.run(definition, name=unique)
    events = sfn.history(described["executionArn"])
    entered, exited = (next(e for e in events if e["type"] == t)["timestamp"] for t in ("WaitStateEntered", "WaitStateExited"))
    assert (exited - entered).total_seconds() >= 10 * TIME_SCALE * 0.9


def test_wait_seconds_path_and_timestamp_forms(sfn, unique):
    by_path = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    assert sfn.run(by_path, {"s": 1}, name=unique)["status"] == "SUCCEEDED"
    assert sfn.run(by_path, {"s": "soon"}, name=unique)["error"] == "States.Runtime"
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "W",
               "States": {"W": {"Type": "Wait", "Timestamp": "{% $states.input.at %}", "End": True}}}
    assert sfn.run(jsonata, {"at": past}, name=unique + "j")["status"] == "SUCCEEDED"
    assert sfn.run(jsonata, {"at": "yesterday"}, name=unique + "j")["error"] == "States.QueryEvaluationError"


def test_jsonpath_input_parameters_result_selector_result_path_output_path(sfn, unique):
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::local:test",
        "InputPath": "$.payload",
        "Parameters": {"Result": {"value.$": "$.v", "name.$": "$$.State.Name"}},
        "ResultSelector": {"picked.$": "$.value", "state.$": "$.name"},
        "ResultPath": "$.task",
        "OutputPath": "$.task",
        "End": True}}}
    described = sfn.run(definition, {"payload": {"v": 42}}, name=unique)
    assert json.loads(described["output"]) == {"picked": 42, "state": "T"}


def test_context_object_fields(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "Ctx", "States": {"Ctx": {
        "Type": "Pass", "Output": "{% $states.context %}", "End": True}}}
    described = sfn.run(definition, {"a": 1}, name=unique)
    context = json.loads(described["output"])
    assert context["Execution"]["Id"] == described["executionArn"]
    assert context["Execution"]["Input"] == {"a": 1}
    assert context["Execution"]["Name"] == described["name"]
    assert context["StateMachine"]["Id"] == described["stateMachineArn"]
    assert context["State"]["Name"] == "Ctx" and "RetryCount" not in context["State"]
    assert context["State"]["EnteredTime"].endswith("Z")


def test_retry_count_only_in_states_that_retry(sfn, unique):
    # Issue 17, category 4. AWS's Context object ("Context object", Step Functions Developer
    # Guide) lists State.RetryCount; AWS shows it in a Task (and Parallel/Map) but a Pass
    # state's $$.State holds only Name and EnteredTime (as AWS answered in LocalStack's recorded
    # test_context_object snapshots), in that order.
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"ctx.$": "$$.State"}, "ResultPath": "$.pass", "Next": "Par"},
        "Par": {"Type": "Parallel", "Parameters": {"ctx.$": "$$.State"}, "ResultPath": "$.par", "End": True,
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}}}
    described = sfn.run(definition, {}, name=unique)
    output = json.loads(described["output"])
    assert list(output["pass"]["ctx"]) == ["Name", "EnteredTime"]
    assert list(output["par"][0]["ctx"]) == ["Name", "EnteredTime", "RetryCount"]
    assert output["par"][0]["ctx"]["RetryCount"] == 0


def test_parallel_results_in_branch_order_and_failure(sfn, unique):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 2, "Next": "R1"}, "R1": {"Type": "Pass", "Result": 1, "End": True}}},
        {"StartAt": "R2", "States": {"R2": {"Type": "Pass", "Result": 2, "End": True}}},
    ]}}}
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == [1, 2]
    types = [e["type"] for e in sfn.history(described["executionArn"])]
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]

    failing = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}},
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Err", "Cause": "c"}}},
    ]}}}
    described = sfn.run(failing, name=unique + "f")
    assert described["error"] == "Branch.Err"
    types = [e["type"] for e in sfn.history(described["executionArn"])]
    assert "ParallelStateFailed" in types and "WaitStateAborted" in types


def test_map_items_path_item_selector_and_context(sfn, unique):
    # "ItemSelector (Map)" doc example: select fields and the Map item's index/value from $$.Map.Item.
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.detail.shipped", "MaxConcurrency": 0,
        "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "courier.$": "$.detail.delivery-partner"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True}}}
    data = {"detail": {"delivery-partner": "UQS", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}}
    described = sfn.run(definition, data, name=unique)
    assert json.loads(described["output"]) == [
        {"parcel": {"prod": "R31"}, "index": 0, "courier": "UQS"},
        {"parcel": {"prod": "S39"}, "index": 1, "courier": "UQS"},
    ]
    events = sfn.history(described["executionArn"])
    started = next(e for e in events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    iterations = [e["mapIterationStartedEventDetails"] for e in events if e["type"] == "MapIterationStarted"]
    assert sorted(i["index"] for i in iterations) == [0, 1] and iterations[0]["name"] == "M"


def test_map_max_concurrency_bounds_running_iterations(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": "{% $range(0, 5, 1) %}", "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
        "End": True}}}
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == [0, 1, 2, 3, 4, 5]
    running = peak = 0
    for event in sfn.history(described["executionArn"]):
        if event["type"] == "MapIterationStarted":
            running += 1
            peak = max(peak, running)
        elif event["type"] == "MapIterationSucceeded":
            running -= 1
    assert peak == 2


def test_map_iteration_failure_fails_the_map_and_is_catchable(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "Items": [1, 2, 3],
              "ItemProcessor": {"StartAt": "C", "States": {
                  "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input = 2 %}", "Next": "F"}], "Default": "Ok"},
                  "F": {"Type": "Fail", "Error": "Item.Bad", "Cause": "{% 'item ' & $string($states.input) %}"},
                  "Ok": {"Type": "Succeed"}}},
              "Catch": [{"ErrorEquals": ["Item.Bad"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == {"Error": "Item.Bad", "Cause": "item 2"}
    types = [e["type"] for e in sfn.history(described["executionArn"])]
    assert "MapIterationFailed" in types and "MapStateFailed" in types


def test_fail_state_error_path_and_intrinsic_cause(sfn, unique):
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
                                                   "CausePath": "States.Format('code {}', $.code)"}}}
    described = sfn.run(definition, {"e": "Err.X", "code": 7}, name=unique)
    assert (described["error"], described["cause"]) == ("Err.X", "code 7")


def test_payload_over_quota_is_data_limit_exceeded(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "Big", "States": {"Big": {
        "Type": "Pass", "Output": "{% [$states.input.s, $states.input.s] %}", "End": True}}}
    described = sfn.run(definition, {"s": "y" * 200_000}, name=unique)
    assert described["error"] == "States.DataLimitExceeded"


def test_jsonpath_intrinsics_context_and_choice_assign(sfn, unique):
    # "Intrinsic functions" doc: States.Format builds strings; $$ reads the context object.
    definition = {"StartAt": "Build", "States": {
        "Build": {"Type": "Pass", "Parameters": {
            "greeting.$": "States.Format('Hello, {}!', $.name)",
            "execution.$": "$$.Execution.Name",
            "parts.$": "States.StringSplit($.csv, ',')"}, "Next": "Route"},
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.parts[1]", "StringEquals": "b", "Assign": {"route": "second-is-b"}, "Next": "Done"}],
            "Default": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"route.$": "$route", "greeting.$": "$.greeting", "execution.$": "$.execution"}, "End": True}}}
    described = sfn.run(definition, {"name": "World", "csv": "a,b,c"}, name=unique)
    assert json.loads(described["output"]) == {"route": "second-is-b", "greeting": "Hello, World!", "execution": described["name"]}


def test_wait_timestamp_path_and_jsonata_seconds(sfn, unique):
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    by_path = {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": True}}}
    assert sfn.run(by_path, {"at": soon}, name=unique)["status"] == "SUCCEEDED"
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "W", "States": {"W": {
        "Type": "Wait", "Seconds": "{% $states.input.s * 2 %}", "Output": {"waited": "{% $states.input.s * 2 %}"}, "End": True}}}
    described = sfn.run(jsonata, {"s": 1}, name=unique + "j")
    assert json.loads(described["output"]) == {"waited": 2}
    assert sfn.run(jsonata, {"s": -1}, name=unique + "j")["error"] == "States.QueryEvaluationError"
