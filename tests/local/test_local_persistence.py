"""State survives down/up with a data directory; running work does not (as documented)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.local.persistence import SnapshotError, load_snapshot

PHASE = Path(__file__).with_name("persist_phase.py")


def _phase(name: str, data_dir: Path) -> dict:
    result = subprocess.run([sys.executable, str(PHASE), name, str(data_dir)], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_state_survives_a_restart_in_a_new_process(tmp_path):
    data_dir = tmp_path / "data"
    written = _phase("write", data_dir)
    assert (data_dir / "snapshot" / "manifest.json").is_file()
    read = _phase("read", data_dir)
    assert read["object"] == '{"rows": []}' and read["item"] == "7" and read["secret"] == "s"
    assert read["connection"] == written["connection"]  # same ARN, random id included
    assert read["machines"] == ["persist-done", "persist-wait"]
    assert read["finished"] == [[written["finished"], "SUCCEEDED"]]
    assert read["running"] == []  # running executions are not persisted
    assert read["job"] == "persist-job" and read["runs"] == [[written["run_id"], "SUCCEEDED"]]


def test_snapshot_from_another_moto_version_is_refused(tmp_path):
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "manifest.json").write_text(json.dumps({"format": 1, "moto": "0.0.1"}))
    (snapshot / "moto.pickle").write_bytes(pickle.dumps({}))
    with pytest.raises(SnapshotError, match=r"^data_dir: the snapshot in .* was written by moto 0.0.1"):
        load_snapshot(tmp_path)


def test_empty_data_dir_has_no_snapshot(tmp_path):
    assert load_snapshot(tmp_path) is None
