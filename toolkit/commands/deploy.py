"""``dsa deploy``, ``dsa teardown`` and ``dsa export-cfn``: provision the stack from the CLI.

Top-level commands (not a group): cli.py adds this app with ``app.add_typer(deploy.app)``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from toolkit.commands.common import ConfigOption, JsonOption, load_config, print_json

app = typer.Typer(help="Provision, tear down or export the stack.")

def _summary(changes) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in counts.items()) or "nothing to do"


def _report(cfg, verb: str, changes, as_json: bool, *, plan: bool) -> None:
    """A plan's changes (applied ones were printed as they happened) and a summary line; or one JSON object
    ``{"stack", "target", "plan", "changes": [{"resource", "action", "detail"}], "summary"}``."""
    if as_json:
        print_json({"stack": cfg.stack_name, "target": cfg.target, "plan": plan,
                    "changes": [dataclasses.asdict(c) for c in changes], "summary": _summary(changes)})
        return
    if plan:
        for change in changes:
            typer.echo(str(change))
    typer.echo(f"{verb} stack {cfg.stack_name} ({cfg.target}): {_summary(changes)}")


def _echo_unless(as_json: bool):
    """Print each change as it happens, unless the output is JSON."""
    return None if as_json else (lambda change: typer.echo(str(change)))


@app.command("deploy")
def deploy_command(
    plan_only: bool = typer.Option(False, "--plan", help="Only show what would change."),
    rotate_api_key: bool = typer.Option(False, "--rotate-api-key",
                                        help="Send the API key to the existing connection again."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Create or update every resource of the stack (idempotent); --plan shows the changes only.

    The third-party API key is read from the variable named by api_key_env (DSA_API_KEY by
    default): the key itself or a Secrets Manager secret ARN; on the local stack, the stack's own
    key when the variable is unset. It is never printed.
    """
    from toolkit import deploy

    cfg = load_config(config)
    if plan_only:
        _report(cfg, "plan for", deploy.plan(cfg), as_json, plan=True)
        return
    changes = deploy.deploy(cfg, rotate_api_key=rotate_api_key, progress=_echo_unless(as_json))
    _report(cfg, "deployed", changes, as_json, plan=False)


@app.command("teardown")
def teardown_command(
    force: bool = typer.Option(False, "--force", help="Also delete a non-empty output bucket."),
    plan_only: bool = typer.Option(False, "--plan", help="Only show what would be deleted."),
    config: Optional[Path] = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete exactly the resources of this stack; refuses a non-empty output bucket unless --force."""
    from toolkit import deploy

    cfg = load_config(config)
    if plan_only:
        _report(cfg, "teardown plan for", deploy.plan_teardown(cfg), as_json, plan=True)
        return
    changes = deploy.teardown(cfg, force=force, progress=_echo_unless(as_json))
    _report(cfg, "tore down", changes, as_json, plan=False)


@app.command("export-cfn")
def export_cfn_command(
    out: Path = typer.Argument(..., help="Template file to write (.json for JSON, else YAML)."),
    api_key_secret_arn: str = typer.Option(
        "", "--api-key-secret-arn", help="Secrets Manager ARN holding the API key (else a NoEcho parameter)."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Write the same stack as a CloudFormation template."""
    from toolkit import cloudformation, layout

    cfg = load_config(config)
    path = cloudformation.write_template(cfg, out, api_key_secret_arn)
    typer.echo(f"wrote {path}; create the stack with:\n  "
               f"{cloudformation.deploy_command(cfg, path, api_key_secret_arn)}\n"
               f"then copy glue/consolidate.py to s3://{cfg.work_bucket}/{layout.SCRIPT_KEY}")
