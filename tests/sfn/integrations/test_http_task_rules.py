"""The HTTP Task held to AWS's rules: HTTPS only, TLS verified, no redirects followed (so the
connection's credentials never reach another host), response bodies read with a cap.

Real servers on loopback: the echo server over HTTPS with the test CA, a second one on another
port as the redirect target (it records what it receives), and a plain-http one.
"""

from __future__ import annotations

import psutil
import pytest

from sfn_runtime.errors import StatesError
from sfn_runtime.integrations.http import MAX_RESPONSE_BYTES, HttpTaskSettings

from ..conftest import EchoServer, http_settings
from .test_http_task import invoke, make_connection

KEY = "the-api-key-value-0451"


@pytest.fixture(scope="module")
def connection(aws):
    return make_connection(aws, "rules-apikey", "API_KEY",
                           {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": KEY}})


@pytest.fixture(scope="module")
def other():
    """Another host:port that a redirect points at; it records every request."""
    with EchoServer() as server:
        yield server


@pytest.fixture(scope="module")
def plain():
    """An echo server speaking plain http."""
    with EchoServer(tls=False) as server:
        yield server


def call(url: str, arn: str) -> dict:
    return {"ApiEndpoint": url, "Method": "GET", "InvocationConfig": {"ConnectionArn": arn}}


def test_http_endpoint_is_refused_before_anything_is_sent(moto_url, connection, plain):
    before = len(plain.received)
    [error] = invoke(moto_url, [call(plain.url + "/echo", connection)])
    assert isinstance(error, StatesError)
    assert error.error == "States.Runtime"
    assert "ApiEndpoint must use https" in error.cause
    assert len(plain.received) == before  # no request, so no API key on the wire


def test_plain_http_is_called_only_with_the_explicit_local_opt_in(moto_url, connection, plain):
    [result] = invoke(moto_url, [call(plain.url + "/echo", connection)],
                      settings=http_settings(allow_plain_http=True))
    assert result["StatusCode"] == 200
    assert result["ResponseBody"]["headers"]["x-api-key"] == KEY


def test_https_with_the_trusted_ca_succeeds(moto_url, connection, echo):
    assert echo.url.startswith("https://")
    [result] = invoke(moto_url, [call(echo.url + "/echo", connection)])
    assert result["StatusCode"] == 200


def test_a_certificate_from_an_untrusted_ca_fails_as_a_socket_error(moto_url, connection, echo):
    before = len(echo.received)
    [error] = invoke(moto_url, [call(echo.url + "/echo", connection)], settings=HttpTaskSettings())
    assert isinstance(error, StatesError) and error.error == "States.Http.Socket"
    assert "Certificate" in error.cause
    assert len(echo.received) == before  # the handshake failed: the request (and key) never went out


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_not_followed_and_carries_no_credentials(
        moto_url, connection, echo, other, status):
    before = len(other.received)
    target = other.url + "/echo"
    [error] = invoke(moto_url, [call(f"{echo.url}/redirect?status={status}&to={target}", connection)])
    assert isinstance(error, StatesError)
    assert error.error == f"States.Http.StatusCode.{status}"
    assert target in error.cause  # the Location header is in the response, for the operator to see
    assert KEY not in error.cause
    assert len(other.received) == before  # the other host received nothing, so no API key either


def test_oauth_token_endpoint_must_be_https(aws, moto_url, plain, echo):
    arn = make_connection(aws, "rules-oauth-plain", "OAUTH_CLIENT_CREDENTIALS", {"OAuthParameters": {
        "ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
        "AuthorizationEndpoint": plain.url + "/oauth/token", "HttpMethod": "POST"}})
    before = plain.tokens_issued
    [error] = invoke(moto_url, [call(echo.url + "/echo", arn)])
    assert error.error == "States.Runtime" and "AuthorizationEndpoint must use https" in error.cause
    assert plain.tokens_issued == before and "csecret" not in error.cause


@pytest.mark.parametrize("changes, field", [
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ({"max_response_bytes": 0}, "max_response_bytes"),
    ({"request_timeout_seconds": 0}, "request_timeout_seconds"),
])
def test_bad_settings_are_one_line_errors_naming_the_field(changes, field):
    with pytest.raises(ValueError) as caught:
        HttpTaskSettings(**changes)
    assert str(caught.value).startswith(f"{field}: ") and "\n" not in str(caught.value)


@pytest.mark.parametrize("endpoint", ["ftp://example.com/x", "https:///no-host", "/relative"])
def test_endpoints_that_are_not_https_urls_name_the_field(moto_url, connection, endpoint):
    [error] = invoke(moto_url, [call(endpoint, connection)])
    assert error.error == "States.Runtime" and "ApiEndpoint" in error.cause


def test_an_http_endpoint_fails_the_execution_through_the_api(stack, connection, plain):
    before = len(plain.received)
    definition = {"QueryLanguage": "JSONata", "StartAt": "Fetch", "States": {"Fetch": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Arguments": call(plain.url + "/echo", connection)}}}
    described = stack.run(stack.machine("http-plain-refused", definition))
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert "must use https" in described["cause"]
    assert len(plain.received) == before


def test_an_oversized_token_answer_is_refused_without_reading_it_all(aws, moto_url, echo):
    arn = make_connection(aws, "rules-oauth-big", "OAUTH_CLIENT_CREDENTIALS", {"OAuthParameters": {
        "ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
        "AuthorizationEndpoint": f"{echo.url}/big?bytes={50 * 1024 * 1024}", "HttpMethod": "GET"}})
    [error] = invoke(moto_url, [call(echo.url + "/echo", arn)])
    assert error.error == "States.Http.StatusCode.401" and "over 65536 bytes" in error.cause


def test_a_body_just_under_the_cap_is_returned(moto_url, connection, echo):
    size = MAX_RESPONSE_BYTES - 10
    [result] = invoke(moto_url, [call(f"{echo.url}/big?bytes={size}", connection)])
    assert result["StatusCode"] == 200 and len(result["ResponseBody"]) == size - 2


def test_a_300_mb_answer_fails_with_data_limit_exceeded_in_bounded_memory(moto_url, connection, echo):
    process = psutil.Process()
    rss_before = process.memory_info().rss
    [error] = invoke(moto_url, [call(f"{echo.url}/big?bytes={300 * 1024 * 1024}", connection)])
    rss_growth = process.memory_info().rss - rss_before
    assert isinstance(error, StatesError) and error.error == "States.DataLimitExceeded"
    assert str(MAX_RESPONSE_BYTES) in error.cause
    # Reading it whole took ~880 MB before the cap; the capped read keeps a few chunks at most.
    assert rss_growth < 64 * 1024 * 1024, f"RSS grew by {rss_growth / 2**20:.0f} MiB"


def test_a_declared_content_length_over_the_cap_fails_without_reading_the_body(moto_url, connection, echo):
    # /echo's JSON answer (a few hundred bytes, with a Content-Length) is over a 64-byte cap.
    [error] = invoke(moto_url, [call(echo.url + "/echo", connection)],
                     settings=http_settings(max_response_bytes=64))
    assert error.error == "States.DataLimitExceeded" and "Content-Length" in error.cause
