"""StackConfig: defaults, precedence (defaults < YAML < DSA_* env < kwargs) and AWS naming rules."""

from __future__ import annotations

import pytest

from toolkit.config import ConfigError, StackConfig

NO_ENV: dict[str, str] = {}


def test_defaults_derive_every_name_from_the_stack_name() -> None:
    cfg = StackConfig.load(environ=NO_ENV, stack_name="ops")
    assert cfg.locations_table == "ops-locations"
    assert cfg.tasks_table == "ops-tasks"
    assert cfg.work_bucket == "ops-work-000000000000-us-east-1"
    assert cfg.output_bucket == "ops-output-000000000000-us-east-1"
    assert cfg.aggregator_state_machine == "ops-aggregator"
    assert cfg.extraction_state_machine == "ops-extraction"
    assert cfg.page_fetch_state_machine == "ops-page-fetch"
    assert cfg.glue_job == "ops-consolidate"
    assert cfg.connection_name == "ops-thirdparty-api"
    assert cfg.states_role == "ops-states-role" and cfg.glue_role == "ops-glue-role"
    assert cfg.state_machine_arn(cfg.aggregator_state_machine) == (
        "arn:aws:states:us-east-1:000000000000:stateMachine:ops-aggregator"
    )


def test_precedence_yaml_then_env_then_kwargs(tmp_path) -> None:
    path = tmp_path / "dsa.yaml"
    path.write_text("stack_name: fromfile\nregion: eu-west-1\npage_limit: 50\n")
    env = {"DSA_REGION": "eu-central-1", "DSA_PAGE_LIMIT": "75"}
    cfg = StackConfig.load(path, environ=env, page_limit=90)
    assert cfg.stack_name == "fromfile"          # only the file sets it
    assert cfg.region == "eu-central-1"          # env beats the file
    assert cfg.page_limit == 90                  # kwargs beat env
    assert cfg.work_bucket.endswith("-eu-central-1")


