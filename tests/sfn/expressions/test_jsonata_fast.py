"""The JSONata fast path on map steps (``path.{...}``), relative paths and the functions used with them.

The page-fetch workflow maps every fetched page of records into rows with
``$append([], $states.result.ResponseBody.results.{ ... $join([errors.message], '\\n') ... })``.
These tests pin JSONata's sequence rules on that shape (singletons, empty and missing arrays,
flattening through arrays of objects) and check, on generated records and expressions, that the
fast path gives exactly what the full jsonata-python engine gives.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfn_runtime.errors import StatesError
from sfn_runtime.expressions.jsonata_eval import NOTHING, compile_jsonata
from sfn_runtime.expressions.jsonata_fast import UNDEFINED, Fallback

ROWS = ("$append([], $states.result.ResponseBody.results.{ 'discount_code': resourceKey, "
        "'error_message': $join([errors.message], '\\n'), 'status': state })")


def fast(source: str, states: dict | None = None, variables: dict | None = None):
    """The fast path's own value (raises Fallback when it hands over to the engine)."""
    expression = compile_jsonata(source)
    assert expression._fast is not None, source
    value = expression._fast(states or {}, variables or {})
    return NOTHING if value is UNDEFINED else json.loads(json.dumps(value))


def full(source: str, states: dict | None = None, variables: dict | None = None):
    return compile_jsonata(source)._evaluate_fully(states or {}, variables or {})


def page(results) -> dict:
    return {"result": {"ResponseBody": {"count": 0, "results": results}}}


def record(key: str, *messages: str, state: str = "failed") -> dict:
    return {"resourceKey": key, "state": state, "errors": [{"message": m} for m in messages]}


# --- the page-fetch rows expression ----------------------------------------------------------


@pytest.mark.parametrize(
    "results,rows",
    [
        ([record("k1", "m")], [{"discount_code": "k1", "error_message": "m", "status": "failed"}]),
        ([record("k1"), record("k2", "a", "b")],
         [{"discount_code": "k1", "error_message": "", "status": "failed"},
          {"discount_code": "k2", "error_message": "a\nb", "status": "failed"}]),
        (record("k1", "m"), [{"discount_code": "k1", "error_message": "m", "status": "failed"}]),
        ([], []),
        ([{"state": "rejected"}], [{"error_message": "", "status": "rejected"}]),
        ([{"resourceKey": "k", "errors": {"message": "one"}}], [{"discount_code": "k", "error_message": "one"}]),
        ([{"resourceKey": None, "state": "failed", "errors": None}],
         [{"discount_code": None, "error_message": "", "status": "failed"}]),
        ([{"errors": [{"message": "x"}, {"code": 1}, {"message": "y"}]}], [{"error_message": "x\ny"}]),
    ],
    ids=["one record", "zero and two errors", "single object", "empty page", "missing fields",
         "errors as one object", "nulls", "error without message"],
)
def test_rows_follow_jsonata_and_take_the_fast_path(results, rows):
    assert fast(ROWS, page(results)) == rows
    assert full(ROWS, page(results)) == rows


def test_rows_of_a_missing_results_array_are_empty():
    assert fast(ROWS, {"result": {"ResponseBody": {"count": 0}}}) == []
    assert fast(ROWS, {"result": {}}) == []
    assert full(ROWS, {"result": {}}) == []


def test_a_map_gives_nothing_one_object_or_an_array():
    mapped = "$states.input.items.{'k': key}"
    assert fast(mapped, {"input": {"items": []}}) is NOTHING
    assert fast(mapped, {"input": {}}) is NOTHING
    assert fast(mapped, {"input": {"items": [{"key": 1}]}}) == {"k": 1}
    assert fast(mapped, {"input": {"items": {"key": 1}}}) == {"k": 1}
    assert fast(mapped, {"input": {"items": [{"key": 1}, {}]}}) == [{"k": 1}, {}]
    assert full(mapped, {"input": {"items": [{"key": 1}, {}]}}) == [{"k": 1}, {}]


def test_a_map_flattens_the_arrays_its_path_goes_through():
    mapped = "$v.lines.{'sku': sku}"
    v = [{"lines": [{"sku": "a"}, {"sku": "b"}]}, {"lines": {"sku": "c"}}, {}]
    assert fast(mapped, {}, {"v": v}) == [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]
    assert full(mapped, {}, {"v": v}) == [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]
    assert fast("$v.{'n': sku}", {}, {"v": [{"sku": "a"}, {"sku": "b"}]}) == [{"n": "a"}, {"n": "b"}]


