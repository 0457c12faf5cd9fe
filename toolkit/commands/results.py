"""``dsa results show|export|diff``: a task's consolidated output from the shell.

Thin wrappers over :mod:`toolkit.results` (awswrangler, pointed at the config's target).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from toolkit.commands.common import ConfigOption, JsonOption, frame_records, load_config, print_frame, print_json

app = typer.Typer(help="Show, export and compare tasks' consolidated output.", no_args_is_help=True)

FORMATS = ("parquet", "csv", "xlsx")  # toolkit.results.EXPORT_FORMATS


@app.command("show")
def show(
    task_id: str = typer.Argument(..., help="The task whose output to summarise."),
    by: Optional[List[str]] = typer.Option(None, "--by", help="Group by this column (repeatable; "
                                           "default: location_id, data_type, status)."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Row counts of a task's output by location, data type and status, and its manifest's totals."""
    from toolkit import results

    cfg = load_config(config)
    output = results.load_output(cfg, task_id)
    unknown = [c for c in by or [] if c not in output.columns]
    if unknown:
        raise results.ResultsError(f"--by: unknown column(s) {', '.join(unknown)} "
                                   f"(columns: {', '.join(output.columns)})")
    table = results.summary(output, by or None)
    manifest = results.load_manifest(cfg, task_id)
    if as_json:
        print_json({"task_id": task_id, "rows": len(output), "summary": frame_records(table),
                    "csv_uri": manifest.get("csv_uri"), "parquet_uri": manifest.get("parquet_uri")})
        return
    print_frame(table, title=f"output of task {task_id}")
    print(f"{len(output)} rows; CSV {manifest.get('csv_uri')}; Parquet {manifest.get('parquet_uri')}")


@app.command("export")
def export(
    task_id: str = typer.Argument(..., help="The task whose output to export."),
    out: Path = typer.Argument(..., help="File to write (.csv, .parquet or .xlsx)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="csv, parquet or xlsx (default: from the suffix)."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a task's consolidated output to a local CSV, Parquet or Excel file."""
    from toolkit import results

    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise results.ResultsError(f"--format: must be one of {', '.join(FORMATS)} (or an OUT ending in one), "
                                   f"got {fmt!r}")
    if not out.parent.is_dir():
        raise results.ResultsError(f"out: directory {out.parent} does not exist")
    output = results.load_output(load_config(config), task_id)
    results.export_output(output, out, fmt)  # whole or not at all
    summary = {"task_id": task_id, "rows": len(output), "format": fmt, "path": str(out)}
    if as_json:
        print_json(summary)
    else:
        print(f"wrote {len(output)} rows of task {task_id} to {out} ({fmt})")


@app.command("diff")
def diff(
    before: str = typer.Argument(..., help="The earlier task."),
    after: str = typer.Argument(..., help="The later task."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Per location: discount codes new in AFTER, resolved since BEFORE, and persisting."""
    from toolkit import results

    cfg = load_config(config)
    table = results.diff_outputs(results.load_output(cfg, before), results.load_output(cfg, after))
    print_frame(table, title=f"{before} -> {after}", as_json=as_json)