def test_config_file_from_environment_variable(tmp_path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("stack_name: viaenv\n")
    assert StackConfig.load(environ={"DSA_CONFIG": str(path)}).stack_name == "viaenv"


def test_explicit_names_are_kept() -> None:
    cfg = StackConfig.load(environ=NO_ENV, tasks_table="Tasks.Prod")
    assert cfg.tasks_table == "Tasks.Prod"


def test_replace_rederives_names() -> None:
    cfg = StackConfig.load(environ=NO_ENV).replace(stack_name="second")
    assert cfg.locations_table == "second-locations"


def test_data_types_from_env_string() -> None:
    cfg = StackConfig.load(environ={"DSA_DATA_TYPES": "failed, rejected,expired"})
    assert cfg.data_types == ("failed", "rejected", "expired")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "cloud"}, "target"),
        ({"stack_name": "Upper"}, "stack_name"),
        ({"region": "europe"}, "region"),
        ({"account_id": "12345"}, "account_id"),
        ({"endpoint_url": "ftp://x"}, "endpoint_url"),
        ({"work_bucket": "ab"}, "work_bucket"),                      # too short
        ({"work_bucket": "a" * 64}, "work_bucket"),                  # too long
        ({"work_bucket": "Has_Upper"}, "work_bucket"),               # bad characters
        ({"work_bucket": "-leading"}, "work_bucket"),                # must start alphanumeric
        ({"work_bucket": "two..dots"}, "work_bucket"),
        ({"work_bucket": "192.168.1.1"}, "work_bucket"),             # IP-address form
        ({"work_bucket": "xn--bucket"}, "work_bucket"),              # reserved prefix
        ({"output_bucket": "name-s3alias"}, "output_bucket"),        # reserved suffix
        ({"output_bucket": "dsa-work-000000000000-us-east-1"}, "output_bucket"),  # same as work
        ({"locations_table": "ab"}, "locations_table"),
        ({"tasks_table": "bad name"}, "tasks_table"),
        ({"tasks_table": "dsa-locations"}, "tasks_table"),           # same as locations
        ({"aggregator_state_machine": "has space"}, "aggregator_state_machine"),
        ({"extraction_state_machine": "x" * 81}, "extraction_state_machine"),
        ({"page_fetch_state_machine": "a/b"}, "page_fetch_state_machine"),
        ({"glue_job": "bad\nname"}, "glue_job"),
        ({"connection_name": "no spaces allowed"}, "connection_name"),
        ({"states_role": "r" * 65}, "states_role"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": "many"}, "max_concurrency"),
        ({"tolerated_failure_percentage": 101}, "tolerated_failure_percentage"),
        ({"page_limit": 0}, "page_limit"),
        ({"page_limit": 1001}, "page_limit"),
        ({"page_limit": 10_000}, "page_limit"),
        ({"data_types": []}, "data_types"),
        ({"api_key_header": "bad header"}, "api_key_header"),
        ({"glue_worker_type": "G.3X"}, "glue_worker_type"),
        ({"glue_worker_type": "G.025X"}, "glue_worker_type"),  # streaming jobs only; ours is Spark
        ({"glue_worker_type": "Z.2X"}, "glue_worker_type"),  # Ray jobs only
        ({"api_concurrency": 0}, "api_concurrency"),
        ({"pages_per_batch": 101}, "pages_per_batch"),
        ({"glue_workers": 1}, "glue_workers"),
    ],
)
def test_each_rule_rejects_with_the_field_named(kwargs, field) -> None:
    with pytest.raises(ConfigError) as info:
        StackConfig.load(environ=NO_ENV, **kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert "\n" not in str(info.value)


def test_the_sample_api_ca_variable_is_not_a_config_field() -> None:
    from toolkit.local.tls import SAMPLE_API_CA_ENV

    cfg = StackConfig.load(environ={SAMPLE_API_CA_ENV: "/run/dsa/sample-api-ca.pem", "DSA_REGION": "eu-west-1"})
    assert cfg.region == "eu-west-1"


def test_unknown_keys_are_rejected_everywhere(tmp_path) -> None:
    with pytest.raises(ConfigError, match="^colour: unknown keyword argument"):
        StackConfig.load(environ=NO_ENV, colour="blue")
    with pytest.raises(ConfigError, match="^tabel: unknown environment variable DSA_TABEL"):
        StackConfig.load(environ={"DSA_TABEL": "x"})
    path = tmp_path / "dsa.yaml"
    path.write_text("stack_nam: typo\n")
    with pytest.raises(ConfigError, match="^stack_nam: unknown key in dsa.yaml"):
        StackConfig.load(path, environ=NO_ENV)


def test_bad_yaml_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="^config_file: .* does not exist"):
        StackConfig.load(tmp_path / "missing.yaml", environ=NO_ENV)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        StackConfig.load(bad, environ=NO_ENV)
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        StackConfig.load(broken, environ=NO_ENV)


@pytest.mark.parametrize("yaml_text, message", [
    ("data_types: [1, 2]", "data_types: must hold names (strings), got a number (1)"),
    ("data_types: {failed: 1}", "data_types: must be a list of names or a comma-separated string, got a mapping"),
    ("region: null", "region: must have a value, got null"),
    ("region: {name: us-east-1}", "region: must be a string, got a mapping"),
    ("profile: [a, b]", "profile: must be a string, got a list"),
    ("stack_name: true", "stack_name: must be a string, got a boolean (true)"),
    ("max_concurrency: [4]", "max_concurrency: must be a number, got a list"),
    ("max_concurrency: 1.5", "max_concurrency: must be a whole number, got 1.5"),
    ("page_limit: lots", "page_limit: must be a number, got 'lots'"),
])
def test_values_of_the_wrong_type_name_the_field(tmp_path, yaml_text, message) -> None:
    path = tmp_path / "dsa.yaml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as error:
        StackConfig.load(path, environ=NO_ENV)
    assert str(error.value) == message


