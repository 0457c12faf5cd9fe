"""ARNs and names as Step Functions builds and checks them (state machines and executions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# AWS: names may not contain whitespace, brackets < > { } [ ], wildcards ? *, special characters
# " # % \ ^ | ~ ` $ & , ; : / or control characters (U+0000-001F, U+007F-009F).
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:([a-z0-9-]+):(\d{12}):stateMachine:([^:]+)$")
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:([a-z0-9-]+):(\d{12}):(execution|express):([^:]+):([^:]+)(:[^:]+)?$")


def name_problem(name: object, max_length: int) -> str | None:
    """Why ``name`` is not a valid state machine / execution name, or None if it is."""
    if not isinstance(name, str) or not name:
        return "the name must be a non-empty string"
    if len(name) > max_length:
        return f"the name must be at most {max_length} characters"
    if _FORBIDDEN.search(name):
        return "the name contains whitespace, brackets, wildcards, special or control characters"
    return None


def valid_role_arn(arn: object) -> bool:
    return isinstance(arn, str) and bool(_ROLE_ARN.match(arn))


@dataclass(frozen=True)
class ArnBuilder:
    """Builds this service's ARNs."""

    region: str
    account_id: str

    def state_machine(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def execution(self, machine_name: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account_id}:execution:{machine_name}:{name}"

    def express_execution(self, machine_name: str, name: str, run_id: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account_id}:express:{machine_name}:{name}:{run_id}"


def is_machine_arn(arn: object) -> bool:
    return isinstance(arn, str) and bool(_MACHINE_ARN.match(arn))


def parse_execution_arn(arn: object) -> tuple[str, str, bool] | None:
    """(state machine name, execution name, express?) or None if not an execution ARN."""
    if not isinstance(arn, str):
        return None
    match = _EXECUTION_ARN.match(arn)
    if not match:
        return None
    return match.group(4), match.group(5), match.group(3) == "express"
