"""Saving the local stack's state in a data directory on stop, and loading it on start.

What is kept:

- moto's backends for S3 (buckets, objects), DynamoDB (tables, items), EventBridge (connections),
  Secrets Manager, IAM, CloudWatch Logs and the Glue Data Catalog, pickled whole, so every ARN
  (a connection's, with its random id) is the same after a restart. moto's own objects define
  what is pickled; a snapshot is refused by a different moto version.
- Step Functions: state machines and finished executions (``StepFunctionsService.to_snapshot``).
- Glue: job definitions and finished job runs (``GlueJobs.to_snapshot``).

What is not: running executions, active Glue runs, Map Runs in progress, STS sessions.

A snapshot is written to ``<data_dir>/snapshot.new`` and then swapped in, so a crash while
saving leaves the previous snapshot whole. Pickles are code: load only a data directory you wrote.
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

__all__ = ["PERSISTED_MOTO_SERVICES", "Snapshot", "SnapshotError", "load_snapshot", "save_snapshot"]

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


def save_snapshot(data_dir: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` under ``data_dir`` atomically (the old one stays whole until the swap)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh, current, old = data_dir / "snapshot.new", data_dir / "snapshot", data_dir / "snapshot.old"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    with open(fresh / "moto.pickle", "wb") as fh:
        pickle.dump(snapshot.moto, fh, protocol=pickle.HIGHEST_PROTOCOL)
    (fresh / "states.json").write_text(json.dumps(snapshot.states))
    (fresh / "glue.json").write_text(json.dumps(snapshot.glue))
    manifest = {"format": FORMAT_VERSION, "moto": _moto_version(), "saved_at": time.time()}
    (fresh / "manifest.json").write_text(json.dumps(manifest))
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
