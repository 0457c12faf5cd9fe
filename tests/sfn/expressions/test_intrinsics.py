"""Intrinsic functions: each with AWS's documented example and with an input that must fail.

Examples come from the AWS Step Functions developer guide page "Intrinsic functions for
JSONPath states in Step Functions" unless a comment says otherwise.
"""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions.intrinsics import compile_intrinsic, is_intrinsic

NINE = [1, 2, 3, 4, 5, 6, 7, 8, 9]


def run(text: str, data=None, context=None, variables=None):
    return compile_intrinsic(text).evaluate(data if data is not None else {}, context or {}, variables or {})


def fails(text: str, data=None) -> StatesError:
    with pytest.raises(StatesError) as caught:
        run(text, data)
    assert caught.value.error == "States.IntrinsicFailure"
    return caught.value


# --- States.Format and string literals -----------------------------------------------


def test_format_doc_example_with_literal_and_path_templates():
    data = {"name": "Arnav", "template": "Hello, my name is {}."}
    assert run("States.Format('Hello, my name is {}.', $.name)", data) == "Hello, my name is Arnav."
    assert run("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


def test_format_renders_numbers_booleans_and_null_as_json():
    assert run("States.Format('{} {} {} {}', 3, 2.5, true, null)") == "3 2.5 true null"


def test_format_fails_when_placeholders_and_values_differ():
    cause = fails("States.Format('{} and {}', $.a)", {"a": 1}).cause
    assert "2 placeholders" in cause and "1 values" in cause


def test_format_accepts_objects_and_arrays_as_json_text():
    # AWS accepts any JSON value as a States.Format argument (issue 17, category 2).
    assert run("States.Format('{} {}', $.a, $.b)", {"a": {"b": 1}, "b": [1, "x"]}) == '{"b":1} [1,"x"]'


def test_escaped_reserved_characters_are_literal_text():
    # "Reserved characters in intrinsic functions": \' \{ \} \\ stand for ' { } \
    text = r"States.Format('it\'s \{\} not a placeholder, {} is; a\\b', 7)"
    assert run(text) == "it's {} not a placeholder, 7 is; a\\b"


def test_open_escape_is_rejected():
    with pytest.raises(DefinitionError) as caught:
        compile_intrinsic(r"States.Format('bad \q escape')", where="/States/P/Parameters/x.$")
    assert caught.value.path == "/States/P/Parameters/x.$"
    assert "escape" in caught.value.message


# --- JSON manipulation ----------------------------------------------------------------


def test_string_to_json_doc_example():
    assert run("States.StringToJson($.escapedJsonString)", {"escapedJsonString": '{"foo": "bar"}'}) == {"foo": "bar"}


def test_string_to_json_fails_on_bad_json_and_non_strings():
    fails("States.StringToJson($.s)", {"s": "{not json"})
    fails("States.StringToJson($.s)", {"s": 5})


def test_json_to_string_doc_example():
    text = run("States.JsonToString($.unescapedJson)", {"unescapedJson": {"foo": "bar"}})
    assert text == '{"foo":"bar"}'
    assert json.loads(text) == {"foo": "bar"}


def test_json_to_string_needs_exactly_one_argument():
    with pytest.raises(DefinitionError):
        compile_intrinsic("States.JsonToString($.a, $.b)")


def test_json_merge_doc_example_is_shallow():
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    assert run("States.JsonMerge($.json1, $.json2, false)", data) == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}
    assert data["json1"] == {"a": {"a1": 1, "a2": 2}, "b": 2}  # inputs untouched


def test_json_merge_refuses_deep_merge_and_non_objects():
    data = {"x": {"a": 1}, "y": {"b": 2}, "l": [1]}
    assert "shallow" in fails("States.JsonMerge($.x, $.y, true)", data).cause
    fails("States.JsonMerge($.x, $.l, false)", data)


# --- arrays ----------------------------------------------------------------------------


def test_array_doc_example():
    assert run("States.Array($.Id)", {"Id": 123456}) == [123456]
    assert run("States.Array()") == []
    assert run("States.Array('a', 1, null, true, $.o)", {"o": {"k": 1}}) == ["a", 1, None, True, {"k": 1}]


def test_array_partition_doc_example():
    data = {"inputArray": NINE}
    assert run("States.ArrayPartition($.inputArray, 4)", data) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]


def test_array_partition_fails_on_bad_chunk_size_or_non_array():
    fails("States.ArrayPartition($.a, 0)", {"a": NINE})
    fails("States.ArrayPartition($.a, 1.5)", {"a": NINE})
    fails("States.ArrayPartition($.a, 2)", {"a": "not an array"})


