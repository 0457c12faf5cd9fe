"""Run in a fresh process by test_persistence.py (moto's state is per process).

``write DIR``: start a stack with ``data_dir=DIR``, create one of everything, stop (saves).
``read DIR``: start a stack from ``DIR`` and print, as JSON, what came back.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from toolkit.local.stack import LocalStack

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
# Fails at B (no such bucket) after assigning $v: a redrive needs $v, which snapshots do not keep.
REDRIVE = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
    "A": {"Type": "Pass", "Assign": {"v": 1}, "Next": "B"},
    "B": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
          "Arguments": {"Bucket": "persist-missing-bucket", "Key": "k"}, "Next": "C"},
    "C": {"Type": "Pass", "Output": "{% $v %}", "End": True}}}


def _failed(sfn, machine_arn: str, name: str) -> str:
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name)["executionArn"]
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.05)
    return arn


def write(stack: LocalStack) -> dict:
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    s3.create_bucket(Bucket="persist-bucket")
    s3.put_object(Bucket="persist-bucket", Key="parts/t/1.json", Body=b'{"rows": []}')
    ddb.create_table(TableName="persist-table", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    ddb.put_item(TableName="persist-table", Item={"k": {"S": "a"}, "n": {"N": "7"}})
    connection = stack.client("events").create_connection(
        Name="persist-conn", AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "kept"}})
    stack.client("secretsmanager").create_secret(Name="persist-secret", SecretString="s")
    sfn = stack.client("stepfunctions")
    role = stack.config.role_arn("r")
    # The Glue job runs as this role (its AssumeRole credentials) and must read its script and write logs.
    stack.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "glue.amazonaws.com"}}]}))
    stack.client("iam").put_role_policy(RoleName="r", PolicyName="job", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": "*"}]}))
    done_arn = sfn.create_state_machine(name="persist-done", definition=json.dumps(PASS), roleArn=role)["stateMachineArn"]
    finished = sfn.start_execution(stateMachineArn=done_arn, name="finished")["executionArn"]
    while sfn.describe_execution(executionArn=finished)["status"] == "RUNNING":
        time.sleep(0.05)
    wait_arn = sfn.create_state_machine(name="persist-wait", definition=json.dumps(WAIT), roleArn=role)["stateMachineArn"]
    running = sfn.start_execution(stateMachineArn=wait_arn, name="running")["executionArn"]
    redrive_arn = sfn.create_state_machine(name="persist-redrive", definition=json.dumps(REDRIVE),
                                           roleArn=role)["stateMachineArn"]
    failed = _failed(sfn, redrive_arn, "failed")
    glue = stack.client("glue")
    s3.put_object(Bucket="persist-bucket", Key="job.py", Body=b"print('ok')")
    glue.create_job(Name="persist-job", Role=role, Command={"Name": "glueetl", "ScriptLocation": "s3://persist-bucket/job.py"})
    run_id = glue.start_job_run(JobName="persist-job")["JobRunId"]
    while glue.get_job_run(JobName="persist-job", RunId=run_id)["JobRun"]["JobRunState"] not in ("SUCCEEDED", "FAILED"):
        time.sleep(0.05)
    return {"connection": connection["ConnectionArn"], "finished": finished, "running": running, "run_id": run_id,
            "failed": failed}


def read(stack: LocalStack) -> dict:
    sfn, glue = stack.client("stepfunctions"), stack.client("glue")
    out = {
        "object": stack.client("s3").get_object(Bucket="persist-bucket", Key="parts/t/1.json")["Body"].read().decode(),
        "item": stack.client("dynamodb").get_item(TableName="persist-table", Key={"k": {"S": "a"}})["Item"]["n"]["N"],
        "connection": stack.client("events").describe_connection(Name="persist-conn")["ConnectionArn"],
        "secret": stack.client("secretsmanager").get_secret_value(SecretId="persist-secret")["SecretString"],
        "machines": sorted(m["name"] for m in sfn.list_state_machines()["stateMachines"]),
        "job": glue.get_job(JobName="persist-job")["Job"]["Name"],
        "runs": [(r["Id"], r["JobRunState"]) for r in glue.get_job_runs(JobName="persist-job")["JobRuns"]],
    }
    done_arn = stack.config.state_machine_arn("persist-done")
    wait_arn = stack.config.state_machine_arn("persist-wait")
    out["finished"] = [(e["executionArn"], e["status"]) for e in sfn.list_executions(stateMachineArn=done_arn)["executions"]]
    out["running"] = [e["executionArn"] for e in sfn.list_executions(stateMachineArn=wait_arn)["executions"]]
    redrive_arn = stack.config.state_machine_arn("persist-redrive")
    restored = next(e["executionArn"] for e in sfn.list_executions(stateMachineArn=redrive_arn)["executions"])
    described = sfn.describe_execution(executionArn=restored)
    try:
        sfn.redrive_execution(executionArn=restored)
        refused = None
    except sfn.exceptions.ExecutionNotRedrivable as exc:
        refused = exc.response["Error"]["Message"]
    fresh = sfn.describe_execution(executionArn=_failed(sfn, redrive_arn, "after-restart"))
    out["restored"] = [described["status"], described["redriveStatus"], described.get("redriveStatusReason"), refused]
    out["fresh"] = [fresh["status"], fresh["redriveStatus"]]
    return out


if __name__ == "__main__":
    phase, data_dir = sys.argv[1], Path(sys.argv[2])
    with LocalStack(port=0, sample_api=False, data_dir=data_dir) as running_stack:
        result = write(running_stack) if phase == "write" else read(running_stack)
    print(json.dumps(result))
