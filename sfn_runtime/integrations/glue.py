"""Optimised Glue integration: ``arn:aws:states:::glue:startJobRun`` and its ``.sync`` form.

Request-response returns StartJobRun's answer (``JobRunId``). ``.sync`` then polls GetJobRun
through the Glue API until the run reaches a terminal state; it returns the JobRun when it
SUCCEEDED and fails ``States.TaskFailed`` (the JobRun as the cause) otherwise, as AWS does.
If the task is stopped while it waits (execution stopped, task timed out), the job run is
stopped with BatchStopJobRun. Polling sleeps in definition time on the execution's clock, so a
scaled local run polls proportionally faster.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.awssdk import AwsSdkIntegration, SdkTarget

__all__ = ["GlueIntegration"]

RESOURCE = "arn:aws:states:::glue:startJobRun"
POLL_SECONDS = 5.0
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED")


class GlueIntegration:
    """``glue:startJobRun`` (request-response and ``.sync``)."""

    def __init__(self, sdk: AwsSdkIntegration, *, poll_seconds: float = POLL_SECONDS):
        self._sdk = sdk
        self._poll_seconds = poll_seconds

    def handles(self, service_resource: str) -> bool:
        return service_resource == RESOURCE

    async def invoke(self, call: Any) -> Any:
        if call.pattern not in ("request-response", "sync"):
            raise StatesError("States.Runtime", f"{call.resource}: Glue supports request-response and .sync")
        started, _ = await self._sdk.call_target(SdkTarget("glue", "startJobRun", "glue", "Glue"), call.arguments)
        if call.pattern == "request-response":
            return started
        call.submitted(started)  # TaskSubmitted, then poll the run
        job_name = (call.arguments or {}).get("JobName")
        run_id = started["JobRunId"]
        try:
            while True:
                answer, _ = await self._sdk.call_target(
                    SdkTarget("glue", "getJobRun", "glue", "Glue"), {"JobName": job_name, "RunId": run_id}
                )
                run = answer.get("JobRun", {})
                state = run.get("JobRunState")
                if state in TERMINAL:
                    break
                await call.execution.clock.sleep(self._poll_seconds)
        except asyncio.CancelledError:
            await asyncio.shield(self._stop(job_name, run_id))
            raise
        if state != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps(run, separators=(",", ":")))
        return run

    async def _stop(self, job_name: str, run_id: str) -> None:
        try:
            await self._sdk.call_target(
                SdkTarget("glue", "batchStopJobRun", "glue", "Glue"), {"JobName": job_name, "JobRunIds": [run_id]}
            )
        except StatesError:
            pass  # the run may have ended meanwhile; nothing more to stop
