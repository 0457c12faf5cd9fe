"""IAM on the local stack: policy evaluation (``policy``), roles read from moto (``roles``) and the
gateway's check of requests signed with an assumed role's keys (``requests``).

Enforcement is on by default; ``DSA_LOCAL_IAM=off`` (or ``LocalStack(iam=False)``,
``dsa local up --no-iam``) turns it off for experiments.
"""

from __future__ import annotations

import os

from toolkit.local.iam.policy import Decision, Evaluation, evaluate
from toolkit.local.iam.roles import IamAuthorizer

__all__ = ["Decision", "Evaluation", "evaluate", "IamAuthorizer", "enforced_by_default", "ENV"]

ENV = "DSA_LOCAL_IAM"


def enforced_by_default() -> bool:
    """True unless ``DSA_LOCAL_IAM`` says ``off`` (or ``0``/``false``/``no``)."""
    return os.environ.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")
