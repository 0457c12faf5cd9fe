"""The integrations wired into the embedded local stack: one endpoint for Step Functions, S3,
EventBridge and Secrets Manager; a Distributed Map reads its items from S3, each EXPRESS child
calls the sample API through an EventBridge connection, and the results land in S3."""

from __future__ import annotations

import json
import time
import uuid


def test_distributed_map_over_s3_items_calling_the_sample_api(local_stack, make_role):
    s3, events, sfn = (local_stack.client(n) for n in ("s3", "events", "stepfunctions"))
    suffix = uuid.uuid4().hex[:8]
    bucket = f"f-e2e-{suffix}"
    s3.create_bucket(Bucket=bucket)
    api = local_stack.sample_api
    key = api.auth.secret if api.auth.mode == "api_key" else "any-key"  # the stack's key, if it set one
    locations = api.location_ids()[:6]
    lines = "\n".join(json.dumps({"location": loc}) for loc in locations)
    s3.put_object(Bucket=bucket, Key="in/locations.jsonl", Body=lines.encode())
    connection = events.create_connection(
        Name=f"f-e2e-{suffix}",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": local_stack.config.api_key_header, "ApiKeyValue": key}},
    )["ConnectionArn"]
    child = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Summary",
        "States": {
            "Summary": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Arguments": {
                    "ApiEndpoint": "{% $states.input.api & '/' & $states.input.location & '/get-summary' %}",
                    "Method": "GET",
                    "InvocationConfig": {"ConnectionArn": connection},
                },
                "Output": "{% {'location': $states.input.location, 'failed': $states.result.ResponseBody.states.failed} %}",
                "End": True,
            }
        },
    }
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSONL"},
                    "Arguments": {"Bucket": bucket, "Key": "in/locations.jsonl"},
                },
                "ItemSelector": {"location": "{% $states.context.Map.Item.Value.location %}", "api": "{% $states.input.api %}"},
                "ItemProcessor": child,
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Arguments": {"Bucket": bucket, "Prefix": "out"},
                    "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"},
                },
                "End": True,
            }
        },
    }
    account, region = local_stack.config.account_id, local_stack.config.region
    machine_arn = f"arn:aws:states:{region}:{account}:stateMachine:f-e2e-{suffix}"
    role = make_role([  # exactly what this workflow uses, as AWS would require
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/in/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"},
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine_arn},
        {"Effect": "Allow", "Action": "states:InvokeHTTPEndpoint", "Resource": machine_arn,
         "Condition": {"StringEquals": {"states:HTTPMethod": "GET"}, "StringLike": {"states:HTTPEndpoint": f"{api.url}/*"}}},
        {"Effect": "Allow", "Action": "events:RetrieveConnectionCredentials", "Resource": connection},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:events!connection/*"},
    ])
    machine = sfn.create_state_machine(name=f"f-e2e-{suffix}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"api": api.url}))["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    manifest_key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    [results_file] = manifest["ResultFiles"]["SUCCEEDED"]
    body = s3.get_object(Bucket=bucket, Key=results_file["Key"])["Body"].read().decode()
    rows = sorted((json.loads(line) for line in body.splitlines()), key=lambda r: r["location"])
    truth = {}
    for record in api.ground_truth(locations):
        if record.data_type == "failed":
            truth[record.location_id] = truth.get(record.location_id, 0) + 1
    assert rows == [{"location": loc, "failed": truth.get(loc, 0)} for loc in sorted(locations)]
