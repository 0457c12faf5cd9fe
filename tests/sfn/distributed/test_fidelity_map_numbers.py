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