def test_array_contains_doc_example():
    data = {"inputArray": NINE, "lookingFor": 5}
    assert run("States.ArrayContains($.inputArray, $.lookingFor)", data) is True
    assert run("States.ArrayContains($.inputArray, 10)", data) is False


def test_array_contains_distinguishes_true_from_one_and_fails_on_non_array():
    assert run("States.ArrayContains($.a, true)", {"a": [1]}) is False
    assert run("States.ArrayContains($.a, $.o)", {"a": [{"k": [1]}], "o": {"k": [1]}}) is True
    fails("States.ArrayContains($.a, 1)", {"a": {"k": 1}})


def test_array_range_doc_example():
    assert run("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert run("States.ArrayRange(10, 1, -3)") == [10, 7, 4, 1]


def test_array_range_limits():
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000
    assert "1000" in fails("States.ArrayRange(0, 1000, 1)").cause  # 1,001 items
    fails("States.ArrayRange(1, 9, 0)")
    fails("States.ArrayRange(1, 9.5, 1)")


def test_array_get_item_doc_example():
    assert run("States.ArrayGetItem($.inputArray, $.index)", {"inputArray": NINE, "index": 5}) == 6


def test_array_get_item_fails_out_of_bounds():
    assert "out of bounds" in fails("States.ArrayGetItem($.a, 9)", {"a": NINE}).cause
    fails("States.ArrayGetItem($.a, -1)", {"a": NINE})


def test_array_length_doc_example():
    assert run("States.ArrayLength($.inputArray)", {"inputArray": NINE}) == 9


def test_array_length_fails_on_non_array():
    fails("States.ArrayLength($.s)", {"s": "abc"})


def test_array_unique_doc_example():
    assert run("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]


def test_array_unique_keeps_first_occurrence_of_equal_objects_and_fails_on_non_array():
    data = {"a": [{"x": 1, "y": 2}, {"y": 2, "x": 1}, True, 1]}
    assert run("States.ArrayUnique($.a)", data) == [{"x": 1, "y": 2}, True, 1]
    fails("States.ArrayUnique($.o)", {"o": {}})


# --- encoding, hashing -------------------------------------------------------------------


def test_base64_encode_and_decode_doc_examples():
    assert run("States.Base64Encode($.input)", {"input": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"


def test_base64_limits_and_bad_input():
    too_long = "a" * 10001
    assert "10000" in fails("States.Base64Encode($.s)", {"s": too_long}).cause
    fails("States.Base64Decode($.s)", {"s": "not base64!"})
    fails("States.Base64Decode($.s)", {"s": base64.b64encode(b"\xff\xfe").decode()})  # not UTF-8


def test_hash_doc_example():
    assert run("States.Hash($.Data, $.Algorithm)", {"Data": "input data", "Algorithm": "SHA-1"}) == (
        "aaff4a450a104cd177d28d18d74485e8cae074b7"
    )


@pytest.mark.parametrize("algorithm,length", [("MD5", 32), ("SHA-256", 64), ("SHA-384", 96), ("SHA-512", 128)])
def test_hash_supports_every_documented_algorithm(algorithm, length):
    assert re.fullmatch(f"[0-9a-f]{{{length}}}", run(f"States.Hash('x', '{algorithm}')"))


def test_hash_fails_on_unknown_algorithm_or_long_input():
    assert "SHA-1" in fails("States.Hash('x', 'SHA1')").cause
    fails("States.Hash($.s, 'MD5')", {"s": "a" * 10001})


# --- math, strings, ids -----------------------------------------------------------------


def test_math_random_doc_example_range_and_seed():
    values = {run("States.MathRandom($.start, $.end)", {"start": 1, "end": 999}) for _ in range(50)}
    assert all(isinstance(v, int) and 1 <= v < 999 for v in values)
    assert len(values) > 1
    seeded = [run("States.MathRandom(1, 1000, 42)") for _ in range(3)]
    assert len(set(seeded)) == 1


def test_math_random_fails_when_start_is_not_below_end():
    fails("States.MathRandom(5, 5)")
    fails("States.MathRandom('a', 5)")


def test_math_add_doc_example():
    assert run("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}) == 110


def test_math_add_fails_outside_int32_and_on_non_numbers():
    fails("States.MathAdd(2147483648, 1)")
    fails("States.MathAdd($.b, 1)", {"b": True})
    fails("States.MathAdd('1', 1)")


@pytest.mark.parametrize("a,b,total", [(1.49, 1.5, 3), (1.5, 1.51, 4), (-1.49, -1.5, -2), (-9, 3, -6)])
def test_math_add_rounds_non_integral_numbers_half_up(a, b, total):
    # As AWS answered (LocalStack's AWS-recorded snapshot test_math_add): 1.49 + 1.5 -> 3,
    # 1.5 + 1.51 -> 4, -1.49 + -1.5 -> -2: each argument is rounded half up, then added.
    assert run("States.MathAdd($.a, $.b)", {"a": a, "b": b}) == total


def test_math_random_accepts_non_integral_bounds():
    # AWS returns a number for MathRandom(12.5, 44.51) (LocalStack's AWS-recorded snapshot).
    values = {run("States.MathRandom($.a, $.b)", {"a": 12.5, "b": 44.51}) for _ in range(30)}
    assert all(isinstance(v, int) and 13 <= v < 45 for v in values)


@pytest.mark.parametrize("text", ["", " "])
def test_string_to_json_reads_blank_text_as_null(text):
    # As AWS answered (LocalStack's AWS-recorded snapshot test_string_to_json): "" and " " -> null.
    assert run("States.StringToJson($.s)", {"s": text}) is None


def test_string_split_doc_examples():
    assert run("States.StringSplit($.inputString, $.splitter)", {"inputString": "1,2,3,4,5", "splitter": ","}) == [
        "1", "2", "3", "4", "5",
    ]
    data = {"inputString": "This.is+a,test=string", "splitter": ".+,="}
    assert run("States.StringSplit($.inputString, $.splitter)", data) == ["This", "is", "a", "test", "string"]


def test_string_split_fails_on_non_strings():
    fails("States.StringSplit($.n, ',')", {"n": 12})


def test_uuid_is_a_random_version_4_uuid():
    first, second = run("States.UUID()"), run("States.UUID()")
    assert uuid.UUID(first).version == 4 and first != second


def test_uuid_takes_no_arguments():
    with pytest.raises(DefinitionError):
        compile_intrinsic("States.UUID(1)")


# --- arguments, nesting and parsing ----------------------------------------------------------


def test_arguments_read_context_and_variables():
    value = run("States.Array($$.Execution.Name, $total, $order.id)", {}, {"Execution": {"Name": "run-1"}},
                {"total": 3, "order": {"id": "o-7"}})
    assert value == ["run-1", 3, "o-7"]


def test_nested_calls_doc_style_arn_parsing():
    # Shape of the guide's nested example (nine functions in one field), plus a tenth.
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/recipe/1.2.3"
    text = (
        "States.Format('{}.{}.{}', "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1), "
        "States.ArrayLength($.pair))"
    )
    assert run(text, {"ImageRecipe": {"Arn": arn}, "pair": [1, 2]}) == "1.2.2"


def test_more_than_ten_functions_in_a_field_is_a_definition_error():
    eleven = "States.Array(" + ", ".join(["States.UUID()"] * 10) + ")"
    with pytest.raises(DefinitionError) as caught:
        compile_intrinsic(eleven)
    assert "10" in caught.value.message
    assert len(run("States.Array(" + ", ".join(["States.UUID()"] * 9) + ")")) == 9


def test_path_arguments_may_contain_commas_and_parentheses_in_brackets():
    data = {"a, b": {"c)": 1}, "items": [{"v": 1}, {"v": 5}]}
    assert run("States.Array($['a, b']['c)'], $.items[?(@.v > 2)].v)", data) == [1, [5]]


def test_missing_path_argument_is_a_runtime_error():
    with pytest.raises(StatesError) as caught:
        run("States.Array($.missing)", {})
    assert caught.value.error == "States.Runtime"


@pytest.mark.parametrize(
    "text",
    ["States.Nope(1)", "States.Array(1", "States.Array(1) extra", "States.Array('unclosed)", "States.Array(@)",
     "States.ArrayRange(1, 2)", "States.Array(1,)"],
)
def test_malformed_invocations_are_definition_errors(text):
    with pytest.raises(DefinitionError):
        compile_intrinsic(text)


def test_is_intrinsic():
    assert is_intrinsic("States.Format('x')")
    assert is_intrinsic("States.UUID()")
    assert not is_intrinsic("$.States.Format")
    assert not is_intrinsic("States.Format")
    assert not is_intrinsic(12)


argument_text = st.lists(st.sampled_from(list("$.[]()'?@*:,-0123456789abc {}\\")), max_size=20).map("".join)


@settings(max_examples=200, deadline=None)
@given(argument_text)
def test_any_text_either_compiles_or_is_a_definition_error(text):
    try:
        compile_intrinsic("States.Array(" + text)
    except DefinitionError as err:
        assert err.message and "\n" not in err.message  # one clear line


def test_number_literals_keep_their_type():
    assert run("States.Array(007, -1.5, 2e2)") == [7, -1.5, 200.0]
