"""``dsa doctor``: the preflight before a task (toolkit.doctor); one line per problem, exit 1 if any.

Top-level command (not a group): cli.py adds this app with ``app.add_typer(doctor.app)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.commands.common import ConfigOption, JsonOption, print_json
from toolkit.config import StackConfig

app = typer.Typer(help="Check that the stack can run a task.")


@app.command("doctor")
def doctor_command(config: Optional[Path] = ConfigOption, as_json: bool = JsonOption) -> None:
    """Identity, account and partition; each role's permissions (iam:SimulatePrincipalPolicy); the
    connection AUTHORIZED; the Glue script in place; every enabled location https:// and inside
    api_endpoints. Exits 1 when any check finds a problem."""
    from toolkit import doctor

    report = doctor.run(StackConfig.load(config))
    if as_json:
        print_json({"facts": report.facts, "problems": report.problems, "checks": report.checks, "ok": report.ok})
    else:
        for line in report.lines():
            typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)
