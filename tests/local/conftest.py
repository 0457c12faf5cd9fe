"""Fixtures of the `dsa local` command tests: the CLI run as a subprocess against a private run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from toolkit.aws import LOCAL_CREDENTIALS

DSA = str(Path(sys.executable).with_name("dsa"))


@dataclass
class LocalCli:
    """``dsa local ... --run-dir RUN_DIR`` as a subprocess, never touching the user's real run directory."""

    run_dir: Path

    def environment(self) -> dict[str, str]:
        """This process's environment without AWS and DSA settings, state kept beside the run directory."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DSA_"))}
        env["XDG_STATE_HOME"] = str(self.run_dir.parent)
        return env

    def command(self, *args: str) -> list[str]:
        return [DSA, "local", *args, "--run-dir", str(self.run_dir)]

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.environment(),
                              timeout=timeout)

    def state(self) -> dict | None:
        """The running stack's state file (stack.json), or None when there is none (or it is torn)."""
        try:
            return json.loads((self.run_dir / "stack.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def s3(self) -> Any:
        """An S3 client of the running stack."""
        return boto3.client("s3", endpoint_url=self.state()["endpoint_url"], region_name="us-east-1",
                            **LOCAL_CREDENTIALS)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


@pytest.fixture
def dsa(run_dir: Path) -> Iterator[LocalCli]:
    cli = LocalCli(run_dir)
    yield cli
    cli("down")  # whatever a failing test left running
