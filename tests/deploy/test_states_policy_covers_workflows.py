"""The state machines' role allows every integration and S3 prefix the workflow templates use."""

from __future__ import annotations

import json
import re

from toolkit import spec, workflows
from toolkit.config import StackConfig

IAM_SERVICE = {"sfn": "states", "states": "states", "dynamodb": "dynamodb", "s3": "s3", "glue": "glue"}


def _walk(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _templates():
    return [json.loads(w.template_text()) for w in workflows.WORKFLOWS]


def _actions(policy) -> set[str]:
    return {a for s in policy["Statement"] for a in s["Action"]}


def _required_action(resource: str) -> str:
    """IAM action behind an integration ARN such as arn:aws:states:::aws-sdk:s3:getObject."""
    parts = resource.split(":::")[1].split(":")
    if parts[0] == "http":
        return "states:InvokeHTTPEndpoint"
    if parts[0] == "aws-sdk":
        parts = parts[1:]
    service, api = parts[0], parts[1].split(".")[0]
    return f"{IAM_SERVICE[service]}:{api[0].upper()}{api[1:]}"


def test_every_integration_is_allowed():
    cfg = StackConfig.load(environ={})
    allowed = _actions(spec.states_policy(cfg))
    needed = {_required_action(node["Resource"]) for t in _templates() for node in _walk(t)
              if isinstance(node.get("Resource"), str) and node["Resource"].startswith("arn:${Partition}:states:::")}
    assert needed, "no integrations found in the templates"
    assert needed <= allowed, needed - allowed


def test_every_s3_prefix_is_allowed():
    cfg = StackConfig.load(environ={})
    buckets = {"${WorkBucket}": cfg.work_bucket, "${OutputBucket}": cfg.output_bucket}
    resources = {r for s in spec.states_policy(cfg)["Statement"] if "s3:PutObject" in s["Action"]
                 for r in s["Resource"]}
    found = 0
    for template in _templates():
        for node in _walk(template):
            if node.get("Bucket") in buckets:
                where = node.get("Key") or node.get("Prefix") or ""
                literal = re.match(r"^\{%\s*'([^']*)'", where)
                if not literal:
                    continue  # a key read from a Map Run result (under the ResultWriter prefix, checked here too)
                prefix = literal.group(1).split("/")[0] + "/"
                found += 1
                assert f"arn:aws:s3:::{buckets[node['Bucket']]}/{prefix}*" in resources, (node, prefix)
    assert found >= 3
