"""Where the toolkit works: open the target (local stack or AWS) a notebook's parameters cell names.

The library's one entry point for notebooks and the dashboard; the CLI takes its target from
StackConfig instead.

``open_target("local")`` reuses a running local stack, so that every runbook notebook works on
the same deployment: first one started with ``dsa local up`` (or ``make lab``), found through
its state file (toolkit.local.state); else one answering at the default endpoint (started by another kernel); else it
starts the embedded stack inside this kernel, where it lives as long as the kernel.
``open_target("aws", ...)`` uses a profile, region and stack name and has no sample API.

Locally the sample third-party API is reached over HTTPS (verified against the stack's CA,
``DSA_SAMPLE_API_CA``) through its admin routes (:class:`SampleApiAdmin`), so faults and ground
truth work whichever process serves it.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd

from toolkit import aws
from toolkit.config import DEFAULT_LOCAL_ENDPOINT, StackConfig
from toolkit.errors import ToolkitError
from toolkit.local.state import default_run_dir, read_state
from toolkit.local.tls import SAMPLE_API_CA_ENV, sample_api_context

__all__ = ["Target", "TargetError", "SampleApiAdmin", "open_target", "SAMPLE_LOCATIONS_CSV"]

SAMPLE_LOCATIONS_CSV = Path(__file__).resolve().parent.parent / "sample_data" / "locations.csv"
_TARGETS = ("local", "aws")
_kernel_stack: Any = None  # a LocalStack started by this kernel, reused by later calls


class TargetError(ToolkitError):
    """The notebook's parameters do not name a usable target."""


class SampleApiAdmin:
    """The sample API's admin routes over HTTP(S): fault plans and ground truth (they need its admin token).

    ``ca_file`` is the stack's CA (PEM) that the sample API's certificate is verified against.
    """

    def __init__(self, url: str, ca_file: str | Path | None = None, admin_token: str | None = None):
        self.url = url.rstrip("/")
        self.ca_file = ca_file
        self._token = admin_token

    def __repr__(self) -> str:  # the token stays out of notebook outputs
        return f"SampleApiAdmin(url={self.url!r})"

    def set_faults(self, plan: dict[str, Any] | None) -> dict[str, Any]:
        """Replace the fault plan (None: no faults); returns the plan as the API stored it."""
        from toolkit.local.sample_api import FaultPlan

        body = FaultPlan.from_dict(plan).to_dict() if plan else FaultPlan().to_dict()
        return self._call("POST", "/_admin/faults", body)

    def ground_truth_frame(self, location_ids: list[str] | None = None) -> pd.DataFrame:
        """What the locations hold, whatever the faults: location_id, data_type, resourceKey, messages."""
        query = "" if location_ids is None else "?" + urllib.parse.urlencode({"locations": ",".join(location_ids)})
        records = self._call("GET", "/_admin/ground-truth" + query)["records"]
        return pd.DataFrame([(r["location_id"], r["data_type"], r["resourceKey"], list(r["errors"]))
                             for r in records], columns=["location_id", "data_type", "resourceKey", "messages"])

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        from toolkit.local.sample_api import ADMIN_TOKEN_ENV, ADMIN_TOKEN_HEADER

        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers[ADMIN_TOKEN_HEADER] = self._token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=sample_api_context(self.ca_file)) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise TargetError(f"sample API {path}: the admin token is missing or wrong; set {ADMIN_TOKEN_ENV} "
                                  "to the one `dsa local up` printed (`dsa local env` exports it)") from None
            raise TargetError(f"sample API {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
        except OSError as exc:
            raise TargetError(f"sample API: no answer at {self.url} ({exc})") from None


@dataclass
class Target:
    """Where a notebook works: the stack's config and session, and locally the sample API."""

    config: StackConfig
    session: boto3.Session
    sample_api: SampleApiAdmin | None
    origin: str  # how it was found: "dsa local up", "default endpoint", "this kernel" or "aws"

    def describe(self) -> str:
        where = self.config.endpoint_url if self.config.is_local else f"{self.config.region} ({self.config.profile or 'default profile'})"
        api = f"; sample API {self.sample_api.url}" if self.sample_api else ""
        return f"stack {self.config.stack_name!r} on {self.config.target} at {where} [{self.origin}]{api}"


def open_target(target: str = "local", *, profile: str = "", region: str = "", stack_name: str = "",
                run_dir: Path | None = None) -> Target:
    """The target a notebook's parameters name; locally, a running stack or one started here."""
    if target not in _TARGETS:
        raise TargetError(f"target: must be 'local' or 'aws', got {target!r}")
    names = {k: v for k, v in (("region", region), ("stack_name", stack_name)) if v}
    if target == "aws":
        config = StackConfig.load(target="aws", profile=profile or None, **names)
        return Target(config, aws.session(config), None, "aws")
    stack = _local_stack(run_dir)
    config = StackConfig.load(target="local", endpoint_url=stack.endpoint, **names)
    admin = SampleApiAdmin(stack.sample_url, stack.ca_file, stack.admin_token) if stack.sample_url else None
    return Target(config, aws.session(config), admin, stack.origin)


@dataclass(frozen=True)
class _LocalStackFound:
    """Where the local stack a notebook uses answers, and what its sample API needs."""

    endpoint: str
    sample_url: str | None
    ca_file: str | None  # the sample API's CA (PEM); None when it serves plain http
    admin_token: str | None
    origin: str


def _local_stack(run_dir: Path | None) -> _LocalStackFound:
    """The stack to use, starting one in this kernel if none answers."""
    global _kernel_stack
    from toolkit.local.sample_api import ADMIN_TOKEN_ENV
    from toolkit.local.stack import DEFAULT_SAMPLE_API_PORT, LocalStack, probe_components

    state = read_state(run_dir or default_run_dir())
    if state is not None:
        return _LocalStackFound(state.endpoint_url, state.sample_api_url, state.sample_api_ca,
                                state.sample_api_admin_token, "dsa local up")
    if _kernel_stack is None or not _kernel_stack.running:
        # A stack started elsewhere: its CA and admin token come from the environment (`dsa local env`).
        default_ca = os.environ.get(SAMPLE_API_CA_ENV)
        default_sample = f"https://127.0.0.1:{DEFAULT_SAMPLE_API_PORT}"
        if default_ca and all(c.up for c in probe_components(DEFAULT_LOCAL_ENDPOINT, default_sample, default_ca)):
            return _LocalStackFound(DEFAULT_LOCAL_ENDPOINT, default_sample, default_ca,
                                    os.environ.get(ADMIN_TOKEN_ENV), "default endpoint")
        # The sample API checks this key and deploy copies it into the connection: set it first.
        os.environ.setdefault(StackConfig.api_key_env, secrets.token_urlsafe(24))
        _kernel_stack = LocalStack().start()
    api, ca = _kernel_stack.sample_api, _kernel_stack.sample_api_ca
    return _LocalStackFound(_kernel_stack.endpoint_url, api.url, str(ca) if ca is not None else None,
                            api.admin_token, "this kernel")
