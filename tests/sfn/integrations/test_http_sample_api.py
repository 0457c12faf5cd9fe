"""The HTTP Task against the real sample third-party API with each EventBridge auth type."""

from __future__ import annotations

import pytest

from sfn_runtime.errors import StatesError
from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi

from .test_http_task import invoke, make_connection
from ..conftest import TEST_CA

AUTH_CASES = {
    "api_key": (
        AuthConfig.api_key("k-123", header="x-api-key"),
        "API_KEY",
        lambda good: {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123" if good else "nope"}},
    ),
    "basic": (
        AuthConfig.basic("ann", "pw-9"),
        "BASIC",
        lambda good: {"BasicAuthParameters": {"Username": "ann", "Password": "pw-9" if good else "nope"}},
    ),
    "oauth": (
        AuthConfig.oauth("cid", "cs-7"),
        "OAUTH_CLIENT_CREDENTIALS",
        None,  # needs the API's URL; built in the test
    ),
}


def params_for(kind: str, api: SampleApi, good: bool) -> dict:
    if kind == "oauth":
        return {
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "cid", "ClientSecret": "cs-7" if good else "nope"},
                "AuthorizationEndpoint": api.url + "/oauth/token",
                "HttpMethod": "POST",
            }
        }
    return AUTH_CASES[kind][2](good)


@pytest.mark.parametrize("kind", sorted(AUTH_CASES))
def test_each_auth_type_reads_data_and_wrong_credentials_give_401(aws, moto_url, kind):
    auth, auth_type, _ = AUTH_CASES[kind]
    with SampleApi(dataset=DatasetParams(seed=3, locations=3), auth=auth, port=0, ca=TEST_CA) as api:
        location = api.location_ids()[0]
        good = make_connection(aws, f"sample-{kind}", auth_type, params_for(kind, api, True))
        bad = make_connection(aws, f"sample-{kind}-bad", auth_type, params_for(kind, api, False))
        call = lambda arn: {  # noqa: E731
            "ApiEndpoint": f"{api.url}/{location}/get-summary",
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": arn},
        }
        ok, refused = invoke(moto_url, [call(good), call(bad)])
    assert ok["StatusCode"] == 200
    assert set(ok["ResponseBody"]["states"]) == {"failed", "rejected"}
    assert isinstance(refused, StatesError) and refused.error == "States.Http.StatusCode.401"
    assert "nope" not in refused.cause
