"""Integration ARNs carry their partition: arn:aws-cn:states:::... and arn:aws-us-gov:states:::...
name the same integrations as arn:aws:states:::... (Step Functions docs, "Integrating services":
resource ARNs are written arn:<partition>:states:::<service>:<api>)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_an_integration_arn_in_any_partition_runs_the_same_integration(sfn, unique, partition):
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": f"arn:{partition}:states:::local:test",
        "Parameters": {"Result": {"ok.$": "$.v"}}, "End": True}}}
    described = sfn.run(definition, {"v": partition}, name=unique + partition)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"ok": partition}

