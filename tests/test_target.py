"""``toolkit.target.open_target``: the choice a notebook's parameters cell makes, without a stack."""

from __future__ import annotations

import pytest

from toolkit.target import SampleApiAdmin, TargetError, open_target


def test_an_unknown_target_is_refused_by_name() -> None:
    with pytest.raises(TargetError, match="target: must be 'local' or 'aws', got 'gcp'"):
        open_target("gcp")


def test_aws_uses_the_parameters_and_has_no_sample_api(monkeypatch, aws_credentials) -> None:
    monkeypatch.delenv("DSA_STACK_NAME", raising=False)
    target = open_target("aws", region="eu-west-1", stack_name="ops")
    assert target.config.account_id == aws_credentials  # asked of STS, never the local placeholder
    assert target.sample_api is None and target.origin == "aws"
    assert (target.config.target, target.config.region, target.config.stack_name) == ("aws", "eu-west-1", "ops")
    assert target.config.locations_table == "ops-locations"
    assert target.session.region_name == "eu-west-1"


def test_a_bad_stack_name_names_the_field() -> None:
    with pytest.raises(Exception, match="stack_name"):
        open_target("aws", stack_name="Not Valid")


def test_sample_api_admin_reports_an_unreachable_api_in_one_line() -> None:
    admin = SampleApiAdmin("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(TargetError, match="sample API: no answer at http://127.0.0.1:9"):
        admin.ground_truth_frame(["loc-001"])


def test_sample_api_admin_passes_the_token_and_explains_a_missing_one() -> None:
    from toolkit.local.sample_api import DatasetParams, SampleApi

    with SampleApi(dataset=DatasetParams(locations=2)) as api:
        frame = SampleApiAdmin(api.url, admin_token=api.admin_token).ground_truth_frame(api.location_ids()[:1])
        assert len(frame) == len(api.ground_truth(api.location_ids()[:1]))
        assert api.admin_token not in repr(SampleApiAdmin(api.url, admin_token=api.admin_token))
        with pytest.raises(TargetError, match="admin token is missing or wrong; set DSA_SAMPLE_API_ADMIN_TOKEN"):
            SampleApiAdmin(api.url).set_faults(None)
