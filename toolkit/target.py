"""Where the toolkit works: find the stack (local or AWS) for every entry point.

One discovery rule serves the CLI, the notebooks, the dashboard and the Python API
(:func:`find_local_stack`): an explicit setting (an ``endpoint_url`` or ``run_dir`` argument,
``endpoint_url`` in the config file), then the environment (``DSA_ENDPOINT_URL``, ``DSA_RUN_DIR``,
as ``dsa local env`` exports them), then the stack ``dsa local up`` recorded in the default run
directory (toolkit.local.state). When the endpoint chosen is the recorded stack's, its sample
API, CA, admin token and sample-API key come from the state file; otherwise from the
environment (``DSA_SAMPLE_API_URL``, ``DSA_SAMPLE_API_CA``, ``DSA_SAMPLE_API_ADMIN_TOKEN``,
``DSA_API_KEY``).

``open_target("local")`` applies the rule for a notebook; only when it finds nothing does it
reuse a stack answering at the default endpoint or start the embedded stack inside this kernel,
where it lives as long as the kernel. ``open_target("aws", ...)`` uses a profile, region and
stack name and has no sample API.

Locally the sample third-party API is reached over HTTPS (verified against the stack's CA)
through its admin routes (:class:`SampleApiAdmin`), so faults and ground truth work whichever
process serves it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import yaml

from toolkit import aws
from toolkit.config import DEFAULT_LOCAL_ENDPOINT, StackConfig
from toolkit.errors import ToolkitError
from toolkit.local.state import default_run_dir, read_state
from toolkit.local.tls import SAMPLE_API_CA_ENV, sample_api_context

__all__ = ["Target", "TargetError", "SampleApiAdmin", "LocalStackFound", "find_local_stack", "open_target",
           "SAMPLE_LOCATIONS_CSV", "ENDPOINT_ENV", "SAMPLE_API_URL_ENV", "NO_STACK_HINT",
           "load_config"]

SAMPLE_LOCATIONS_CSV = Path(__file__).resolve().parent.parent / "sample_data" / "locations.csv"
_TARGETS = ("local", "aws")
ENDPOINT_ENV = "DSA_ENDPOINT_URL"
SAMPLE_API_URL_ENV = "DSA_SAMPLE_API_URL"
NO_STACK_HINT = ("start one with `dsa local up --detach`; for a stack started with --run-dir DIR, "
                 "run `eval \"$(dsa local env --run-dir DIR)\"`")
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

    def faults(self) -> dict[str, Any]:
        """The fault plan the API applies now."""
        return self._call("GET", "/_admin/faults")

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
                run_dir: Path | None = None, endpoint_url: str | None = None) -> Target:
    """The target a notebook's parameters name; locally, the stack the discovery rule finds
    (:func:`find_local_stack`), else one at the default endpoint, else one started here."""
    if target not in _TARGETS:
        raise TargetError(f"target: must be 'local' or 'aws', got {target!r}")
    names = {k: v for k, v in (("region", region), ("stack_name", stack_name)) if v}
    if target == "aws":
        config = StackConfig.load(target="aws", profile=profile or None, **names)
        return Target(config, aws.session(config), None, "aws")
    stack = _local_stack(endpoint_url, run_dir)
    config = StackConfig.load(target="local", endpoint_url=stack.endpoint, **names)
    stack.export_api_key(config.api_key_env)
    admin = SampleApiAdmin(stack.sample_url, stack.ca_file, stack.admin_token) if stack.sample_url else None
    return Target(config, aws.session(config), admin, stack.origin)


@dataclass(frozen=True)
class LocalStackFound:
    """Where a local stack answers, what its sample API needs, and how it was found."""

    endpoint: str
    sample_url: str | None
    ca_file: str | None  # the sample API's CA (PEM); None when it serves plain http
    admin_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)  # the key its sample API wants (deploy sends it)
    origin: str = ""  # e.g. "DSA_ENDPOINT_URL", "dsa local up (RUN_DIR)", "this kernel"

    def export_api_key(self, name: str) -> None:
        """Let deploy in this process send the stack's own sample-API key, unless one is set already."""
        if self.api_key and not os.environ.get(name):
            os.environ[name] = self.api_key


