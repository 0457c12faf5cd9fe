"""The operator dashboard as a web page: preparing its target, and the Voilà server that shows it.

``notebooks/dashboard.ipynb`` opens its target with :func:`toolkit.target.open_target` (as every
runbook notebook does: a running ``dsa local up`` stack is reused, else one is started in the
kernel), calls :func:`prepare`, and displays a :class:`toolkit.dashboard.page.Dashboard`.
:func:`serve` (``dsa dashboard serve``) renders that notebook with Voilà, so an operator gets the
launcher, run monitor and failure browser without seeing code.

The task to show can be chosen in the page's address (``?task=...``): Voilà hands the query
string to the kernel as ``QUERY_STRING``. Opening the page never creates a task: only the default
task of a local stack gets the sample locations, so a fresh stack has something to run.

The package's modules: ``execution`` (an execution's history as per-state visits and statuses),
``graph`` (the state graph drawn with Graphviz), ``panels`` (task picker and runs list, workflow
view, Map Run children) and ``page`` (the whole page).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs

from toolkit import deploy, locations
from toolkit.errors import ToolkitError
from toolkit.target import SAMPLE_LOCATIONS_CSV, Target

__all__ = ["NOTEBOOK", "DEFAULT_PORT", "DEFAULT_TASK", "DashboardError", "task_from_query", "prepare",
           "serve_command", "serve"]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb"
DEFAULT_PORT = 8866
DEFAULT_TASK = "dashboard"


class DashboardError(ToolkitError):
    """The dashboard cannot start its server."""


def task_from_query(environ: Mapping[str, str] | None = None, default: str = DEFAULT_TASK) -> str:
    """The ``task`` parameter of the page's address (Voilà's ``QUERY_STRING``), else ``default``."""
    environ = os.environ if environ is None else environ
    values = parse_qs(environ.get("QUERY_STRING", "")).get("task", [])
    return values[0].strip() if values and values[0].strip() else default


def prepare(target: Target, task_id: str) -> int:
    """Make a local target ready to run ``task_id``; return how many sample locations were loaded.

    Locally the stack is deployed (idempotent: nothing changes on a deployed stack) and the
    default task, when it has no locations, gets the sample ones pointed at the stack's sample
    API, so a fresh stack has something to run. Any other task is left as it is, even one that
    does not exist (the page says so): an address with a mistyped task must not create a task.
    An AWS target is left exactly as it is.
    """
    if not target.config.is_local:
        return 0
    deploy.deploy(target.config, target.session)
    if task_id != DEFAULT_TASK or target.sample_api is None:
        return 0
    if not locations.read_locations(target.config, task_id, session=target.session).empty:
        return 0
    from toolkit.local.sample_api import read_locations_csv

    frame = read_locations_csv(SAMPLE_LOCATIONS_CSV).assign(task_id=task_id, api_url=target.sample_api.url)
    return int(locations.load_locations(target.config, frame, session=target.session).attrs["written"])


def serve_command(port: int = DEFAULT_PORT, host: str = "127.0.0.1", *, notebook: Path = NOTEBOOK) -> list[str]:
    """The Voilà command line that serves the dashboard notebook on ``host:port``."""
    return [sys.executable, "-m", "voila", str(notebook), f"--port={port}", f"--Voila.ip={host}",
            "--no-browser", "--theme=light"]


def serve(port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> int:
    """Serve the dashboard in the foreground until Ctrl-C; return Voilà's exit code."""
    if not NOTEBOOK.is_file():
        raise DashboardError(f"notebook: {NOTEBOOK} is missing")
    try:
        return subprocess.call(serve_command(port, host))
    except KeyboardInterrupt:
        return 0
