"""Workflow templates: every placeholder filled from StackConfig, nothing else changed, no literals."""

from __future__ import annotations

import json

import pytest

from toolkit.config import StackConfig
from toolkit.workflows import PART_CHARACTERS, PLACEHOLDER, WORKFLOWS, TemplateError, lint_template, render, render_definitions

CONNECTION_ARN = "arn:aws:events:us-east-1:000000000000:connection/dsa-thirdparty-api/0f1e2d3c"


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return StackConfig.load(environ={}, stack_name="wf", max_concurrency=7, page_limit=50)


def _leaves(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}/{index}")
    else:
        yield path, value


def test_every_placeholder_is_filled(config) -> None:
    definitions = render_definitions(config, CONNECTION_ARN)
    assert list(definitions) == ["wf-page-fetch", "wf-extraction", "wf-aggregator"]
    for text in definitions.values():
        assert "${" not in text
        json.loads(text)


def test_nothing_but_placeholders_changes(config) -> None:
    for workflow in WORKFLOWS:
        template = json.loads(workflow.template_text())
        filled = json.loads(render_definitions(config, CONNECTION_ARN)[workflow.name(config)])
        before, after = dict(_leaves(template)), dict(_leaves(filled))
        assert before.keys() == after.keys(), workflow.template
        changed = {path for path in before if before[path] != after[path]}
        with_placeholders = {path for path, v in before.items() if isinstance(v, str) and PLACEHOLDER.search(v)}
        assert changed == with_placeholders, workflow.template


def test_values_come_from_the_config(config) -> None:
    definitions = render_definitions(config, CONNECTION_ARN)
    page_fetch = json.loads(definitions["wf-page-fetch"])
    branch = page_fetch["States"]
    assert branch["Fetch Page"]["Arguments"]["InvocationConfig"]["ConnectionArn"] == CONNECTION_ARN
    assert branch["Write Part"]["Arguments"]["Bucket"] == config.work_bucket
    assert f"> {PART_CHARACTERS} %}}" in branch["Check Page"]["Choices"][-1]["Condition"]
    aggregator = definitions["wf-aggregator"]
    assert config.state_machine_arn("wf-extraction") in aggregator
    assert "? $states.input.max_concurrency : 7, " in aggregator
    extraction = definitions["wf-extraction"]
    assert "['failed', 'rejected']" in extraction
    assert config.state_machine_arn("wf-page-fetch") in extraction


def test_templates_pass_the_lint() -> None:
    for workflow in WORKFLOWS:
        assert lint_template(workflow.template_text()) == [], workflow.template


def test_lint_catches_literal_names_and_arns() -> None:
    bad = json.dumps({"States": {"A": {"Arguments": {
        "TableName": "prod-locations",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child",
    }}}})
    problems = lint_template(bad)
    assert any("TableName" in p for p in problems)
    assert any("literal ARN" in p for p in problems)


def test_lint_catches_an_integration_arn_without_the_partition_placeholder() -> None:
    """arn:aws:states:::... does not exist in aws-cn or aws-us-gov: templates say ${Partition}."""
    bad = json.dumps({"States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke"}}})
    assert [p for p in lint_template(bad) if "literal ARN" in p]
    good = json.dumps({"States": {"A": {"Type": "Task", "Resource": "arn:${Partition}:states:::http:invoke"}}})
    assert lint_template(good) == []


@pytest.mark.parametrize(("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"),
                                                   ("us-gov-west-1", "aws-us-gov")])
def test_integration_arns_carry_the_regions_partition(region: str, partition: str) -> None:
    config = StackConfig.load(environ={}, region=region)
    for definition in render_definitions(config, f"arn:{partition}:events:{region}:000000000000:connection/c/1").values():
        resources = [node["Resource"] for node in _task_states(json.loads(definition))]
        assert resources and all(r.startswith(f"arn:{partition}:states:::") for r in resources), resources


def test_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"^\$\{Nope\}: unknown placeholder"):
        render('{"a": "${Nope}"}', {"Known": "x"})


def _task_states(tree):
    if isinstance(tree, dict):
        if tree.get("Type") in ("Task",) and isinstance(tree.get("Resource"), str):
            yield tree
        for value in tree.values():
            yield from _task_states(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _task_states(value)


def test_the_failure_recording_states_runs_skips_are_the_extractions_own() -> None:
    """runs.failures names the state that failed, skipping those that only record the failure:
    they must be the extraction workflow's states, and reached only from its Catch blocks."""
    from pathlib import Path

    from toolkit.runs import _FAILURE_RECORDING_STATES

    states = json.loads((Path(__file__).parents[1] / "asl" / "extraction.asl.json").read_text())["States"]
    assert _FAILURE_RECORDING_STATES <= set(states)
    catch_targets = {c["Next"] for s in states.values() for c in s.get("Catch", [])}
    assert "Record Failure" in catch_targets and states["Record Failure"]["Next"] == "Extraction Failed"
