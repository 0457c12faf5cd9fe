"""State survives down/up with a data directory; running work does not (as documented)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.local.persistence import SnapshotError, load_snapshot
from toolkit.local.restored import RESTORED_REASON

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
    assert read["machines"] == ["persist-done", "persist-redrive", "persist-wait"]
    assert read["finished"] == [[written["finished"], "SUCCEEDED"]]
    assert read["running"] == []  # running executions are not persisted
    assert read["job"] == "persist-job" and read["runs"] == [[written["run_id"], "SUCCEEDED"]]
    # A restored FAILED execution lost its variables: it says so instead of a redrive that fails locally only.
    assert read["restored"] == ["FAILED", "NOT_REDRIVABLE", RESTORED_REASON, RESTORED_REASON]
    assert read["fresh"] == ["FAILED", "REDRIVABLE"]


def test_snapshot_from_another_moto_version_is_refused(tmp_path):
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "manifest.json").write_text(json.dumps({"format": 1, "moto": "0.0.1"}))
    (snapshot / "moto.pickle").write_bytes(pickle.dumps({}))
    with pytest.raises(SnapshotError, match=r"^data_dir: the snapshot in .* was written by moto 0.0.1"):
        load_snapshot(tmp_path)


def test_empty_data_dir_has_no_snapshot(tmp_path):
    assert load_snapshot(tmp_path) is None


def test_check_data_dir_refuses_what_cannot_hold_a_snapshot(tmp_path):
    from toolkit.local.persistence import check_data_dir

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(SnapshotError, match=f"^--data-dir: {a_file} is not a directory$"):
        check_data_dir(a_file, "--data-dir")
    with pytest.raises(SnapshotError, match=f"^data_dir: {a_file / 'sub'} is not a writable directory"):
        check_data_dir(a_file / "sub")
    fresh = tmp_path / "new" / "data"
    check_data_dir(fresh)
    assert fresh.is_dir() and list(fresh.iterdir()) == []  # the write check leaves nothing behind


def test_snapshot_files_are_readable_by_their_owner_only(tmp_path):
    import os
    import stat

    from toolkit.local.persistence import Snapshot, save_snapshot

    old_umask = os.umask(0o022)
    try:
        save_snapshot(tmp_path, Snapshot(moto={}, states={"executions": []}, glue=None))
        save_snapshot(tmp_path, Snapshot(moto={}, states=None, glue=None))  # the swap keeps the modes
    finally:
        os.umask(old_umask)
    snapshot = tmp_path / "snapshot"
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in snapshot.iterdir()} == {
        "moto.pickle": 0o600, "states.json": 0o600, "glue.json": 0o600, "manifest.json": 0o600}
    assert load_snapshot(tmp_path).states is None


def test_a_failed_save_is_an_error_once_everything_stopped(tmp_path):
    import os
    import threading
    import urllib.request

    from toolkit.local.stack import LocalStack, StackError

    data_dir = tmp_path / "data"
    before = set(threading.enumerate())  # the session's own stack may be running too
    stack = LocalStack(port=0, sample_api=False, data_dir=data_dir).start()
    endpoint = stack.endpoint_url
    os.rename(data_dir, tmp_path / "moved")
    data_dir.write_text("not a directory any more")
    with pytest.raises(StackError, match=f"^data_dir: the state was NOT saved to {data_dir} "):
        stack.stop()
    assert not stack.running
    assert not [t for t in threading.enumerate() if t.name == "dsa-gateway" and t not in before]
    with pytest.raises(OSError):
        urllib.request.urlopen(endpoint + "/_dsa/health", timeout=5)
