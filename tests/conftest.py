"""Session-wide fixtures: one local stack for the whole test session, and the orphan check.

``local_stack`` is a :class:`~toolkit.local.stack.LocalStack` on free ports with time running
100 times faster (``time_scale=0.01``). moto's state is per process, so every test sharing it
should use names of its own (a ``uuid`` suffix, for instance).

At the end of the session no child process of the test process may be left running (Glue runs,
detached stacks started by CLI tests, servers...): the session fails and the leftovers are listed.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator

import hypothesis  # noqa: F401  -- before jsonata (via the stack) raises the recursion limit: see tests/sfn/conftest.py
import psutil
import pytest

from toolkit.local.stack import LocalStack

ORPHAN_GRACE_SECONDS = 10.0

# The sample API checks this key and deploy puts it in the EventBridge connection, so every
# pipeline test goes through real API-key auth. Set before any stack starts.
os.environ.setdefault("DSA_API_KEY", "test-" + secrets.token_urlsafe(16))


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The embedded stack, started once for the session and stopped at its end."""
    with LocalStack(port=0, sample_api_port=0, time_scale=0.01) as stack:
        yield stack


@pytest.fixture
def make_role(local_stack: LocalStack):
    """Create an IAM role in the stack with an inline policy of ``statements``; return its ARN.

    Enforcement is on in the local stack, so every workflow a test runs needs a real role holding
    exactly what it uses, as it would on AWS.
    """
    import json
    import uuid

    iam = local_stack.client("iam")

    def make(statements: list[dict], name: str | None = None) -> str:
        name = name or f"test-role-{uuid.uuid4().hex[:10]}"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "states.amazonaws.com"}}]}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="permissions",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        return arn

    return make


GLUE_JOB_ROLE_POLICY = [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                                   "s3:ListAllMyBuckets"],
     "Resource": "*"},
    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "*"},
]


def glue_job_role(stack: LocalStack, name: str = "glue-test-job") -> str:
    """A Glue job role in ``stack`` holding what a test job run uses (its script and data in S3, its
    logs): local runs use the role's AssumeRole credentials and the gateway holds them to it."""
    import json

    iam = stack.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "glue.amazonaws.com"}}]}
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="job",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": GLUE_JOB_ROLE_POLICY}))
    return arn


@pytest.fixture(scope="session")
def make_glue_role():
    """:func:`glue_job_role`, for tests that run jobs on a stack of their own."""
    return glue_job_role


@pytest.fixture(scope="session")
def glue_role(local_stack: LocalStack) -> str:
    """The session stack's Glue job role for tests that run jobs (see :func:`glue_job_role`)."""
    return glue_job_role(local_stack)


@pytest.fixture
def start_together():
    """Start ``runs.start_run(config, task)`` from ``n`` threads released at the same moment;
    return the runs started and the refusals' messages."""
    import threading

    from toolkit import runs

    def start(config, task: str, n: int = 2) -> tuple[list, list[str]]:
        barrier, started, refused = threading.Barrier(n), [], []

        def one() -> None:
            barrier.wait()
            try:
                started.append(runs.start_run(config, task))
            except runs.RunError as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=one) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return started, refused

    return start


@pytest.fixture(scope="session")
def sts_url() -> Iterator[str]:
    """A moto server standing in for STS, so an AWS target can resolve its account offline."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, sts_url: str) -> str:
    """Credentials whose STS answers from ``sts_url`` (moto's account 123456789012)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "DSA_ACCOUNT_ID", "DSA_TARGET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    return "123456789012"


def _live_children() -> list[psutil.Process]:
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if any child process outlived it (after a short grace period)."""
    deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
    leftovers = _live_children()
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.2)
        leftovers = _live_children()
    if not leftovers:
        return
    described = []
    for proc in leftovers:
        try:
            described.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "\nchild processes left running after the test session:\n  " + "\n  ".join(described)
    if reporter is not None:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
