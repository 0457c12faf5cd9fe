"""Service integrations of the local Step Functions runtime.

``register_all(service)`` plugs every integration into a :class:`StepFunctionsService`: the
HTTP Task with EventBridge connections, ``aws-sdk:*`` and the optimised DynamoDB, Glue and Step
Functions integrations, gives Distributed Map (ItemReader, ResultWriter) the same AWS
clients, and sends execution logs (loggingConfiguration) to CloudWatch Logs through them.
AWS calls go to ``service.endpoint_url`` (the local stack).
``http_settings`` tells the HTTP Task which extra CA to trust and whether plain http is allowed
(a local opt-in; by default it calls HTTPS only, as AWS does).
Call it inside the service's event loop, and ``await integrations.close()`` after
``service.close()`` to release the HTTP connection pool and the worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfn_runtime.authorization import Authorizer
from sfn_runtime.integrations.awssdk import AwsSdkIntegration
from sfn_runtime.integrations.clients import AwsClients, Transport
from sfn_runtime.integrations.cloudwatch_logs import CloudWatchLogsSink
from sfn_runtime.integrations.connections import ConnectionResolver
from sfn_runtime.integrations.dynamodb import DynamoDbIntegration
from sfn_runtime.integrations.glue import GlueIntegration
from sfn_runtime.integrations.http import HttpInvoke, HttpTaskSettings
from sfn_runtime.integrations.states import SfnSdkIntegration, StartExecutionIntegration

__all__ = ["Integrations", "HttpTaskSettings", "register_all"]


@dataclass
class Integrations:
    """What :func:`register_all` plugged in; ``close()`` releases its pools."""

    clients: AwsClients
    http: HttpInvoke

    async def close(self) -> None:
        await self.http.close()
        self.clients.close()


def register_all(
    service: Any,
    *,
    max_http_connections: int = 1000,
    max_aws_workers: int = 16,
    authorizer: Authorizer | None = None,
    http_settings: HttpTaskSettings | None = None,
    transport: Transport | None = None,
) -> Integrations:
    """Register every integration with ``service`` and give its Distributed Map the AWS clients.

    With an ``authorizer``, every call a workflow makes (the integrations' and Distributed Map's)
    is first checked against its execution role (see :mod:`sfn_runtime.authorization`); without
    one, everything is allowed. ``http_settings`` holds the HTTP Task's rules (HTTPS, CA, caps).
    ``transport`` lets the host answer the AWS clients' requests in process (see ``clients``).
    """
    clients = AwsClients(region=service.region, endpoint_url=service.endpoint_url, max_workers=max_aws_workers,
                         transport=transport)
    permissions = service.runtime.permissions
    if authorizer is not None:
        permissions.authorizer = authorizer
    sdk = AwsSdkIntegration(clients, permissions)
    http = HttpInvoke(ConnectionResolver(clients), max_connections=max_http_connections, permissions=permissions,
                      settings=http_settings)
    # Later registrations win: the generic aws-sdk first, then the more specific ones.
    service.register_resource(sdk)
    service.register_resource(SfnSdkIntegration(service, permissions))
    service.register_resource(http)
    service.register_resource(DynamoDbIntegration(sdk))
    service.register_resource(GlueIntegration(sdk))
    service.register_resource(StartExecutionIntegration(service, permissions))
    service.use_aws_clients(clients)
    service.runtime.log_sink = CloudWatchLogsSink(clients)
    return Integrations(clients, http)
