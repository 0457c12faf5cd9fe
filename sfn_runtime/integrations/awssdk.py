"""AWS SDK integrations: ``arn:aws:states:::aws-sdk:SERVICE:ACTION`` for any service boto3 knows.

As AWS documents it: the action is the API action in camelCase, parameters are PascalCase even
where the service's own API uses camelCase (``EqualsValue`` stands for ``Equals``), the result
is the API's response with PascalCase keys, and an error is named ``ServiceName.ErrorName`` in
PascalCase with an ``Exception`` suffix added when the service's own name lacks it
(``S3.NoSuchKeyException``, ``Sfn.ExecutionDoesNotExistException``). Errors without a modelled
name become ``ServiceName.ServiceNameException`` (``S3.S3Exception``).

The boto3 call runs in the integrations' thread pool; parameters and results are converted by
walking botocore's shape model of the operation, so casing and blobs are right at any depth.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from sfn_runtime.errors import StatesError
from sfn_runtime.authorization import AccessDenied, Permissions
from sfn_runtime.integrations.clients import AwsClients

__all__ = ["AwsSdkIntegration", "SdkTarget", "parse_resource", "error_name", "denied_error", "to_boto_params", "from_boto_result"]

PREFIX = "arn:aws:states:::aws-sdk:"

# The integration's service names where they differ from boto3's.
BOTO_NAMES = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "acmpca": "acm-pca",
    "apigatewayv2": "apigatewayv2",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "cognitoidentityprovider": "cognito-idp",
    "sesv2": "sesv2",
}
# PascalCase service names used in error names, where capitalising the first letter is not enough.
ERROR_PREFIXES = {
    "dynamodb": "DynamoDb",
    "secretsmanager": "SecretsManager",
    "eventbridge": "EventBridge",
    "cloudwatchlogs": "CloudWatchLogs",
    "cloudwatch": "CloudWatch",
    "acmpca": "AcmPca",
    "apigateway": "ApiGateway",
    "cloudformation": "CloudFormation",
    "stepfunctions": "Sfn",
}


@dataclass(frozen=True)
class SdkTarget:
    """The service and action an aws-sdk resource names."""

    service: str  # as written in the ARN (lowercase), e.g. "dynamodb"
    action: str  # camelCase, e.g. "putItem"
    boto_service: str
    error_prefix: str


def parse_resource(service_resource: str) -> SdkTarget:
    """Split ``arn:aws:states:::aws-sdk:SERVICE:ACTION`` into a :class:`SdkTarget`."""
    rest = service_resource[len(PREFIX):] if service_resource.startswith(PREFIX) else ""
    service, _, action = rest.partition(":")
    if not service or not action:
        raise StatesError("States.Runtime", f"{service_resource!r} is not an aws-sdk resource")
    boto = BOTO_NAMES.get(service, service)
    prefix = ERROR_PREFIXES.get(service) or service[:1].upper() + service[1:]
    return SdkTarget(service, action, boto, prefix)


def error_name(prefix: str, code: str) -> str:
    """``Prefix.CodeException`` as AWS names SDK integration errors."""
    code = re.sub(r"[^A-Za-z0-9]", "", code.rpartition("#")[2]) or prefix
    if code[:1].islower():
        code = code[:1].upper() + code[1:]
    if not code.endswith("Exception"):
        code += "Exception"
    return f"{prefix}.{code}"


# ----------------------------------------------------------- shape conversion


def _member(shape: StructureShape, key: str) -> str | None:
    members = shape.members
    if key in members:
        return key
    wanted = "equals" if key == "EqualsValue" else key.lower()
    for name in members:
        if name.lower() == wanted:
            return name
    return None


def to_boto_params(shape: Shape | None, value: Any, where: str = "") -> Any:
    """Turn PascalCase integration parameters into what boto3 expects for ``shape``."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return value  # botocore reports the type error with the parameter's name
        out: dict[str, Any] = {}
        for key, inner in value.items():
            name = _member(shape, key)
            if name is None:
                raise StatesError("States.Runtime", f"The field {where + key!r} is not supported by this API action")
            out[name] = to_boto_params(shape.members[name], inner, f"{where}{key}.")
        return out
    if isinstance(shape, ListShape):
        if isinstance(value, list):
            return [to_boto_params(shape.member, v, where) for v in value]
        return value
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            return {k: to_boto_params(shape.value, v, where) for k, v in value.items()}
        return value
    if shape.type_name == "blob" and isinstance(value, str):
        return value.encode()
    return value


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_boto_result(shape: Shape | None, value: Any) -> Any:
    """Turn a boto3 response into the JSON AWS's integration returns (PascalCase keys, text timestamps)."""
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if hasattr(value, "read"):  # a streaming body, e.g. S3 GetObject's Body
        data = value.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(data).decode()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    if isinstance(value, dict):
        if isinstance(shape, MapShape):
            return {k: from_boto_result(shape.value, v) for k, v in value.items()}
        members = shape.members if isinstance(shape, StructureShape) else {}
        return {
            k[:1].upper() + k[1:]: from_boto_result(members.get(k), v)
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, list):
        member = shape.member if isinstance(shape, ListShape) else None
        return [from_boto_result(member, v) for v in value]
    return value


