"""Request shapes deploy sends to AWS on a fresh account, checked by botocore's Stubber.

Stubber validates every request (and canned response) against the service models boto3 ships,
so this is the check that deploy works unchanged against AWS, with no AWS account.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from toolkit import deploy, layout, resources, spec, workflows
from toolkit.config import StackConfig

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
KEY = "stubbed-api-key"


@pytest.fixture
def cfg() -> StackConfig:
    return StackConfig.load(environ={}, target="aws", account_id="123456789012", region="eu-west-1",
                            stack_name="shape", glue_workers=4, glue_worker_type="G.2X",
                            api_endpoints=["https://api.example.com/*"])


@pytest.fixture
def clients(cfg):
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=cfg.region)
    made = deploy.Clients(**{name: session.client(name) for name in deploy.Clients.__dataclass_fields__})
    stubs = {name: Stubber(getattr(made, name)) for name in deploy.Clients.__dataclass_fields__}
    for stub in stubs.values():
        stub.activate()
    yield made, stubs
    for stub in stubs.values():
        stub.deactivate()


def _role(cfg, name):
    return {"Role": {"Path": "/", "RoleName": name, "RoleId": "AROAEXAMPLEID000000", "Arn": cfg.role_arn(name),
                     "CreateDate": NOW}}


def test_fresh_account_deploy_sends_valid_requests(cfg, clients):
    c, stub = clients
    conn_arn = f"arn:aws:events:{cfg.region}:{cfg.account_id}:connection/{cfg.connection_name}/abcd-1234"

    # Inspection: nothing exists yet.
    for role in (cfg.states_role, cfg.glue_role):
        stub["iam"].add_client_error("get_role", "NoSuchEntity", http_status_code=404,
                                     expected_params={"RoleName": role})
    for table in (cfg.locations_table, cfg.tasks_table):
        stub["dynamodb"].add_client_error("describe_table", "ResourceNotFoundException",
                                          expected_params={"TableName": table})
    for bucket in (cfg.work_bucket, cfg.output_bucket):
        stub["s3"].add_client_error("head_bucket", "404", http_status_code=404, expected_params={"Bucket": bucket})
    stub["s3"].add_client_error("get_object", "NoSuchBucket", http_status_code=404,
                                expected_params={"Bucket": cfg.work_bucket, "Key": layout.SCRIPT_KEY})
    stub["glue"].add_client_error("get_job", "EntityNotFoundException", expected_params={"JobName": cfg.glue_job})
    stub["glue"].add_client_error("get_table", "EntityNotFoundException",
                                  expected_params={"DatabaseName": cfg.catalog_database, "Name": cfg.catalog_table})
    stub["events"].add_client_error("describe_connection", "ResourceNotFoundException",
                                    expected_params={"Name": cfg.connection_name})
    stub["logs"].add_response("describe_log_groups", {"logGroups": []},
                              {"logGroupNamePrefix": cfg.page_fetch_log_group})
    for w in workflows.WORKFLOWS:
        stub["stepfunctions"].add_client_error("describe_state_machine", "StateMachineDoesNotExist",
                                               expected_params={"stateMachineArn": w.arn(cfg)})

    # Creation, in dependency order within each service.
    for role, service, policy in ((cfg.states_role, "states", spec.states_policy(cfg)),
                                  (cfg.glue_role, "glue", spec.glue_policy(cfg))):
        stub["iam"].add_response("create_role", _role(cfg, role), {
            "RoleName": role, "AssumeRolePolicyDocument": json.dumps(spec.trust_policy(cfg, service)),
            "Description": ANY, "Tags": [{"Key": spec.STACK_TAG, "Value": cfg.stack_name}]})
        stub["iam"].add_response("put_role_policy", {}, {
            "RoleName": role, "PolicyName": f"{role}-policy", "PolicyDocument": json.dumps(policy)})
    for table, params in spec.table_definitions(cfg).items():
        stub["dynamodb"].add_response("create_table", {}, {**params, "Tags": ANY})
        stub["dynamodb"].add_response("describe_table", {"Table": {"TableName": table, "TableStatus": "ACTIVE"}},
                                      {"TableName": table})
    for bucket in (cfg.work_bucket, cfg.output_bucket):
        settings = spec.bucket_settings(cfg, bucket)
        stub["s3"].add_response("create_bucket", {}, {
            "Bucket": bucket, "CreateBucketConfiguration": {"LocationConstraint": cfg.region}})
        stub["s3"].add_response("put_public_access_block", {}, {
            "Bucket": bucket, "PublicAccessBlockConfiguration": settings["public_access_block"]})
        stub["s3"].add_response("put_bucket_encryption", {}, {
            "Bucket": bucket, "ServerSideEncryptionConfiguration": settings["encryption"]})
        stub["s3"].add_response("put_bucket_lifecycle_configuration", {}, {
            "Bucket": bucket, "LifecycleConfiguration": settings["lifecycle"]})
        stub["s3"].add_response("put_bucket_tagging", {}, {"Bucket": bucket, "Tagging": ANY})
    stub["s3"].add_response("put_object", {}, {
        "Bucket": cfg.work_bucket, "Key": layout.SCRIPT_KEY, "Body": spec.SCRIPT_PATH.read_bytes(),
        "ContentType": "text/x-python", "Metadata": ANY})
    stub["glue"].add_response("create_job", {"Name": cfg.glue_job}, {
        "Name": cfg.glue_job, "Tags": {spec.STACK_TAG: cfg.stack_name}, **spec.glue_job_definition(cfg)})
    stub["glue"].add_response("create_database", {}, {
        "DatabaseInput": {"Name": cfg.catalog_database, "Description": ANY}, "Tags": {spec.STACK_TAG: cfg.stack_name}})
    stub["glue"].add_response("create_table", {}, {
        "DatabaseName": cfg.catalog_database, "TableInput": spec.catalog_table_input(cfg)})
    stub["events"].add_response("create_connection", {"ConnectionArn": conn_arn}, {
        "Name": cfg.connection_name, "AuthorizationType": "API_KEY", "Description": ANY,
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": cfg.api_key_header, "ApiKeyValue": KEY}}})
    stub["events"].add_response("describe_connection", {"ConnectionArn": conn_arn, "Name": cfg.connection_name},
                                {"Name": cfg.connection_name})
    stub["logs"].add_response("create_log_group", {}, {
        "logGroupName": cfg.page_fetch_log_group, "tags": {spec.STACK_TAG: cfg.stack_name}})
    stub["logs"].add_response("put_retention_policy", {}, {
        "logGroupName": cfg.page_fetch_log_group, "retentionInDays": cfg.log_retention_days})
    definitions = workflows.render_definitions(cfg, conn_arn)
    group_arn = f"arn:aws:logs:{cfg.region}:{cfg.account_id}:log-group:{cfg.page_fetch_log_group}:*"
    for w in workflows.WORKFLOWS:
        logging = ({"level": "ERROR", "includeExecutionData": False,
                    "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}
                   if w.type == "EXPRESS" else {"level": "OFF", "includeExecutionData": False})
        stub["stepfunctions"].add_response("create_state_machine", {"stateMachineArn": w.arn(cfg),
                                                                    "creationDate": NOW}, {
            "name": w.name(cfg), "definition": definitions[w.name(cfg)], "type": w.type,
            "roleArn": cfg.role_arn(cfg.states_role), "loggingConfiguration": logging, "tags": ANY})

    changes = deploy.deploy(cfg, clients=c, environ={cfg.api_key_env: KEY})
    assert {ch.action for ch in changes} == {"create"} and len(changes) == 14
    for s in stub.values():
        s.assert_no_pending_responses()


def test_key_from_a_secret_arn_is_read_with_get_secret_value(cfg, clients):
    c, stub = clients
    arn = f"arn:aws:secretsmanager:{cfg.region}:{cfg.account_id}:secret:api-key-AbCdEf"
    stub["secretsmanager"].add_response("get_secret_value", {"ARN": arn, "SecretString": f" {KEY}\n"},
                                        {"SecretId": arn})
    assert deploy.api_key(cfg, c, {cfg.api_key_env: arn}) == KEY
    stub["secretsmanager"].add_client_error("get_secret_value", "AccessDeniedException", expected_params={"SecretId": arn})
    with pytest.raises(deploy.DeployError, match=f"^{cfg.api_key_env}: cannot read the secret it names "
                                                 r"\(AccessDeniedException\)$"):
        deploy.api_key(cfg, c, {cfg.api_key_env: arn})


def test_policies_name_only_this_stacks_resources(cfg):
    for policy in (spec.states_policy(cfg), spec.glue_policy(cfg)):
        for statement in policy["Statement"]:
            if statement["Sid"] == "LogDelivery":  # AWS documents these actions on "*" only
                assert statement["Resource"] == ["*"] and set(statement["Action"]) == set(spec.LOG_DELIVERY_ACTIONS)
                continue
            for resource in statement["Resource"]:
                assert resource != "*"
                assert cfg.account_id in resource or resource.startswith("arn:aws:s3:::")
                assert cfg.stack_name in resource or "StepFunctionsGetEvents" in resource \
                    or resource.endswith(":log-group:/aws-glue/*") \
                    or resource == f"arn:aws:glue:{cfg.region}:{cfg.account_id}:catalog"  # partitions need it


def test_rotating_the_key_sends_update_connection_with_it(cfg, clients):
    c, stub = clients
    stub["events"].add_response("update_connection", {}, {
        "Name": cfg.connection_name, "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": cfg.api_key_header, "ApiKeyValue": "new-key"}}})
    stack = spec.stack_spec(cfg)
    resources.Connection(cfg, stack.connection, stack.tags).with_api_key("new-key").update(c, current={})
    stub["events"].assert_no_pending_responses()


def test_a_connection_without_the_key_refuses_to_write_and_names_the_variable(cfg, clients):
    c, stub = clients
    stack = spec.stack_spec(cfg)
    connection = resources.Connection(cfg, stack.connection, stack.tags)
    for write in (lambda: connection.create(c), lambda: connection.update(c, current={})):
        with pytest.raises(deploy.DeployError, match=f"^{cfg.api_key_env}: not set; needed to create or update "):
            write()
    stub["events"].assert_no_pending_responses()
