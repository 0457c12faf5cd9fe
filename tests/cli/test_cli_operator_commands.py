"""``dsa locations``, ``dsa run`` and ``dsa results`` run as subprocesses against a deployed local stack.

Every command once with good input and once with bad input. Two pipeline runs in all: one with
a location failing beyond its retries (task PARTIAL), then a targeted rerun that completes it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
import pytest

from toolkit import deploy, results, runs
from toolkit.local.stack import LocalStack
from toolkit.local.sample_api import FaultPlan

TASK = "cli-task"


class Cli:
    """Runs ``dsa`` in a subprocess pointed at the test's stack through the environment."""

    def __init__(self, stack: LocalStack, stack_name: str):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DSA_") or k == "DSA_API_KEY"}
        self.env.update(stack.env())
        self.env["DSA_STACK_NAME"] = stack_name
        self.env["COLUMNS"] = "200"  # usage errors are boxed by the terminal width

    def at_width(self, columns: int) -> "Cli":
        """The same CLI in a terminal ``columns`` wide (as COLUMNS says for a pipe)."""
        other = Cli.__new__(Cli)
        other.env = {**self.env, "COLUMNS": str(columns)}
        return other

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True,
                              env=self.env, timeout=300)

    def json(self, *args: str):
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsa: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def stack():
    # time_scale 0.2: retry back-offs 5x shorter, Glue's scaled timeout still far above a Spark run.
    with LocalStack(port=0, sample_api_port=0, time_scale=0.2) as local:
        yield local


@pytest.fixture(scope="module")
def deployed(stack):
    config = stack.config.replace(stack_name=f"c{uuid.uuid4().hex[:8]}")
    deploy.deploy(config)
    yield config
    deploy.teardown(config, force=True)


@pytest.fixture(scope="module")
def cli(stack, deployed) -> Cli:
    return Cli(stack, deployed.stack_name)


@pytest.fixture(scope="module")
def ids(stack) -> list[str]:
    return stack.sample_api.location_ids()[:3]


