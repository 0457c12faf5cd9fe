"""CreateStateMachine's and UpdateStateMachine's loggingConfiguration, checked as AWS checks it.

API Reference, LoggingConfiguration: ``level`` is one of ALL, ERROR, FATAL, OFF (default OFF);
``includeExecutionData`` a boolean; ``destinations`` a list of at most one
``{"cloudWatchLogsLogGroup": {"logGroupArn": ...}}``, required unless the level is OFF. The
group's ARN must carry the ``:*`` qualifier and the group must exist (checked through the
runtime's log sink when there is one), and the role must be allowed to deliver logs. Error names are AWS's (ValidationException for the
shape, InvalidLoggingConfiguration for the destination); the ``:*`` error's text is AWS's (quoted
in public issues), the missing-destination one as remembered from AWS, the others are ours.
"""

from __future__ import annotations

import re
from typing import Any

from sfn_runtime.api.awsjson import ServiceError
from sfn_runtime.authorization import AccessDenied, Permissions
from sfn_runtime.engine.execution_logs import LEVELS, LoggingConfiguration, LogSink

__all__ = ["logging_configuration"]

_LOG_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w./#-]{1,512}:\*$")
_INVALID = "InvalidLoggingConfiguration"


async def logging_configuration(value: Any, sink: LogSink | None, role_arn: str,
                                permissions: Permissions) -> LoggingConfiguration:
    """The validated configuration, or ServiceError naming the field that is wrong.

    A level other than OFF needs a role that may set up log delivery (the Developer Guide's
    policy for logging: ``logs:CreateLogDelivery`` and the other delivery actions on ``*``);
    AWS refuses the state machine otherwise, with the text used here.
    """
    if value is None:
        return LoggingConfiguration()
    if not isinstance(value, dict):
        raise ServiceError("ValidationException", "loggingConfiguration: must be an object")
    level = value.get("level", "OFF")
    if level not in LEVELS:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(LEVELS)}]",
        )
    include = value.get("includeExecutionData", False)
    if not isinstance(include, bool):
        raise ServiceError("ValidationException", "loggingConfiguration.includeExecutionData: must be a boolean")
    destinations = value.get("destinations") or []
    if not isinstance(destinations, list) or len(destinations) > 1 or (level != "OFF" and not destinations):
        raise ServiceError(_INVALID, "Invalid Logging Configuration: Must specify exactly one Log Destination.")
    if not destinations:
        return LoggingConfiguration(level, include)
    group = destinations[0].get("cloudWatchLogsLogGroup") if isinstance(destinations[0], dict) else None
    arn = group.get("logGroupArn") if isinstance(group, dict) else None
    if not isinstance(arn, str) or not arn:
        raise ServiceError(_INVALID, "Invalid Logging Configuration: destinations[0].cloudWatchLogsLogGroup.logGroupArn is required.")
    if not arn.endswith(":*"):
        raise ServiceError(_INVALID, "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier.")
    if not _LOG_GROUP_ARN.match(arn):
        raise ServiceError(_INVALID, f"Invalid Logging Configuration: logGroupArn is not a CloudWatch Logs log group ARN: {arn}")
    config = LoggingConfiguration(level, include, arn)
    if level != "OFF":
        try:
            permissions.authorizer.authorize(role_arn, "logs:CreateLogDelivery", "*", {})
        except AccessDenied:
            raise ServiceError("AccessDeniedException",
                               "The state machine IAM Role is not authorized to access the Log Destination") from None
    if sink is not None and not await sink.log_group_exists(config.log_group_name or ""):
        raise ServiceError(_INVALID, f"Invalid Logging Configuration: The log group {config.log_group_name} does not exist.")
    return config
