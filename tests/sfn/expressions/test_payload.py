"""JSONPath-mode payload templates (Parameters, ItemSelector, ResultSelector, Assign).

Doc examples cite their AWS Step Functions developer guide page in a comment.
"""

from __future__ import annotations

import pytest

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions.payload import compile_payload


def test_parameters_doc_example():
    # "Manipulate parameters in Step Functions workflows" (Parameters): static values and paths.
    template = {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability", "StaticValue": "foo"},
    }
    state_input = {
        "comment": "Example for Parameters.",
        "product": {"details": {"color": "blue", "size": "small", "material": "cotton"}, "availability": "in stock",
                    "sku": "2317", "cost": "$23"},
    }
    assert compile_payload(template).render(state_input, {}, {}) == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_jsonpath_to_jsonata_conversion_doc_example():
    # "Transforming data with JSONata in Step Functions": the JSONPath original of the conversion sample.
    template = {"static": "Hello", "title.$": "$.title", "name.$": "$customerName", "not-evaluated": "$customerName"}
    rendered = compile_payload(template).render({"title": "Doctor"}, {}, {"customerName": "María"})
    assert rendered == {"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"}


def test_context_object_doc_example():
    # "Accessing execution data from the Context object in Step Functions": "$$." paths in Parameters.
    context = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:stateMachineName:executionName"},
               "State": {"Name": "Hello"}}
    rendered = compile_payload({"comment": "Now with context", "MyContext.$": "$$"}).render({}, context, {})
    assert rendered == {"comment": "Now with context", "MyContext": context}


def test_intrinsics_nested_objects_and_arrays():
    template = {
        "id.$": "States.Format('order-{}', $.id)",
        "lines": [{"sku.$": "$.sku"}, "literal", {"n": 1}],
        "deep": {"deeper": {"when.$": "$$.Execution.StartTime"}},
    }
    rendered = compile_payload(template).render({"id": 7, "sku": "x"}, {"Execution": {"StartTime": "t0"}}, {})
    assert rendered == {"id": "order-7", "lines": [{"sku": "x"}, "literal", {"n": 1}], "deep": {"deeper": {"when": "t0"}}}


def test_constant_templates_are_flagged():
    assert compile_payload({"a": 1, "b": [{"c": "$.not-a-path"}]}).is_constant
    assert not compile_payload({"a.$": "$"}).is_constant
    assert compile_payload({"a": 1}).render(None, {}, {}) == {"a": 1}


def test_missing_path_and_failing_intrinsic_are_runtime_errors():
    with pytest.raises(StatesError) as caught:
        compile_payload({"a.$": "$.missing"}).render({}, {}, {})
    assert caught.value.error == "States.Runtime"
    with pytest.raises(StatesError) as caught:
        compile_payload({"a.$": "States.ArrayLength($.s)"}).render({"s": "x"}, {}, {})
    assert caught.value.error == "States.IntrinsicFailure"


@pytest.mark.parametrize(
    "template,where",
    [
        ({"a.$": "no dollar"}, "/P/a.$"),
        ({"a.$": 5}, "/P/a.$"),
        ({"x": {"a.$": "$.["}}, "/P/x/a.$"),
        ({"list": [{"a.$": "States.Nope()"}]}, "/P/list/0/a.$"),
        ({"a": 1, "a.$": "$.a"}, "/P/a.$"),
    ],
)
def test_definition_errors_name_the_field(template, where):
    with pytest.raises(DefinitionError) as caught:
        compile_payload(template, where="/P")
    assert caught.value.path == where


def test_rendering_does_not_modify_the_input():
    state_input = {"a": {"b": [1, 2]}}
    rendered = compile_payload({"copy.$": "$.a", "n": 1}).render(state_input, {}, {})
    assert rendered == {"copy": {"b": [1, 2]}, "n": 1}
    assert state_input == {"a": {"b": [1, 2]}}
