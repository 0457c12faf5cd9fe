"""Cause texts in AWS's words (issue 17, category 1).

AWS begins the cause of a failure the interpreter itself raises with
``An error occurred while executing the state '<name>' (entered at the event id #<n>). ``
and names the field relative to the state. The texts below are the ones AWS showed in real
executions; each test names where it was seen. A Fail state's cause and a task's own error pass
through unchanged.
"""

from __future__ import annotations

import json

import pytest

PREFIX = "An error occurred while executing the state '{}' (entered at the event id #{}). "


def _fails(sfn, unique, definition: dict, input_=None) -> tuple[str, str]:
    described = sfn.run(definition, input_, name=unique)
    assert described["status"] == "FAILED", described
    return described["error"], described["cause"]


def _pass(**fields) -> dict:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, **fields}}}


def test_parameters_path_not_found_quotes_field_and_input(sfn, unique):
    # AWS Step Functions workshop ("Check Address"), cause as shown by AWS:
    # "An error occurred while executing the state 'Check Address' (entered at the event id #7).
    #  The JSONPath '$.application.address' specified for the field 'address.$' could not be
    #  found in the input '{"flagged":false}'"
    definition = {"StartAt": "Check Address", "States": {"Check Address": {
        "Type": "Pass", "Parameters": {"address.$": "$.application.address"}, "End": True}}}
    error, cause = _fails(sfn, unique, definition, {"flagged": False})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("Check Address", 2) + (
        "The JSONPath '$.application.address' specified for the field 'address.$' could not be found "
        "in the input '{\"flagged\":false}'")


@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
def test_input_and_output_path_not_found(sfn, unique, field):
    # Seen on AWS for an OutputPath after a Lambda task: "Invalid path '$.Payload' : No results
    # for path: $['Payload']" (prefixed with the state and its entered event id).
    error, cause = _fails(sfn, unique, _pass(**{field: "$.Payload.rows[0]"}), {"Payload": {"rows": []}})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("P", 2) + "Invalid path '$.Payload.rows[0]' : No results for path: $['Payload']['rows'][0]"


def test_fail_state_cause_path_not_found(sfn, unique):
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.why"}}}
    error, cause = _fails(sfn, unique, definition, {"error": "E"})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("F", 2) + "Invalid path '$.why' : No results for path: $['why']"


def test_fail_state_and_task_errors_pass_through_without_prefix(sfn, unique):
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "States.Runtime", "Cause": "as written"}}}
    assert _fails(sfn, unique, definition) == ("States.Runtime", "as written")


def test_prefix_names_the_innermost_state_once(sfn, unique):
    # Inside a Map iteration the state that failed names itself; the Map state adds nothing.
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "InputPath": "$.x", "End": True}}}}}}
    described = sfn.run(definition, [{"y": 1}], name=unique)
    events = sfn.history(described["executionArn"])
    entered = next(e["id"] for e in events if e["type"] == "PassStateEntered")
    assert described["cause"] == PREFIX.format("Inner", entered) + "Invalid path '$.x' : No results for path: $['x']"


def test_intrinsic_argument_not_found(sfn, unique):
    # Seen on AWS: "The function 'States.Array(<path>)' had the following error: The JsonPath
    # argument for the field '<path>' could not be found in the input '<input>'".
    error, cause = _fails(sfn, unique, _pass(Parameters={"a.$": "States.Array($.missing)"}), {"k": 1})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("P", 2) + (
        "The function 'States.Array($.missing)' had the following error: The JsonPath argument for the "
        "field '$.missing' could not be found in the input '{\"k\":1}'")


def test_jsonata_undefined_names_field_relative_to_state(sfn, unique):
    # Seen on AWS: "An error occurred while executing the state 'Run S3 Data Push' (entered at
    # the event id #6). The JSONata expression '$states.input.pushLocation' specified for the
    # field 'Arguments/Input/pushLocation' returned nothing (undefined)."
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
        "Type": "Pass", "Output": {"result": "{%  $states.input.absent  %}"}, "End": True}}}
    error, cause = _fails(sfn, unique, definition)
    assert error == "States.QueryEvaluationError"
    assert cause == PREFIX.format("P", 2) + (
        "The JSONata expression '$states.input.absent' specified for the field 'Output/result' returned nothing (undefined).")
    events = sfn.history(sfn.client.list_executions(stateMachineArn=sfn.create(definition, unique))["executions"][0]["executionArn"])
    failed = next(e for e in events if e["type"] == "EvaluationFailed")
    # API Reference, EvaluationFailedEventDetails: "location", the field in the state that failed.
    assert failed["evaluationFailedEventDetails"] == {
        "error": "States.QueryEvaluationError", "cause": cause, "state": "P", "location": "Output/result"}


def test_jsonata_assign_field(sfn, unique):
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
        "Type": "Pass", "Assign": {"result": "{% $nope %}"}, "End": True}}}
    _, cause = _fails(sfn, unique, definition)
    assert "specified for the field 'Assign/result'" in cause and cause.startswith(PREFIX.format("P", 2))


def test_map_items_jsonpath_not_an_array(sfn, unique):
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}}}
    error, cause = _fails(sfn, unique, definition, {"items": {"a": 1}})
    assert error == "States.Runtime"
    assert cause.startswith(PREFIX.format("M", 2) + "Map state input must be an array but was: ")


def test_map_items_jsonata_unexpected_type(sfn, unique):
    # Seen on AWS: "The JSONata expression '$restorableJobs' specified for the field 'Items'
    # returned an unexpected result type. Expected 'array', but was 'object'"
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": "{% $states.input.job %}", "End": True,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}}}
    error, cause = _fails(sfn, unique, definition, {"job": {"id": 1}})
    assert error == "States.QueryEvaluationError"
    assert cause == PREFIX.format("M", 2) + (
        "The JSONata expression '$states.input.job' specified for the field 'Items' returned an unexpected "
        "result type. Expected 'array', but was 'object' for value: {\"id\":1}")


def test_wait_timestamp_path_not_a_timestamp(sfn, unique):
    # As AWS recorded it (LocalStack's AWS-validated snapshot test_wait_timestamppath): "The
    # TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time
    # format string: $.start_at == <value>"
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.start_at", "End": True}}}
    error, cause = _fails(sfn, unique, definition, {"start_at": "2024-01-01 10:00"})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("W", 2) + (
        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
        "format string: $.start_at == 2024-01-01 10:00")


@pytest.mark.parametrize("value,problem", [("ten", "cannot be parsed as a long value"),
                                           (-3, "references a negative value")])
def test_wait_seconds_path_bad_values(sfn, unique, value, problem):
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    error, cause = _fails(sfn, unique, definition, {"s": value})
    assert error == "States.Runtime"
    assert cause == PREFIX.format("W", 2) + f"The SecondsPath parameter {problem}: $.s == {json.dumps(value)}"


def test_catch_sees_the_prefixed_cause(sfn, unique):
    # States.Runtime cannot be caught; a JSONata query error can, and the Catch sees AWS's cause.
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "Items": "{% $states.input.items %}", "Next": "Done",
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Done"}]},
        "Done": {"Type": "Pass", "End": True}}}
    described = sfn.run(definition, {"items": 3}, name=unique)
    output = json.loads(described["output"])
    assert output["Error"] == "States.QueryEvaluationError"
    assert output["Cause"].startswith(PREFIX.format("M", 2) + "The JSONata expression '$states.input.items'")
