"""Definition validation: InvalidDefinition at Create/Update and ValidateStateMachineDefinition results."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from ..conftest import ROLE

PASS_END = {"Type": "Pass", "End": True}


@pytest.mark.parametrize(
    "definition, where",
    [
        ("{not json", "/"),
        ({"States": {"A": PASS_END}}, "/StartAt"),
        ({"StartAt": "Missing", "States": {"A": PASS_END}}, "/StartAt"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}, "/States/A/Next"),
        ({"StartAt": "A", "States": {"A": PASS_END, "B": PASS_END}}, "/States/B"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}, "/States"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "/States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}}, "/States/A/Type"),
        ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.x", "End": True}}}, "/States/A/InputPath"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": True}}}, "/States/A/Output"),
        ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}, "/States/A/QueryLanguage"),
        ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True}}}, "/States/A/Output"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.a[", "End": True}}}, "/States/A/InputPath"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": True}}}, "/States/A/ResultPath"),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::local:test", "End": True,
                                           "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}}}, "/States/A/Retry[0]/ErrorEquals"),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::local:test", "End": True,
                                           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]}}},
         "/States/A/Catch[0]/ErrorEquals"),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::local:test", "End": True,
                                           "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}}}, "/States/A/Retry[0]/BackoffRate"),
        ({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemBatcher": {"MaxItemsPerBatch": 2}, "End": True,
                                           "ItemProcessor": {"StartAt": "P", "States": {"P": PASS_END}}}}}, "/States/A/ItemBatcher"),
        ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "B"}]},
                                     "B": {"Type": "Succeed"}}}, "/States/A/Choices[0]/NumericEquals"),
        ({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "2016-03-14T01:59:00Z", "End": True}}}, "/States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Outside"}}}]}, "Outside": PASS_END}}, "/States/A/Branches[0]/States/X/Next"),
    ],
)
def test_invalid_definitions_name_the_path(sfn, unique, definition, where):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    with pytest.raises(ClientError) as caught:
        sfn.client.create_state_machine(name=unique, definition=text, roleArn=ROLE)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert f"at {where}'" in error["Message"]
    result = sfn.client.validate_state_machine_definition(definition=text)
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["location"] == where


def test_diagnostic_codes(sfn):
    missing = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    result = sfn.client.validate_state_machine_definition(definition=missing)
    assert result["diagnostics"][0]["code"] == "MISSING_TRANSITION_TARGET"
    with pytest.raises(ClientError) as caught:
        sfn.client.create_state_machine(name="Codes", definition=missing, roleArn=ROLE)
    assert caught.value.response["Error"]["Message"] == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: 'Nowhere' at /States/A/Next'")
    bad_json = sfn.client.validate_state_machine_definition(definition="{")
    assert bad_json["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"


def test_valid_definition_validates_ok(sfn):
    text = json.dumps({"StartAt": "A", "States": {"A": PASS_END}})
    assert sfn.client.validate_state_machine_definition(definition=text)["result"] == "OK"


def test_update_with_invalid_definition_keeps_the_old_one(sfn, unique):
    arn = sfn.create({"StartAt": "A", "States": {"A": PASS_END}}, unique)
    with pytest.raises(sfn.client.exceptions.InvalidDefinition):
        sfn.client.update_state_machine(stateMachineArn=arn, definition="{}")
    assert json.loads(sfn.client.describe_state_machine(stateMachineArn=arn)["definition"]) == {"StartAt": "A", "States": {"A": PASS_END}}
