"""Executions restored from a snapshot say truthfully that they cannot be redriven.

A snapshot (:mod:`toolkit.local.persistence`) keeps an execution's history, not its variables or
its Map Runs, so a redrive after a restart would run on without them: a JSONata ``$var`` comes
back undefined, a Distributed Map has nothing to resume. AWS keeps both, and its redrive would
succeed. Rather than a redrive that fails only locally, such executions answer NOT_REDRIVABLE
with :data:`RESTORED_REASON` in DescribeExecution, and RedriveExecution refuses them with
``ExecutionNotRedrivable``. Executions started after the restart are redriven as usual.

The stack serves the Step Functions API through this wrapper (any :class:`JsonService`: it only
needs ``dispatch``), so the runtime itself is left as it is.
"""

from __future__ import annotations

from typing import Any, Iterable

from sfn_runtime.api.awsjson import JsonService, ServiceError

__all__ = ["RESTORED_REASON", "RestoredExecutions"]

RESTORED_REASON = ("Execution was restored from a saved local stack, which keeps neither its variables nor its "
                   "Map Runs, and cannot be redriven.")


class RestoredExecutions:
    """A Step Functions :class:`JsonService` whose restored executions are not redrivable."""

    def __init__(self, service: JsonService, restored_arns: Iterable[str]):
        self._service = service
        self.arns = frozenset(restored_arns)

    async def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        arn = params.get("executionArn") if isinstance(params, dict) else None
        if arn not in self.arns or operation not in ("RedriveExecution", "DescribeExecution"):
            return await self._service.dispatch(operation, params)
        answer = await self._service.dispatch("DescribeExecution", {"executionArn": arn})  # its own errors first
        if operation == "RedriveExecution":
            if answer.get("redriveStatus") == "REDRIVABLE":
                raise ServiceError("ExecutionNotRedrivable", RESTORED_REASON)
            return await self._service.dispatch(operation, params)  # the runtime's own refusal
        if answer.get("redriveStatus") == "REDRIVABLE":
            answer["redriveStatus"] = "NOT_REDRIVABLE"
            answer["redriveStatusReason"] = RESTORED_REASON
        return answer