def find_local_stack(endpoint_url: str | None = None, *, run_dir: Path | None = None,
                     environ: dict[str, str] | None = None) -> LocalStackFound | None:
    """The local stack to use by the one discovery rule (the module's docstring); None if nothing names one.

    ``endpoint_url`` and ``run_dir`` are the explicit setting; an explicit ``run_dir`` without a
    running stack is an error that names the command to start one.
    """
    env = os.environ if environ is None else environ
    explicit_dir = run_dir is not None
    where = run_dir or default_run_dir(env)
    state = read_state(where)
    if endpoint_url:
        endpoint, origin = endpoint_url, "setting"
    elif explicit_dir:
        if state is None:
            raise TargetError(f"run_dir: no local stack is running from {where}; start one with "
                              f"`dsa local up --detach --run-dir {where}`")
        endpoint, origin = state.endpoint_url, f"dsa local up ({where})"
    elif env.get(ENDPOINT_ENV):
        endpoint, origin = env[ENDPOINT_ENV], ENDPOINT_ENV
    elif state is not None:
        endpoint, origin = state.endpoint_url, f"dsa local up ({where})"
    else:
        return None
    if state is not None and state.endpoint_url.rstrip("/") == endpoint.rstrip("/"):
        return LocalStackFound(endpoint, state.sample_api_url, state.sample_api_ca, state.sample_api_admin_token,
                               state.api_key, origin)
    from toolkit.local.sample_api import ADMIN_TOKEN_ENV

    return LocalStackFound(endpoint, env.get(SAMPLE_API_URL_ENV) or None, env.get(SAMPLE_API_CA_ENV) or None,
                           env.get(ADMIN_TOKEN_ENV) or None, None, origin)


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None
                ) -> tuple[StackConfig, LocalStackFound | None]:
    """The CLI's config by the discovery rule: ``StackConfig.load(path)``, whose local endpoint is
    the one the config file or ``DSA_ENDPOINT_URL`` sets, else the recorded running stack's; with
    the local stack found (None on AWS, or when nothing names a stack: the default endpoint)."""
    env = os.environ if environ is None else environ
    config = StackConfig.load(path, environ=env)
    if not config.is_local:
        return config, None
    file_path = path if path is not None else env.get("DSA_CONFIG")
    if env.get(ENDPOINT_ENV):
        setting, origin = config.endpoint_url, ENDPOINT_ENV
    elif file_path and "endpoint_url" in (yaml.safe_load(Path(file_path).read_text(encoding="utf-8")) or {}):
        setting, origin = config.endpoint_url, f"endpoint_url in {file_path}"
    else:
        setting, origin = None, ""
    found = find_local_stack(setting, environ=env)
    if found is None:
        return config, None
    if setting:
        found = dataclasses.replace(found, origin=origin)
    else:
        config = StackConfig.load(path, environ=env, endpoint_url=found.endpoint)
    found.export_api_key(config.api_key_env)
    return config, found


def _local_stack(endpoint_url: str | None, run_dir: Path | None) -> LocalStackFound:
    """The stack to use: the one the discovery rule finds, else one at the default endpoint,
    else one started in this kernel."""
    global _kernel_stack
    from toolkit.local.sample_api import ADMIN_TOKEN_ENV
    from toolkit.local.stack import DEFAULT_SAMPLE_API_PORT, LocalStack, probe_components

    found = find_local_stack(endpoint_url, run_dir=run_dir)
    if found is not None:
        if not probe_components(found.endpoint, None)[0].up:
            raise TargetError(f"endpoint_url: no local stack answers at {found.endpoint} (from {found.origin}); "
                              + NO_STACK_HINT)
        return found
    if _kernel_stack is None or not _kernel_stack.running:
        # A stack started elsewhere without a state file: its CA and admin token come from the environment.
        default_ca = os.environ.get(SAMPLE_API_CA_ENV)
        default_sample = f"https://127.0.0.1:{DEFAULT_SAMPLE_API_PORT}"
        if default_ca and all(c.up for c in probe_components(DEFAULT_LOCAL_ENDPOINT, default_sample, default_ca)):
            return LocalStackFound(DEFAULT_LOCAL_ENDPOINT, default_sample, default_ca,
                                   os.environ.get(ADMIN_TOKEN_ENV), None, "default endpoint")
        _kernel_stack = LocalStack().start()
    api, ca = _kernel_stack.sample_api, _kernel_stack.sample_api_ca
    return LocalStackFound(_kernel_stack.endpoint_url, api.url, str(ca) if ca is not None else None,
                           api.admin_token, _kernel_stack.api_key, "this kernel")
