"""An AWS target: the real account from STS, the region's partition, and regions that cannot host
the stack refused in one line (AWS correctness issue, items 2 and 3)."""

from __future__ import annotations

import json
from pathlib import Path

import cfnlint
import pytest

from toolkit.config import LOCAL_ACCOUNT_ID, ConfigError, StackConfig
from toolkit.regions import REGIONS_MISSING, STACK_RESOURCE_TYPES, hosting_problem


def test_the_table_of_regions_that_cannot_host_the_stack_matches_cfn_lints_data() -> None:
    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    found = {}
    for path in sorted(providers.glob("*-*-*.json")):
        types = json.loads(path.read_text())
        missing = tuple(t for t in STACK_RESOURCE_TYPES if t not in types)
        if missing:
            found[path.stem] = missing
    assert found == REGIONS_MISSING


def test_a_region_without_eventbridge_connections_is_refused_for_aws_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^region: il-central-1 cannot host the stack: it has no "
                                          r"EventBridge connections"):
        StackConfig.load(environ={}, target="aws", region="il-central-1", account_id="123456789012")
    assert hosting_problem("eu-west-1") is None
    assert StackConfig.load(environ={}, region="il-central-1").region == "il-central-1"  # local: any region


def test_an_unknown_region_is_refused_for_aws() -> None:
    with pytest.raises(ConfigError, match="^region: xx-nowhere-1 is not a region botocore knows$"):
        StackConfig.load(environ={}, target="aws", region="xx-nowhere-1", account_id="123456789012")


@pytest.mark.parametrize(("region", "partition"), [("eu-west-1", "aws"), ("cn-northwest-1", "aws-cn"),
                                                   ("us-gov-west-1", "aws-us-gov"), ("us-iso-east-1", "aws-iso")])
def test_the_partition_follows_the_region(region: str, partition: str) -> None:
    config = StackConfig.load(environ={}, region=region)
    assert config.partition == partition
    assert config.state_machine_arn("m").startswith(f"arn:{partition}:states:{region}:")
    assert config.role_arn("r").startswith(f"arn:{partition}:iam::")


def test_an_aws_target_asks_sts_for_its_account(aws_credentials: str) -> None:
    config = StackConfig.load(environ={}, target="aws", region="eu-west-1")
    assert config.account_id == aws_credentials != LOCAL_ACCOUNT_ID
    assert aws_credentials in config.work_bucket and aws_credentials in config.output_bucket
    assert config.role_arn(config.states_role) == f"arn:aws:iam::{aws_credentials}:role/dsa-states-role"


def test_an_aws_target_never_takes_the_local_placeholder_account() -> None:
    with pytest.raises(ConfigError, match="^account_id: 000000000000 is the local stack's placeholder"):
        StackConfig.load(environ={}, target="aws", account_id=LOCAL_ACCOUNT_ID)
    with pytest.raises(ConfigError, match="^account_id: an AWS target needs its account"):
        StackConfig(target="aws")


def test_without_credentials_sts_failure_is_one_line_naming_the_field(monkeypatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError) as caught:
        StackConfig.load(environ={}, target="aws", region="eu-west-1")
    assert str(caught.value).startswith("account_id: not set, and STS could not tell the AWS account")
    assert "\n" not in str(caught.value)


def test_field_problems_come_before_asking_sts() -> None:
    with pytest.raises(ConfigError, match="^stack_name:"):
        StackConfig.load(environ={}, target="aws", stack_name="Not Valid")
