"""The record a running local stack leaves for other processes: its state file in a run directory.

``dsa local up`` writes it (pid, ports, endpoint, the sample API's secrets); ``dsa local
down|status|env`` and the discovery rule (toolkit.target.find_local_stack) read it to find the
stack. The run directory is ``--run-dir``, else ``$DSA_RUN_DIR`` (``dsa local env`` exports it),
else ``$XDG_STATE_HOME/dsa/local``, else ``~/.local/state/dsa/local``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

__all__ = ["STATE_FILE", "RUN_DIR_ENV", "StackState", "default_run_dir", "read_state", "recorded_state", "write_state", "alive"]

STATE_FILE = "stack.json"
RUN_DIR_ENV = "DSA_RUN_DIR"


@dataclass
class StackState:
    """What a running stack records about itself for ``down``, ``status`` and ``env``."""

    pid: int
    started: float  # the process's create time: tells our pid from a reused one
    endpoint_url: str
    port: int
    sample_api_url: str | None
    sample_api_port: int | None
    data_dir: str | None
    sample_api_ca: str | None = None  # the sample API's CA (PEM path); None when it serves plain http
    sample_api_admin_token: str | None = None  # why the state file is readable by its owner only
    api_key: str | None = None  # the key the sample API wants, which deploy sends (secret too)


def default_run_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$DSA_RUN_DIR``, else the per-user state directory's ``dsa/local``."""
    environ = os.environ if environ is None else environ
    if environ.get(RUN_DIR_ENV):
        return Path(environ[RUN_DIR_ENV])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dsa" / "local"


def read_state(run_dir: Path) -> StackState | None:
    """The state of the stack running from ``run_dir``; None (and a stale file removed) if none."""
    state = recorded_state(run_dir)
    if state is None or not alive(state.pid, state.started):
        (run_dir / STATE_FILE).unlink(missing_ok=True)
        return None
    return state


def recorded_state(run_dir: Path) -> StackState | None:
    """What the state file in ``run_dir`` says, whether or not that stack still runs."""
    try:
        return StackState(**json.loads((run_dir / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def alive(pid: int, started: float) -> bool:
    """Whether the process ``pid``, created at ``started``, still runs."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def write_state(run_dir: Path, state: StackState) -> None:
    """Record ``state`` atomically (readers never see half a file), readable by its owner only:
    it holds the sample API's admin token."""
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = run_dir / (STATE_FILE + ".tmp")
    tmp.unlink(missing_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
        fh.write(json.dumps(asdict(state)))
    tmp.replace(run_dir / STATE_FILE)
