"""Choice state in both query languages ("Choice workflow state", AWS docs)."""

from __future__ import annotations

import json

import pytest

# The doc page's example: a Choice with Not/And/numeric rules and a Default.
DOC_CHOICE = {
    "StartAt": "ChoiceStateX",
    "States": {
        "ChoiceStateX": {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"And": [{"Variable": "$.value", "IsPresent": True}, {"Variable": "$.value", "IsNumeric": True},
                         {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                         {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"},
                {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
            ],
            "Default": "DefaultState",
        },
        "Public": {"Type": "Pass", "Result": "Public", "End": True},
        "ValueInTwenties": {"Type": "Pass", "Result": "Twenties", "End": True},
        "ValueIsZero": {"Type": "Pass", "Result": "Zero", "End": True},
        "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"},
    },
}


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"type": "Public", "value": 1}, "Public"),
        ({"type": "Private", "value": 22}, "Twenties"),
        ({"type": "Private", "value": 0}, "Zero"),
        ({"type": "Private", "value": "22"}, None),  # wrong type: the numeric rules are false
    ],
)
def test_doc_example_routes_as_documented(sfn, unique, data, expected):
    described = sfn.run(DOC_CHOICE, data, name=unique)
    if expected is None:
        assert (described["status"], described["error"]) == ("FAILED", "DefaultStateError")
    else:
        assert json.loads(described["output"]) == expected


def _machine(rule: dict) -> dict:
    return {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": True, "End": True},
            "No": {"Type": "Pass", "Result": False, "End": True},
        },
    }


@pytest.mark.parametrize(
    "rule, data, expected",
    [
        ({"Variable": "$.s", "StringMatches": "log-*.txt"}, {"s": "log-2024.txt"}, True),
        ({"Variable": "$.s", "StringMatches": "a\\*b"}, {"s": "a*b"}, True),
        ({"Variable": "$.s", "StringMatches": "a\\*b"}, {"s": "axxb"}, False),
        ({"Variable": "$.s", "StringLessThan": "b"}, {"s": "a"}, True),
        ({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {"a": 3, "b": 3}, True),
        ({"Variable": "$.a", "NumericGreaterThanPath": "$.b"}, {"a": 3, "b": 3}, False),
        ({"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00Z"}, {"t": "2016-03-14T01:58:00Z"}, True),
        ({"Variable": "$.t", "IsTimestamp": True}, {"t": "2016-03-14 01:58"}, False),
        ({"Variable": "$.b", "BooleanEquals": True}, {"b": True}, True),
        ({"Variable": "$.b", "BooleanEquals": True}, {"b": "true"}, False),
        ({"Variable": "$.n", "IsNull": True}, {"n": None}, True),
        ({"Variable": "$.missing", "IsPresent": False}, {}, True),
        ({"Variable": "$.n", "IsNumeric": True}, {"n": True}, False),
        ({"Or": [{"Variable": "$.x", "NumericEquals": 1}, {"Variable": "$.x", "NumericEquals": 2}]}, {"x": 2}, True),
    ],
)
def test_comparison_operators(sfn, unique, rule, data, expected):
    described = sfn.run(_machine(rule), data, name=unique)
    assert json.loads(described["output"]) is expected


def test_missing_variable_is_a_runtime_error(sfn, unique):
    described = sfn.run(_machine({"Variable": "$.nope", "NumericEquals": 1}), {}, name=unique)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")


def test_no_match_without_default_is_no_choice_matched(sfn, unique):
    definition = {
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "E"}]},
                   "E": {"Type": "Succeed"}},
    }
    described = sfn.run(definition, {"a": 2}, name=unique)
    assert described["error"] == "States.NoChoiceMatched"


def test_jsonata_condition_output_and_assign(sfn, unique):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n > 10 %}", "Next": "Big",
                             "Assign": {"label": "big"}, "Output": {"n": "{% $states.input.n %}"}}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Output": {"n": "{% $states.input.n %}", "label": "{% $label %}"}, "End": True},
            "Small": {"Type": "Pass", "Output": "small", "End": True},
        },
    }
    assert json.loads(sfn.run(definition, {"n": 11, "other": 1}, name=unique)["output"]) == {"n": 11, "label": "big"}
    assert json.loads(sfn.run(definition, {"n": 1}, name=unique)["output"]) == "small"


def test_jsonata_condition_must_be_boolean(sfn, unique):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}], "Default": "E"},
                   "E": {"Type": "Succeed"}},
    }
    described = sfn.run(definition, {"n": 5}, name=unique)
    assert described["error"] == "States.QueryEvaluationError"


def test_jsonata_failure_records_evaluation_failed(sfn, unique):
    # API Reference, EvaluationFailedEventDetails: present for JSONata states whose expression throws.
    definition = {"QueryLanguage": "JSONata", "StartAt": "Bad", "States": {"Bad": {
        "Type": "Pass", "Output": "{% $states.input.n / $states.input.s %}", "End": True}}}
    described = sfn.run(definition, {"n": 1, "s": "text"}, name=unique)
    assert described["error"] == "States.QueryEvaluationError"
    events = sfn.history(described["executionArn"])
    assert [e["type"] for e in events][-2:] == ["EvaluationFailed", "ExecutionFailed"]
    details = events[-2]["evaluationFailedEventDetails"]
    assert details["state"] == "Bad" and details["error"] == "States.QueryEvaluationError"
