"""The HTTP Task resource and EventBridge connections, called directly against real servers.

Connections live in a real moto server (EventBridge + its Secrets Manager secret); requests go
to a real echo server over HTTPS. Through-the-API tests (Retry, TimeoutSeconds, SampleApi) are elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.clients import AwsClients
from sfn_runtime.integrations.connections import ConnectionResolver
from sfn_runtime.integrations.http import HttpInvoke, HttpTaskSettings, url_encode

from ..conftest import EchoServer, http_settings

REGION = "us-east-1"


def make_connection(aws, name: str, auth_type: str, params: dict) -> str:
    events = aws("events")
    try:
        events.delete_connection(Name=name)
    except events.exceptions.ResourceNotFoundException:
        pass
    return events.create_connection(Name=name, AuthorizationType=auth_type, AuthParameters=params)["ConnectionArn"]


def invoke(moto_url, arguments_list, pattern="request-response", settings: HttpTaskSettings | None = None):
    """Run HTTP Task calls in one loop (shared session and token cache); results or StatesErrors.

    ``settings`` default to the local stack's: HTTPS only, trusting the test CA.
    """

    async def main():
        clients = AwsClients(region=REGION, endpoint_url=moto_url)
        resource = HttpInvoke(ConnectionResolver(clients), settings=settings or http_settings())
        out = []
        try:
            for arguments in arguments_list:
                call = SimpleNamespace(pattern=pattern, arguments=arguments, resource="arn:aws:states:::http:invoke")
                try:
                    out.append(await resource.invoke(call))
                except StatesError as exc:
                    out.append(exc)
        finally:
            await resource.close()
            clients.close()
        return out

    return asyncio.run(main())


def test_api_key_and_invocation_parameters_are_sent_and_connection_wins(aws, moto_url, echo):
    arn = make_connection(
        aws,
        "echo-apikey",
        "API_KEY",
        {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-tenant", "Value": "conn", "IsValueSecret": False}],
                "QueryStringParameters": [{"Key": "region", "Value": "eu", "IsValueSecret": False}],
                "BodyParameters": [{"Key": "source", "Value": "connection", "IsValueSecret": True}],
            },
        },
    )
    [result] = invoke(
        moto_url,
        [
            {
                "ApiEndpoint": echo.url + "/echo?fixed=1",
                "Method": "POST",
                "Headers": {"x-tenant": "task", "x-other": 7},
                "QueryParameters": {"region": "us", "page": 2, "tags": ["a", "b"]},
                "RequestBody": {"hello": "world", "source": "task"},
                "InvocationConfig": {"ConnectionArn": arn},
            }
        ],
    )
    assert result["StatusCode"] == 200 and result["StatusText"] == "OK"
    assert result["Headers"]["Content-Type"] == ["application/json; charset=utf-8"]
    seen = result["ResponseBody"]
    assert seen["method"] == "POST"
    assert seen["headers"]["x-api-key"] == "s3cret"
    assert seen["headers"]["x-tenant"] == "conn"
    assert seen["headers"]["x-other"] == "7"
    assert sorted(map(tuple, seen["query"])) == sorted(
        [("fixed", "1"), ("page", "2"), ("tags", "a"), ("tags", "b"), ("region", "eu")]
    )
    assert json.loads(seen["body"]) == {"hello": "world", "source": "connection"}


def test_basic_auth_header(aws, moto_url, echo):
    arn = make_connection(
        aws, "echo-basic", "BASIC", {"BasicAuthParameters": {"Username": "ann", "Password": "pw:1"}}
    )
    [result] = invoke(moto_url, [{"ApiEndpoint": echo.url + "/echo", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}])
    assert result["ResponseBody"]["headers"]["authorization"] == "Basic YW5uOnB3OjE="


def oauth_params(secret: str = "csecret") -> dict:
    return {
        "OAuthParameters": {
            "ClientParameters": {"ClientID": "cid", "ClientSecret": secret},
            "AuthorizationEndpoint": "",  # filled by the caller
            "HttpMethod": "POST",
        }
    }


def test_oauth_token_is_requested_once_and_cached(aws, moto_url, echo):
    params = oauth_params()
    params["OAuthParameters"]["AuthorizationEndpoint"] = echo.url + "/oauth/token"
    arn = make_connection(aws, "echo-oauth", "OAUTH_CLIENT_CREDENTIALS", params)
    before = echo.tokens_issued
    call = {"ApiEndpoint": echo.url + "/echo", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}
    first, second = invoke(moto_url, [call, call])
    assert first["ResponseBody"]["headers"]["authorization"].startswith("Bearer tok-")
    assert second["ResponseBody"]["headers"]["authorization"] == first["ResponseBody"]["headers"]["authorization"]
    assert echo.tokens_issued == before + 1


def test_oauth_token_is_requested_again_once_it_expires(aws, moto_url, echo):
    params = oauth_params()
    params["OAuthParameters"]["AuthorizationEndpoint"] = echo.url + "/oauth/token"
    arn = make_connection(aws, "echo-oauth-expiry", "OAUTH_CLIENT_CREDENTIALS", params)
    call = {"ApiEndpoint": echo.url + "/echo", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}
    echo.token_lifetime = 1  # refreshed a little before it expires: after half its life here
    try:
        async def twice():
            from sfn_runtime.integrations.clients import AwsClients
            from sfn_runtime.integrations.connections import ConnectionResolver

            clients = AwsClients(region=REGION, endpoint_url=moto_url)
            resource = HttpInvoke(ConnectionResolver(clients), settings=http_settings())
            try:
                call_ns = SimpleNamespace(pattern="request-response", arguments=call, resource="arn:aws:states:::http:invoke")
                first = await resource.invoke(call_ns)
                await asyncio.sleep(0.7)
                second = await resource.invoke(call_ns)
            finally:
                await resource.close()
                clients.close()
            return first, second

        before = echo.tokens_issued
        first, second = asyncio.run(twice())
    finally:
        echo.token_lifetime = 3600
    assert echo.tokens_issued == before + 2
    assert first["ResponseBody"]["headers"]["authorization"] != second["ResponseBody"]["headers"]["authorization"]


def test_oauth_wrong_client_secret_fails_without_leaking_it(aws, moto_url, echo):
    params = oauth_params("wrong-secret-value")
    params["OAuthParameters"]["AuthorizationEndpoint"] = echo.url + "/oauth/token"
    arn = make_connection(aws, "echo-oauth-bad", "OAUTH_CLIENT_CREDENTIALS", params)
    [error] = invoke(moto_url, [{"ApiEndpoint": echo.url + "/echo", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}])
    assert isinstance(error, StatesError)
    assert error.error == "States.Http.StatusCode.401"
    assert "wrong-secret-value" not in error.cause


def test_non_2xx_fails_with_status_code_error_and_response_in_cause(aws, moto_url, echo):
    arn = make_connection(aws, "echo-status", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "topsecret"}})
    results = invoke(
        moto_url,
        [{"ApiEndpoint": f"{echo.url}/status/{code}", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}} for code in (404, 429, 503)],
    )
    assert [r.error for r in results] == ["States.Http.StatusCode.404", "States.Http.StatusCode.429", "States.Http.StatusCode.503"]
    cause = json.loads(results[0].cause)
    assert cause["StatusCode"] == 404 and cause["ResponseBody"] == {"error": "status 404"}
    assert all("topsecret" not in r.cause for r in results)


def test_connection_refused_is_a_socket_error(aws, moto_url):
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    arn = make_connection(aws, "echo-refused", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    [error] = invoke(moto_url, [{"ApiEndpoint": f"https://127.0.0.1:{port}/x", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}])
    assert error.error == "States.Http.Socket"


def test_text_body_is_returned_as_a_string(aws, moto_url, echo):
    arn = make_connection(aws, "echo-text", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    [result] = invoke(moto_url, [{"ApiEndpoint": echo.url + "/text", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}])
    assert result["ResponseBody"] == "plain words"


def test_url_encoded_body_with_brackets(aws, moto_url, echo):
    arn = make_connection(aws, "echo-form", "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    [result] = invoke(
        moto_url,
        [
            {
                "ApiEndpoint": echo.url + "/echo",
                "Method": "POST",
                "RequestBody": {"array": ["a", "b"], "n": 1},
                "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}},
                "InvocationConfig": {"ConnectionArn": arn},
            }
        ],
    )
    seen = result["ResponseBody"]
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(seen["body"]) == [("array[]", "a"), ("array[]", "b"), ("n", "1")]


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("INDICES", [("array[0]", "a"), ("array[1]", "b"), ("array[2]", "c")]),
        ("BRACKETS", [("array[]", "a"), ("array[]", "b"), ("array[]", "c")]),
        ("REPEAT", [("array", "a"), ("array", "b"), ("array", "c")]),
        ("COMMAS", [("array", "a,b,c")]),
    ],
)
def test_array_formats(fmt, expected):
    assert parse_qsl(url_encode({"array": ["a", "b", "c"]}, fmt)) == expected


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"Method": "GET", "InvocationConfig": {"ConnectionArn": "x"}}, "ApiEndpoint"),
        ({"ApiEndpoint": "https://h/", "Method": "FETCH", "InvocationConfig": {"ConnectionArn": "x"}}, "Method"),
        ({"ApiEndpoint": "https://h/", "Method": "GET"}, "ConnectionArn"),
        (
            {"ApiEndpoint": "https://h/", "Method": "GET", "InvocationConfig": {"ConnectionArn": "x"}, "Transform": {"RequestBodyEncoding": "GZIP"}},
            "RequestBodyEncoding",
        ),
    ],
)
def test_bad_arguments_name_the_field(moto_url, arguments, field):
    [error] = invoke(moto_url, [arguments])
    assert error.error == "States.Runtime" and field in error.cause


def test_unknown_connection_is_a_runtime_error(moto_url, echo):
    arn = "arn:aws:events:us-east-1:123456789012:connection/nope/0000"
    [error] = invoke(moto_url, [{"ApiEndpoint": echo.url + "/echo", "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}])
    assert error.error == "States.Runtime" and arn in error.cause
