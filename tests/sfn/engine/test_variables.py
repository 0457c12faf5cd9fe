"""Variables and Assign ("Passing data between states with variables", AWS docs)."""

from __future__ import annotations

import json


def test_assign_and_output_see_values_from_before_the_state(sfn, unique):
    # Doc example: Assign {"x": "{% $y %}", "y": "{% $x %}"} swaps, because every expression
    # in the state reads the values as they were when the state was entered.
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "Swap"},
            "Swap": {"Type": "Pass", "Assign": {"x": "{% $y %}", "y": "{% $x %}"},
                     "Output": {"xSeenByOutput": "{% $x %}"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}", "prev": "{% $states.input %}"}, "End": True},
        },
    }
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == {"x": 2, "y": 1, "prev": {"xSeenByOutput": 1}}
    exited = [e for e in sfn.history(described["executionArn"]) if e["type"] == "PassStateExited"]
    assert exited[1]["stateExitedEventDetails"]["assignedVariables"] == {"x": "2", "y": "1"}


def test_jsonpath_assign_reads_result_and_variables(sfn, unique):
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Result": {"total": 7}, "Assign": {"total.$": "$.total", "fixed": "v"}, "ResultPath": None, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"t.$": "$total", "f.$": "$fixed", "in.$": "$.k"}, "End": True},
        },
    }
    described = sfn.run(definition, {"k": "input"}, name=unique)
    assert json.loads(described["output"]) == {"t": 7, "f": "v", "in": "input"}


def test_map_iterations_read_outer_variables_but_their_assignments_stay_inside(sfn, unique):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"factor": 10, "inner": "outer-value"}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": "{% [1, 2, 3] %}",
                "ItemProcessor": {
                    "StartAt": "Scale",
                    "States": {
                        "Scale": {"Type": "Pass", "Assign": {"inner": "{% $states.input %}"}, "Next": "Use"},
                        "Use": {"Type": "Pass", "Output": "{% $inner * $factor %}", "End": True},
                    },
                },
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": {"results": "{% $states.input %}", "inner": "{% $inner %}"}, "End": True},
        },
    }
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == {"results": [10, 20, 30], "inner": "outer-value"}


def test_parallel_branch_variables_are_not_visible_after(sfn, unique):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"branchOnly": 1}, "Output": "{% 'a' %}", "End": True}}},
                    {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Output": "b", "End": True}}},
                ],
                "Assign": {"fromResult": "{% $states.result[0] %}"},
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": {"r": "{% $fromResult %}", "leaked": "{% $exists($branchOnly) %}"}, "End": True},
        },
    }
    described = sfn.run(definition, name=unique)
    output = json.loads(described["output"]) if described["status"] == "SUCCEEDED" else described
    assert output == {"r": "a", "leaked": False}


def test_catch_assign_sees_error_output(sfn, unique):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::local:test",
                "Arguments": {"FailAttempts": 1, "Error": "Custom.Boom", "Cause": "it broke"},
                "Assign": {"never": True},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle", "Assign": {"err": "{% $states.errorOutput.Error %}"}}],
                "Next": "Handle",
            },
            "Handle": {"Type": "Pass", "Output": {"err": "{% $err %}", "input": "{% $states.input %}", "never": "{% $exists($never) %}"}, "End": True},
        },
    }
    described = sfn.run(definition, name=unique)
    assert json.loads(described["output"]) == {
        "err": "Custom.Boom",
        "input": {"Error": "Custom.Boom", "Cause": "it broke"},
        "never": False,
    }


def test_assign_larger_than_quota_fails(sfn, unique):
    # Quotas: one Assign's values together may hold at most 256 KiB.
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Assign": {"a": "{% $states.input.s %}", "b": "{% $states.input.s %}"}, "End": True}},
    }
    described = sfn.run(definition, {"s": "x" * 150_000}, name=unique)
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_total_variable_quota_counts_the_workflow_scope_not_finished_iterations():
    from sfn_runtime.engine.quotas import Quotas

    from ..conftest import SfnApi, make_client, serve

    server, holder = serve(quotas=Quotas(max_variables_total_bytes=1000))
    try:
        api = SfnApi(make_client(server.url), holder["service"], server)
        per_item = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
            "Type": "Map", "Items": "{% [1, 2, 3, 4, 5] %}", "MaxConcurrency": 1,
            "ItemProcessor": {"StartAt": "A", "States": {"A": {
                "Type": "Pass", "Assign": {"blob": "{% $pad('', 400, 'x') %}"}, "End": True}}}, "End": True}}}
        assert api.run(per_item, name="PerItem")["status"] == "SUCCEEDED"
        growing = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"a": "{% $pad('', 400, 'x') %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"b": "{% $pad('', 400, 'x') %}"}, "Next": "C"},
            "C": {"Type": "Pass", "Assign": {"c": "{% $pad('', 400, 'x') %}"}, "End": True}}}
        described = api.run(growing, name="Growing")
        assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
    finally:
        server.stop()
