"""``dsa deploy``, ``dsa teardown`` and ``dsa export-cfn``: provision the stack from the CLI.

Top-level commands (not a group): cli.py adds this app with ``app.add_typer(deploy.app)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.commands.common import ConfigOption
from toolkit.config import StackConfig

app = typer.Typer(help="Provision, tear down or export the stack.")



def _print(change) -> None:
    typer.echo(str(change))


def _summary(changes) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in counts.items()) or "nothing to do"


@app.command("deploy")
def deploy_command(
    plan_only: bool = typer.Option(False, "--plan", help="Only show what would change."),
    rotate_api_key: bool = typer.Option(False, "--rotate-api-key",
                                        help="Send the API key to the existing connection again."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Create or update every resource of the stack (idempotent); --plan shows the changes only.

    The third-party API key is read from the variable named by api_key_env (DSA_API_KEY by
    default): the key itself or a Secrets Manager secret ARN. It is never printed.
    """
    from toolkit import deploy

    cfg = StackConfig.load(config)
    if plan_only:
        changes = deploy.plan(cfg)
        for change in changes:
            _print(change)
        typer.echo(f"plan for stack {cfg.stack_name} ({cfg.target}): {_summary(changes)}")
        return
    changes = deploy.deploy(cfg, rotate_api_key=rotate_api_key, progress=_print)
    typer.echo(f"deployed stack {cfg.stack_name} ({cfg.target}): {_summary(changes)}")


@app.command("teardown")
def teardown_command(
    force: bool = typer.Option(False, "--force", help="Also delete a non-empty output bucket."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Delete exactly the resources of this stack; refuses a non-empty output bucket unless --force."""
    from toolkit import deploy

    cfg = StackConfig.load(config)
    changes = deploy.teardown(cfg, force=force, progress=_print)
    typer.echo(f"tore down stack {cfg.stack_name} ({cfg.target}): {_summary(changes)}")


@app.command("export-cfn")
def export_cfn_command(
    out: Path = typer.Argument(..., help="Template file to write (.json for JSON, else YAML)."),
    api_key_secret_arn: str = typer.Option(
        "", "--api-key-secret-arn", help="Secrets Manager ARN holding the API key (else a NoEcho parameter)."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Write the same stack as a CloudFormation template."""
    from toolkit import cloudformation, layout

    cfg = StackConfig.load(config)
    path = cloudformation.write_template(cfg, out, api_key_secret_arn)
    typer.echo(f"wrote {path}; create the stack with:\n  "
               f"{cloudformation.deploy_command(cfg, path, api_key_secret_arn)}\n"
               f"then copy glue/consolidate.py to s3://{cfg.work_bucket}/{layout.SCRIPT_KEY}")
