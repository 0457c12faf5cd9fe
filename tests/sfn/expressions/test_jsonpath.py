"""JSONPath for Step Functions: documented examples, errors, and property tests of read/write.

Doc examples cite their AWS Step Functions developer guide page in a comment.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfn_runtime.errors import DefinitionError, StatesError
from sfn_runtime.expressions.jsonpath import CONTEXT, INPUT, VARIABLE, compile_path, is_path

# "Using JSONPath paths" (reference paths section)
DOC_INPUT = {
    "foo": 123,
    "bar": ["a", "b", "c"],
    "car": {"cdr": True},
    "jar": [{"a": 1}, {"a": 5}, {"a": 2}, {"a": 7}, {"a": 3}],
}


def read(path: str, data, context=None, variables=None):
    return compile_path(path).read(data, context, variables)


# --- documented examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,expected",
    [
        ("$.foo", 123),
        ("$.bar", ["a", "b", "c"]),
        ("$.car.cdr", True),
        ("$.jar[?(@.a >= 5)]", [{"a": 5}, {"a": 7}]),
    ],
)
def test_using_jsonpath_paths_doc_examples(path, expected):
    # "Using JSONPath paths": these paths return these values for the page's input.
    assert read(path, DOC_INPUT) == expected


def test_bracket_notation_for_special_characters_doc_example():
    # "Using JSONPath paths": field names with punctuation need bracket notation, e.g. $.abc.['def ghi']
    data = {"abc": {"def ghi": 1}}
    assert read("$.abc.['def ghi']", data) == 1
    assert read("$.abc['def ghi']", data) == 1
    assert read('$.abc["def ghi"]', data) == 1


def test_flatten_array_of_arrays_doc_example():
    # "Using JSONPath paths" -> "Flattening an array of arrays": ResultSelector "$[*][*]"
    assert read("$[*][*]", [[1, 2, 3], [4, 5], [6]]) == [1, 2, 3, 4, 5, 6]


def test_result_path_doc_examples():
    # "Specifying state output using ResultPath in Step Functions"
    state_input = {"comment": "This is a test of the input and output of a Task state.",
                   "details": "Default example", "who": "AWS Step Functions"}
    result = "Hello, AWS Step Functions!"
    assert compile_path("$", reference=True).write(state_input, result) == result
    combined = compile_path("$.taskresult", reference=True).write(state_input, result)
    assert combined == {**state_input, "taskresult": result}
    nested = compile_path("$.strings.lambdaresult", reference=True).write(state_input, result)
    assert nested == {**state_input, "strings": {"lambdaresult": result}}
    replaced = compile_path("$.details", reference=True).write(state_input, result)
    assert replaced == {**state_input, "details": result}
    assert state_input["details"] == "Default example"  # the input is never modified


# --- reading ------------------------------------------------------------------------------


def test_indexes_slices_unions_wildcards_and_descent():
    data = {"a": [10, 11, 12, 13], "o": {"x": 1, "y": {"x": 2}}, "n": [{"x": 3}]}
    assert read("$.a[0]", data) == 10
    assert read("$.a[-1]", data) == 13
    assert read("$.a[1:3]", data) == [11, 12]
    assert read("$.a[::2]", data) == [10, 12]
    assert read("$.a[-2:]", data) == [12, 13]
    assert read("$.a[0,2]", data) == [10, 12]
    assert read("$.o.*", data) == [1, {"x": 2}]
    assert read("$..x", data) == [1, 2, 3]
    assert read("$['o']['y']['x']", data) == 2


def test_filters():
    items = {"items": [{"n": 1, "s": "a"}, {"n": 5, "s": "b"}, {"n": 9}, {"n": "5"}, {"s": "c", "ok": True}]}
    assert read("$.items[?(@.n > 4)].n", items) == [5, 9]
    assert read("$.items[?(@.n == 5)]", items) == [{"n": 5, "s": "b"}]
    assert read("$.items[?(@.n == '5')]", items) == [{"n": "5"}]
    assert read("$.items[?(@.s)].s", items) == ["a", "b", "c"]
    assert read("$.items[?(!@.s)].n", items) == [9, "5"]
    assert read("$.items[?(@.n > 1 && @.s == 'b' || @.ok == true)]", items) == [{"n": 5, "s": "b"}, {"s": "c", "ok": True}]
    assert read("$.items[?(@.s =~ /[ab]/)].n", items) == [1, 5]
    assert read("$.items[?(@.n < $.limit)].n", {**items, "limit": 2}) == [1]
    assert read("$.items[?(@.s in ['a', 'c'])].s", items) == ["a", "c"]
    assert read("$.items[?(@.n nin [1, '5'])].n", items) == [5, 9]


def test_context_object_and_variables():
    context = {"Execution": {"Id": "arn:exec", "Input": {"k": 1}}, "Map": {"Item": {"Index": 2}}}
    assert read("$$.Execution.Id", {}, context) == "arn:exec"
    assert read("$$.Map.Item.Index", {}, context) == 2
    assert read("$$", {}, context) == context
    variables = {"order": {"lines": [{"sku": "x"}]}, "count": 3}
    assert read("$order.lines[0].sku", {}, None, variables) == "x"
    assert read("$count", {}, None, variables) == 3
    assert compile_path("$$.Execution").root == CONTEXT
    assert compile_path("$order.lines").root == VARIABLE and compile_path("$order").variable == "order"
    assert compile_path("$.a").root == INPUT


def test_missing_nodes_and_variables_are_runtime_errors():
    for path, variables in (("$.nope", None), ("$.foo.deeper", None), ("$.bar[5]", None), ("$missing", {"x": 1})):
        with pytest.raises(StatesError) as caught:
            read(path, DOC_INPUT, None, variables)
        assert caught.value.error == "States.Runtime"
    assert read("$.jar[?(@.a > 100)]", DOC_INPUT) == []  # a multi-node path that matches nothing is empty


def test_null_values_are_found():
    assert read("$.a", {"a": None}) is None


# --- compiling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["$..a", "$.a[*]", "$.a.*", "$.a[?(@.x)]", "$.a[0:2]", "$.a[0,1]"])
def test_reference_paths_name_one_node(path):
    compile_path(path)  # a valid path ...
    with pytest.raises(DefinitionError) as caught:
        compile_path(path, where="/States/T/ResultPath", reference=True)  # ... but not a reference path
    assert caught.value.path == "/States/T/ResultPath"
    assert path in caught.value.message


@pytest.mark.parametrize("path", ["a.b", "$.", "$[", "$.a[?(@.x >)]", "$.a[0:1:0]", "$['open", "$.a]", "$ .a"])
def test_syntax_errors(path):
    with pytest.raises(DefinitionError) as caught:
        compile_path(path, where="/States/P/InputPath")
    assert caught.value.path == "/States/P/InputPath"


def test_non_string_path_is_a_definition_error():
    with pytest.raises(DefinitionError):
        compile_path(5)  # type: ignore[arg-type]


def test_is_path():
    assert is_path("$.a") and is_path("$$.Execution") and is_path("$")
    assert not is_path("a.$") and not is_path(None)


# --- writing ------------------------------------------------------------------------------------


def test_write_creates_intermediate_objects_and_replaces_array_items():
    assert compile_path("$.a.b.c").write({}, 1) == {"a": {"b": {"c": 1}}}
    assert compile_path("$.a[1]").write({"a": [0, 0, 0]}, 9) == {"a": [0, 9, 0]}
    assert compile_path("$.a").write(None, 1) == {"a": 1}


def test_write_into_a_non_object_is_a_runtime_error():
    for path, data in (("$.a.b", {"a": "text"}), ("$.a", [1, 2]), ("$.a[3]", {"a": [1]}), ("$.a[0]", {"a": {}})):
        with pytest.raises(StatesError) as caught:
            compile_path(path).write(data, 1)
        assert caught.value.error == "States.Runtime"


def test_write_needs_an_input_reference_path():
    for path in ("$.a[*]", "$$.Execution", "$var.x"):
        with pytest.raises(StatesError):
            compile_path(path).write({}, 1)


# --- property tests --------------------------------------------------------------------------------

keys = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=6)
scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)


def quote(name: str) -> str:
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def node_paths(value, prefix="$", steps=()):
    """Every node of a document with a path string that names it and its steps."""
    yield prefix, steps, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from node_paths(item, prefix + quote(key), steps + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from node_paths(item, f"{prefix}[{index}]", steps + (index,))


@settings(max_examples=80, deadline=None)
@given(documents, st.data())
def test_read_finds_every_node_by_its_path(doc, data):
    nodes = list(node_paths(doc))
    path, _, value = data.draw(st.sampled_from(nodes))
    compiled = compile_path(path, reference=True)
    assert compiled.is_definite
    assert compiled.read(doc) == value


@settings(max_examples=80, deadline=None)
@given(documents, st.data(), documents)
def test_write_then_read_round_trips_and_leaves_the_input_alone(doc, data, new_value):
    nodes = list(node_paths(doc))
    path, steps, _ = data.draw(st.sampled_from(nodes))
    before = copy.deepcopy(doc)
    compiled = compile_path(path, reference=True)
    written = compiled.write(doc, new_value)
    assert compiled.read(written) == new_value
    assert json.dumps(doc, sort_keys=True) == json.dumps(before, sort_keys=True)
    # Every node not on the written path and not below it keeps its value.
    for other, other_steps, value in node_paths(before):
        if other_steps[: len(steps)] != steps and steps[: len(other_steps)] != other_steps:
            assert compile_path(other).read(written) == value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, scalars, max_size=4), st.lists(keys, min_size=1, max_size=4), scalars)
def test_write_creates_missing_objects_along_the_path(doc, names, value):
    path = "$" + "".join(quote(name) for name in names)
    if names[0] in doc:
        doc = {k: v for k, v in doc.items() if k != names[0]}
    written = compile_path(path).write(doc, value)
    assert compile_path(path).read(written) == value
    assert {k: v for k, v in written.items() if k != names[0]} == doc


@settings(max_examples=100, deadline=None)
@given(documents, keys)
def test_descent_finds_what_a_manual_walk_finds(doc, key):
    expected = []

    def walk(node):
        if isinstance(node, dict):
            if key in node:
                expected.append(node[key])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    assert compile_path("$.." + quote(key)).read(doc) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({"n": st.integers(-50, 50)}), max_size=8), st.integers(-50, 50))
def test_filters_match_a_list_comprehension(items, limit):
    doc = {"items": items}
    assert compile_path(f"$.items[?(@.n > {limit})]").read(doc) == [i for i in items if i["n"] > limit]
    assert compile_path(f"$.items[?(@.n <= {limit})].n").read(doc) == [i["n"] for i in items if i["n"] <= limit]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(), max_size=8), st.integers(-10, 10) | st.none(), st.integers(-10, 10) | st.none(),
       st.sampled_from([None, 1, 2, -1, 3]))
def test_slices_match_python_slices(items, start, stop, step):
    text = f"{'' if start is None else start}:{'' if stop is None else stop}" + ("" if step is None else f":{step}")
    assert compile_path(f"$.a[{text}]").read({"a": items}) == items[start:stop:step]


path_text = st.lists(st.sampled_from(list("$.[]()'\"?@*:,-0123456789ab =<>!&|~/\\")), max_size=20).map("".join)


@settings(max_examples=200, deadline=None)
@given(path_text)
def test_any_text_either_compiles_or_is_a_definition_error(text):
    try:
        compile_path("$" + text)
    except DefinitionError as err:
        assert err.message.startswith("Invalid JSONPath")


def test_leading_zero_numbers_in_filters():
    assert read("$.a[?(@.n == 007)].n", {"a": [{"n": 7}, {"n": 8}]}) == [7]