@pytest.fixture(scope="module")
def loaded(cli, stack, ids, tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("cli") / "locations.csv"
    pd.DataFrame({"task_id": TASK, "location_id": ids, "api_url": stack.sample_api.url}).to_csv(path, index=False)
    report = cli.json("locations", "load", str(path))
    assert [r["action"] for r in report] == ["add"] * 3
    return ids


@pytest.fixture(scope="module")
def partial_run(cli, stack, loaded):
    """The first run: the middle location answers 500 to everything, so the task ends PARTIAL."""
    stack.sample_api.set_faults(FaultPlan.from_dict(
        {"seed": 5, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": [loaded[1]]}]}))
    try:
        return cli("run", "start", TASK, "--interval", "0.5")
    finally:
        stack.sample_api.set_faults(None)


@pytest.fixture(scope="module")
def rerun_result(cli, partial_run):
    return cli("run", "rerun", TASK, "--interval", "0.5", "--json")


# ----------------------------------------------------------------------------- locations


def test_locations_load_rejects_a_bad_file_and_writes_nothing(cli, stack, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"task_id": "cli-bad", "location_id": ["ok-1", "not ok/2"],
                  "api_url": [stack.sample_api.url, "ftp://example.com"]}).to_csv(path, index=False)
    result = cli("locations", "load", str(path))
    one_line_error(result, "1 row(s) rejected", "nothing written")
    assert "rejected" in result.stdout and "location_id" in result.stdout  # the report is shown
    assert cli.json("locations", "list", "cli-bad") == []
    one_line_error(cli("locations", "load", str(tmp_path / "missing.csv")), "source", "does not exist")


def test_locations_load_dry_run_and_list(cli, stack, tmp_path) -> None:
    path = tmp_path / "dry.csv"
    pd.DataFrame({"location_id": ["d-1", "d-2"], "api_url": stack.sample_api.url}).to_csv(path, index=False)
    report = cli.json("locations", "load", str(path), "--task-id", "cli-dry", "--dry-run")
    assert [(r["line"], r["action"]) for r in report] == [(2, "would add"), (3, "would add")]
    assert cli.json("locations", "list", "cli-dry") == []
    assert "d-1" in cli("locations", "load", str(path), "--task-id", "cli-dry").stdout
    listed = cli.json("locations", "list", "cli-dry")
    assert sorted(r["location_id"] for r in listed) == ["d-1", "d-2"]
    table = cli("locations", "list", "cli-dry")
    assert table.returncode == 0 and "d-2" in table.stdout and "api_url" in table.stdout


def test_locations_load_reports_csv_lines_every_problem_and_dry_run_gates(cli, stack, tmp_path) -> None:
    path = tmp_path / "gate.csv"
    path.write_text(f"task_id,location_id,api_url,enabled\ncli-gate,g-1,{stack.sample_api.url},true\n"
                    "cli-gate,bad id,ftp://x.example.com,maybe\n")
    dry = cli("locations", "load", str(path), "--dry-run", "--json")
    assert dry.returncode == 1  # a CI gate: a rejected row fails the dry run
    assert dry.stderr.strip().splitlines() == ["dsa: error: rows: 1 row(s) rejected (dry run, nothing written)"]
    report = json.loads(dry.stdout)
    assert [(r["line"], r["action"]) for r in report] == [(2, "would add"), (3, "rejected")]
    assert [p.split(":")[0] for p in report[1]["reason"].split("; ")] == ["location_id", "api_url", "enabled"]
    table = cli("locations", "load", str(path), "--dry-run")
    assert re.search(r"^ *line +location_id +action +reason", table.stdout, re.M), table.stdout
    assert re.search(r"^ *2 +g-1 +would add", table.stdout, re.M) and cli.json("locations", "list", "cli-gate") == []
    no_task = tmp_path / "no-task.csv"
    no_task.write_text(f"location_id,api_url\ng-1,{stack.sample_api.url}\n")
    one_line_error(cli("locations", "load", str(no_task)), "missing required column(s) task_id",
                   "pass --task-id TASK")


def test_locations_list_of_a_bad_config_is_one_line(cli, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stack_nam: x\n")
    one_line_error(cli("locations", "list", "t", "--config", str(bad)), "stack_nam", "unknown")


def test_locations_disable_enable_and_remove(cli, stack, tmp_path) -> None:
    path = tmp_path / "switch.csv"
    pd.DataFrame({"task_id": "cli-switch", "location_id": ["s-1", "s-2", "s-3"],
                  "api_url": stack.sample_api.url}).to_csv(path, index=False)
    assert cli("locations", "load", str(path)).returncode == 0
    assert cli.json("locations", "disable", "cli-switch", "s-1", "s-2")["disabled"] == 2
    enabled = {r["location_id"]: r["enabled"] for r in cli.json("locations", "list", "cli-switch")}
    assert enabled == {"s-1": False, "s-2": False, "s-3": True}
    assert cli.json("locations", "enable", "cli-switch", "s-2")["enabled"] == 1
    assert cli.json("locations", "remove", "cli-switch", "s-3")["removed"] == 1
    left = {r["location_id"]: r["enabled"] for r in cli.json("locations", "list", "cli-switch")}
    assert left == {"s-1": False, "s-2": True}


def test_locations_disable_and_remove_refuse_unknown_ids_and_change_nothing(cli, stack, tmp_path) -> None:
    path = tmp_path / "keep.csv"
    pd.DataFrame({"task_id": "cli-keep", "location_id": ["k-1"], "api_url": stack.sample_api.url}).to_csv(path)
    assert cli("locations", "load", str(path)).returncode == 0
    one_line_error(cli("locations", "disable", "cli-keep", "k-1", "nope"), "'nope'", "nothing changed")
    one_line_error(cli("locations", "enable", "cli-keep", "nope"), "'nope'")
    one_line_error(cli("locations", "remove", "cli-keep", "k-1", "nope"), "'nope'", "nothing changed")
    assert [(r["location_id"], r["enabled"]) for r in cli.json("locations", "list", "cli-keep")] == [("k-1", True)]


# ----------------------------------------------------------------------------- runs


@pytest.mark.slow
def test_run_start_watches_until_the_task_ends_partial(cli, partial_run, loaded, deployed) -> None:
    assert partial_run.returncode == 0, partial_run.stderr
    # No terminal here (as in CI or `| tee`): plain progress lines, each saying something new.
    lines = [line for line in partial_run.stdout.splitlines() if line.startswith(f"{TASK}: ")]
    texts = [line.rsplit(";", 1)[0] for line in lines]
    assert texts and len(texts) == len(set(texts)), partial_run.stdout
    assert "None" not in texts[0] and "0/0" not in texts[0]
    phases = [text.split(":")[1].strip() for text in texts]
    assert "CONSOLIDATING" in phases and phases[-1] == "SUCCEEDED", phases
    assert "3/3 locations (failed 1, running 0)" in texts[-1]
    assert re.search(r"status +PARTIAL", partial_run.stdout)
    task = runs.latest_task(deployed, TASK)
    assert task.status == "PARTIAL" and task.locations_failed == 1


def test_ctrl_c_stops_watching_not_the_run_and_says_how_to_follow_it(cli, stack, deployed, ids, tmp_path) -> None:
    path = tmp_path / "slow.csv"
    pd.DataFrame({"task_id": "cli-slow", "location_id": ids[:1], "api_url": stack.sample_api.url}).to_csv(path)
    assert cli("locations", "load", str(path)).returncode == 0
    stack.sample_api.set_faults(FaultPlan.from_dict({"seed": 1, "rules": [{"kind": "latency", "seconds": 30}]}))
    watcher = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "run", "start", "cli-slow", "--interval", "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
    try:
        first = watcher.stdout.readline()  # the first plain progress line: the run is being watched
        assert first.startswith("cli-slow: ") and "None" not in first, first
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=120)
    finally:
        stack.sample_api.set_faults(None)
        watcher.kill()
    arn = runs.latest_task(deployed, "cli-slow").execution_arn
    assert watcher.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("stopped watching; the run carries on. Follow it again with: "
                                            f"dsa run watch cli-slow --execution-arn {arn}")
    sfn = stack.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=arn)


def test_run_start_refuses_bad_input(cli, deployed) -> None:
    one_line_error(cli("run", "start", "cli-task", "--location", "bad id/x", "--no-watch",
                       "--tolerated-failure-percentage", "10", "--max-concurrency", "1", "--config", "/no/such.yaml"),
                   "config_file", "does not exist")
    usage = cli("run", "start", TASK, "--tolerated-failure-percentage", "150")
    assert usage.returncode == 2 and "--tolerated-failure-percentage" in usage.stderr


@pytest.mark.slow
def test_run_status_history_and_failures_name_the_failed_location(cli, partial_run, loaded) -> None:
    status = cli.json("run", "status", TASK)
    assert status["status"] == "PARTIAL" and status["locations_failed"] == 1 and status["locations_succeeded"] == 2
    assert status["coverage_status"] == "PARTIAL" and status["missing_locations"] == [loaded[1]]
    assert status["locations_complete"] == "2/3"
    table = cli.json("run", "coverage", TASK)
    assert [(r["location_id"], r["complete"]) for r in table] == [(i, i != loaded[1]) for i in sorted(loaded)]
    listing = cli.json("run", "status")
    mine = [r for r in listing if r["task_id"] == TASK]
    assert [list(r) for r in listing] == [list(status)] * len(listing)  # one schema for one task and the list
    assert mine[0]["status"] == "PARTIAL" and mine[0]["execution_arn"] == status["execution_arn"]
    wide = cli("run", "status", TASK)  # the ARN whole, on one line, as --execution-arn needs it
    assert re.search(r"^execution_arn +" + re.escape(status["execution_arn"]) + "$", wide.stdout, re.M)
    narrow = cli.at_width(100)("run", "status")
    assert narrow.returncode == 0 and all(len(line) <= 100 for line in narrow.stdout.splitlines())
    assert len([line for line in narrow.stdout.splitlines() if TASK in line]) == len(mine)  # no wrapped cells
    events = cli.json("run", "history", TASK)
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    assert any(e["state"] == "Extract Locations" for e in events)
    found = cli.json("run", "failures", TASK)
    assert [f["location_id"] for f in found["failures"]] == [loaded[1]]
    assert found["failures"][0]["http_status"] == 500 and found["failures"][0]["class"] == "transient"
    assert {c["class"]: c["locations"] for c in found["classes"]}["transient"] == 1
    table = cli("run", "failures", TASK)
    assert table.returncode == 0 and loaded[1] in table.stdout and "transient" in table.stdout


def test_run_status_history_failures_watch_refuse_an_unknown_task(cli) -> None:
    for command in ("status", "history", "failures", "watch", "redrive"):
        one_line_error(cli("run", command, "never-ran"), "never-ran", "has no run")


def test_run_history_of_an_unknown_execution_is_one_line(cli, deployed) -> None:
    arn = f"arn:aws:states:{deployed.region}:{deployed.account_id}:execution:nope:nope"
    one_line_error(cli("run", "history", TASK, "--execution-arn", arn), "ExecutionDoesNotExist")


@pytest.mark.slow
def test_run_rerun_completes_the_task_with_the_ground_truth(cli, rerun_result, stack, loaded, deployed) -> None:
    assert rerun_result.returncode == 0, rerun_result.stderr
    status = json.loads(rerun_result.stdout)
    assert status["status"] == "SUCCEEDED" and status["rerun_locations"] == [loaded[1]]
    output = results.load_output(deployed, TASK)
    check = results.compare_with_ground_truth(output, stack.sample_api.ground_truth_frame(loaded))
    assert check.ok, check.summary()
    assert cli.json("run", "watch", TASK)["execution_status"] == "SUCCEEDED"


@pytest.mark.slow
def test_run_rerun_refuses_a_task_that_lost_nothing(cli, rerun_result) -> None:
    one_line_error(cli("run", "rerun", TASK), "every enabled location", "has complete data")


@pytest.mark.slow
def test_run_redrive_refuses_a_succeeded_run(cli, rerun_result) -> None:
    one_line_error(cli("run", "redrive", TASK), "SUCCEEDED", "only FAILED, TIMED_OUT or ABORTED")


# ----------------------------------------------------------------------------- results


@pytest.mark.slow
def test_results_show_counts_rows_by_location(cli, rerun_result, stack, loaded) -> None:
    shown = cli.json("results", "show", TASK)
    truth = stack.sample_api.ground_truth_frame(loaded)
    assert shown["rows"] == len(truth)
    by_location = cli.json("results", "show", TASK, "--by", "location_id")["summary"]
    expected = truth.groupby("location_id").size().to_dict()
    assert {r["location_id"]: r["rows"] for r in by_location} == expected
    one_line_error(cli("results", "show", TASK, "--by", "colour"), "--by", "colour")
    one_line_error(cli("results", "show", "no-output"), "no consolidated output", "no-output")


@pytest.mark.slow
def test_results_export_writes_csv_parquet_and_excel(cli, rerun_result, deployed, tmp_path) -> None:
    expected = results.load_output(deployed, TASK)
    for name in ("out.csv", "out.parquet", "out.xlsx"):
        summary = cli.json("results", "export", TASK, str(tmp_path / name))
        assert summary["rows"] == len(expected)
    csv = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    parquet = pd.read_parquet(tmp_path / "out.parquet")
    key = ["location_id", "data_type", "discount_code"]
    want = expected.astype({k: str for k in key}).sort_values(key)
    for frame, messages in ((csv, csv["error_messages"].map(json.loads)), (parquet, parquet["error_messages"].map(list))):
        got = frame.assign(error_messages=messages).astype({k: str for k in key}).sort_values(key)
        assert list(got["discount_code"]) == list(want["discount_code"])
        assert list(got["error_messages"]) == [list(m) for m in want["error_messages"]]
    assert load_workbook(tmp_path / "out.xlsx")["output"].max_row == len(expected) + 1
    one_line_error(cli("results", "export", TASK, str(tmp_path / "out.json")), "--format", "'json'")
    one_line_error(cli("results", "export", TASK, str(tmp_path / "no" / "out.csv")), "out", "does not exist")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_results_diff_of_a_task_with_itself_has_nothing_new(cli, rerun_result, stack, loaded) -> None:
    rows = cli.json("results", "diff", TASK, TASK)
    with_rows = sorted(set(stack.sample_api.ground_truth_frame(loaded)["location_id"]))
    assert [r["location_id"] for r in rows] == with_rows
    assert all(r["new"] == 0 and r["resolved"] == 0 for r in rows)
    assert sum(r["persisting"] for r in rows) > 0
    one_line_error(cli("results", "diff", TASK, "no-output"), "no consolidated output")



@pytest.mark.slow
def test_run_redrive_completes_a_run_that_failed_at_its_map_run(cli, stack, deployed, ids, tmp_path) -> None:
    """A run that tolerates no failure fails at its Map Run; once the API is fixed, redrive reruns
    the failed location only, consolidates, and the task ends SUCCEEDED with the ground truth."""
    path = tmp_path / "strict.csv"
    pd.DataFrame({"task_id": "cli-strict", "location_id": ids[:1], "api_url": stack.sample_api.url}).to_csv(path)
    assert cli("locations", "load", str(path)).returncode == 0
    stack.sample_api.set_faults(FaultPlan.from_dict(
        {"seed": 9, "rules": [{"kind": "error", "rate": 1.0, "status": 500, "locations": ids[:1]}]}))
    try:
        failed = cli("run", "start", "cli-strict", "--tolerated-failure-percentage", "0", "--interval", "0.2")
    finally:
        stack.sample_api.set_faults(None)
    one_line_error(failed, "the run ended FAILED", "States.ExceedToleratedFailureThreshold")
    execution_arn = runs.latest_task(deployed, "cli-strict").execution_arn
    status = cli.json("run", "redrive", "cli-strict", "--interval", "0.5")
    assert status["execution_arn"] == execution_arn  # the same execution, not a new run
    assert status["execution_status"] == "SUCCEEDED" and status["status"] == "SUCCEEDED"
    types = [e["type"] for e in cli.json("run", "history", "cli-strict")]
    assert types.count("ExecutionRedriven") == 1 and "MapRunRedriven" in types and types[-1] == "ExecutionSucceeded"
    check = results.compare_with_ground_truth(results.load_output(deployed, "cli-strict"),
                                              stack.sample_api.ground_truth_frame(ids[:1]))
    assert check.ok, check.summary()