def test_array_constructors_flatten_path_values_but_keep_nested_constructors():
    v = {"errors": [{"message": "m"}]}
    assert fast("[$v.errors.message]", {}, {"v": v}) == ["m"]
    assert fast("[$v.errors.message]", {}, {"v": {"errors": []}}) == []
    assert fast("[$v.missing.message]", {}, {"v": v}) == []
    assert fast("[$v, [$v]]", {}, {"v": [1, [2]]}) == [1, [2], [1, [2]]]
    assert full("[$v, [$v]]", {}, {"v": [1, [2]]}) == [1, [2], [1, [2]]]


def test_functions_on_undefined_and_single_values():
    assert fast("$join([], '\\n')") == ""
    assert fast("$join($states.input.none, '-')", {"input": {}}) is NOTHING
    assert fast("$join($states.input.s, '-')", {"input": {"s": "one"}}) == "one"
    assert fast("$join($states.input.l)", {"input": {"l": ["a", "b"]}}) == "ab"
    assert fast("$count($states.input.none)", {"input": {}}) == 0
    assert fast("$count($states.input.o)", {"input": {"o": {"a": 1}}}) == 1
    assert fast("$count($states.input.l.a)", {"input": {"l": [{"a": 1}, {"a": [2, 3]}]}}) == 3
    assert fast("$lookup($states.input.l, 'a')", {"input": {"l": [{"a": 1}, {"a": [2, 3]}]}}) == [1, 2, 3]
    assert fast("$lookup($states.input.l, 'a')", {"input": {"l": [{"a": 1}]}}) == 1
    assert fast("$lookup($states.input.o, 'b')", {"input": {"o": {"a": 1}}}) is NOTHING
    assert fast("$states.input.o.{'has': $exists(a), 'text': $string(a), 'self': $}", {"input": {"o": {"a": 7}}}) \
        == {"has": True, "text": "7", "self": {"a": 7}}


def test_length_counts_characters_as_the_engine_does():
    for text in ("", "abc", "é😀\n"):
        assert fast("$length($v)", {}, {"v": text}) == full("$length($v)", {}, {"v": text}) == len(text)
    assert fast("$length($string($v))", {}, {"v": [{"a": "é"}]}) == full("$length($string($v))", {}, {"v": [{"a": "é"}]})
    assert fast("$length($states.input.none)", {"input": {}}) is NOTHING


def test_substring_matches_the_engine():
    for source in ("$substring($v, 1)", "$substring($v, 1, 3)", "$substring($v, 0, 0)", "$substring($v, 9, 2)",
                   "$substring($v, 2, -1)", "$substring($v, 1, $length($v) - 2)"):
        for text in ("", "[é😀,x]", "abcdef"):
            assert fast(source, {}, {"v": text}) == full(source, {}, {"v": text}), (source, text)
    assert fast("$substring($states.input.none, 1)", {"input": {}}) is NOTHING


def test_string_of_a_structure_takes_the_fast_path_and_matches_the_engine():
    rows = [{"code": "é\n\"q\"", "errors": ["a", None], "n": -3, "ok": True, "f": 1.5}]
    expression = compile_jsonata("$string({'task_id': $t, 'rows': $rows})")
    variables = {"t": "x", "rows": rows}
    text = expression._fast({}, variables)  # no Fallback
    assert text == expression._evaluate_fully({}, variables)
    assert json.loads(text) == {"task_id": "x", "rows": rows}


@pytest.mark.parametrize(
    "source,variables",
    [
        ("$substring($v, -2)", {"v": "abc"}),  # from the end: the engine's
        ("$substring($v, 1.5)", {"v": "abc"}),
        ("$length($v)", {"v": None}),  # a type error (T0410)
        ("$length($v)", {"v": 12}),
        ("$join($v)", {"v": None}),  # jsonata-python: undefined; JSONata: a type error
        ("$join($v, '-')", {"v": ["a", 1]}),
        ("$join($v, 1)", {"v": ["a"]}),
        ("$count($v)", {"v": None}),  # jsonata-python counts 0, JSONata 1
        ("$lookup($v, 1)", {"v": {"a": 1}}),
        ("$v.{'a': x}", {"v": [{"x": 1}, None]}),  # an object built over null
        ("$v.{'a': x}", {"v": [[{"x": 1}, {"x": 2}]]}),  # an object built over an array groups it
        ("$string($v)", {"v": 1234567890123456}),  # 16 digits: written with 15 significant ones
        ("'' & $v", {"v": -1234567890123456}),
    ],
)
def test_doubtful_values_go_to_the_engine(source, variables):
    expression = compile_jsonata(source)
    with pytest.raises(Fallback):
        expression._fast({}, variables)
    assert outcome(expression.evaluate, {}, variables) == outcome(expression._evaluate_fully, {}, variables)


