"""The panels' Python side without a pipeline run: locations listed, bad input shown, snapshots drawn."""

from __future__ import annotations

from toolkit import locations, runs
from toolkit.widgets import Launcher, ResultsExplorer, RunMonitor


def test_launcher_lists_the_enabled_locations_of_the_chosen_task(deployed) -> None:
    deployed.load("panel-a", ["a-1", "a-2", "a-3"])
    deployed.load("panel-b", ["b-1"])
    locations.set_enabled(deployed.config, "panel-a", ["a-2"], False)
    launcher = Launcher(deployed.config, "panel-a")
    assert launcher.locations.options == ("a-1", "a-3")
    assert "2 enabled location(s) of 3" in launcher.status.value
    launcher.task.value = "panel-b"
    assert launcher.locations.options == ("b-1",)


def test_launcher_without_a_task_starts_nothing_and_says_why(deployed) -> None:
    launcher = Launcher(deployed.config)
    launcher.start.click()
    assert launcher.run is None
    assert "task: choose or type a task id" in launcher.status.value
    assert runs.list_tasks(deployed.config).empty


def test_launcher_refuses_a_task_id_that_is_not_path_safe(deployed) -> None:
    launcher = Launcher(deployed.config, "panel/evil")
    launcher.start.click()
    assert launcher.run is None
    assert "task_id: &#x27;panel/evil&#x27; may hold only letters" in launcher.status.value  # escaped HTML
    assert "panel/evil" not in set(runs.list_tasks(deployed.config).get("task_id", []))


def test_launcher_for_a_task_without_locations_lists_none(deployed) -> None:
    launcher = Launcher(deployed.config, "panel-missing")
    assert launcher.locations.options == ()
    assert "0 enabled location(s) of 0" in launcher.status.value


def test_results_explorer_names_a_task_without_output(deployed) -> None:
    explorer = ResultsExplorer(deployed.config)
    explorer.task.value = "never-ran"
    explorer.load_button.click()
    assert "task_id" in explorer.status.value and "never-ran" in explorer.status.value
    assert explorer.output.empty


def test_monitor_draws_counts_bars_and_the_overall_share(deployed) -> None:
    monitor = RunMonitor(deployed.config)
    monitor.show(runs.RunProgress(status="RUNNING", locations_total=4, pending=1, running=1, succeeded=1,
                                  failed=1, pages=7, rows=1234, elapsed_seconds=12.4))
    assert monitor.overall.value == 50.0 and monitor.overall_label.value == "50 %"
    assert {n: b.value for n, b in monitor.bars.items()} == {"succeeded": 1, "failed": 1, "running": 1, "pending": 1}
    assert all(b.max == 4 for b in monitor.bars.values())
    assert "7 pages, 1,234 run rows fetched" in monitor.details.value  # run rows, not task rows
    assert "consolidating" not in monitor.details.value
    monitor.show(runs.RunProgress(status="RUNNING", locations_total=4, succeeded=3, failed=1))
    assert monitor.overall_label.value == "100 %" and "consolidating" in monitor.details.value
