"""Saving the local stack's state in a data directory on stop, and loading it on start.

What is kept:

- moto's backends for S3 (buckets, objects), DynamoDB (tables, items), EventBridge (connections),
  Secrets Manager, IAM, CloudWatch Logs and the Glue Data Catalog, pickled whole, so every ARN
  (a connection's, with its random id) is the same after a restart. moto's own objects define
  what is pickled; a snapshot is refused by a different moto version.
- Step Functions: state machines and finished executions (``StepFunctionsService.to_snapshot``).
- Glue: job definitions and finished job runs (``GlueJobs.to_snapshot``).

What is not: running executions, active Glue runs, Map Runs, execution variables, STS sessions
(so restored executions cannot be redriven: :mod:`toolkit.local.restored`).

**Secrets are in it, in clear**: Secrets Manager values, among them the EventBridge connections'
API keys, OAuth client secrets and Basic passwords (a connection must still authenticate after a
restart, so they cannot be left out), and whatever executions took as input or gave as output.
So the snapshot directory is created readable by its owner only (0700) and every file in it 0600.

A snapshot is written to ``<data_dir>/snapshot.new`` and then swapped in, so a crash while
saving leaves the previous snapshot whole. Pickles are code: load only a data directory you wrote.
:func:`check_data_dir` tells at start whether a directory can hold snapshots at all.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

__all__ = ["PERSISTED_MOTO_SERVICES", "Snapshot", "SnapshotError", "check_data_dir", "load_snapshot", "save_snapshot"]

PERSISTED_MOTO_SERVICES = ("s3", "dynamodb", "events", "secretsmanager", "iam", "logs", "glue")
FORMAT_VERSION = 1


class SnapshotError(ToolkitError):
    """A data directory holds a snapshot this stack cannot load."""


@dataclass
class Snapshot:
    """Everything a stack restores: moto's backends and our own services' state."""

    moto: dict[str, Any]
    states: dict[str, Any] | None
    glue: dict[str, Any] | None


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def capture_moto() -> dict[str, Any]:
    """moto's backends of the persisted services, as plain account -> backend mappings."""
    from moto.backends import get_backend

    return {service: dict(get_backend(service)) for service in PERSISTED_MOTO_SERVICES}  # type: ignore[arg-type]


def restore_moto(backends: dict[str, Any]) -> None:
    """Put saved backends back into moto (shared by every stack in this process)."""
    from moto.backends import get_backend

    for service, accounts in backends.items():
        target = get_backend(service)  # type: ignore[arg-type]
        for account_id, backend in accounts.items():
            target[account_id] = backend


def check_data_dir(data_dir: Path, field: str = "data_dir") -> None:
    """Raise :class:`SnapshotError` (one line naming ``field``) unless ``data_dir`` is, or can be
    made, a directory this process can write: found at start rather than lost at the first save."""
    if data_dir.exists() and not data_dir.is_dir():
        raise SnapshotError(f"{field}: {data_dir} is not a directory")
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=data_dir)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise SnapshotError(f"{field}: {data_dir} is not a writable directory ({exc.strerror or exc})") from None


def _private_file(path: Path) -> int:
    """A new file at ``path`` that only its owner can read (0600 whatever the umask)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def save_snapshot(data_dir: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` under ``data_dir`` atomically (the old one stays whole until the swap)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh, current, old = data_dir / "snapshot.new", data_dir / "snapshot", data_dir / "snapshot.old"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(mode=0o700)
    os.chmod(fresh, 0o700)  # whatever the umask
    with open(_private_file(fresh / "moto.pickle"), "wb") as fh:
        pickle.dump(snapshot.moto, fh, protocol=pickle.HIGHEST_PROTOCOL)
    manifest = {"format": FORMAT_VERSION, "moto": _moto_version(), "saved_at": time.time()}
    for name, value in (("states.json", snapshot.states), ("glue.json", snapshot.glue), ("manifest.json", manifest)):
        with open(_private_file(fresh / name), "w") as text:
            text.write(json.dumps(value))
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    fresh.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def load_snapshot(data_dir: Path) -> Snapshot | None:
    """The snapshot saved under ``data_dir``, or None if there is none yet."""
    current = data_dir / "snapshot"
    if not (current / "manifest.json").is_file():
        return None
    try:
        manifest = json.loads((current / "manifest.json").read_text())
    except ValueError:
        raise SnapshotError(f"data_dir: {current / 'manifest.json'} is not valid JSON") from None
    if manifest.get("format") != FORMAT_VERSION or manifest.get("moto") != _moto_version():
        raise SnapshotError(
            f"data_dir: the snapshot in {current} was written by moto {manifest.get('moto')} "
            f"(format {manifest.get('format')}); this stack runs moto {_moto_version()} - "
            "use another --data-dir or delete that one")
    try:
        with open(current / "moto.pickle", "rb") as fh:
            moto_state = pickle.load(fh)
        states = json.loads((current / "states.json").read_text())
        glue = json.loads((current / "glue.json").read_text())
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise SnapshotError(f"data_dir: cannot read the snapshot in {current} ({exc.__class__.__name__})") from None
    return Snapshot(moto=moto_state, states=states, glue=glue)
