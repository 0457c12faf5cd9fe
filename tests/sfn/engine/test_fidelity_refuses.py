"""What AWS refuses, the runtime refuses too (issue 17, category 3)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("seconds", [1.5, "1"])
def test_wait_seconds_path_must_be_a_whole_number(sfn, unique, seconds):
    # Category 3: AWS refuses a SecondsPath value it cannot read as a long with States.Runtime.
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    described = sfn.run(definition, {"s": seconds}, name=unique)
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert described["cause"].endswith(f"The SecondsPath parameter cannot be parsed as a long value: $.s == {json.dumps(seconds)}")


def test_wait_seconds_path_whole_number_waits(sfn, unique):
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    described = sfn.run(definition, {"s": 2}, name=unique)
    assert described["status"] == "SUCCEEDED"
