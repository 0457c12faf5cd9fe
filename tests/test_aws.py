"""toolkit.aws: clients point where the StackConfig says (local endpoint, profiles, env overrides)."""

from __future__ import annotations

from toolkit import aws
from toolkit.config import StackConfig


def test_local_clients_use_the_stack_endpoint_and_dummy_credentials() -> None:
    cfg = StackConfig.load(environ={}, endpoint_url="http://127.0.0.1:4999", region="eu-west-1")
    s3 = aws.client(cfg, "s3")
    assert s3.meta.endpoint_url == "http://127.0.0.1:4999"
    assert s3.meta.region_name == "eu-west-1"
    creds = aws.session(cfg).get_credentials()
    assert (creds.access_key, creds.secret_key) == ("test", "test")
    assert s3.meta.config.retries["mode"] == "standard"
    assert s3.meta.config.inject_host_prefix is False  # StartSyncExecution's sync- prefix has no host locally


def test_aws_target_honours_service_specific_endpoint_variables(monkeypatch) -> None:
    cfg = StackConfig.load(environ={}, target="aws", account_id="123456789012")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STEPFUNCTIONS", "https://sfn.example.test")
    assert aws.endpoint_for(cfg, "stepfunctions") == "https://sfn.example.test"
    assert aws.endpoint_for(cfg, "s3") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://all.example.test")
    assert aws.endpoint_for(cfg, "s3") == "https://all.example.test"


def test_aws_target_uses_the_profile(tmp_path, monkeypatch) -> None:
    config_file = tmp_path / "config"
    config_file.write_text("[profile ops]\nregion = ap-southeast-2\n")
    creds_file = tmp_path / "credentials"
    creds_file.write_text("[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = secretops\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds_file))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    cfg = StackConfig.load(environ={}, target="aws", profile="ops", region="ap-southeast-2",
                           account_id="123456789012")
    session = aws.session(cfg)
    assert session.profile_name == "ops"
    assert session.get_credentials().access_key == "AKIDOPS"
    assert aws.client(cfg, "dynamodb", boto_session=session).meta.region_name == "ap-southeast-2"


def test_wrangler_points_at_the_local_stack() -> None:
    import awswrangler as wr

    cfg = StackConfig.load(environ={}, endpoint_url="http://127.0.0.1:4998")
    aws.configure_wrangler(cfg)
    try:
        assert wr.config.s3_endpoint_url == "http://127.0.0.1:4998"
        assert wr.config.dynamodb_endpoint_url == "http://127.0.0.1:4998"
    finally:
        wr.config.reset()


def test_wrangler_endpoints_are_restored_after_the_block() -> None:
    import awswrangler as wr

    wr.config.s3_endpoint_url = "http://127.0.0.1:1111"
    try:
        cfg = StackConfig.load(environ={}, endpoint_url="http://127.0.0.1:4997")
        with aws.wrangler_endpoints(cfg):
            assert wr.config.s3_endpoint_url == "http://127.0.0.1:4997"
        assert wr.config.s3_endpoint_url == "http://127.0.0.1:1111"
        assert wr.config.dynamodb_endpoint_url is None
    finally:
        wr.config.reset()


def test_every_wrangler_endpoint_we_set_is_one_awswrangler_has() -> None:
    import awswrangler as wr

    for attribute in aws._WRANGLER_ENDPOINTS.values():
        assert isinstance(getattr(type(wr.config), attribute, None), property), attribute
