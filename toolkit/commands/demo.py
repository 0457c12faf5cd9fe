"""``dsa demo``: the main job end to end on the embedded local stack (what ``make demo`` runs).

See :mod:`toolkit.demo`: a stack of its own, deploy, the sample locations, one run watched, the
output checked against the sample API's ground truth, a summary; exit 1 when any step fails.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the main job end to end on the embedded local stack.")


@app.command("demo")
def demo_command(
    port: int = typer.Option(4566, "--port", help="The stack's endpoint port (0 = any free port)."),
    sample_api_port: int = typer.Option(4567, "--sample-api-port", help="The sample API's port (0 = any free port)."),
    locations: int = typer.Option(0, "--locations", min=0, help="Run only the first N sample locations (0 = all)."),
    keep: bool = typer.Option(False, "--keep", help="Keep the stack running after the run, until Ctrl-C."),
) -> None:
    """Start a local stack, deploy, load the sample locations, run one task and check its output."""
    from toolkit.demo import run_demo

    code = run_demo(port, sample_api_port, locations, keep)
    if code:
        raise typer.Exit(code)
