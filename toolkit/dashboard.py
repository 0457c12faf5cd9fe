"""The operator dashboard as a web page: the stack it works on, and the Voilà server that shows it.

``notebooks/dashboard.ipynb`` calls :func:`open_target` and displays a
:class:`toolkit.widgets.Dashboard`; :func:`serve` (``dsa dashboard``) renders that notebook with
Voilà, so an operator gets the launcher, run monitor and failure browser without seeing code.

Target ``local`` (the default) reuses an embedded stack already answering at the config's
endpoint (``DSA_ENDPOINT_URL``; ``dsa local up`` or a test starts one) or starts one inside the
dashboard's kernel, and deploys the stack idempotently. A stack the dashboard started itself
also gets the sample locations for the chosen task, pointed at its own sample API.

The task to show can be chosen in the page's address (``?task=...``): Voilà hands the query
string to the kernel as ``QUERY_STRING``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs, urlparse

from toolkit import deploy, locations
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.local.stack import LocalStack, probe_components

__all__ = ["NOTEBOOK", "DEFAULT_PORT", "DashboardError", "Target", "open_target", "task_from_query", "serve_command", "serve"]

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "dashboard.ipynb"
SAMPLE_LOCATIONS = Path(__file__).resolve().parent.parent / "sample_data" / "locations.csv"
DEFAULT_PORT = 8866
DEFAULT_TASK = "dashboard"


class DashboardError(ToolkitError):
    """The dashboard cannot open its target or start its server."""


@dataclass
class Target:
    """What the dashboard works on: the stack's config, and the local stack if it started one."""

    config: StackConfig
    stack: LocalStack | None = None

    @property
    def started_here(self) -> bool:
        return self.stack is not None


def task_from_query(environ: Mapping[str, str] | None = None, default: str = DEFAULT_TASK) -> str:
    """The ``task`` parameter of the page's address (Voilà's ``QUERY_STRING``), else ``default``."""
    environ = os.environ if environ is None else environ
    values = parse_qs(environ.get("QUERY_STRING", "")).get("task", [])
    return values[0].strip() if values and values[0].strip() else default


def open_target(target: str = "local", *, task_id: str = DEFAULT_TASK, **settings: str) -> Target:
    """The config the dashboard uses; for ``local``, a running (reused or started) and deployed stack.

    ``settings`` are StackConfig fields (profile, region, stack_name...) for an AWS target.
    """
    if target not in ("local", "aws"):
        raise DashboardError(f"target: must be 'local' or 'aws', got {target!r}")
    config = StackConfig.load(target=target, **{k: v for k, v in settings.items() if v})
    if target == "aws":
        return Target(config)
    if all(component.up for component in probe_components(config.endpoint_url, None)):
        deploy.deploy(config)
        return Target(config)
    # Both sides of the sample API's key auth (the API and the connection) read the same variable.
    os.environ.setdefault(config.api_key_env, secrets.token_urlsafe(24))
    port = urlparse(config.endpoint_url).port or 0
    stack = LocalStack(config, port=port, sample_api_port=0).start()
    try:
        deploy.deploy(stack.config)
        _seed_sample_locations(stack, task_id)
    except BaseException:
        stack.stop(save=False)
        raise
    return Target(stack.config, stack)


def _seed_sample_locations(stack: LocalStack, task_id: str) -> None:
    """Load the sample locations for ``task_id`` on a fresh stack, pointed at its sample API."""
    from toolkit.local.thirdparty import read_locations_csv

    if not locations.read_locations(stack.config, task_id).empty:
        return
    frame = read_locations_csv(SAMPLE_LOCATIONS).assign(task_id=task_id, api_url=stack.sample_api.url)
    locations.load_locations(stack.config, frame)


def serve_command(port: int = DEFAULT_PORT, host: str = "127.0.0.1", *, notebook: Path = NOTEBOOK) -> list[str]:
    """The Voilà command line that serves the dashboard notebook on ``host:port``."""
    return [sys.executable, "-m", "voila", str(notebook), f"--port={port}", f"--Voila.ip={host}",
            "--no-browser", "--theme=light"]


def serve(port: int = DEFAULT_PORT, host: str = "127.0.0.1", environ: Mapping[str, str] | None = None) -> int:
    """Serve the dashboard in the foreground until Ctrl-C; return Voilà's exit code."""
    if not NOTEBOOK.is_file():
        raise DashboardError(f"notebook: {NOTEBOOK} is missing")
    env = dict(os.environ if environ is None else environ)
    try:
        return subprocess.call(serve_command(port, host), env=env)
    except KeyboardInterrupt:
        return 0
