"""``dsa config``: show the resolved StackConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.config import StackConfig

app = typer.Typer(help="Show the stack configuration (names, region, target).", no_args_is_help=True)


@app.command("show")
def show(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Print every resolved setting: defaults < YAML < DSA_* environment."""
    from toolkit.cli import print_json

    cfg = StackConfig.load(config)
    if json_output:
        print_json(cfg.as_dict())
        return
    for key, value in cfg.as_dict().items():
        typer.echo(f"{key:28} {value}")
