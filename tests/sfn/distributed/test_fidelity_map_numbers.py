"""Distributed Map number paths that select numbers written as text (issue 17, category 2)."""

from __future__ import annotations

import json

import pytest

PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
             "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("field,described_as,expected", [
    ("MaxConcurrencyPath", "maxConcurrency", 2),
    ("ToleratedFailureCountPath", "toleratedFailureCount", 2),
    ("ToleratedFailurePercentagePath", "toleratedFailurePercentage", 2.5),
])
def test_number_paths_accept_numeric_text(stack, field, described_as, expected):
    # AWS reads "2" (and "2.5") selected by these *Path fields as the number.
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", field: "$.n",
                                                   "ItemProcessor": PROCESSOR, "End": True}}}
    machine = stack.machine(f"dmap-text-{described_as}", definition)
    described = stack.run(machine, {"items": [1, 2, 3], "n": str(expected)})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == [1, 2, 3]
    runs = stack.sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    run = stack.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run[described_as] == expected


@pytest.mark.parametrize("field,value,cause", [
    ("ToleratedFailureCountPath", "many", 'The ToleratedFailureCountPath field refers to value "many" which is not a valid integer: $.n'),
    ("ToleratedFailureCountPath", 1.5, 'The ToleratedFailureCountPath field refers to value "1.5" which is not a valid integer: $.n'),
    ("ToleratedFailureCountPath", -1, "ToleratedFailureCount cannot be negative."),
    ("ToleratedFailurePercentagePath", {"p": 1}, 'The ToleratedFailurePercentagePath field refers to value "{"p":1}" which is not a valid float: $.n'),
    ("ToleratedFailurePercentagePath", 101, "ToleratedFailurePercentage must be between 0 and 100."),
    ("MaxConcurrencyPath", -2, "Expected non-negative integer for MaxConcurrency, got '-2' instead."),
])
def test_bad_number_path_values_fail_in_aws_words(stack, field, value, cause):
    # Issue 17, category 1: the texts LocalStack reproduces from AWS for these values (AWS's own
    # documentation gives none), after AWS's state prefix.
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", field: "$.n",
                                                   "ItemProcessor": PROCESSOR, "End": True}}}
    machine = stack.machine(f"dmap-bad-{field}-{abs(hash(json.dumps(value))) % 10000}", definition)
    described = stack.run(machine, {"items": [1], "n": value})
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert described["cause"] == "An error occurred while executing the state 'M' (entered at the event id #2). " + cause
