"""Executions restored from a snapshot say truthfully that they cannot be redriven.

A snapshot (:mod:`toolkit.local.persistence`) keeps an execution's history, not its variables or
its Map Runs, so a redrive after a restart would run on without them: a JSONata ``$var`` comes
back undefined, a Distributed Map has nothing to resume. AWS keeps both, and its redrive would
succeed. Rather than a redrive that fails only locally, such executions answer NOT_REDRIVABLE
with :data:`RESTORED_REASON` in DescribeExecution, and RedriveExecution refuses them with
``ExecutionNotRedrivable``. Executions started after the restart are redriven as usual.

This wraps the runtime's RedriveExecution and DescribeExecution through its public
``register_operation`` extension point; the runtime itself is left as it is.
"""

from __future__ import annotations

from typing import Any, Iterable

from sfn_runtime.api.awsjson import ServiceError

__all__ = ["RESTORED_REASON", "RestoredExecutions"]

RESTORED_REASON = ("Execution was restored from a saved local stack, which keeps neither its variables nor its "
                   "Map Runs, and cannot be redriven.")


class RestoredExecutions:
    """The redrive operations of a Step Functions service, refusing the restored executions."""

    def __init__(self, redrives: Any, restored_arns: Iterable[str]):
        self._redrives = redrives
        self.arns = frozenset(restored_arns)

    def register(self, service: Any) -> None:
        """Serve RedriveExecution and DescribeExecution through this object (after ``register_all``)."""
        service.register_operation("RedriveExecution", self.redrive_execution)
        service.register_operation("DescribeExecution", self.describe_execution)

    async def redrive_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("executionArn") in self.arns:
            await self._redrives.describe_execution({"executionArn": params["executionArn"]})  # its own errors first
            raise ServiceError("ExecutionNotRedrivable", RESTORED_REASON)
        return await self._redrives.redrive_execution(params)

    async def describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = await self._redrives.describe_execution(params)
        if params.get("executionArn") in self.arns and answer.get("redriveStatus") == "REDRIVABLE":
            answer["redriveStatus"] = "NOT_REDRIVABLE"
            answer["redriveStatusReason"] = RESTORED_REASON
        return answer
