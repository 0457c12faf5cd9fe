"""Provisioning against the embedded local stack: create, idempotent re-deploy, update, teardown."""

from __future__ import annotations

import json
import uuid

import pytest

from toolkit import deploy, resources, spec
from toolkit.deploy import Change, Clients, DeployError

KEY = "k3y-" + uuid.uuid4().hex


@pytest.fixture
def cfg(local_stack):
    return local_stack.config.replace(stack_name="t" + uuid.uuid4().hex[:10])


@pytest.fixture
def clients(local_stack, cfg):
    return Clients.create(cfg, local_stack.session())


def _actions(changes: list[Change]) -> dict[str, str]:
    return {c.resource: c.action for c in changes}


def test_deploy_creates_everything_then_changes_nothing(cfg, clients):
    env = {cfg.api_key_env: KEY}
    before = deploy.plan(cfg, clients=clients)
    assert {c.action for c in before} == {"create"}
    assert len(before) == 14
    created = deploy.deploy(cfg, clients=clients, environ=env)
    assert [c.resource for c in created] == [c.resource for c in before]
    assert {c.action for c in created} == {"create"}
    assert KEY not in repr(created)

    again = deploy.deploy(cfg, clients=clients, environ={})  # no key needed when nothing changes
    assert {c.action for c in again} == {"unchanged"}, again

    # The resources are really there, as docs/design.md wants them.
    table = clients.dynamodb.describe_table(TableName=cfg.locations_table)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["task_id", "location_id"]
    tasks = clients.dynamodb.describe_table(TableName=cfg.tasks_table)["Table"]
    assert [k["AttributeName"] for k in tasks["KeySchema"]] == ["task_id", "created_at"]
    rules = clients.s3.get_bucket_lifecycle_configuration(Bucket=cfg.work_bucket)["Rules"]
    expiry = {r["Filter"].get("Prefix"): r.get("Expiration", {}).get("Days") for r in rules}
    assert expiry == {"": None, "parts/": cfg.parts_expire_days, "map-runs/": cfg.map_runs_expire_days,
                      "quarantine/": cfg.quarantine_expire_days, "archive/": cfg.archive_expire_days}
    assert [r["Filter"] for r in
            clients.s3.get_bucket_lifecycle_configuration(Bucket=cfg.output_bucket)["Rules"]] == [{"Prefix": ""}]
    group = clients.logs.describe_log_groups(logGroupNamePrefix=cfg.page_fetch_log_group)["logGroups"][0]
    assert (group["logGroupName"], group["retentionInDays"]) == (cfg.page_fetch_log_group, cfg.log_retention_days)
    page_fetch = clients.stepfunctions.describe_state_machine(
        stateMachineArn=cfg.state_machine_arn(cfg.page_fetch_state_machine))
    assert page_fetch["loggingConfiguration"] == {
        "level": "ERROR", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group["arn"]}}]}
    assert group["arn"].endswith(f":log-group:{cfg.page_fetch_log_group}:*")
    aggregator = clients.stepfunctions.describe_state_machine(
        stateMachineArn=cfg.state_machine_arn(cfg.aggregator_state_machine))
    assert aggregator["loggingConfiguration"]["level"] == "OFF"
    block = clients.s3.get_public_access_block(Bucket=cfg.output_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    script = clients.s3.get_object(Bucket=cfg.work_bucket, Key="scripts/consolidate.py")["Body"].read()
    assert script == spec.SCRIPT_PATH.read_bytes()
    job = clients.glue.get_job(JobName=cfg.glue_job)["Job"]
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", cfg.glue_worker_type,
                                                                                cfg.glue_workers)
    assert job["DefaultArguments"]["--output_bucket"] == cfg.output_bucket
    connection = clients.events.describe_connection(Name=cfg.connection_name)
    assert connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == cfg.api_key_header
    policy = clients.iam.get_role_policy(RoleName=cfg.states_role, PolicyName=f"{cfg.states_role}-policy")
    document = resources.policy_document(policy["PolicyDocument"])
    assert f"table/{cfg.locations_table}" in json.dumps(document)
    assert document == spec.states_policy(cfg)
    unscoped = {s["Sid"] for s in document["Statement"] if "*" in s["Resource"]}
    assert unscoped <= {"LogDelivery"}  # AWS documents the log-delivery actions on "*" only
    for name, kind in ((cfg.page_fetch_state_machine, "EXPRESS"), (cfg.aggregator_state_machine, "STANDARD")):
        machine = clients.stepfunctions.describe_state_machine(stateMachineArn=cfg.state_machine_arn(name))
        assert machine["type"] == kind
        assert connection["ConnectionArn"] in machine["definition"] or name != cfg.page_fetch_state_machine


