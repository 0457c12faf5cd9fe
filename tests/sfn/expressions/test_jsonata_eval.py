"""Step Functions' JSONata dialect: $states, variables, AWS's functions, templates and errors.

Doc examples cite the AWS Step Functions developer guide page "Transforming data with JSONata
in Step Functions" (its JSONata functions section) unless a comment says otherwise. The fast
path is checked against the full jsonata-python engine on generated expressions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfn_runtime.expressions import jsonata_eval
from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions.jsonata_eval import NOTHING, compile_jsonata, compile_template, is_jsonata_template


def ev(source: str, states: dict | None = None, variables: dict | None = None):
    return compile_jsonata(source).evaluate(states or {}, variables or {})


def query_error(source: str, states: dict | None = None, variables: dict | None = None) -> StatesError:
    with pytest.raises(StatesError) as caught:
        ev(source, states, variables)
    assert caught.value.error == "States.QueryEvaluationError"
    return caught.value


# --- templates and delimiters --------------------------------------------------------------


def test_conversion_doc_example():
    # The JSONata half of the JSONPath-to-JSONata conversion sample.
    arguments = {"static": "Hello", "title": "{% $states.input.title %}", "name": "{% $customerName %}",
                 "not-evaluated": "$customerName"}
    rendered = compile_template(arguments).render({"input": {"title": "Doctor"}}, {"customerName": "María"})
    assert rendered == {"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"}


@pytest.mark.parametrize(
    "value,expected",
    [("{% $x %}", True), ("{%$x%}", True), ("{% %}", True), (" {% $x %}", False), ("{% $x %} ", False),
     ("{% $x", False), ("$x %}", False), ("{%}", False), (5, False), (None, False)],
)
def test_is_jsonata_template_needs_delimiters_at_both_ends(value, expected):
    assert is_jsonata_template(value) is expected


def test_templates_nest_and_keep_literals():
    template = compile_template(
        {"a": ["{% $states.input.n + 1 %}", "plain", {"b": "{% $v %}"}], "c": 3, "d": " {% not evaluated %}"}
    )
    assert not template.is_constant
    assert template.render({"input": {"n": 1}}, {"v": [1]}) == {"a": [2, "plain", {"b": [1]}], "c": 3,
                                                                "d": " {% not evaluated %}"}
    constant = compile_template({"a": [1, "x"]})
    assert constant.is_constant and constant.render({}, {}) == {"a": [1, "x"]}
    assert compile_template("{% $states.input %}").render({"input": [1, 2]}, {}) == [1, 2]


@pytest.mark.parametrize(
    "value,field",
    [("{% $nothing %}", "Output"), ({"a": "{% $nothing %}"}, "Output/a"), (["{%  $nothing %}"], "Output[0]"),
     ({"a": [1, {"b": "{% $states.input.none %}"}]}, "Output/a[1]/b")],
)
def test_undefined_values_are_query_errors_naming_the_field(value, field):
    # "JSON cannot represent an undefined value", so an expression returning nothing is an error.
    # AWS names the field relative to the state and quotes the expression without the padding
    # inside {% %}; seen on AWS: "The JSONata expression '$states.input.pushLocation' specified
    # for the field 'Arguments/Input/pushLocation' returned nothing (undefined)."
    with pytest.raises(StatesError) as caught:
        compile_template(value, where="/States/P/Output").render({"input": {}}, {})
    assert caught.value.error == "States.QueryEvaluationError"
    source = "$states.input.none" if "b" in field else "$nothing"
    assert caught.value.cause == f"The JSONata expression '{source}' specified for the field '{field}' returned nothing (undefined)."


@pytest.mark.parametrize(
    "where,field",
    [("/States/P/Output", "Output"), ("/States/M/ItemProcessor/States/In/Assign/x", "Assign/x"),
     ("/States/Par/Branches[1]/States/B/Arguments/Input/a/0", "Arguments/Input/a[0]"),
     ("/States/P/Output/States/x", "Output/States/x"), ("/States/C/Choices[1]/Condition", "Choices[1]/Condition")],
)
def test_fields_are_named_relative_to_their_state(where, field):
    from sfn_runtime.expressions.jsonata_eval import state_field

    assert state_field(where) == field


def test_syntax_errors_are_definition_errors_naming_the_field():
    with pytest.raises(DefinitionError) as caught:
        compile_template({"x": "{% $states.input.( %}"}, where="/States/P/Output")
    assert caught.value.path == "/States/P/Output/x"
    with pytest.raises(DefinitionError):
        compile_jsonata("1 +", where="/States/P/Condition")


# --- values ------------------------------------------------------------------------------------


def test_states_fields_and_variables_are_bound():
    states = {"input": {"a": 1}, "result": {"r": 2}, "errorOutput": {"Error": "E"}, "context": {"Execution": {"Id": "x"}}}
    assert ev("$states.input.a + $states.result.r", states) == 3
    assert ev("$states.errorOutput.Error & $states.context.Execution.Id", states) == "Ex"
    assert ev("$total * 2", states, {"total": 21}) == 42


def test_numbers_come_back_as_ints_when_integral():
    assert ev("$states.input.x / 2", {"input": {"x": 4}}) == 2
    assert type(ev("$states.input.x / 2", {"input": {"x": 4}})) is int
    assert type(ev("1.5 * 2")) is int
    assert ev("$states.input.x / 4", {"input": {"x": 2}}) == 0.5
    assert json.dumps(ev("$sum([1.5, 1.5])")) == "3"
    assert json.dumps(ev("$states.input", {"input": {"f": 2.0, "l": [1.0]}})) == '{"f": 2, "l": [1]}'


def test_null_is_not_undefined():
    assert ev("null") is None
    assert ev("$states.input.x", {"input": {"x": None}}) is None
    assert ev("$states.input.y", {"input": {"x": None}}) is NOTHING
    assert ev("$nothing") is NOTHING
    assert ev("{'a': $nothing, 'b': null}") == {"b": None}


def test_results_are_plain_json():
    value = ev("$states.input.items[price > 1].{'n': name}", {"input": {"items": [{"name": "a", "price": 2},
                                                                                     {"name": "b", "price": 3}]}})
    assert value == [{"n": "a"}, {"n": "b"}] and type(value) is list
    assert json.loads(json.dumps(ev("$map([1,2,3], function($v){ {'v': $v} })"))) == [{"v": 1}, {"v": 2}, {"v": 3}]


def test_functions_are_not_json_values():
    # A function is not a JSON value: AWS calls it an "unsupported result type" (Map Items).
    with pytest.raises(StatesError) as caught:
        compile_template("{% $sum %}", where="/States/M/Items").render({"input": {}}, {})
    assert caught.value.cause == "The JSONata expression '$sum' for the field 'Items' returned an unsupported result type."


def test_null_reached_through_arrays_stays_null():
    # JSONata keeps null items of a sequence; jsonata-python alone would drop this one to undefined.
    assert ev("$v.a", {}, {"v": [{"a": [None]}, {"a": []}]}) is None


def test_modulo_follows_javascript():
    assert ev("-7 % 3") == -1
    assert ev("5.5 % 2") == 1.5


# --- functions Step Functions adds ---------------------------------------------------------------


def test_partition_doc_example():
    assert ev("$partition([1,2,3,4], 2)") == [[1, 2], [3, 4]]
    assert ev("$partition([1,2,3,4,5], 2)") == [[1, 2], [3, 4], [5]]


def test_partition_fails_on_bad_arguments():
    query_error("$partition('abc', 2)")
    query_error("$partition([1], 0)")


def test_range_doc_example():
    assert ev("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert ev("$range(5, 1, -2)") == [5, 3, 1]


def test_range_limits():
    assert len(ev("$range(1, 1000, 1)")) == 1000
    assert "1000" in query_error("$range(0, 1000, 1)").cause
    query_error("$range(0, 10, 0)")
    query_error("$range(0, 1.5, 1)")


def test_hash_doc_example():
    # Same data and algorithm as the States.Hash example on "Intrinsic functions for JSONPath states".
    assert ev("$hash($states.input.content, $algorithm)", {"input": {"content": "input data"}},
              {"algorithm": "SHA-1"}) == "aaff4a450a104cd177d28d18d74485e8cae074b7"


def test_hash_fails_on_unknown_algorithm():
    query_error("$hash('x', 'SHA-999')")
    query_error("$hash(1, 'MD5')")


def test_random_with_and_without_seed():
    value = ev("$random()")
    assert isinstance(value, float) and 0 <= value < 1
    assert ev("$random(7)") == ev("$random(7)")
    assert ev("$random(7)") != ev("$random(8)")
    query_error("$random('seed')")


def test_uuid_is_version_4():
    first, second = ev("$uuid()"), ev("$uuid()")
    assert uuid.UUID(first).version == 4 and first != second


def test_parse_doc_example():
    assert ev("$parse($states.input.json)", {"input": {"json": '{"a": [1, 2.0]}'}}) == {"a": [1, 2]}


def test_parse_of_null_is_null():
    assert ev("$parse('null')") is None
    assert ev("{'v': $parse('null')}") == {"v": None}


def test_parse_fails_on_bad_json():
    assert "not valid JSON" in query_error("$parse('{bad')").cause


def test_eval_is_unavailable():
    # "$eval is not available ... use $parse instead"
    assert "$eval" in query_error("$eval('1 + 1')").cause


# --- errors ------------------------------------------------------------------------------------


def test_errors_name_the_expression_and_field_but_not_the_data():
    expression = compile_jsonata("$states.input.secret + 1", where="/States/Add/Output")
    with pytest.raises(StatesError) as caught:
        expression.evaluate({"input": {"secret": "hunter2"}}, {})
    assert caught.value.error == "States.QueryEvaluationError"
    assert "$states.input.secret + 1" in caught.value.cause
    assert "specified for the field 'Output'" in caught.value.cause
    assert "hunter2" not in caught.value.cause


def test_jsonata_errors_become_query_errors():
    query_error("$error('custom failure')")
    query_error("1 / 0")
    query_error("$undefinedFunction(1)")
    query_error("$substring(1, 2, 3, 4, 5)")


def test_runaway_expressions_are_stopped(monkeypatch):
    monkeypatch.setattr(jsonata_eval, "MAX_EVALUATION_SECONDS", 0.2)
    cause = query_error("($loop := function($n){ $loop($n + 1) }; $loop(0))").cause
    assert "ran for more than" in cause


@pytest.mark.parametrize("source", [
    "$match($states.input.text, /(a|a)+$/)",
    "$contains($states.input.text, /(a|a)+$/)",
    "$replace($states.input.text, /(a|a)+$/, 'x')",
    "$split($states.input.text, /(a|a)+$/)",
    "/(a|a)+$/($states.input.text)",
])
def test_catastrophic_regular_expressions_stop_at_the_time_limit(monkeypatch, source):
    monkeypatch.setattr(jsonata_eval, "MAX_EVALUATION_SECONDS", 0.3)
    cause = query_error(source, {"input": {"text": "a" * 29 + "!"}}).cause  # hours without a limit
    assert "ran for more than 0.3 seconds" in cause


def test_regular_expressions_keep_jsonata_behaviour():
    assert ev("$match('ab12', /[0-9]/).match") == ["1", "2"]
    assert ev("$contains('Hello', /hello/i)") is True
    assert ev("$split('a1b22c', /[0-9]+/)") == ["a", "b", "c"]
    assert ev("$replace('abc', /(b)/, '[$1]')") == "a[b]c"
    # JavaScript's rule, kept: "$12" with one group is group 1 then "2".
    assert ev("$replace('abc', /(b)/, '$12')") == "ab2c"


def test_only_one_pass_expressions_are_evaluated_on_the_event_loop():
    assert compile_jsonata("$states.input.a.b & '-' & $join($states.input.names, ',')").on_loop
    # A map step whose object reads only its item is one pass; one that reads $states or a
    # variable may walk the whole input again for every item.
    assert compile_jsonata("$states.input.items.{'n': $count(errors), 'k': key}").on_loop
    assert not compile_jsonata("$states.input.items.{'n': $count($states.input.items)}").on_loop
    assert not compile_jsonata("$states.input.items.{'n': $limit}").on_loop
    assert not compile_jsonata("$match($states.input.text, /a+/)").on_loop  # the full engine
    template = compile_template({"a": "{% $states.input.a %}", "b": ["{% $average($states.input.n) %}"]})
    assert not template.on_loop
    assert compile_template({"a": "{% $states.input.a %}", "fixed": 1}).on_loop


def test_render_async_gives_render_s_value_on_and_off_the_loop():
    states = {"input": {"a": 1, "items": [{"n": 2}, {"n": 3}]}}
    for spec in ({"a": "{% $states.input.a %}"}, {"n": "{% $states.input.items.{'m': n * 2} %}"},
                 {"s": "{% $sum($states.input.items.n) %}"}, {"unbound": "{% $nope ? 1 : 2 %}"}):
        template = compile_template(spec)
        assert asyncio.run(template.render_async(states, {})) == template.render(states, {})


def test_an_evaluation_overrunning_its_thread_fails_at_the_limit_plus_grace(monkeypatch):
    monkeypatch.setattr(jsonata_eval, "MAX_EVALUATION_SECONDS", 0.1)
    monkeypatch.setattr(jsonata_eval, "_GRACE_SECONDS", 0.1)
    expression = compile_jsonata("$sleep()", where="/States/S/Output")
    monkeypatch.setattr(jsonata_eval, "_FUNCTIONS", jsonata_eval._functions_frame())
    jsonata_eval._FUNCTIONS.bind("sleep", jsonata_eval.Jsonata.JLambda(lambda: time.sleep(1)))  # no check reaches it
    with pytest.raises(StatesError) as caught:
        asyncio.run(expression.evaluate_async({}, {}))
    assert caught.value.error == "States.QueryEvaluationError"
    assert "ran for more than 0.1 seconds" in caught.value.cause


def test_deep_recursion_is_a_query_error():
    assert "deep" in query_error("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))").cause


# --- threads -----------------------------------------------------------------------------------------


def test_one_expression_evaluates_correctly_from_many_threads():
    expression = compile_jsonata("$map($states.input.items, function($v){ $v * $k })")
    failures: list = []

    def work(k: int) -> None:
        for _ in range(200):
            got = expression.evaluate({"input": {"items": [1, 2, 3]}}, {"k": k})
            if got != [k, 2 * k, 3 * k]:
                failures.append((k, got))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- the fast path agrees with the full engine ---------------------------------------------------

names = st.sampled_from(["a", "b", "c", "missing"])
json_scalars = st.none() | st.booleans() | st.integers(-20, 20) | st.sampled_from([0.5, 2.0, -1.25]) | st.sampled_from(["", "x", "yz"])
# Lists hold no nulls: see array_heavy below.
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner.filter(lambda item: item is not None), max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)

literals = st.sampled_from(["1", "0", "-3", "2.5", "'x'", "''", "true", "false", "null"])
variables_ = st.sampled_from(["$v", "$w", "$states.input", "$unbound"])
paths = st.builds(lambda root, steps: root + "".join("." + s for s in steps), variables_, st.lists(names, max_size=3))
operators = st.sampled_from(["+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">=", "and", "or", "&"])


def expressions():
    return st.recursive(
        literals | paths,
        lambda inner: st.one_of(
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner, operators, inner),
            st.builds(lambda a: f"-({a})", inner),
            st.builds(lambda a, b, c: f"({a} ? {b} : {c})", inner, inner, inner),
            st.builds(lambda a, b: f"({a} ? {b})", inner, inner),
            st.builds(lambda a, b: "{'k': " + a + ", 'l': " + b + "}", inner, inner),
            st.builds(lambda a, b: f"[{a}, {b}]", inner, inner),
            st.builds(lambda a: f"[[{a}]]", inner),
            st.builds(lambda f, a: f"${f}({a})", st.sampled_from(["exists", "count", "string", "type", "not", "merge"]),
                      inner),
            st.builds(lambda a, b: f"$append({a}, {b})", inner, inner),
            st.builds(lambda a, b: f"$merge([{a}, {b}])", inner, inner),
        ),
        max_leaves=6,
    )


def outcome(function, states, variables):
    try:
        value = function(states, variables)
    except StatesError as err:
        return ("error", err.error)
    return ("undefined",) if value is NOTHING else ("value", json.dumps(value))


@settings(max_examples=150, deadline=None)
@given(expressions(), st.dictionaries(names, json_values, max_size=3), json_values, json_values)
def test_fast_path_matches_the_full_engine(source, state_input, v, w):
    expression = compile_jsonata(source)
    states = {"input": state_input}
    variables = {"v": v, "w": w}
    fast = outcome(expression.evaluate, states, variables)
    full = outcome(expression._evaluate_fully, states, variables)
    assert fast == full, source


# No nulls here: jsonata-python turns a null reached through a sequence into undefined, while
# JSONata (and the fast path) keep it as null.
array_heavy = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.dictionaries(names, inner, max_size=3), max_size=3)
    | st.dictionaries(names, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(array_heavy, st.lists(names, min_size=1, max_size=4))
def test_fast_paths_over_arrays_match_the_full_engine(v, steps):
    expression = compile_jsonata("$v." + ".".join(steps))
    assert expression._fast is not None
    fast = outcome(expression.evaluate, {}, {"v": v})
    full = outcome(expression._evaluate_fully, {}, {"v": v})
    assert fast == full


def test_range_of_one_value_is_that_value():
    # Issue 17, category 7: a single value is not wrapped. Like a JSONata sequence of one item,
    # $range with one value answers the number itself (AWS's behaviour as recorded in the Floci
    # emulator's Step Functions notes; AWS's own docs do not say).
    assert ev("$range(1, 1, 1)") == 1
    assert ev("$range(1, 2, 5)") == 1
    assert ev("$range(1, 2, 1)") == [1, 2]
