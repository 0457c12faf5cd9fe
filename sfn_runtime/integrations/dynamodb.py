"""Optimised DynamoDB integrations: ``arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem``.

Request-response only, as AWS offers them. Parameters and results are the DynamoDB API's own
(PascalCase), with the ``SdkHttpMetadata`` and ``SdkResponseMetadata`` the optimised integration
adds; errors are named ``DynamoDB.<Name>`` (``DynamoDB.ConditionalCheckFailedException``).
"""

from __future__ import annotations

from typing import Any

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.awssdk import AwsSdkIntegration, SdkTarget

__all__ = ["DynamoDbIntegration", "ACTIONS"]

PREFIX = "arn:aws:states:::dynamodb:"
ACTIONS = ("getItem", "putItem", "updateItem", "deleteItem")


class DynamoDbIntegration:
    """The four optimised DynamoDB item actions."""

    def __init__(self, sdk: AwsSdkIntegration):
        self._sdk = sdk

    def handles(self, service_resource: str) -> bool:
        return service_resource.startswith(PREFIX)

    async def invoke(self, call: Any) -> Any:
        action = call.service_resource[len(PREFIX):]
        if action not in ACTIONS:
            raise StatesError("States.Runtime", f"{call.resource}: DynamoDB offers only {', '.join(ACTIONS)}")
        if call.pattern != "request-response":
            raise StatesError("States.Runtime", f"{call.resource}: DynamoDB integrations support only request-response")
        target = SdkTarget("dynamodb", action, "dynamodb", "DynamoDB")
        result, metadata = await self._sdk.call_target(target, call.arguments)
        headers = metadata.get("HTTPHeaders", {})
        result["SdkHttpMetadata"] = {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": dict(headers),
            "HttpStatusCode": metadata.get("HTTPStatusCode", 200),
        }
        result["SdkResponseMetadata"] = {"RequestId": metadata.get("RequestId", "")}
        return result