def test_a_join_error_is_still_a_query_error():
    with pytest.raises(StatesError) as caught:
        compile_jsonata(ROWS).evaluate(page([{"errors": [{"message": None}]}]), {})
    assert caught.value.error == "States.QueryEvaluationError"


def test_relative_paths_at_the_top_have_no_context():
    assert fast("resourceKey") is NOTHING
    assert fast("{'a': x, 'b': 1}") == {"b": 1}
    assert full("{'a': x, 'b': 1}") == {"b": 1}


# --- generated records and expressions agree with the full engine -------------------------------

messages = st.sampled_from(["m", "", "line\nbreak", "é"])
errors = st.one_of(
    st.lists(st.fixed_dictionaries({}, optional={"message": messages | st.none() | st.just(3)}), max_size=2),
    st.fixed_dictionaries({"message": messages}),
    st.none(),
)
records = st.fixed_dictionaries(
    {},
    optional={"resourceKey": st.sampled_from(["k1", "k2"]) | st.none(), "state": st.sampled_from(["failed", "rejected"]),
              "errors": errors, "count": st.integers(-3, 3)},
)
result_arrays = st.one_of(st.lists(records, max_size=3), records)
response_bodies = st.fixed_dictionaries({}, optional={"results": result_arrays, "count": st.integers(0, 3)})


def outcome(function, states, variables):
    try:
        value = function(states, variables)
    except StatesError as err:
        return ("error", err.error)
    return ("undefined",) if value is NOTHING else ("value", json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(response_bodies)
def test_rows_match_the_full_engine(body):
    expression = compile_jsonata(ROWS)
    states = {"result": {"ResponseBody": body}}
    assert outcome(expression.evaluate, states, {}) == outcome(expression._evaluate_fully, states, {})


relative = st.sampled_from(["resourceKey", "state", "errors", "errors.message", "count", "missing.x", "$"])
fields = st.one_of(
    relative,
    st.builds(lambda p: f"[{p}]", relative),
    st.builds(lambda p, q: f"[{p}, [{q}]]", relative, relative),
    st.builds(lambda p, sep: f"$join([{p}]{sep})", relative, st.sampled_from(["", ", '-'", ", $nothing"])),
    st.builds(lambda p: f"$join({p}, ',')", relative),
    st.builds(lambda f, p: f"${f}({p})", st.sampled_from(["count", "string", "exists", "type"]), relative),
    st.builds(lambda p, k: f"$lookup({p}, '{k}')", relative, st.sampled_from(["message", "x"])),
    st.builds(lambda p: f"$append([], {p})", relative),
    st.builds(lambda p: f"({p} & '!')", relative),
    st.just("$states.input.tag"),
)
maps = st.builds(
    lambda root, a, b, wrap: wrap.format(root + ".{'a': " + a + ", 'b': " + b + "}"),
    st.sampled_from(["$v", "$v.results", "$states.input.body.results"]),
    fields, fields,
    st.sampled_from(["{}", "$append([], {})", "$count({})", "[{}]"]),
)


numbers = st.one_of(st.integers(-10, 10), st.floats(-1e3, 1e3, allow_nan=False), st.just(2**53 + 1),
                    st.sampled_from(["1", True, None]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["sum", "min", "max"]), st.one_of(st.lists(numbers, max_size=4), numbers),
       st.sampled_from(["$f($v)", "$f([$v, 3])", "$f($v) + 1", "$f($states.input.missing)"]))
def test_generated_aggregates_match_the_full_engine(function, v, shape):
    expression = compile_jsonata(shape.replace("$f", "$" + function))
    assert expression._fast is not None
    states, variables = {"input": {}}, {"v": v}
    assert outcome(expression.evaluate, states, variables) == outcome(expression._evaluate_fully, states, variables), (shape, v)


@settings(max_examples=300, deadline=None)
@given(maps, response_bodies, result_arrays, st.sampled_from(["t", 5]))
def test_generated_maps_match_the_full_engine(source, body, v, tag):
    expression = compile_jsonata(source)
    assert expression._fast is not None, source
    states = {"input": {"body": body, "tag": tag}}
    variables = {"v": v}
    assert outcome(expression.evaluate, states, variables) == outcome(expression._evaluate_fully, states, variables), source
