"""awswrangler reading and writing S3 and DynamoDB through the one endpoint."""

from __future__ import annotations

import uuid

import awswrangler as wr
import pandas as pd
import pytest


@pytest.fixture
def wrangler_env(local_stack, monkeypatch):
    """Only the variables `dsa local env` prints: awswrangler's clients pick them up through botocore."""
    for key, value in local_stack.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return local_stack


FRAME = pd.DataFrame({
    "discount_code": ["c1", "c2", "c3"],
    "error_message": ['Code "X1" expired, retry later\nline 2 — café ✓', "", "plain"],
    "status": ["failed", "rejected", "failed"],
})


def test_s3_parquet_and_csv_round_trip(wrangler_env):
    stack = wrangler_env
    bucket = f"wr-{uuid.uuid4().hex[:10]}"
    stack.client("s3").create_bucket(Bucket=bucket)
    session = stack.session()
    wr.s3.to_parquet(FRAME, f"s3://{bucket}/pq/", dataset=True, boto3_session=session)
    back = wr.s3.read_parquet(f"s3://{bucket}/pq/", dataset=True, boto3_session=session)
    pd.testing.assert_frame_equal(back.sort_values("discount_code").reset_index(drop=True), FRAME,
                                  check_dtype=False, check_categorical=False)
    wr.s3.to_csv(FRAME, f"s3://{bucket}/out.csv", index=False, boto3_session=session)
    csv = wr.s3.read_csv(f"s3://{bucket}/out.csv", keep_default_na=False, boto3_session=session)
    pd.testing.assert_frame_equal(csv, FRAME)
    listed = wr.s3.list_objects(f"s3://{bucket}/", boto3_session=session)
    assert listed[0] == f"s3://{bucket}/out.csv" and len(listed) == 2


def test_dynamodb_put_df_and_read_items(wrangler_env):
    stack = wrangler_env
    table = f"wr-{uuid.uuid4().hex[:10]}"
    stack.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}, {"AttributeName": "location_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                              {"AttributeName": "location_id", "AttributeType": "S"}])
    frame = pd.DataFrame({"task_id": ["t1"] * 3, "location_id": ["loc-1", "loc-2", "loc-3"],
                          "api_url": ["http://127.0.0.1:4567"] * 3, "enabled": [True, False, True]})
    wr.dynamodb.put_df(frame, table_name=table, boto3_session=stack.session())
    back = wr.dynamodb.read_items(table_name=table, allow_full_scan=True, boto3_session=stack.session())
    back = back[frame.columns].sort_values("location_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_wrangler_config_endpoints_work_too(local_stack, monkeypatch):
    """The other way awswrangler is pointed at an endpoint: its own config, with an explicit session."""
    bucket = f"wr-{uuid.uuid4().hex[:10]}"
    local_stack.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setattr(wr.config, "s3_endpoint_url", local_stack.endpoint_url)
    wr.s3.to_json(FRAME, f"s3://{bucket}/f.json", orient="records", lines=True, boto3_session=local_stack.session())
    back = wr.s3.read_json(f"s3://{bucket}/f.json", orient="records", lines=True, boto3_session=local_stack.session())
    assert back["discount_code"].tolist() == ["c1", "c2", "c3"]
