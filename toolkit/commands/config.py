"""``dsa config``: show the resolved StackConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.commands.common import ConfigOption, JsonOption, load_config, print_json

app = typer.Typer(help="Show the stack configuration (names, region, target).", no_args_is_help=True)


@app.command("show")
def show(
    config: Optional[Path] = ConfigOption,
    json_output: bool = JsonOption,
) -> None:
    """Print every resolved setting: defaults < YAML < DSA_* environment."""
    cfg = load_config(config)
    if json_output:
        print_json(cfg.as_dict())
        return
    for key, value in cfg.as_dict().items():
        typer.echo(f"{key:28} {value}")
