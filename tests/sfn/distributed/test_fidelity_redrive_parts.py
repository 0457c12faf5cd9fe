"""A redriven inline Map or Parallel reruns only what did not succeed (issue 17, category 6).

AWS ("Redriving executions", Step Functions Developer Guide): on redrive, an inline Map or a
Parallel state reruns only its unsuccessful iterations or branches; the others keep their results.
Each part below fails on the first attempt only ($states.context.Execution.RedriveCount = 0), and
reports the RedriveCount it ran under, so the output shows which parts ran again.
"""

from __future__ import annotations

import json

PART = {"StartAt": "Check", "States": {
    "Check": {"Type": "Choice", "Choices": [{
        "Condition": "{% $states.input.bad and $states.context.Execution.RedriveCount = 0 %}", "Next": "Broken"}],
        "Default": "Done"},
    "Broken": {"Type": "Fail", "Error": "Part.Bad", "Cause": "first attempt"},
    "Done": {"Type": "Pass", "Output": "{% {'id': $states.input.id, 'ran_in': $states.context.Execution.RedriveCount} %}",
             "End": True}}}


def _redrive(stack, first: dict) -> dict:
    assert first["status"] == "FAILED" and first["error"] == "Part.Bad", first
    stack.sfn.redrive_execution(executionArn=first["executionArn"])
    return stack.wait(first["executionArn"])


def test_inline_map_reruns_only_iterations_that_did_not_succeed(stack):
    definition = {"QueryLanguage": "JSONata", "StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Items": "{% $states.input.items %}", "MaxConcurrency": 1, "ItemProcessor": PART, "End": True}}}
    items = [{"id": 0}, {"id": 1}, {"id": 2, "bad": True}, {"id": 3}, {"id": 4}]
    first = stack.run(stack.machine("redrive-inline-map", definition), {"items": items})
    second = _redrive(stack, first)
    assert second["status"] == "SUCCEEDED", second.get("cause")
    # 0 and 1 succeeded before the failure; 2 failed, 3 and 4 never ran: only those run again.
    assert [o["ran_in"] for o in json.loads(second["output"])] == [0, 0, 1, 1, 1]
    events = stack.history(first["executionArn"])
    redriven = [e["id"] for e in events if e["type"] == "ExecutionRedriven"][0]
    started = [e["mapIterationStartedEventDetails"]["index"] for e in events
               if e["type"] == "MapIterationStarted" and e["id"] > redriven]
    assert sorted(started) == [2, 3, 4]


def test_parallel_reruns_only_failed_branches(stack):
    def branch(n: int, bad: bool = False) -> dict:
        # The bad branch waits first, so that the good ones have finished when it fails.
        return {"StartAt": f"In{n}", "States": {
            f"In{n}": {"Type": "Wait", "Seconds": 5 if bad else 0, "Output": {"id": n, "bad": bad}, "Next": f"Check{n}"},
            f"Check{n}": {**PART["States"]["Check"], "Choices": [{**PART["States"]["Check"]["Choices"][0], "Next": f"Broken{n}"}],
                          "Default": f"Done{n}"},
            f"Broken{n}": PART["States"]["Broken"],
            f"Done{n}": PART["States"]["Done"]}}

    definition = {"QueryLanguage": "JSONata", "StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "Branches": [branch(0), branch(1, bad=True), branch(2)], "End": True}}}
    first = stack.run(stack.machine("redrive-parallel", definition), {})
    second = _redrive(stack, first)
    assert second["status"] == "SUCCEEDED", second.get("cause")
    output = json.loads(second["output"])
    assert [o["id"] for o in output] == [0, 1, 2]
    assert output[1]["ran_in"] == 1
    events = stack.history(first["executionArn"])
    redriven = [e["id"] for e in events if e["type"] == "ExecutionRedriven"][0]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["id"] > redriven and e["type"].endswith("StateEntered")]
    # Branches 0 and 2 had finished before branch 1 failed: only branch 1 runs again.
    assert [o["ran_in"] for o in output] == [0, 1, 0]
    assert set(entered) == {"Both", "In1", "Check1", "Done1"}
