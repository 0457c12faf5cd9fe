"""The awsglue stand-in's getResolvedOptions: Glue's documented rules, checked one by one."""

from __future__ import annotations

import sys

import pytest

from toolkit.local.glue import AWSGLUE_STUB_PATH

GLUE_ARGV = ["script.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "job",
             "--job-bookmark-option", "job-bookmark-disable", "--TempDir", "s3://tmp/", "--enable-metrics", "true"]


@pytest.fixture
def utils(monkeypatch):
    """awsglue.utils imported from the stand-in, and forgotten again after the test."""
    monkeypatch.syspath_prepend(str(AWSGLUE_STUB_PATH))
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        monkeypatch.delitem(sys.modules, name)
    import awsglue.utils

    yield awsglue.utils
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        del sys.modules[name]


@pytest.mark.parametrize("name, shown", [
    ("JOB_ID", "--JOB_ID"), ("JOB_RUN_ID", "--JOB_RUN_ID"), ("SECURITY_CONFIGURATION", "--SECURITY_CONFIGURATION"),
    ("job-bookmark-option", "job-bookmark-option"), ("continuation-option", "continuation-option"),
    ("job-bookmark-from", "--job-bookmark-from"), ("job-bookmark-to", "--job-bookmark-to"),
    ("encryption-type", "--encryption-type"), ("enable-data-lineage", "--enable-data-lineage"),
])
def test_reserved_names_are_refused_with_glues_error(utils, name, shown):
    with pytest.raises(RuntimeError) as caught:
        utils.getResolvedOptions(GLUE_ARGV, ["JOB_NAME", name])
    assert str(caught.value) == f"Using reserved arguments {shown}"


def test_glues_own_arguments_come_back_without_being_asked(utils):
    resolved = utils.getResolvedOptions(GLUE_ARGV + ["--task_id", "t1"], ["task_id"])
    assert resolved["JOB_ID"] == "j_1" and resolved["JOB_RUN_ID"] == "jr_1"
    assert resolved["job_bookmark_option"] == "job-bookmark-disable"
    assert resolved["TempDir"] == resolved["RedshiftTempDir"] == "s3://tmp/"
    assert resolved["task_id"] == "t1" and resolved["SECURITY_CONFIGURATION"] is None
    assert "JOB_NAME" not in resolved and "enable_metrics" not in resolved  # not asked for: not returned


def test_every_requested_option_is_required(utils):
    with pytest.raises(utils.GlueArgumentError, match="the following arguments are required: --task_id, --work_bucket"):
        utils.getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "task_id", "work_bucket"])


def test_both_argument_forms_and_dashes_in_names(utils):
    argv = GLUE_ARGV + ["--task_id=t=1", "--parts-action", "keep", "--unasked", "x"]
    resolved = utils.getResolvedOptions(argv, ["task_id", "parts-action"])
    assert resolved["task_id"] == "t=1" and resolved["parts_action"] == "keep"
    assert "unasked" not in resolved


def test_bookmark_defaults_and_rules(utils):
    bare = ["script.py", "--JOB_RUN_ID", "jr_1"]
    assert utils.getResolvedOptions(bare, [])["job_bookmark_option"] == "job-bookmark-disable"
    legacy = utils.getResolvedOptions(bare + ["--continuation-option", "continuation-readonly"], [])
    assert legacy["job_bookmark_option"] == "job-bookmark-pause" and "continuation_option" not in legacy
    with pytest.raises(utils.GlueArgumentError, match="invalid choice"):
        utils.getResolvedOptions(bare + ["--job-bookmark-option", "on"], [])
    pause = bare + ["--job-bookmark-option", "job-bookmark-pause"]
    with pytest.raises(RuntimeError, match="^Missing option or value for --job-bookmark-to$"):
        utils.getResolvedOptions(pause + ["--job-bookmark-from", "jr_0"], [])
    ranged = utils.getResolvedOptions(pause + ["--job-bookmark-from", "jr_0", "--job-bookmark-to", "jr_1"], [])
    assert ranged["job_bookmark_from"] == "jr_0"
    with pytest.raises(RuntimeError, match="^Invalid option"):
        utils.getResolvedOptions(bare + ["--job-bookmark-from", "a", "--job-bookmark-to", "b"], [])


def test_stand_in_offers_no_glue_context(utils):
    """awsglue.context needs Glue's JVM: a script must see ImportError locally and fall back to PySpark."""
    with pytest.raises(ImportError):
        import awsglue.context  # noqa: F401
