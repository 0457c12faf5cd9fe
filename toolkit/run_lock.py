"""One run of a task at a time: a lock item per task, taken with a DynamoDB conditional write.

``runs.start_run`` writes the lock, naming the execution it is about to start, before it calls
StartExecution; a second start finds the lock held and is refused with the holder's name. The
lock is never released by the workflow: a lock whose execution has ended (DescribeExecution), or
no longer exists once it was started (a local stack restarted mid-run, an execution past AWS's
retention), is taken over by a conditional write on its old value, so of two starts that find
the same stale lock exactly one wins.

The lock lives in the tasks table under a partition key no task id can have (task ids hold no
``#``), so no query for a task ever meets it; scans skip it with :func:`is_lock_item`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import boto3

from toolkit import aws
from toolkit.config import StackConfig

__all__ = ["LOCK_PREFIX", "STARTING_GRACE", "RunLock", "is_lock_item", "acquire", "mark_started",
           "release"]

LOCK_PREFIX = "lock#"
_SORT_KEY = "lock"
STARTING = "STARTING"   # written, StartExecution not yet answered
STARTED = "STARTED"     # the execution it names was started
# A STARTING lock whose execution does not exist is a start still in progress, unless it is older
# than this: then the starter died between the lock and StartExecution.
STARTING_GRACE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class RunLock:
    """Who holds a task's run lock: the execution it names, whether it was started, and since when."""

    task_id: str
    execution_arn: str
    state: str
    acquired_at: str

    def key(self) -> dict[str, dict[str, str]]:
        return _key(self.task_id)

    def to_item(self) -> dict[str, Any]:
        return {**self.key(), "execution_arn": {"S": self.execution_arn}, "lock_state": {"S": self.state},
                "acquired_at": {"S": self.acquired_at}}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "RunLock":
        return cls(task_id=item["task_id"]["S"][len(LOCK_PREFIX):], execution_arn=item["execution_arn"]["S"],
                   state=item["lock_state"]["S"], acquired_at=item["acquired_at"]["S"])


def is_lock_item(item: dict[str, Any]) -> bool:
    """Whether a tasks table item (as the low-level client returns it) is a run lock, not a run."""
    return item.get("task_id", {}).get("S", "").startswith(LOCK_PREFIX)


def acquire(config: StackConfig, task_id: str, execution_arn: str, *, force: bool = False,
            session: boto3.Session | None = None) -> RunLock | None:
    """Take the task's lock for ``execution_arn``; return None if taken, else the lock's holder.

    ``force`` takes it whoever holds it (the holder keeps running, unguarded).
    """
    client = aws.client(config, "dynamodb", session)
    mine = RunLock(task_id, execution_arn, STARTING, _now().isoformat(timespec="milliseconds"))
    if force:
        client.put_item(TableName=config.tasks_table, Item=mine.to_item())
        return None
    held: RunLock | None = None
    for _ in range(3):  # each round loses only to another start that made progress
        try:
            if held is None:
                client.put_item(TableName=config.tasks_table, Item=mine.to_item(),
                                ConditionExpression="attribute_not_exists(task_id)")
            else:
                client.put_item(TableName=config.tasks_table, Item=mine.to_item(),
                                ConditionExpression="execution_arn = :arn AND acquired_at = :at",
                                ExpressionAttributeValues={":arn": {"S": held.execution_arn},
                                                           ":at": {"S": held.acquired_at}})
            return None
        except client.exceptions.ConditionalCheckFailedException:
            pass
        held = _read(client, config, task_id)
        if held is not None and _holds(config, held, session):
            return held
    return held if held is not None else _read(client, config, task_id)


def mark_started(config: StackConfig, task_id: str, lock_arn: str, execution_arn: str, *,
                 session: boto3.Session | None = None) -> None:
    """Note that the lock's execution was started, as ``execution_arn`` (StartExecution's answer),
    unless a forced start took the lock since."""
    client = aws.client(config, "dynamodb", session)
    try:
        client.update_item(TableName=config.tasks_table, Key=_key(task_id),
                           UpdateExpression="SET lock_state = :started, execution_arn = :started_arn",
                           ConditionExpression="execution_arn = :arn",
                           ExpressionAttributeValues={":started": {"S": STARTED}, ":arn": {"S": lock_arn},
                                                      ":started_arn": {"S": execution_arn}})
    except client.exceptions.ConditionalCheckFailedException:
        pass


def release(config: StackConfig, task_id: str, execution_arn: str, *, session: boto3.Session | None = None) -> None:
    """Drop the lock if it still names ``execution_arn`` (its StartExecution failed)."""
    client = aws.client(config, "dynamodb", session)
    try:
        client.delete_item(TableName=config.tasks_table, Key=_key(task_id),
                           ConditionExpression="execution_arn = :arn",
                           ExpressionAttributeValues={":arn": {"S": execution_arn}})
    except client.exceptions.ConditionalCheckFailedException:
        pass


def _holds(config: StackConfig, lock: RunLock, session: boto3.Session | None) -> bool:
    """Whether the lock still guards a run: its execution is running, or is being started."""
    sfn = aws.client(config, "stepfunctions", session)
    try:
        return sfn.describe_execution(executionArn=lock.execution_arn)["status"] == "RUNNING"
    except sfn.exceptions.ExecutionDoesNotExist:
        if lock.state == STARTED:
            return False  # started, then lost: a restarted local stack or past AWS's retention
        acquired = dt.datetime.fromisoformat(lock.acquired_at)
        return _now() - acquired < STARTING_GRACE


def _read(client: Any, config: StackConfig, task_id: str) -> RunLock | None:
    item = client.get_item(TableName=config.tasks_table, Key=_key(task_id), ConsistentRead=True).get("Item")
    return RunLock.from_item(item) if item else None


def _key(task_id: str) -> dict[str, dict[str, str]]:
    return {"task_id": {"S": f"{LOCK_PREFIX}{task_id}"}, "created_at": {"S": _SORT_KEY}}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
