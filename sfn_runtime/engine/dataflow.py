"""How a state's data flows in each query language, from its raw input to its output.

JSONPath: InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath -> OutputPath, with
``Assign`` reading ``$`` as the state's result. JSONata: ``Arguments`` -> (work) -> ``Output``
and ``Assign``, both reading ``$states.input/result/context``. In both, Assign and Output see the
variable values from before this state's assignments (AWS: "Passing data between states with
variables").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sfn_runtime.expressions.jsonata_eval import NOTHING

NO_RESULT = object()  # a state without a result (Pass/Wait/Choice/Succeed in JSONata)


@dataclass
class JsonPathFlow:
    """The JSONPath-mode fields of one state, compiled."""

    input_path: Any = None  # Path; None = "$"
    input_null: bool = False  # InputPath: null -> {}
    parameters: Any = None  # PayloadTemplate
    result_selector: Any = None  # PayloadTemplate
    result_path: Any = None  # Path; None = "$"
    result_null: bool = False  # ResultPath: null -> raw input kept
    output_path: Any = None  # Path; None = "$"
    output_null: bool = False  # OutputPath: null -> {}
    assign: Any = None  # PayloadTemplate

    language = "JSONPath"

    def effective_input(self, raw: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """InputPath applied to the raw input."""
        if self.input_null:
            return {}
        if self.input_path is None:
            return raw
        return self.input_path.read(raw, context, variables)

    async def arguments(self, raw: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """InputPath then Parameters: what a Task/Parallel/Map/Pass works on."""
        value = self.effective_input(raw, context, variables)
        if self.parameters is not None:
            value = self.parameters.render(value, context, variables)
        return value

    async def select(self, result: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """ResultSelector applied to a Task/Parallel/Map result."""
        if self.result_selector is None:
            return result
        return self.result_selector.render(result, context, variables)

    async def assignments(self, raw: Any, result: Any, context: dict, variables: Mapping[str, Any]) -> dict | None:
        """The values of Assign (``$`` is the state's result)."""
        if self.assign is None:
            return None
        return self.assign.render(result, context, variables)

    async def output(self, raw: Any, result: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """ResultPath then OutputPath."""
        if self.result_null:
            value = raw
        elif self.result_path is None:
            value = result
        else:
            value = self.result_path.write(raw, result)
        if self.output_null:
            return {}
        if self.output_path is None:
            return value
        return self.output_path.read(value, context, variables)


@dataclass
class JsonataFlow:
    """The JSONata-mode fields of one state, compiled (Templates)."""

    arguments_template: Any = None
    output_template: Any = None
    assign: Any = None

    language = "JSONata"

    async def arguments(self, raw: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        """Arguments rendered with ``$states.input`` and ``$states.context``; default: the raw input."""
        if self.arguments_template is None:
            return raw
        value = await self.arguments_template.render_async({"input": raw, "context": context}, variables)
        return None if value is NOTHING else value

    async def select(self, result: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        return result

    async def assignments(self, raw: Any, result: Any, context: dict, variables: Mapping[str, Any]) -> dict | None:
        if self.assign is None:
            return None
        value = await self.assign.render_async(states_of(raw, result, context), variables)
        return {} if value is NOTHING else value

    async def output(self, raw: Any, result: Any, context: dict, variables: Mapping[str, Any]) -> Any:
        if self.output_template is None:
            return raw if result is NO_RESULT else result
        value = await self.output_template.render_async(states_of(raw, result, context), variables)
        return None if value is NOTHING else value


def states_of(raw: Any, result: Any, context: dict) -> dict:
    """The ``$states`` binding: input and context, plus result when there is one."""
    states = {"input": raw, "context": context}
    if result is not NO_RESULT:
        states["result"] = result
    return states


Flow = JsonPathFlow | JsonataFlow
