"""Fixtures for the consolidation job: buckets on the local stack's S3 and a way to run the job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from toolkit.spec import SCRIPT_PATH as SCRIPT

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class JobRun:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class S3Place:
    """A work bucket, an output bucket and a locations table on a real endpoint, and clients for them."""

    endpoint: str
    s3: object
    work_bucket: str
    output_bucket: str
    dynamodb: object = None
    locations_table: str = ""

    def put_location(self, task_id: str, location_id: str, enabled: bool = True) -> None:
        self.dynamodb.put_item(TableName=self.locations_table, Item={
            "task_id": {"S": task_id}, "location_id": {"S": location_id}, "enabled": {"BOOL": enabled}})

    def put_coverage(self, task_id: str, location_id: str, run_id: str, page_limit: int,
                     pages: dict[str, int], extracted_at: str = "2026-12-02T12:00:00.000Z") -> None:
        """A location's coverage manifest, as the extraction workflow writes it."""
        doc = {"task_id": task_id, "location_id": location_id, "run_id": run_id, "extracted_at": extracted_at,
               "page_limit": page_limit, "data_types": [{"data_type": t, "pages": n} for t, n in pages.items()]}
        self.s3.put_object(Bucket=self.work_bucket, Key=f"coverage/{task_id}/complete/{location_id}.json",
                           Body=json.dumps(doc).encode())

    def put_parts(self, parts: dict[str, object]) -> None:
        """Write part files (key -> JSON-able document, or raw bytes) concurrently."""
        def put(item):
            key, doc = item
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            self.s3.put_object(Bucket=self.work_bucket, Key=key, Body=body)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, parts.items()))

    def get(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", ()))

    def run_job(self, *args: str, run_id: str = "jr_test") -> JobRun:
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}
        cmd = [sys.executable, str(SCRIPT), "--JOB_RUN_ID", run_id, *args]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        return JobRun(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def s3_place(local_stack) -> S3Place:
    """Fresh buckets on the local stack's S3 (moto behind the stack's one endpoint)."""
    s3 = local_stack.client("s3")
    suffix = uuid.uuid4().hex[:8]
    work, output = f"work-{suffix}", f"output-{suffix}"
    s3.create_bucket(Bucket=work)
    s3.create_bucket(Bucket=output)
    dynamodb = local_stack.client("dynamodb")
    table = f"locations-{suffix}"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"},
                                     {"AttributeName": "location_id", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"},
                                                {"AttributeName": "location_id", "AttributeType": "S"}])
    return S3Place(local_stack.endpoint_url, s3, work, output, dynamodb, table)
