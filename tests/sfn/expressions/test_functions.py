"""AWS's JSONata functions and the intrinsics that do the same work agree: one implementation."""

from __future__ import annotations

import pytest

from sfn_runtime.errors import StatesError
from sfn_runtime.expressions.intrinsics import compile_intrinsic
from sfn_runtime.expressions.jsonata_eval import compile_jsonata


def jsonata(source: str):
    return compile_jsonata(source).evaluate({}, {})


def intrinsic(text: str):
    return compile_intrinsic(text).evaluate({}, {}, {})


def cause(call, text: str) -> str:
    with pytest.raises(StatesError) as caught:
        call(text)
    return caught.value.cause


def test_same_results():
    assert jsonata("$partition([1,2,3,4,5], 2)") == intrinsic("States.ArrayPartition(States.Array(1,2,3,4,5), 2)")
    assert jsonata("$range(1, 9, 3)") == intrinsic("States.ArrayRange(1, 9, 3)") == [1, 4, 7]
    assert jsonata("$hash('input data', 'SHA-1')") == intrinsic("States.Hash('input data', 'SHA-1')")
    seeded = [intrinsic("States.MathRandom(0, 1000000, 7)") for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert jsonata("$random(7)") == jsonata("$random(7)")


@pytest.mark.parametrize(
    ("expression", "intrinsic_text"),
    [
        ("$partition([1], 0)", "States.ArrayPartition(States.Array(1), 0)"),
        ("$range(1, 5, 0)", "States.ArrayRange(1, 5, 0)"),
        ("$range(0, 5000, 1)", "States.ArrayRange(0, 5000, 1)"),
        ("$hash('x', 'SHA-3')", "States.Hash('x', 'SHA-3')"),
    ],
)
def test_same_problems(expression: str, intrinsic_text: str):
    problem = cause(intrinsic, intrinsic_text).split(": ", 1)[1]  # without "Invalid arguments in States.X"
    assert problem.startswith("the ")
    assert cause(jsonata, expression).endswith(f"{expression.split('(')[0]}: {problem}")
