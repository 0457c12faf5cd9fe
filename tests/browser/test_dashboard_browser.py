"""The operator dashboard in a real browser: Voilà serves notebooks/dashboard.ipynb, Chromium clicks.

The test starts the local stack as an operator does (``dsa local up --detach``); the dashboard's
kernel finds it through its state file, like every notebook, and the test injects and clears the
sample API's faults over the API's admin routes.
Debian's Chromium is driven by Playwright's own driver (no browser download): a browser that
cannot start fails the test, it never skips. Screenshots land in ``artifacts/browser/`` (ignored
by git; the paths are printed) and stay there after the run as the test's artifacts.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from toolkit import dashboard, deploy, locations, runs
from toolkit.config import StackConfig
from toolkit.local.state import read_state
from toolkit.target import SampleApiAdmin

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
TASK = "browser"
REDRIVE_TASK = "browser-redrive"
SERVER_START_SECONDS = 90
RUN_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the dashboard server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:  # any HTTP answer will do; asking for the page itself would start a kernel
            with urllib.request.urlopen(url + "api/kernelspecs", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the dashboard server did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = parent.children(recursive=True) + [parent]
    for proc in family:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=10)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)


@dataclass
class Deployed:
    env: dict[str, str]  # what the dashboard server needs to find the stack
    config: StackConfig
    sample_api: SampleApiAdmin


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A detached local stack (``dsa local up``, as an operator or ``make lab`` starts it), deployed.

    Time runs 5x faster (retry back-offs), slow enough that Spark is never cut short.
    """
    state_home = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSA_") or k == "DSA_API_KEY"}
    env.update({"XDG_STATE_HOME": str(state_home), "DSA_STACK_NAME": f"b{uuid.uuid4().hex[:8]}"})
    cli = [sys.executable, "-m", "toolkit.cli", "local"]
    started = subprocess.run(cli + ["up", "--detach", "--port", "0", "--sample-api-port", "0", "--time-scale", "0.2"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    try:
        state = read_state(state_home / "dsa" / "local")
        assert state is not None and state.sample_api_url
        config = StackConfig.load(environ=env, target="local", endpoint_url=state.endpoint_url)
        deploy.deploy(config)
        yield Deployed(env, config, SampleApiAdmin(state.sample_api_url, state.sample_api_ca, state.sample_api_admin_token))
    finally:
        stopped = subprocess.run(cli + ["down"], env=env, capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture()
def dashboard_url(stack: Deployed):
    """The dashboard served by Voilà in a subprocess on a free port; its process tree is killed after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = stack.env
    log = ARTIFACTS / "voila.log"
    with log.open("w") as out:
        server = subprocess.Popen(dashboard.serve_command(port), env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_until_serving(url, server, log)
        yield url
    finally:
        _kill_tree(server.pid)


@pytest.fixture()
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1900})
            yield context.new_page()
        finally:
            browser.close()


def _screenshot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _state_node(page: Page, state: str):
    """The rendered graph's node of ``state``: an SVG group whose <title> is the state's name."""
    return page.locator(".dsa-graph svg g.node").filter(
        has=page.locator("title", has_text=re.compile(f"^{re.escape(state)}$")))


def test_the_page_attaches_to_a_cli_run_draws_its_failure_and_redrives_it(stack, dashboard_url, page) -> None:
    api = stack.sample_api
    ids = sorted(api.ground_truth_frame()["location_id"].unique())[:3]  # locations holding records
    broken = ids[-1]  # one location at a time, in order: the two before it succeed first
    frame = pd.DataFrame({"task_id": REDRIVE_TASK, "location_id": ids, "api_url": api.url})
    assert locations.load_locations(stack.config, frame).attrs["written"] == len(ids)
    api.set_faults({"seed": 4, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": [broken]}]})
    try:
        started = subprocess.run(
            [sys.executable, "-m", "toolkit.cli", "run", "start", REDRIVE_TASK, "--max-concurrency", "1",
             "--tolerated-failure-percentage", "0", "--no-watch", "--json"],
            env={**stack.env, "DSA_ENDPOINT_URL": stack.config.endpoint_url},  # the CLI's explicit setting
            capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        execution_arn = json.loads(started.stdout)["execution_arn"]

        page.goto(f"{dashboard_url}?task={REDRIVE_TASK}", timeout=SERVER_START_SECONDS * 1000)
        map_node = _state_node(page, "Extract Locations")
        expect(map_node).to_have_class(re.compile(r"\bdsa-status-failed\b"), timeout=RUN_SECONDS * 1000)
        expect(map_node).to_contain_text("Map Run: 3 items · 2 succeeded · 1 failed")
        expect(_state_node(page, "Query Locations")).to_have_class(re.compile(r"\bdsa-status-succeeded\b"))
        expect(_state_node(page, "Consolidate")).to_have_class(re.compile(r"\bdsa-status-not-reached\b"))
        expect(page.locator(".dsa-execution-status")).to_have_text("FAILED")
        expect(page.locator(".dsa-runs")).to_contain_text("States.ExceedToleratedFailureThreshold")
        expect(page.locator("button.dsa-stop")).to_be_disabled(timeout=RUN_SECONDS * 1000)
        expect(page.locator(".dsa-failures")).to_contain_text(broken, timeout=RUN_SECONDS * 1000)
        page.locator(".dsa-children-filter").get_by_role("button", name="FAILED", exact=True).click()
        expect(page.locator(".dsa-children-summary")).to_contain_text("1 FAILED child execution(s)")
        expect(page.locator(".dsa-children")).to_contain_text(broken)
        _screenshot(page, "11-cli-run-failed-at-its-map-state")

        api.set_faults(None)
        redrive = page.locator("button.dsa-redrive")
        expect(redrive).to_be_enabled()
        redrive.click()
        expect(page.locator(".dsa-rerun-status")).to_contain_text("Redriving")
        expect(map_node).to_have_class(re.compile(r"\bdsa-status-succeeded\b"), timeout=RUN_SECONDS * 1000)
        expect(_state_node(page, "Record Result")).to_have_class(re.compile(r"\bdsa-status-succeeded\b"),
                                                                 timeout=RUN_SECONDS * 1000)
        expect(page.locator(".dsa-run-outcome")).to_contain_text("Run SUCCEEDED · task SUCCEEDED",
                                                                 timeout=RUN_SECONDS * 1000)
        expect(page.locator(".dsa-failure-summary")).to_contain_text("No failed locations")
        expect(page.locator("button.dsa-redrive")).to_be_disabled()
        _screenshot(page, "12-redriven-run-succeeded")
    finally:
        api.set_faults(None)

    task = runs.latest_task(stack.config, REDRIVE_TASK)
    assert task.status == "SUCCEEDED" and task.execution_arn == execution_arn
    assert task.redriven_locations == [broken]


def test_operator_runs_a_task_sees_the_failed_location_and_reruns_it(stack, dashboard_url, page) -> None:
    api = stack.sample_api
    ids = sorted(api.ground_truth_frame()["location_id"].unique())[:4]  # locations holding records
    broken = ids[0]
    frame = pd.DataFrame({"task_id": TASK, "location_id": ids, "api_url": api.url})
    assert locations.load_locations(stack.config, frame).attrs["written"] == len(ids)
    api.set_faults({"seed": 8, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": [broken]}]})
    try:
        page.goto(f"{dashboard_url}?task={TASK}", timeout=SERVER_START_SECONDS * 1000)
        start = page.locator("button.dsa-start")
        expect(start).to_be_visible(timeout=SERVER_START_SECONDS * 1000)
        expect(page.locator(".dsa-launch-status")).to_contain_text("4 enabled location(s)")
        _screenshot(page, "01-dashboard-loaded")

        start.click()
        expect(page.locator(".dsa-launch-status")).to_contain_text("Started task browser")
        expect(page.locator(".dsa-overall").first).to_have_text("100 %", timeout=RUN_SECONDS * 1000)
        failures = page.locator(".dsa-failures")
        expect(failures).to_contain_text(broken, timeout=RUN_SECONDS * 1000)
        expect(failures).to_contain_text("transient")
        expect(page.locator(".dsa-run-outcome").first).to_contain_text("task PARTIAL: 1 of 4 location(s) failed")
        _screenshot(page, "02-run-partial-with-failure")

        api.set_faults(None)
        page.locator("button.dsa-rerun").click()
        expect(page.locator(".dsa-rerun-status")).to_contain_text(f"Rerunning {broken}")
        expect(page.locator(".dsa-run-outcome")).to_contain_text("Run SUCCEEDED · task SUCCEEDED",
                                                                 timeout=RUN_SECONDS * 1000)
        expect(page.locator(".dsa-failure-summary")).to_contain_text("No failed locations")
        _screenshot(page, "03-rerun-succeeded")
    finally:
        api.set_faults(None)

    task = runs.latest_task(stack.config, TASK)
    assert task.status == "SUCCEEDED" and task.rerun_locations == [broken]
    assert all((ARTIFACTS / f"{name}.png").stat().st_size > 0
               for name in ("01-dashboard-loaded", "02-run-partial-with-failure", "03-rerun-succeeded"))
