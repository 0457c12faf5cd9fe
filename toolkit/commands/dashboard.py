"""``dsa dashboard serve``: the operator dashboard (launch, monitor, failures, rerun) as a web page.

Serves ``notebooks/dashboard.ipynb`` with Voilà on loopback until Ctrl-C. The page works on the
target the ``DSA_*`` environment names (the local stack by default; see toolkit.dashboard).
"""

from __future__ import annotations

import socket

import typer

from toolkit.dashboard import DEFAULT_PORT, DashboardError, serve as serve_dashboard

app = typer.Typer(help="The operator dashboard as a web page (Voilà).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The operator dashboard as a web page (Voilà)."""


@app.command("serve")
def serve(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
) -> None:
    """Serve the dashboard at http://HOST:PORT/ (add ?task=TASK_ID to choose the task)."""
    if not 0 < port < 65536:
        raise DashboardError(f"port: must be between 1 and 65535, got {port}")
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DashboardError(f"port: {host}:{port} cannot be used ({exc.strerror or exc})") from None
    typer.echo(f"dashboard: http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    raise typer.Exit(serve_dashboard(port, host))
