"""Each authentication mode of the sample API over real HTTP: missing, wrong and right
credentials, the OAuth token endpoint, token expiry, and that no secret leaks."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from toolkit.errors import ToolkitError
from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi
from toolkit.local.sample_api.auth import Authenticator, AuthError

PARAMS = DatasetParams(seed=3, locations=3, max_records=20, empty_location_share=0.0)
SECRET = "s3cr3t-Value"


def http(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def summary(api: SampleApi, headers: dict) -> tuple[int, dict]:
    status, _, body = http(f"{api.url}/{api.location_ids()[0]}/get-summary", headers=headers)
    return status, json.loads(body)


def assert_401_without_secret(status: int, body: dict) -> None:
    assert status == 401
    assert body["message"] and SECRET not in json.dumps(body)


@pytest.mark.parametrize("header", ["x-api-key", "X-Custom-Key"])
def test_api_key_missing_wrong_right(header):
    with SampleApi(dataset=PARAMS, auth=AuthConfig.api_key(SECRET, header=header)) as api:
        status, body = summary(api, {})
        assert_401_without_secret(status, body)
        assert header in body["message"]
        assert_401_without_secret(*summary(api, {header: SECRET + "x"}))
        assert_401_without_secret(*summary(api, {"x-other": SECRET}))
        status, body = summary(api, {header.upper(): SECRET})  # header names are case-insensitive
        assert status == 200 and "states" in body
        status, _, raw = http(f"{api.url}/{api.location_ids()[0]}/get-data?state=failed&limit=5",
                              headers={header: SECRET})
        expected = min(5, api.dataset.sizes(api.location_ids()[0])["failed"])
        assert status == 200 and json.loads(raw)["count"] == expected


def test_basic_missing_wrong_right():
    with SampleApi(dataset=PARAMS, auth=AuthConfig.basic("operator", SECRET)) as api:
        assert_401_without_secret(*summary(api, {}))
        assert_401_without_secret(*summary(api, {"Authorization": basic("operator", "nope")}))
        assert_401_without_secret(*summary(api, {"Authorization": basic("intruder", SECRET)}))
        assert_401_without_secret(*summary(api, {"Authorization": "Basic !!!not-base64"}))
        assert summary(api, {"Authorization": basic("operator", SECRET)})[0] == 200


def token_request(api: SampleApi, *, form: dict | None = None, headers: dict | None = None,
                  method: str = "POST") -> tuple[int, dict, dict]:
    body = urllib.parse.urlencode(form or {}).encode() if method != "GET" else None
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    url = f"{api.url}/oauth/token"
    if method == "GET" and form:
        url += "?" + urllib.parse.urlencode(form)
    status, response_headers, raw = http(url, method=method, body=body, headers=hdrs)
    return status, dict(response_headers), json.loads(raw)


def test_oauth_client_credentials_flow():
    with SampleApi(dataset=PARAMS, auth=AuthConfig.oauth("client-1", SECRET, token_ttl=600)) as api:
        assert_401_without_secret(*summary(api, {}))
        assert_401_without_secret(*summary(api, {"Authorization": "Bearer made-up"}))
        # credentials in a Basic header (how EventBridge sends them)
        status, headers, token = token_request(api, form={"grant_type": "client_credentials"},
                                               headers={"Authorization": basic("client-1", SECRET)})
        assert status == 200 and token["token_type"] == "Bearer" and token["expires_in"] == 600
        assert headers["Cache-Control"] == "no-store"
        status, body = summary(api, {"Authorization": f"Bearer {token['access_token']}"})
        assert status == 200 and "states" in body
        # credentials in the form body; grant_type may be absent; GET with a query works too
        status, _, token2 = token_request(api, form={"client_id": "client-1", "client_secret": SECRET})
        assert status == 200 and token2["access_token"] != token["access_token"]
        status, _, token3 = token_request(api, method="GET", form={"client_id": "client-1", "client_secret": SECRET,
                                                                   "grant_type": "client_credentials"})
        assert status == 200 and summary(api, {"Authorization": f"Bearer {token3['access_token']}"})[0] == 200


def test_oauth_token_endpoint_rejections():
    with SampleApi(dataset=PARAMS, auth=AuthConfig.oauth("client-1", SECRET)) as api:
        status, _, body = token_request(api, form={"grant_type": "client_credentials"})
        assert status == 401 and body["error"] == "invalid_client"
        status, _, body = token_request(api, form={"client_id": "client-1", "client_secret": "wrong"})
        assert status == 401 and body["error"] == "invalid_client" and SECRET not in json.dumps(body)
        status, _, body = token_request(api, form={"grant_type": "password", "client_id": "client-1",
                                                   "client_secret": SECRET})
        assert status == 400 and body["error"] == "unsupported_grant_type"


def test_oauth_token_expiry_gets_401_then_a_new_token_works():
    with SampleApi(dataset=PARAMS, auth=AuthConfig.oauth("client-1", SECRET)) as api:
        _, _, token = token_request(api, headers={"Authorization": basic("client-1", SECRET)})
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert summary(api, bearer)[0] == 200
        api.expire_tokens()
        status, body = summary(api, bearer)
        assert status == 401 and body["error"] == "ExpiredToken"
        _, _, fresh = token_request(api, headers={"Authorization": basic("client-1", SECRET)})
        assert summary(api, {"Authorization": f"Bearer {fresh['access_token']}"})[0] == 200


def test_token_endpoint_absent_outside_oauth_mode():
    with SampleApi(dataset=PARAMS, auth=AuthConfig.api_key(SECRET)) as api:
        status, _, _ = token_request(api, form={"client_id": "a", "client_secret": "b"})
        assert status == 404


def test_secrets_hidden_from_repr_and_describe():
    for config in (AuthConfig.api_key(SECRET), AuthConfig.basic("u", SECRET), AuthConfig.oauth("c", SECRET)):
        assert SECRET not in repr(config) and SECRET not in config.describe()


@pytest.mark.parametrize("make, field", [
    (lambda: AuthConfig.api_key(""), "secret"),
    (lambda: AuthConfig.api_key("k", header=" "), "auth.header"),
    (lambda: AuthConfig.basic("a:b", "p"), "auth.username"),
    (lambda: AuthConfig.oauth("", "s"), "auth.client_id"),
    (lambda: AuthConfig.oauth("c", "s", token_ttl=0), "auth.token_ttl"),
    (lambda: AuthConfig(mode="digest"), "auth.mode"),
])
def test_bad_auth_config_names_the_field(make, field):
    with pytest.raises(ToolkitError, match=field.replace(".", r"\.")):
        make()


def test_token_lifetime_follows_token_ttl():
    now = [1000.0]
    authenticator = Authenticator(AuthConfig.oauth("c", SECRET, token_ttl=60), clock=lambda: now[0])
    reply = authenticator.issue_token({"Authorization": basic("c", SECRET)}, {})
    bearer = {"Authorization": f"Bearer {reply['access_token']}"}
    now[0] += 59.9
    authenticator.check(bearer)  # still valid
    now[0] += 0.1
    with pytest.raises(AuthError) as info:
        authenticator.check(bearer)
    assert info.value.code == "ExpiredToken" and info.value.status == 401
