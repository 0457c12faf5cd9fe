"""What the ``dsa`` command groups share: the ``--config`` and ``--json`` options and how results print.

A rich table for people, ``--json`` for scripts: every table looks the same and every ``--json``
is a list of records (or one object) that ``json.loads`` reads back. Errors are not printed
here: they reach ``toolkit.cli.main``, the CLI's one place for rendering them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from toolkit.config import StackConfig
    from toolkit.runs import Run, RunProgress

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (else DSA_CONFIG / defaults).")
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
CELL_WIDTH = 80  # long causes and messages are cut in tables (never in --json)
_WHOLE = ("arn:", "s3://", "https://", "http://")  # what --execution-arn and friends need whole


_loaded: list[tuple["StackConfig", Any]] = []  # what load_config found, for unreachable_hint


def load_config(path: str | None) -> "StackConfig":
    """The stack a command works on, by the toolkit's one discovery rule (toolkit.target.load_config)."""
    from toolkit import target

    config, found = target.load_config(path)
    _loaded.append((config, found))
    return config


def unreachable_hint() -> str | None:
    """Why the local endpoint a command used was chosen and the command that fixes it (None on AWS)."""
    from toolkit.local.state import default_run_dir
    from toolkit.target import NO_STACK_HINT

    if not _loaded or not _loaded[-1][0].is_local:
        return None
    config, found = _loaded[-1]
    if found is None:
        return (f"no local stack answers at {config.endpoint_url} (the default: no DSA_ENDPOINT_URL and no stack "
                f"recorded in {default_run_dir()}); {NO_STACK_HINT}")
    return (f"no local stack answers at {config.endpoint_url} (from {found.origin}); see `dsa local status`, "
            f"or {NO_STACK_HINT}")


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records: timestamps as ISO text, missing values as null."""
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


def print_json(value: Any) -> None:
    """Print a value as indented JSON on stdout."""
    print(json.dumps(value, indent=2, default=str))


def print_frame(frame: pd.DataFrame, *, title: str | None = None, as_json: bool = False) -> None:
    """Print a DataFrame as a table (or as JSON records)."""
    if as_json:
        print_json(frame_records(frame))
        return
    table = Table(title=title, show_lines=False, header_style="bold", box=box.SIMPLE_HEAD, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(value) for value in row))
    console = _console()
    console.print(table)
    if frame.empty:
        console.print("(no rows)")


def print_fields(values: dict[str, Any], *, as_json: bool = False) -> None:
    """Print one record as aligned ``name value`` lines (or as a JSON object)."""
    if as_json:
        print_json(values)
        return
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        print(f"{key:<{width}}  {_cell(value)}")


def _console() -> Console:
    """The terminal's width on a terminal; elsewhere (a pipe, a file, CI) ``COLUMNS`` or wide enough
    that rows are not wrapped."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(width=int(os.environ.get("COLUMNS", "0") or 0) or 250)


def _cell(value: Any) -> str:
    """A value as table text: messages cut at CELL_WIDTH, names that are copied whole (ARNs, URIs) never."""
    if value is None or (not isinstance(value, (list, dict, tuple)) and pd.isna(value)):
        return ""
    text = str(value).replace("\n", " | ")
    if len(text) <= CELL_WIDTH or text.startswith(_WHOLE):
        return text
    return text[:CELL_WIDTH - 1] + "…"


def progress_text(snapshot: "RunProgress") -> str:
    """One snapshot in words: phase, locations done of total (once the Map Run knows), pages, rows."""
    if snapshot.locations_total:
        locations = f"{snapshot.locations_done}/{snapshot.locations_total} locations"
    else:
        locations = "locations not counted yet"
    return (f"{snapshot.phase}: {locations} (failed {snapshot.failed}, running {snapshot.running}), "
            f"pages {snapshot.pages}, rows {snapshot.rows}")


class ProgressBar:
    """A rich progress bar for a run on a terminal: phase, locations done of total, pages, rows."""

    def __init__(self, label: str):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None, detail="starting")

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, snapshot: "RunProgress") -> None:
        """Draw one snapshot of the run."""
        self._progress.update(self._task, total=snapshot.locations_total or None,
                              completed=snapshot.locations_done, detail=progress_text(snapshot))


class ProgressLines:
    """Plain progress lines for a run where there is no terminal (CI, cron, ``| tee``): one line
    when the counts change, at most one per ``every`` seconds, except that a new phase and the
    end are always printed."""

    def __init__(self, label: str, every: float):
        self._label = label
        self._every = every
        self._last_text = ""
        self._last_phase = ""
        self._last_time = -float("inf")

    def __enter__(self) -> "ProgressLines":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, snapshot: "RunProgress") -> None:
        """Print the snapshot if it says something new and the throttle allows."""
        text = progress_text(snapshot)
        now = time.monotonic()
        new_phase = snapshot.phase != self._last_phase
        if text == self._last_text or not (new_phase or snapshot.done or now - self._last_time >= self._every):
            return
        print(f"{self._label}: {text}; {snapshot.elapsed_seconds:.0f} s", flush=True)
        self._last_text, self._last_phase, self._last_time = text, snapshot.phase, now


PLAIN_LINE_SECONDS = 10.0  # the least time between two plain progress lines of the same phase


def watch_run(run: "Run", *, interval: float, draw: bool = True, session: Any = None) -> "RunProgress":
    """Follow a run until it ends (Ctrl-C stops watching, not the run), drawing a progress bar on a
    terminal and plain lines elsewhere, unless ``draw`` is False; return the last snapshot."""
    from toolkit import runs

    if not draw:
        return runs.watch(run, interval=interval, session=session)
    display: ProgressBar | ProgressLines = (ProgressBar(run.task_id) if sys.stdout.isatty()
                                            else ProgressLines(run.task_id, max(interval, PLAIN_LINE_SECONDS)))
    with display:
        return runs.watch(run, interval=interval, on_update=display.update, session=session)
