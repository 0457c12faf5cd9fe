"""The runbook notebooks, run top to bottom with nbclient against one local stack, in order.

The stack is started the way an operator starts it (``dsa local up --detach``, as ``make lab``
does) with its state file in a temporary ``XDG_STATE_HOME``; each notebook's kernel gets that
environment, so :func:`toolkit.target.open_target` finds and shares the stack. A notebook that
raises fails its test; the assertions that matter are the notebooks' own last cells (output equal
to the sample API's ground truth, zero failed locations after the rerun, nothing left after
teardown). Parameters are injected after the ``parameters`` cell, as papermill does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ORDER = ["01-provision", "02-seed-locations", "03-launch-and-monitor", "04-inspect-failures-and-rerun",
         "05-explore-results", "06-teardown"]
INJECTED = {"04-inspect-failures-and-rerun": "poll_seconds = 0.5", "06-teardown": "delete_output = True"}
CELL_TIMEOUT_SECONDS = 600


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_the_runbook_is_complete_and_in_order() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")) == ORDER


@pytest.mark.parametrize("name", ORDER)
def test_committed_notebook_is_stripped_and_opens_with_purpose_then_parameters(name: str) -> None:
    nb = read(name)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    with_output = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_output, f"{name}: cells {with_output} hold outputs; strip them before committing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "When to use it" in nb.cells[0].source
    assert "parameters" in nb.cells[1].metadata.get("tags", []) and nb.cells[1].cell_type == "code"
    assert 'target = "local"' in nb.cells[1].source
    assert "open_target(target" in code_cells[1].source
    assert nb.cells[-1].cell_type == "markdown" or "assert" in nb.cells[-1].source


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory):
    """A detached local stack; the environment under which kernels find it."""
    state_home = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSA_") or k == "DSA_API_KEY"}
    env.update({"XDG_STATE_HOME": str(state_home), "MPLBACKEND": "agg"})
    cli = [sys.executable, "-m", "toolkit.cli", "local"]
    started = subprocess.run(cli + ["up", "--detach", "--port", "0", "--sample-api-port", "0",
                                    "--time-scale", "0.2"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    try:
        yield env
    finally:
        stopped = subprocess.run(cli + ["down"], env=env, capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def timings():
    seconds: dict[str, float] = {}
    yield seconds
    if seconds:
        print("\nnotebook suite: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
              + f"; total {sum(seconds.values()):.0f} s")


@pytest.mark.slow
@pytest.mark.parametrize("name", ORDER)
def test_notebook_runs_top_to_bottom(name: str, stack_env, timings, tmp_path) -> None:
    from nbclient import NotebookClient

    nb = read(name)
    if name in INJECTED:
        cell = nbformat.v4.new_code_cell(INJECTED[name])
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(2, cell)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute(env=stack_env)
    finally:
        timings[name] = time.monotonic() - started
        nbformat.write(nb, tmp_path / f"{name}.ipynb")  # the executed copy, for reading a failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "missing from font" not in stderr, stderr  # plots draw every glyph of their labels
    if name == "05-explore-results":  # its plots were drawn (its last cell checks the messages are whole)
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
