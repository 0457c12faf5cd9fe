"""JSONPath-mode payload templates: Parameters, ItemSelector, ResultSelector, Assign.

In a payload template, a field whose name ends in ``.$`` takes its value from a path
(``$.x`` for the state input, ``$$.x`` for the Context object, ``$name`` for a workflow
variable) or from an intrinsic function; the ``.$`` is dropped from the output name. Other
fields are copied as they are. Templates nest at any depth, through objects and arrays.
A template is compiled once into a tree of nodes and rendered many times.
"""

from __future__ import annotations

from typing import Any, Mapping

from sfn_runtime.errors import DefinitionError
from sfn_runtime.expressions.intrinsics import compile_intrinsic, is_intrinsic
from sfn_runtime.expressions.jsonpath import compile_path, is_path


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def render(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        return self.value


class _Object:
    __slots__ = ("fields",)

    def __init__(self, fields: list):
        self.fields = fields  # (output name, node)

    def render(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        return {name: node.render(data, context, variables) for name, node in self.fields}


class _Array:
    __slots__ = ("items",)

    def __init__(self, items: list):
        self.items = items

    def render(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        return [item.render(data, context, variables) for item in self.items]


class _Computed:
    """A ``.$`` field: a path read or an intrinsic call (both have this signature)."""

    __slots__ = ("source",)

    def __init__(self, source: Any):
        self.source = source

    def render(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        if hasattr(self.source, "evaluate"):
            return self.source.evaluate(data, context, variables)
        return self.source.read(data, context, variables)


class PayloadTemplate:
    """A compiled payload template; :meth:`render` builds a fresh JSON value each time."""

    def __init__(self, root: Any):
        self._root = root
        self.is_constant = isinstance(root, _Constant)

    def render(self, data: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """The payload for this state input, Context object and workflow variables.

        Raises ``States.Runtime`` when a path matches nothing and ``States.IntrinsicFailure``
        when an intrinsic function fails.
        """
        return self._root.render(data, context, variables)


def compile_payload(value: Any, *, where: str = "") -> PayloadTemplate:
    """Compile a payload template once; :class:`DefinitionError` names the bad field's path."""
    return PayloadTemplate(_compile(value, where))


def _compile(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        fields: list = []
        names: set[str] = set()
        computed = False
        for key, item in value.items():
            here = f"{where}/{key}"
            if key.endswith(".$"):
                name = key[:-2]
                node: Any = _compile_computed(item, here)
            else:
                name = key
                node = _compile(item, here)
            if name in names:
                raise DefinitionError(f"The field '{name}' is given more than once", here)
            names.add(name)
            computed = computed or not isinstance(node, _Constant)
            fields.append((name, node))
        return _Object(fields) if computed else _Constant(value)
    if isinstance(value, list):
        items = [_compile(item, f"{where}/{i}") for i, item in enumerate(value)]
        if all(isinstance(item, _Constant) for item in items):
            return _Constant(value)
        return _Array(items)
    return _Constant(value)


def _compile_computed(value: Any, where: str) -> _Computed:
    if not isinstance(value, str):
        raise DefinitionError("A field ending in '.$' must have a string value (a path or an intrinsic function)", where)
    if is_intrinsic(value):
        return _Computed(compile_intrinsic(value, where=where))
    if is_path(value):
        return _Computed(compile_path(value, where=where))
    raise DefinitionError(
        f"The value '{value}' of a field ending in '.$' must be a path starting with '$' or an intrinsic function",
        where,
    )
