"""State machine revisions: a state machine as it was when an execution started."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfn_runtime.engine.definition import StateMachineDefinition

__all__ = ["StateMachineRevision", "DEFAULT_LOGGING"]

DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}


@dataclass(frozen=True)
class StateMachineRevision:
    """A state machine as it was at one moment; executions keep the revision they started with."""

    arn: str
    name: str
    type: str
    role_arn: str
    definition_text: str
    definition: StateMachineDefinition
    creation_date: float
    update_date: float
    revision_id: str
    logging: dict = field(default_factory=lambda: dict(DEFAULT_LOGGING))
    tracing: dict = field(default_factory=lambda: {"enabled": False})
