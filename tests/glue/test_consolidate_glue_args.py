"""glue/consolidate.py's own argument parsing under Glue's parser rules, with the argv Glue 5.0 passes."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys

import pytest

from toolkit import spec
from toolkit.spec import SCRIPT_PATH as SCRIPT
from toolkit.config import StackConfig
from toolkit.local.glue import AWSGLUE_STUB_PATH, JobRun, glue_argv


@pytest.fixture
def glue_parser(monkeypatch):
    """The awsglue stand-in importable (as the real awsglue is on Glue), forgotten after the test."""
    monkeypatch.syspath_prepend(str(AWSGLUE_STUB_PATH))
    stale = [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]
    for name in stale:
        monkeypatch.delitem(sys.modules, name)
    import awsglue.utils

    yield awsglue.utils
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        del sys.modules[name]


# What the aggregator passes besides the task id.
RUN = {"--run_id": "t-1-20261202T120000", "--locations_table": "dsa-locations"}


def _consolidate():
    spec = importlib.util.spec_from_file_location("consolidate_args_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _deployed_run_argv(arguments: dict[str, str]) -> tuple[list[str], JobRun]:
    """sys.argv of a run of the job as deploy defines it, as the local runner (and Glue) builds it."""
    cfg = StackConfig.load()
    job = {"Name": cfg.glue_job, "CreatedOn": dt.datetime.now(dt.timezone.utc), **spec.glue_job_definition(cfg)}
    now = dt.datetime.now(dt.timezone.utc)
    run = JobRun(Id="jr_" + "ab" * 32, JobName=cfg.glue_job, Attempt=0, Arguments=arguments, Timeout=60,
                 StartedOn=now, LastModifiedOn=now)
    argv = ["/tmp/consolidate.py", *glue_argv(job, run, account_id=cfg.account_id, region=cfg.region)]
    return argv, run


def test_consolidate_reads_the_run_id_glue_passes_without_asking_for_it(glue_parser):
    argv, run = _deployed_run_argv({**RUN, "--task_id": "t-1", "--parts_action": "archive", "--partitions": "3"})
    cfg = StackConfig.load()
    args = _consolidate().parse_args(argv)
    assert args.task_id == "t-1" and args.job_run_id == run.Id and args.job_name == cfg.glue_job
    assert (args.work_bucket, args.output_bucket) == (cfg.work_bucket, cfg.output_bucket)
    assert (args.run_id, args.locations_table) == (RUN["--run_id"], RUN["--locations_table"])
    assert args.parts_action == "archive" and args.partitions == 3


def test_name_equals_value_form_is_read_too(glue_parser):
    """By hand (or a wrapper) the same arguments may come as --name=value."""
    argv, _ = _deployed_run_argv({**RUN, "--task_id": "t-1", "--partitions": "2"})
    at = argv.index("--partitions")
    argv[at:at + 2] = ["--partitions=5"]
    args = _consolidate().parse_args(argv)
    assert args.partitions == 5 and args.task_id == "t-1"


def test_asking_glue_for_the_run_id_fails_as_on_glue(glue_parser):
    """What the script did before: Glue refuses it, and so does the stand-in."""
    argv, _ = _deployed_run_argv({"--task_id": "t-1"})
    with pytest.raises(RuntimeError, match=r"^Using reserved arguments --JOB_RUN_ID$"):
        glue_parser.getResolvedOptions(argv, ["task_id", "work_bucket", "output_bucket", "JOB_NAME", "JOB_RUN_ID"])


def test_missing_task_id_fails_with_glues_error(glue_parser):
    argv, _ = _deployed_run_argv({})
    with pytest.raises(glue_parser.GlueArgumentError, match="required: --task_id"):
        _consolidate().parse_args(argv)


def test_without_glue_the_same_argv_parses_the_same(monkeypatch):
    """Run by hand on local PySpark (no awsglue at all): argparse with the same names."""
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        monkeypatch.delitem(sys.modules, name)
    assert importlib.util.find_spec("awsglue") is None
    argv, run = _deployed_run_argv({**RUN, "--task_id": "t-1"})
    args = _consolidate().parse_args(argv)
    assert args.task_id == "t-1" and args.job_run_id == run.Id and args.parts_action == "keep"
