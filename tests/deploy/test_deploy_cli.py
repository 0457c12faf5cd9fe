"""dsa deploy / teardown / export-cfn driven through the CLI against the local stack."""

from __future__ import annotations

import uuid

import yaml
from typer.testing import CliRunner

from toolkit.commands import deploy as commands
from toolkit.deploy import DeployError


def test_plan_deploy_teardown_through_the_cli(local_stack, tmp_path):
    stack = "c" + uuid.uuid4().hex[:10]
    key = "cli-key-" + uuid.uuid4().hex
    env = {"DSA_ENDPOINT_URL": local_stack.endpoint_url, "DSA_STACK_NAME": stack, "DSA_API_KEY": key,
           "DSA_CONFIG": ""}
    runner = CliRunner()

    plan = runner.invoke(commands.app, ["deploy", "--plan"], env=env)
    assert plan.exit_code == 0, plan.output
    assert f"create    dynamodb-table {stack}-locations" in plan.output
    assert plan.output.strip().endswith(f"plan for stack {stack} (local): 14 create")

    done = runner.invoke(commands.app, ["deploy"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("14 create") and key not in done.output
    again = runner.invoke(commands.app, ["deploy"], env=env)
    assert again.output.strip().endswith("14 unchanged")

    cfg = local_stack.config.replace(stack_name=stack)
    local_stack.client("s3").put_object(Bucket=cfg.output_bucket, Key="consolidated/x/x.csv", Body=b"h\r\n")
    refused = runner.invoke(commands.app, ["teardown"], env=env)
    assert refused.exit_code != 0 and isinstance(refused.exception, DeployError)
    assert "--force" in refused.exception.cli and "force=True" in str(refused.exception)  # each in its own words
    forced = runner.invoke(commands.app, ["teardown", "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert forced.output.strip().endswith("13 delete")

    out = tmp_path / "stack.yaml"
    exported = runner.invoke(commands.app, ["export-cfn", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert yaml.safe_load(out.read_text())["Resources"]["ConsolidateJob"]["Properties"]["Name"] == cfg.glue_job
    assert (f"aws cloudformation deploy --template-file {out} --stack-name {stack} --region us-east-1 "
            '--capabilities CAPABILITY_NAMED_IAM --parameter-overrides ApiKey="$DSA_API_KEY"') in exported.output
