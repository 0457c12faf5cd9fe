"""``dsa locations load|list|disable|enable|remove``: a task's locations from the shell.

Thin wrappers over :mod:`toolkit.locations`; a load that rejects any row prints the report (CSV
line numbers, every problem of a row) and exits 1 having written nothing (unless ``--partial``):
``--dry-run`` exits 1 too, so it can gate CI.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from toolkit.commands.common import ConfigOption, JsonOption, load_config, print_fields, print_frame
from toolkit.config import StackConfig

app = typer.Typer(help="Load, list, disable and remove a task's locations.", no_args_is_help=True)

TaskArgument = typer.Argument(..., help="The task whose locations these are.")
LocationsArgument = typer.Argument(..., help="One or more location ids.")


@app.command("load")
def load(
    source: Path = typer.Argument(..., help="CSV file with task_id, location_id, api_url (name, enabled, tags)."),
    task_id: Optional[str] = typer.Option(None, "--task-id", "-t", help="Task id for rows without one."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Validate and show the report; write nothing (exit 1 if a row is rejected)."),
    partial: bool = typer.Option(False, "--partial", help="Write the valid rows even if some are rejected."),
    refuse_private: Optional[bool] = typer.Option(
        None, "--refuse-private/--allow-private",
        help="Refuse loopback/private api_url hosts (default: refuse on AWS targets)."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Validate a CSV of locations, then write them (nothing is written if any row is rejected)."""
    from toolkit import locations
    from toolkit.locations import LocationsError

    if not source.is_file():
        raise LocationsError(f"source: {source} does not exist")
    cfg = load_config(config)
    report = locations.load_locations(cfg, str(source), task_id=task_id, dry_run=dry_run, partial=partial,
                                      refuse_private=refuse_private)
    shown = report if as_json else report.drop(columns="row")  # people read CSV line numbers
    print_frame(shown, title=f"locations from {source.name}", as_json=as_json)
    written, rejected = report.attrs["written"], report.attrs["rejected"]
    if not as_json:
        print(f"{written} written, {rejected} rejected{' (dry run)' if dry_run else ''}")
    if rejected and dry_run:
        raise LocationsError(f"rows: {rejected} row(s) rejected (dry run, nothing written)")
    if rejected and not partial:
        raise LocationsError(f"rows: {rejected} row(s) rejected, nothing written (fix them or pass --partial)")


@app.command("list")
def list_command(task_id: str = TaskArgument, config: Optional[Path] = ConfigOption,
                 as_json: bool = JsonOption) -> None:
    """The task's locations: id, API URL, name, enabled, tags."""
    from toolkit import locations

    frame = locations.read_locations(load_config(config), task_id)
    print_frame(frame, title=f"locations of task {task_id}", as_json=as_json)


@app.command("disable")
def disable(task_id: str = TaskArgument, location_ids: List[str] = LocationsArgument,
            config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """Disable locations: full runs of the task skip them until enabled again."""
    _set_enabled(task_id, location_ids, False, config, as_json)


@app.command("enable")
def enable(task_id: str = TaskArgument, location_ids: List[str] = LocationsArgument,
           config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """Enable locations that were disabled."""
    _set_enabled(task_id, location_ids, True, config, as_json)


def _set_enabled(task_id: str, location_ids: list[str], enabled: bool, config: Optional[Path],
                 as_json: bool) -> None:
    from toolkit import locations

    cfg = load_config(config)
    _require_known(cfg, task_id, location_ids)
    count = locations.set_enabled(cfg, task_id, location_ids, enabled)
    print_fields({"task_id": task_id, "enabled" if enabled else "disabled": count,
                  "location_ids": location_ids}, as_json=as_json)


@app.command("remove")
def remove(task_id: str = TaskArgument, location_ids: List[str] = LocationsArgument,
           config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """Delete locations from the task (all named ids must exist; otherwise nothing is deleted)."""
    from toolkit import locations

    cfg = load_config(config)
    _require_known(cfg, task_id, location_ids)
    count = locations.remove_locations(cfg, task_id, location_ids)
    print_fields({"task_id": task_id, "removed": count, "location_ids": location_ids}, as_json=as_json)


def _require_known(cfg: StackConfig, task_id: str, location_ids: list[str]) -> None:
    """Refuse the whole command if any id is not a location of the task (nothing half-done)."""
    from toolkit import locations
    from toolkit.locations import LocationsError

    known = set(locations.read_locations(cfg, task_id)["location_id"])
    unknown = [i for i in location_ids if i not in known]
    if unknown:
        raise LocationsError(f"location_id: {', '.join(map(repr, unknown))} not a location of task {task_id!r}; "
                             "nothing changed")
