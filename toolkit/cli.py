"""The ``dsa`` command: one entry point for operators, assembled from ``toolkit.commands``.

Errors reach the user as one line on stderr with a non-zero exit; ``--debug`` (anywhere on
the command line) shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback

import typer

from toolkit.commands import config as config_commands
from toolkit.commands import dashboard as dashboard_commands
from toolkit.commands import demo as demo_commands
from toolkit.commands import deploy as deploy_commands
from toolkit.commands import doctor as doctor_commands
from toolkit.commands import local as local_commands
from toolkit.commands import locations as locations_commands
from toolkit.commands import results as results_commands
from toolkit.commands import run as run_commands
from toolkit.commands import sample_api as sample_api_commands
from toolkit.errors import ToolkitError

app = typer.Typer(
    name="dsa",
    help="Distributed Data Stream Aggregator: operate the pipeline on AWS or on the embedded local stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: option names never cut at 80 columns, no type on flags
)
app.add_typer(config_commands.app, name="config")
app.add_typer(deploy_commands.app)  # deploy, teardown and export-cfn at the top level
app.add_typer(doctor_commands.app)  # doctor at the top level
app.add_typer(demo_commands.app)  # demo at the top level
app.add_typer(locations_commands.app, name="locations")
app.add_typer(run_commands.app, name="run")
app.add_typer(results_commands.app, name="results")
app.add_typer(local_commands.app, name="local")
app.add_typer(sample_api_commands.app, name="sample-api")
app.add_typer(dashboard_commands.app, name="dashboard")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """Distributed Data Stream Aggregator toolkit."""


def _one_line(exc: BaseException) -> str:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from toolkit.commands.common import unreachable_hint

    if isinstance(exc, EndpointConnectionError) and unreachable_hint():
        return str(unreachable_hint())
    if isinstance(exc, ToolkitError) and exc.cli:
        return exc.cli
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}"
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return str(exc) or exc.__class__.__name__


def main(argv: list[str] | None = None) -> int:
    """Run ``dsa``; usage errors are the CLI library's (exit 2), ours are one line (exit 1)."""
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="dsa", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - the one place user-facing errors are rendered
        if "--debug" in args:
            traceback.print_exc()
        elif _is_expected(exc):
            print(f"dsa: error: {_one_line(exc)}", file=sys.stderr)
        else:
            print(f"dsa: error: {exc.__class__.__name__}: {_one_line(exc)} (run with --debug for the traceback)",
                  file=sys.stderr)
        return 1
    return 0


def _is_expected(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, (ToolkitError, ClientError, BotoCoreError, OSError))


if __name__ == "__main__":
    raise SystemExit(main())