def test_drift_and_config_changes_are_updated(cfg, clients):
    deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: KEY})
    clients.s3.delete_bucket_lifecycle(Bucket=cfg.work_bucket)
    bigger = cfg.replace(glue_workers=cfg.glue_workers + 3)
    changed = {c.resource: c for c in deploy.plan(bigger, clients=clients) if c.action != "unchanged"}
    assert set(changed) == {f"s3-bucket {cfg.work_bucket}", f"glue-job {cfg.glue_job}"}
    assert changed[f"s3-bucket {cfg.work_bucket}"].detail == "lifecycle rules"
    assert changed[f"glue-job {cfg.glue_job}"].detail == "NumberOfWorkers"
    assert _actions(deploy.deploy(bigger, clients=clients))[f"glue-job {cfg.glue_job}"] == "update"
    assert clients.glue.get_job(JobName=cfg.glue_job)["Job"]["NumberOfWorkers"] == cfg.glue_workers + 3
    assert {c.action for c in deploy.plan(bigger, clients=clients)} == {"unchanged"}


def test_missing_api_key_stops_before_any_write(cfg, clients):
    with pytest.raises(DeployError, match=f"^{cfg.api_key_env}: not set"):
        deploy.deploy(cfg, clients=clients, environ={})
    assert {c.action for c in deploy.plan(cfg, clients=clients)} == {"create"}


def test_api_key_from_a_secrets_manager_arn(cfg, clients):
    arn = clients.secretsmanager.create_secret(Name=f"{cfg.stack_name}-key", SecretString=KEY)["ARN"]
    deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: arn})
    connection = clients.events.describe_connection(Name=cfg.connection_name)
    stored = clients.secretsmanager.get_secret_value(SecretId=connection["SecretArn"])["SecretString"]
    assert KEY in stored


def test_rotating_the_api_key_updates_only_the_connection(cfg, clients):
    deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: KEY})
    new_key = "rotated-" + uuid.uuid4().hex
    changes = deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: new_key}, rotate_api_key=True)
    assert [(c.resource, c.detail) for c in changes if c.action != "unchanged"] == [
        (f"events-connection {cfg.connection_name}", "API key rotated")]
    assert new_key not in repr(changes)
    # (moto's UpdateConnection keeps the old secret value, unlike AWS: the request itself is
    # checked in test_deploy_request_shapes.py.)
    with pytest.raises(DeployError, match=f"^{cfg.api_key_env}: not set"):
        deploy.deploy(cfg, clients=clients, environ={}, rotate_api_key=True)


def test_unreadable_secret_is_a_one_line_error_without_the_value(cfg, clients):
    arn = f"arn:aws:secretsmanager:{cfg.region}:{cfg.account_id}:secret:missing-{cfg.stack_name}"
    with pytest.raises(DeployError) as caught:
        deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: arn})
    assert str(caught.value).startswith(f"{cfg.api_key_env}: cannot read the secret it names")
    assert "\n" not in str(caught.value)


def test_teardown_refuses_non_empty_output_bucket_unless_forced(cfg, clients):
    deploy.deploy(cfg, clients=clients, environ={cfg.api_key_env: KEY})
    clients.s3.put_object(Bucket=cfg.output_bucket, Key="consolidated/t/t.csv", Body=b"a\r\n")
    clients.s3.put_object(Bucket=cfg.work_bucket, Key="parts/t/l/failed/0.json", Body=b"{}")
    with pytest.raises(DeployError, match="force=True"):
        deploy.teardown(cfg, clients=clients)
    assert {c.action for c in deploy.plan(cfg, clients=clients)} == {"unchanged"}  # nothing deleted

    removed = deploy.teardown(cfg, clients=clients, force=True)
    assert {c.action for c in removed} == {"delete"}
    assert len(removed) == 13  # the script goes with the work bucket
    assert {c.action for c in deploy.plan(cfg, clients=clients)} == {"create"}
    assert {c.action for c in deploy.teardown(cfg, clients=clients)} == {"absent"}


def test_teardown_leaves_other_stacks_alone(local_stack, cfg, clients):
    other = cfg.replace(stack_name=cfg.stack_name + "x")
    for each in (cfg, other):
        deploy.deploy(each, clients=clients if each is cfg else Clients.create(other, local_stack.session()),
                      environ={cfg.api_key_env: KEY})
    deploy.teardown(cfg, clients=clients)
    other_clients = Clients.create(other, local_stack.session())
    assert {c.action for c in deploy.plan(other, clients=other_clients)} == {"unchanged"}
    deploy.teardown(other, clients=other_clients)


def test_a_table_with_other_keys_stops_the_plan_and_names_the_keys_needed(cfg, clients):
    clients.dynamodb.create_table(
        TableName=cfg.tasks_table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}])
    try:
        with pytest.raises(DeployError, match=rf"^dynamodb-table {cfg.tasks_table}: exists with keys task_id \(HASH\), "
                                              r"needs task_id \(HASH\), created_at \(RANGE\) "):
            deploy.plan(cfg, clients=clients)
    finally:
        clients.dynamodb.delete_table(TableName=cfg.tasks_table)
