"""A runaway JSONata expression fails its execution and leaves the API answering meanwhile.

Each test starts executions whose expression never ends on its own (an endless tail call, or a
catastrophic regular expression over 30 characters), then asks the API something else: the
answer must come back while those executions are still RUNNING (had an evaluation held the event
loop, the answer would only come once it had stopped). Then each execution must fail with
States.QueryEvaluationError at the evaluation time limit, lowered here to keep the tests short.
"""

from __future__ import annotations

import json

import pytest

from sfn_runtime.expressions import jsonata_eval

ENDLESS_LOOP = "($loop := function($n){ $loop($n + 1) }; $loop(0))"
CATASTROPHIC_REGEX = "$match($states.input.text, /(a|a)+$/)"  # exponential backtracking, even in `regex`
TEXT = "a" * 29 + "!"  # 30 characters: hours of backtracking without a time limit


def _machine(expression: str) -> dict:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Evaluate",
        "States": {"Evaluate": {"Type": "Pass", "Output": {"value": "{% " + expression + " %}"}, "End": True}},
    }


@pytest.fixture
def time_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    """A short evaluation time limit, still far longer than answering one API request."""
    monkeypatch.setattr(jsonata_eval, "MAX_EVALUATION_SECONDS", 6)
    return 6


def _start(sfn, machine_arn: str, count: int) -> list[str]:
    return [
        sfn.client.start_execution(stateMachineArn=machine_arn, input=json.dumps({"text": TEXT}))["executionArn"]
        for _ in range(count)
    ]


def _assert_api_answers_while_running(sfn, arns: list[str]) -> None:
    listed = sfn.client.list_state_machines()["stateMachines"]
    assert listed  # the API answered...
    statuses = [sfn.client.describe_execution(executionArn=arn)["status"] for arn in arns]
    assert statuses == ["RUNNING"] * len(arns)  # ...while every runaway evaluation was still going


def _assert_failed_at_the_limit(sfn, arns: list[str], expression: str) -> None:
    for arn in arns:
        described = sfn.wait(arn, timeout=60)
        assert described["status"] == "FAILED"
        assert described["error"] == "States.QueryEvaluationError"
        assert expression in described["cause"]
        assert "ran for more than 6 seconds" in described["cause"]
        failed = [e for e in sfn.history(arn) if e["type"] == "EvaluationFailed"]
        assert failed and failed[0]["evaluationFailedEventDetails"]["state"] == "Evaluate"


@pytest.mark.parametrize("expression", [ENDLESS_LOOP, CATASTROPHIC_REGEX], ids=["endless loop", "catastrophic regex"])
def test_one_runaway_expression_fails_its_execution_while_the_api_answers(sfn, unique, time_limit, expression):
    arns = _start(sfn, sfn.create(_machine(expression), unique), 1)
    _assert_api_answers_while_running(sfn, arns)
    _assert_failed_at_the_limit(sfn, arns, expression)


def test_five_runaway_expressions_at_once(sfn, unique, time_limit):
    loops = _start(sfn, sfn.create(_machine(ENDLESS_LOOP), unique + "-loop"), 3)
    regexes = _start(sfn, sfn.create(_machine(CATASTROPHIC_REGEX), unique + "-regex"), 2)
    _assert_api_answers_while_running(sfn, loops + regexes)
    # Other executions keep going meanwhile, those that need a worker thread too: a cheap one
    # (a function, so off the event loop) ends before any of the five.
    quick = sfn.run({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
        "Type": "Pass", "Output": "{% $sum($map($states.input.items, function($i) { $i.n })) %}", "End": True}}},
        {"items": [{"n": 1}, {"n": 2}]}, name=unique + "-quick")
    assert quick["status"] == "SUCCEEDED" and quick["output"] == "3"
    _assert_failed_at_the_limit(sfn, loops, ENDLESS_LOOP)
    _assert_failed_at_the_limit(sfn, regexes, CATASTROPHIC_REGEX)
    ends = [sfn.client.describe_execution(executionArn=arn)["stopDate"] for arn in loops + regexes]
    assert quick["stopDate"] < min(ends)
