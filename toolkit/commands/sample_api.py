"""``dsa sample-api``: run the sample third-party location API, write its locations CSV, set its faults.

``faults set FILE|show|clear`` work on a running sample API: the local stack's, found by the
toolkit's discovery rule (toolkit.target.find_local_stack: ``--run-dir``, else ``DSA_ENDPOINT_URL``
with ``DSA_SAMPLE_API_URL``, else the stack ``dsa local up`` recorded), with the admin token it
knows; ``--url`` names another one (``serve``'s), whose token comes from
``DSA_SAMPLE_API_ADMIN_TOKEN``.

``serve`` prints the base URL as the first line on stdout (so scripts can read it), details on
stderr, and runs until Ctrl-C or SIGTERM. Secrets come from options or environment variables
and are never printed; the one exception is the admin token that the server generates when none
is given (``--admin-token`` / ``DSA_SAMPLE_API_ADMIN_TOKEN``), printed on stderr so the operator
can use the admin routes. It serves HTTPS (AWS's HTTP Task calls HTTPS only) with a certificate
from a CA made at start-up, whose PEM it writes to ``--ca-file`` for clients to trust (by
default a file in a new private temporary directory, printed on stderr and removed at stop, so
that no run leaves a PEM in the working directory); ``--plain-http`` is the explicit local
opt-in to plain http.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

import typer

from toolkit.commands.common import JsonOption, print_json
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.local.sample_api import (ADMIN_TOKEN_ENV, ADMIN_TOKEN_HEADER, DEFAULT_API_URL, DEFAULT_PORT,
                                      DEFAULT_TASK_ID, AuthConfig, DatasetParams, FaultPlan, FaultPlanError, FaultRule,
                                      SampleApi, write_locations_csv)
from toolkit.local.server import PortInUseError
from toolkit.local.tls import SAMPLE_API_CA_ENV, LocalCa
from toolkit.target import NO_STACK_HINT, SAMPLE_API_URL_ENV, SampleApiAdmin, find_local_stack

app = typer.Typer(help="The sample third-party location API (a real loopback server).", no_args_is_help=True)

_DATASET_HELP = "Dataset parameters YAML (e.g. sample_data/dataset.yaml); default: the built-in dataset."


def _dataset(path: Optional[Path], seed: Optional[int], locations: Optional[int]) -> DatasetParams:
    params = DatasetParams.from_file(path) if path else DatasetParams()
    changes = {k: v for k, v in (("seed", seed), ("locations", locations)) if v is not None}
    return dataclasses.replace(params, **changes) if changes else params


def _auth(api_key: Optional[str], header: str, username: Optional[str], password: Optional[str],
          client_id: Optional[str], client_secret: Optional[str]) -> AuthConfig:
    chosen = [name for name, given in (("--api-key", api_key), ("--username", username),
                                       ("--client-id", client_id)) if given]
    if len(chosen) > 1:
        raise ToolkitError(f"auth: choose one of --api-key, --username, --client-id (got {', '.join(chosen)})")
    if api_key:
        return AuthConfig.api_key(api_key, header=header)
    if username:
        if not password:
            raise ToolkitError("--password: required with --username")
        return AuthConfig.basic(username, password)
    if client_id:
        if not client_secret:
            raise ToolkitError("--client-secret: required with --client-id")
        return AuthConfig.oauth(client_id, client_secret)
    return AuthConfig.none()


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on; 0 picks a free port."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help=_DATASET_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the dataset's seed."),
    locations: Optional[int] = typer.Option(None, "--locations", help="Override the number of locations."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar=StackConfig.api_key_env,
                                          help=f"Require this API key (env {StackConfig.api_key_env})."),
    api_key_header: str = typer.Option(StackConfig.api_key_header, "--api-key-header",
                                       help="Header that carries the API key."),
    username: Optional[str] = typer.Option(None, "--username", help="Require HTTP Basic auth as this user."),
    password: Optional[str] = typer.Option(None, "--password", envvar="DSA_SAMPLE_API_PASSWORD",
                                           help="Basic auth password (env DSA_SAMPLE_API_PASSWORD)."),
    client_id: Optional[str] = typer.Option(None, "--client-id", help="Require OAuth client credentials."),
    client_secret: Optional[str] = typer.Option(None, "--client-secret", envvar="DSA_SAMPLE_API_CLIENT_SECRET",
                                                help="OAuth client secret (env DSA_SAMPLE_API_CLIENT_SECRET)."),
    faults: Optional[Path] = typer.Option(None, "--faults", help="Fault plan file (YAML or JSON)."),
    ca_file: Optional[Path] = typer.Option(None, "--ca-file",
                                           help="Where to write the PEM of the CA that signs the server's "
                                                "certificate; default: a temporary file, printed, removed at stop."),
    plain_http: bool = typer.Option(False, "--plain-http",
                                    help="Local opt-in: serve plain http (AWS's HTTP Task calls HTTPS only)."),
    admin_token: Optional[str] = typer.Option(None, "--admin-token", envvar=ADMIN_TOKEN_ENV,
                                              help=f"Token of the admin routes (env {ADMIN_TOKEN_ENV}); "
                                                   "default: a random one, printed."),
) -> None:
    """Serve the sample API until Ctrl-C; prints its base URL first."""
    params = _dataset(dataset, seed, locations)
    auth = _auth(api_key, api_key_header, username, password, client_id, client_secret)
    plan = FaultPlan.from_file(faults) if faults else None
    ca = None if plain_http else LocalCa()
    api = SampleApi(dataset=params, auth=auth, faults=plan, host=host, port=port, ca=ca, admin_token=admin_token)
    try:
        api.start()
    except PortInUseError as exc:
        raise ToolkitError(f"--port: {exc}; pick another port or 0 for a free one") from None
    temporary = Path(tempfile.mkdtemp(prefix="dsa-sample-api-")) if ca is not None and ca_file is None else None
    if ca is not None:
        ca_file = ca_file or temporary / "ca.pem"  # type: ignore[operator]
        try:
            ca.write_pem(ca_file)
        except OSError as exc:
            api.stop()
            raise ToolkitError(f"--ca-file: cannot write {ca_file} ({exc.strerror})") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # both end the wait below, wherever they land
        signal.signal(signum, lambda *_: stop.set())
    try:
        print(api.url, flush=True)
        print(f"sample API: {params.locations} locations (seed {params.seed}), {auth.describe()}, "
              f"{len(api.faults.rules)} fault rule(s); "
              f"{'plain http' if ca is None else f'TLS, CA in {ca_file}'}; Ctrl-C stops", file=sys.stderr, flush=True)
        if not admin_token:
            print(f"admin token (header {ADMIN_TOKEN_HEADER}): {api.admin_token}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        api.stop()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    print("sample API stopped", file=sys.stderr)


@app.command("locations")
def locations(
    out: Path = typer.Option(Path("sample_data/locations.csv"), "--out", help="CSV file to write."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help=_DATASET_HELP),
    task_id: str = typer.Option(DEFAULT_TASK_ID, "--task-id", help="task_id of every row."),
    api_url: str = typer.Option(DEFAULT_API_URL, "--api-url", help="Base URL of the sample API."),
) -> None:
    """Write the locations CSV (task_id, location_id, api_url, name, enabled) for a dataset."""
    path = write_locations_csv(out, _dataset(dataset, None, None), task_id=task_id, api_url=api_url)
    typer.echo(f"wrote {path}")


faults_app = typer.Typer(help="Show, set or clear the fault plan of a running sample API.", no_args_is_help=True)
app.add_typer(faults_app, name="faults")
_URL = typer.Option(None, "--url", help="A sample API's base URL (default: the local stack's).")
_RUN_DIR = typer.Option(None, "--run-dir", help="Run directory of the local stack (`dsa local up --run-dir`).")


@faults_app.command("show")
def faults_show(url: Optional[str] = _URL, run_dir: Optional[Path] = _RUN_DIR,
                as_json: bool = JsonOption) -> None:
    """The fault plan the sample API applies now (its seed and rules)."""
    _print_plan(_admin(url, run_dir).faults(), as_json)


@faults_app.command("set")
def faults_set(plan_file: Path = typer.Argument(..., help="Fault plan file (YAML or JSON)."),
               url: Optional[str] = _URL, run_dir: Optional[Path] = _RUN_DIR, as_json: bool = JsonOption) -> None:
    """Replace the fault plan (request numbering restarts at 0)."""
    if not plan_file.is_file():
        raise ToolkitError(f"plan_file: {plan_file} does not exist")
    try:
        plan = FaultPlan.from_file(plan_file)
    except FaultPlanError as exc:
        raise ToolkitError(f"plan_file: {plan_file}: {exc}") from None
    _print_plan(_admin(url, run_dir).set_faults(plan.to_dict()), as_json)


@faults_app.command("clear")
def faults_clear(url: Optional[str] = _URL, run_dir: Optional[Path] = _RUN_DIR,
                 as_json: bool = JsonOption) -> None:
    """Remove every fault rule: the API answers normally again."""
    _print_plan(_admin(url, run_dir).set_faults(None), as_json)


def _admin(url: Optional[str], run_dir: Optional[Path]) -> SampleApiAdmin:
    """The admin client of the sample API named by ``--url``, else the local stack's."""
    if url:
        return SampleApiAdmin(url, os.environ.get(SAMPLE_API_CA_ENV), os.environ.get(ADMIN_TOKEN_ENV))
    found = find_local_stack(run_dir=run_dir)
    if found is None:
        raise ToolkitError(f"sample API: no local stack found; {NO_STACK_HINT}; or name one with --url")
    if not found.sample_url:
        raise ToolkitError(f"sample API: the local stack at {found.endpoint} (from {found.origin}) has none "
                           f"(started with --no-sample-api?); name one with --url or set {SAMPLE_API_URL_ENV}")
    return SampleApiAdmin(found.sample_url, found.ca_file, found.admin_token)


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    rules = plan.get("rules", [])
    print(f"seed {plan.get('seed')}, {len(rules)} fault rule(s)")
    for index, rule in enumerate(rules):
        defaults = FaultRule(kind=rule["kind"]).to_dict()
        shown = {k: v for k, v in rule.items() if k != "kind" and v != defaults.get(k)}
        print(f"  {index}: {rule['kind']} " + " ".join(
            f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in shown.items()))