# ------------------------------------------------------------------ resource


class AwsSdkIntegration:
    """The ``aws-sdk:*`` task resources: request-response, and ``.waitForTaskToken`` in STANDARD
    workflows (AWS: "Wait for a Callback with Task Token", Standard only; no ``.sync``)."""

    def __init__(self, clients: AwsClients, permissions: Permissions | None = None):
        self._clients = clients
        self.permissions = permissions or Permissions()
        self._operations: dict[tuple[str, str], tuple[str, OperationModel]] = {}

    def handles(self, service_resource: str) -> bool:
        return service_resource.startswith(PREFIX)

    async def invoke(self, call: Any) -> Any:
        if call.pattern == "waitForTaskToken":
            if call.execution.express:
                raise StatesError("States.Runtime", f"{call.resource}: EXPRESS workflows do not support .waitForTaskToken")
            # The call's response is the TaskSubmitted output; the runtime then waits for the token.
        elif call.pattern != "request-response":
            raise StatesError("States.Runtime", f"{call.resource}: aws-sdk integrations support request-response and .waitForTaskToken")
        target = parse_resource(call.service_resource)
        result, _ = await self.call_target(target, call.arguments, execution=call.execution)
        return result

    def _operation(self, target: SdkTarget) -> tuple[str, OperationModel]:
        key = (target.boto_service, target.action)
        found = self._operations.get(key)
        if found is None:
            if target.boto_service not in self._clients.available_services():
                raise StatesError("States.Runtime", f"aws-sdk: unknown service {target.service!r}")
            client = self._clients.client(target.boto_service)
            api_name = target.action[:1].upper() + target.action[1:]
            mapping = {api: method for method, api in client.meta.method_to_api_mapping.items()}
            if api_name not in mapping:
                raise StatesError("States.Runtime", f"aws-sdk: {target.service} has no action {target.action!r}")
            found = (mapping[api_name], client.meta.service_model.operation_model(api_name))
            self._operations[key] = found
        return found

    async def call(self, service_resource: str, arguments: Any) -> Any:
        """Call the action named by ``service_resource`` with ``arguments``; return AWS's result shape."""
        target = parse_resource(service_resource)
        result, _ = await self.call_target(target, arguments)
        return result

    async def call_target(self, target: SdkTarget, arguments: Any, *, execution: Any = None) -> tuple[Any, dict[str, Any]]:
        """Call ``target``; return the converted result and the raw ResponseMetadata.

        With ``execution``, the call is first authorised against the execution's role.
        """
        if execution is not None:
            try:
                self.permissions.check_sdk(execution, target.service, target.action, arguments)
            except AccessDenied as denied:
                raise denied_error(target.error_prefix, denied) from None
        return await self._clients.run(self._call_blocking, target, arguments)

    def _call_blocking(self, target: SdkTarget, arguments: Any) -> tuple[Any, dict[str, Any]]:
        """The whole call in one worker thread: model lookup, conversion, request, streamed members."""
        method, model = self._operation(target)
        params = to_boto_params(model.input_shape, arguments or {})
        if not isinstance(params, dict):
            raise StatesError("States.Runtime", f"{target.service}:{target.action}: the parameters must be a JSON object")
        try:
            response = self._clients.call_blocking(target.boto_service, method, **params)
        except ClientError as exc:
            raise _states_error(target.error_prefix, exc) from None
        except ParamValidationError as exc:
            raise StatesError(f"{target.error_prefix}.{target.error_prefix}Exception", str(exc)) from None
        metadata = response.get("ResponseMetadata", {})
        return from_boto_result(model.output_shape, _drain(response)), metadata


def _states_error(prefix: str, exc: ClientError) -> StatesError:
    """A boto3 ClientError as the integration's ``Prefix.NameException`` error."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    name = error_name(prefix, code) if code and not code.isdigit() else f"{prefix}.{prefix}Exception"
    message = str(error.get("Message") or code)
    return StatesError(name, f"{message} (Service: {prefix}, Status Code: {status}, Error Code: {code})")


def denied_error(prefix: str, denied: AccessDenied) -> StatesError:
    """An IAM denial as the integration's error: ``Prefix.AccessDeniedException`` with AWS's message.

    The service answers AccessDenied and the integration names it like any other service error
    (``S3.AccessDeniedException``, ``DynamoDB.AccessDeniedException``): Step Functions developer
    guide, "Handling errors in Step Functions workflows" (SDK integration error names); S3 answers
    403 with code ``AccessDenied``, the JSON-protocol services 400 with ``AccessDeniedException``.
    """
    code, status = ("AccessDenied", 403) if prefix == "S3" else ("AccessDeniedException", 400)
    return StatesError(f"{prefix}.AccessDeniedException",
                       f"{denied.message} (Service: {prefix}, Status Code: {status}, Error Code: {code})")


def _drain(response: dict[str, Any]) -> dict[str, Any]:
    """Read streaming members in the worker thread, not on the loop."""
    out = dict(response)
    for key, value in response.items():
        if hasattr(value, "read"):
            out[key] = value.read()
    return out