def test_wrong_types_as_keyword_arguments_name_the_field() -> None:
    with pytest.raises(ConfigError, match="^region: must be a string, got null$"):
        StackConfig(region=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^glue_workers: must be a number, got str '3'$"):
        StackConfig(glue_workers="3")  # type: ignore[arg-type]


def test_numbers_where_yaml_reads_them_are_kept() -> None:
    cfg = StackConfig.load(environ={"DSA_MAX_CONCURRENCY": "12", "DSA_ACCOUNT_ID": "123456789012"})
    assert cfg.max_concurrency == 12 and cfg.account_id == "123456789012"


def test_a_binary_config_file_is_one_line(tmp_path) -> None:
    binary = tmp_path / "dsa.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match=f"^config_file: {binary} is not a UTF-8 text file$"):
        StackConfig.load(binary, environ=NO_ENV)


def test_the_api_key_variable_is_not_a_config_field() -> None:
    cfg = StackConfig.load(environ={"DSA_API_KEY": "s3cret"})
    assert "s3cret" not in repr(cfg.as_dict())


def test_no_module_outside_config_holds_a_literal_resource_name() -> None:
    """Resource names live in StackConfig only: grep the package for the derived suffixes."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "toolkit"
    suffixes = ("-locations", "-tasks", "-aggregator", "-extraction", "-page-fetch", "-consolidate",
                "-states-role", "-glue-role", "-thirdparty-api")
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "config.py":
            continue
        text = path.read_text()
        offenders += [f"{path.name}: {s}" for s in suffixes if f'"dsa{s}"' in text or f"'dsa{s}'" in text]
    assert offenders == []


def test_api_endpoints_from_yaml_or_env_and_their_rules(tmp_path) -> None:
    from toolkit.config import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text("api_endpoints:\n  - https://api.example.com/v1/*\n")
    assert StackConfig.load(path, environ={}).api_endpoints == ("https://api.example.com/v1/*",)
    env = StackConfig.load(environ={"DSA_API_ENDPOINTS": "https://a.example.com/*, https://b.example.com:8443/*"})
    assert env.api_endpoints == ("https://a.example.com/*", "https://b.example.com:8443/*")
    assert env.allows_endpoint("https://b.example.com:8443/x/get-data")
    assert not env.allows_endpoint("https://a.example.com.evil.net/x")
    assert StackConfig.load(environ={}).allows_endpoint("https://anything.example/x")  # local, none named
    for pattern, problem in [
        ("https://api.example.com*", "literal host, then a port or path"),
        ("https://*.example.com/*", "literal host, then a port or path"),
        ("*", "literal host, then a port or path"),
        ("http://api.example.com/*", "AWS's HTTP Task calls https:// endpoints only"),
    ]:
        with pytest.raises(ConfigError, match=r"^api_endpoints: ") as caught:
            StackConfig.load(environ={}, target="aws", account_id="123456789012", api_endpoints=[pattern])
        assert problem in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"^api_endpoints: must be a list of URL patterns"):
        StackConfig.load(environ={}, api_endpoints=5)


def test_retention_fields_and_the_log_group_name() -> None:
    cfg = StackConfig.load(environ={"DSA_ARCHIVE_EXPIRE_DAYS": "365"}, stack_name="ops")
    assert cfg.archive_expire_days == 365 and cfg.page_fetch_log_group == "/aws/vendedlogs/states/ops-page-fetch"
    for kwargs, message in [
        ({"parts_expire_days": 0}, "parts_expire_days: must be between 1 and 3650 days"),
        ({"log_retention_days": 10}, "log_retention_days: CloudWatch Logs keeps events for one of 1, 3, 5"),
        ({"page_fetch_log_group": "bad name"}, "page_fetch_log_group: log group names are"),
    ]:
        with pytest.raises(ConfigError, match="^" + message):
            StackConfig.load(environ={}, **kwargs)
