"""What AWS accepts, the runtime accepts too (issue 17, category 2)."""

from __future__ import annotations

import json

import pytest

PROCESSOR = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}


def test_map_number_path_text_that_is_not_a_number_fails(sfn, unique):
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.n",
                                                   "ItemProcessor": PROCESSOR, "End": True}}}
    described = sfn.run(definition, {"items": [1], "n": "two"}, name=unique)
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    # The words LocalStack reproduces from AWS (AWS's documentation gives none).
    assert described["cause"].endswith('The MaxConcurrencyPath field refers to value "two" which is not a valid integer: $.n')


def test_inline_map_accepts_tolerated_failure_fields(sfn, unique):
    # AWS accepts ToleratedFailureCount and ToleratedFailurePercentage in an inline Map's definition.
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 1,
                                                   "ToleratedFailurePercentage": 50, "ItemProcessor": PROCESSOR, "End": True}}}
    described = sfn.run(definition, [1, 2], name=unique)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == [1, 2]


@pytest.mark.parametrize("path,expected", [("$['it\\'s']", 1), ("$[\"it's\"]", 1), ("$['say \"hi\"']", 2),
                                           ("$.it's", 1), ("$['a.b']['c d']", 3)])
def test_jsonpath_names_with_quotes(sfn, unique, path, expected):
    # Bracket notation takes names with quotes in them (escaped or of the other kind); dot
    # notation, as in Jayway JsonPath, ends a name only at '.', '[', '(' or a space.
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": path}, "End": True}}}
    document = {"it's": 1, 'say "hi"': 2, "a.b": {"c d": 3}}
    described = sfn.run(definition, document, name=unique)
    assert json.loads(described["output"]) == {"v": expected}
