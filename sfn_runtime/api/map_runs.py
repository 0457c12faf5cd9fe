"""The Map Run API operations: ListMapRuns, DescribeMapRun and UpdateMapRun.

They read and change the Map Runs that Distributed Map states started
(:class:`sfn_runtime.distributed.map_run.MapRuns`), with AWS's request checks and error names.
"""

from __future__ import annotations

from typing import Any

from sfn_runtime.api.awsjson import ServiceError
from sfn_runtime.api.pagination import page, paged
from sfn_runtime.distributed.map_run import MapRun, MapRuns

__all__ = ["list_map_runs", "describe_map_run", "update_map_run"]

_SETTINGS = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")


def map_run(map_runs: MapRuns, arn: Any) -> MapRun:
    """The Map Run with ARN ``arn``, or AWS's InvalidArn / ResourceNotFound."""
    if not isinstance(arn, str) or ":mapRun:" not in arn:
        raise ServiceError("InvalidArn", f"Invalid Arn: '{arn}'")
    run = map_runs.get(arn)
    if run is None:
        raise ServiceError("ResourceNotFound", f"Map Run Does Not Exist: '{arn}'")
    return run


def list_map_runs(map_runs: MapRuns, params: dict[str, Any]) -> dict[str, Any]:
    arn = params.get("executionArn")
    if not isinstance(arn, str) or ":execution:" not in arn:
        raise ServiceError("InvalidArn", f"Invalid Arn: '{arn}'")
    runs, token = page(map_runs.of_execution(arn), params, "ListMapRuns")
    return paged("mapRuns", [run.summary() for run in runs], token)


def describe_map_run(map_runs: MapRuns, params: dict[str, Any]) -> dict[str, Any]:
    return map_run(map_runs, params.get("mapRunArn")).describe()


def update_map_run(map_runs: MapRuns, params: dict[str, Any]) -> dict[str, Any]:
    run = map_run(map_runs, params.get("mapRunArn"))
    if run.status != "RUNNING":
        raise ServiceError("ValidationException", f"Map Run {run.arn} is not running")
    if not any(key in params for key in _SETTINGS):
        raise ServiceError("ValidationException", "at least one of " + ", ".join(_SETTINGS) + " is required")
    concurrency = params.get("maxConcurrency")
    if concurrency is not None and not _whole(concurrency):
        raise ServiceError("ValidationException", "maxConcurrency must be an integer >= 0")
    count = params.get("toleratedFailureCount")
    if count is not None and not _whole(count):
        raise ServiceError("ValidationException", "toleratedFailureCount must be an integer >= 0")
    percentage = params.get("toleratedFailurePercentage")
    if percentage is not None and (isinstance(percentage, bool) or not isinstance(percentage, (int, float))
                                   or not 0 <= percentage <= 100):
        raise ServiceError("ValidationException", "toleratedFailurePercentage must be between 0 and 100")
    run.update(max_concurrency=concurrency, tolerated_failure_count=count, tolerated_failure_percentage=percentage)
    return {}


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0
