"""Execution history events, recorded cheaply and rendered in the API's shape on demand.

An event keeps references to the (never mutated) payloads; JSON strings and the
``<type>EventDetails`` structure of GetExecutionHistory are produced only when asked for, so a
run of many state transitions pays for one small slots object per event and nothing more.
"""

from __future__ import annotations

from typing import Any

from sfn_runtime import jsontext

# Fields of event details that hold JSON payloads (rendered as strings, hidden without execution data).
_PAYLOAD_FIELDS = ("input", "output", "parameters")


_NO_VALUE = object()


def _brief_key(type_: str) -> str:
    """The second detail of a name-plus-one-value event: input, output or index."""
    if type_.endswith("Entered"):
        return "input"
    if type_.endswith("Exited"):
        return "output"
    return "index"  # MapIteration* events


class HistoryEvent:
    """One history event: ``id`` counts from 1, ``previous_id`` is the event that led to it.

    The commonest events (state entered/exited, Map iteration events) hold just a name and one
    value; they keep them in two slots instead of a details dict, so that long executions keep
    fewer objects alive for the garbage collector to walk. ``details`` reads the same either way.
    """

    __slots__ = ("id", "previous_id", "type", "timestamp", "_details", "_name", "_value")

    def __init__(self, id: int, previous_id: int, type: str, timestamp: float,  # noqa: A002 - AWS's field names
                 details: dict[str, Any] | None = None, name: str | None = None, value: Any = _NO_VALUE):
        self.id = id
        self.previous_id = previous_id
        self.type = type
        self.timestamp = timestamp
        self._details = details
        self._name = name
        self._value = value

    @property
    def details(self) -> dict[str, Any] | None:
        if self._name is not None:
            return {"name": self._name, _brief_key(self.type): self._value}
        return self._details

    def details_key(self) -> str | None:
        """The response member holding this event's details, e.g. ``taskFailedEventDetails``."""
        if self._details is None and self._name is None:
            return None
        if self.type.endswith("StateEntered"):
            return "stateEnteredEventDetails"
        if self.type.endswith("StateExited"):
            return "stateExitedEventDetails"
        return self.type[0].lower() + self.type[1:] + "EventDetails"

    def to_api(self, include_data: bool = True) -> dict[str, Any]:
        """The event as GetExecutionHistory returns it."""
        event: dict[str, Any] = {
            "timestamp": self.timestamp,
            "type": self.type,
            "id": self.id,
            "previousEventId": self.previous_id,
        }
        key = self.details_key()
        if key is not None:
            event[key] = render_details(self.details or {}, include_data)
        return event


def render_details(details: dict[str, Any], include_data: bool) -> dict[str, Any]:
    """Event details with payloads as JSON strings (or left out when execution data is hidden)."""
    out: dict[str, Any] = {}
    for name, value in details.items():
        if name in _PAYLOAD_FIELDS:
            if include_data:
                out[name] = jsontext.dumps(value)
            if name != "parameters":
                out[name + "Details"] = {"truncated": False}
        elif name == "assignedVariables":
            if include_data:
                out[name] = {k: jsontext.dumps(v) for k, v in value.items()}
            out["assignedVariablesDetails"] = {"truncated": False}
        else:
            out[name] = value
    return out


class History:
    """The ordered events of one execution."""

    __slots__ = ("events", "limit")

    def __init__(self, limit: int | None):
        self.events: list[HistoryEvent] = []
        self.limit = limit

    def __len__(self) -> int:
        return len(self.events)

