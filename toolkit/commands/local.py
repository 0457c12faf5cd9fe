"""``dsa local up|down|status|env``: run the embedded local stack from a shell.

``up`` runs in the foreground until Ctrl-C (or SIGTERM); ``up --detach`` starts the same command as
a background process and returns once every component answers. A running stack is recorded in a
state file (pid, ports, endpoint) in the run directory: ``--run-dir``, else
``$XDG_STATE_HOME/dsa/local``, else ``~/.local/state/dsa/local``; the detached stack logs to
``stack.log`` there. The sample API serves HTTPS with a CA made at start-up; its PEM is written
to ``sample-api-ca.pem`` in the run directory and ``env`` exports it as ``DSA_SAMPLE_API_CA``
(``up --plain-http`` is the explicit local opt-in to plain http).

Exit codes: ``up`` fails (1) when a stack already runs, a port is busy or ``--data-dir`` is not a
writable directory; ``down`` with nothing running prints so and exits 0 (stopping a stopped stack
is not an error, so scripts can call it unconditionally), and exits 1 when the stack could not
save its state (the stack writes the reason to ``stop-error.txt`` in the run directory for it);
``status`` exits 0 when every component answers and 1 otherwise. After a crash, ``status`` probes
the address the crashed stack recorded, not the default one.

The state file holds the sample API's admin token, so it is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from toolkit.config import StackConfig
from toolkit.local.access import CorsPolicy
from toolkit.local.persistence import check_data_dir
from toolkit.local.sample_api import ADMIN_TOKEN_ENV, ADMIN_TOKEN_HEADER, FaultPlan, FaultPlanError
from toolkit.local.stack import (
    DEFAULT_PORT,
    SAMPLE_API_CA_FILE,
    ComponentStatus,
    DEFAULT_SAMPLE_API_PORT,
    LocalStack,
    StackError,
    probe_components,
    stack_env,
)
from toolkit.local.state import (RUN_DIR_ENV, STATE_FILE, StackState, alive, default_run_dir, read_state,
                                 recorded_state, write_state)
from toolkit.target import SAMPLE_API_URL_ENV

app = typer.Typer(help="Run the embedded local stack (no AWS account needed).", no_args_is_help=True)

STOP_ERROR_FILE = "stop-error.txt"
LOG_FILE = "stack.log"
DETACH_TIMEOUT_SECONDS = 90.0
DOWN_TIMEOUT_SECONDS = 90.0


def _refuse_if_running(run_dir: Path) -> None:
    state = read_state(run_dir)
    if state is not None:
        raise StackError(f"a local stack is already running (pid {state.pid}, {state.endpoint_url}); "
                         "stop it with `dsa local down`")


_RUN_DIR = typer.Option(None, "--run-dir", help="Where the state file and log live.")


@app.command()
def up(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Gateway port (0 = any free port)."),
    sample_api_port: int = typer.Option(DEFAULT_SAMPLE_API_PORT, "--sample-api-port",
                                        help="Sample third-party API port (0 = any free port)."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background and return once it answers."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Keep state here across down/up."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Multiply every wait (Wait states, timeouts)."),
    no_sample_api: bool = typer.Option(False, "--no-sample-api", help="Do not start the sample API."),
    cors_origin: list[str] = typer.Option([], "--cors-origin",
                                          help="Let web pages of this origin call the gateway (repeatable)."),
    no_iam: bool = typer.Option(False, "--no-iam",
                                help="Do not enforce IAM (roles' policies); also DSA_LOCAL_IAM=off. For experiments."),
    plain_http: bool = typer.Option(False, "--plain-http",
                                    help="Local opt-in: the sample API serves plain http and the HTTP Task "
                                         "accepts http:// endpoints (AWS calls HTTPS only)."),
    faults: Optional[Path] = typer.Option(None, "--faults",
                                          help="Fault plan file (YAML or JSON) the sample API starts with."),
    run_dir: Optional[Path] = _RUN_DIR,
    detached_child: bool = typer.Option(False, "--detached-child", hidden=True),
) -> None:
    """Start the local stack (foreground until Ctrl-C, or --detach)."""
    run_dir = run_dir or default_run_dir()
    _refuse_if_running(run_dir)
    plan = _fault_plan(faults, no_sample_api)
    if time_scale <= 0:
        raise StackError(f"--time-scale: must be greater than 0, got {time_scale}")
    if data_dir is not None:
        check_data_dir(data_dir, "--data-dir")
    try:
        CorsPolicy.of(cors_origin)
    except ValueError as exc:
        raise StackError(f"--{exc}") from None
    if detach:
        _start_detached(run_dir, port, sample_api_port, data_dir, time_scale, no_sample_api, cors_origin,
                        no_iam, plain_http, faults)
        return
    stack = LocalStack(port=port, sample_api_port=sample_api_port, time_scale=time_scale,
                       data_dir=data_dir, sample_api=not no_sample_api, cors_origins=tuple(cors_origin),
                       iam=False if no_iam else None, sample_api_tls=not plain_http,
                       ca_path=run_dir / SAMPLE_API_CA_FILE, faults=plan)
    stop, stopping = threading.Event(), threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        _serve(stack, run_dir, data_dir, stop, stopping, detached_child)
    except StackError as exc:
        if stopping.is_set():  # a failed save: tell `dsa local down`, which is waiting for us
            (run_dir / STOP_ERROR_FILE).write_text(str(exc))
        raise


def _fault_plan(path: Path | None, no_sample_api: bool) -> FaultPlan | None:
    """The fault plan of ``--faults``, checked before anything starts (a bad field is one line)."""
    if path is None:
        return None
    if no_sample_api:
        raise StackError("--faults: needs the sample API (drop --no-sample-api)")
    if not path.is_file():
        raise StackError(f"--faults: {path} does not exist")
    try:
        return FaultPlan.from_file(path)
    except FaultPlanError as exc:
        raise StackError(f"--faults: {path}: {exc}") from None


def _serve(stack: LocalStack, run_dir: Path, data_dir: Path | None, stop: threading.Event,
           stopping: threading.Event, detached_child: bool) -> None:
    """Run ``stack`` until ``stop`` is set, recorded in the state file of ``run_dir``;
    ``stopping`` is set once the stack is being stopped (and saved)."""
    with stack:
        import psutil

        me = psutil.Process()
        sample_url = stack.sample_api.url if stack.sample_api is not None else None
        write_state(run_dir, StackState(
            pid=me.pid, started=me.create_time(), endpoint_url=stack.endpoint_url,
            port=int(stack.endpoint_url.rsplit(":", 1)[1]), sample_api_url=sample_url,
            sample_api_port=stack.sample_api.port if stack.sample_api is not None else None,
            data_dir=str(data_dir) if data_dir else None,
            sample_api_ca=str(stack.sample_api_ca) if stack.sample_api_ca else None,
            sample_api_admin_token=stack.sample_api.admin_token if stack.sample_api is not None else None,
            api_key=stack.api_key))
        try:
            _print_components(stack.components())
            if stack.sample_api is not None and not detached_child:  # the log file gets no secret
                _print_admin_token(stack.sample_api.admin_token)
            print(f"local stack up at {stack.endpoint_url}; `eval \"$({_env_command(run_dir)})\"` points a shell "
                  "at it; press Ctrl-C to stop", flush=True)
            while not stop.wait(0.5):
                pass
            print("stopping the local stack...", flush=True)
        finally:
            stopping.set()
            state = read_state(run_dir)
            if state is not None and state.pid == os.getpid():
                (run_dir / STATE_FILE).unlink(missing_ok=True)


def _start_detached(run_dir: Path, port: int, sample_api_port: int, data_dir: Path | None,
                    time_scale: float, no_sample_api: bool, cors_origins: list[str], no_iam: bool = False,
                    plain_http: bool = False, faults: Path | None = None) -> None:
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [sys.executable, "-m", "toolkit.cli", "local", "up", "--port", str(port),
               "--sample-api-port", str(sample_api_port), "--time-scale", str(time_scale),
               "--run-dir", str(run_dir), "--detached-child"]
    for origin in cors_origins:
        command += ["--cors-origin", origin]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir.resolve())]
    if no_sample_api:
        command.append("--no-sample-api")
    if no_iam:
        command.append("--no-iam")
    if plain_http:
        command.append("--plain-http")
    if faults is not None:
        command += ["--faults", str(faults.resolve())]
    log_path = run_dir / LOG_FILE
    with open(log_path, "wb") as log:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    deadline = time.monotonic() + DETACH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise StackError(_last_error(log_path) or f"the local stack exited with code {child.returncode}")
        state = read_state(run_dir)
        if state is not None and state.pid == child.pid:
            components = probe_components(state.endpoint_url, state.sample_api_url, state.sample_api_ca)
            if all(c.up for c in components):
                _print_components(components)
                if state.sample_api_admin_token:
                    _print_admin_token(state.sample_api_admin_token)
                print(f"local stack running in the background (pid {child.pid}); log: {log_path}; "
                      f"`eval \"$({_env_command(run_dir)})\"` points a shell at it")
                return
        time.sleep(0.2)
    child.terminate()
    child.wait(30)
    raise StackError(f"the local stack did not answer within {DETACH_TIMEOUT_SECONDS:.0f} s; see {log_path}")


def _last_error(log_path: Path) -> str | None:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("dsa: error: "):
            return line[len("dsa: error: "):]
    return lines[-1] if lines else None


@app.command()
def down(run_dir: Optional[Path] = _RUN_DIR) -> None:
    """Stop the stack started with `dsa local up --detach` (or running in another shell)."""
    run_dir = run_dir or default_run_dir()
    state = read_state(run_dir)
    if state is None:
        print(f"no local stack is running (no live state file in {run_dir})")
        return
    (run_dir / STOP_ERROR_FILE).unlink(missing_ok=True)
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_SECONDS
    while alive(state.pid, state.started):
        if time.monotonic() > deadline:
            os.kill(state.pid, signal.SIGKILL)
            (run_dir / STATE_FILE).unlink(missing_ok=True)
            raise StackError(f"the local stack (pid {state.pid}) did not stop within "
                             f"{DOWN_TIMEOUT_SECONDS:.0f} s and was killed; its state was not saved")
        time.sleep(0.1)
    (run_dir / STATE_FILE).unlink(missing_ok=True)
    failure = run_dir / STOP_ERROR_FILE
    if failure.exists():
        message = failure.read_text(errors="replace").strip()
        failure.unlink(missing_ok=True)
        raise StackError(f"the local stack (pid {state.pid}) stopped, but {message}")
    print(f"local stack stopped (pid {state.pid})")


@app.command()
def status(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Gateway port to probe when no stack is recorded."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    run_dir: Optional[Path] = _RUN_DIR,
) -> None:
    """Each component, its address and whether it answers (exit 1 unless all do)."""
    run_dir = run_dir or default_run_dir()
    recorded = recorded_state(run_dir)  # kept after a crash: its address is the one to probe
    running = recorded is not None and alive(recorded.pid, recorded.started)
    if recorded is not None:
        components = probe_components(recorded.endpoint_url, recorded.sample_api_url, recorded.sample_api_ca)
    else:
        components = probe_components(f"http://127.0.0.1:{port}", None)
    if as_json:
        print(json.dumps({"running": running, "pid": recorded.pid if recorded else None,
                          "components": [asdict(c) for c in components]}, indent=2))
    else:
        if recorded is None:
            print("no local stack is recorded as running; probing the default address")
        elif not running:
            print(f"the local stack recorded in {run_dir} (pid {recorded.pid}) is no longer running; "
                  "probing the address it recorded")
        _print_components(components)
    if not all(c.up for c in components):
        raise typer.Exit(1)


@app.command()
def env(
    port: Optional[int] = typer.Option(None, "--port", help="Gateway port of a stack that is not recorded."),
    run_dir: Optional[Path] = _RUN_DIR,
) -> None:
    """Print `export` lines that point boto3, awswrangler, the AWS CLI and dsa at the stack."""
    run_dir = run_dir or default_run_dir()
    state = read_state(run_dir)
    if state is None and port is None:
        raise StackError(f"no local stack is running from {run_dir}; start one with `dsa local up --detach`"
                         f"{'' if run_dir == default_run_dir() else f' --run-dir {run_dir}'}, or name the run "
                         "directory of the one you started (--run-dir) or its gateway port (--port)")
    if state is None or (port is not None and port != state.port):
        variables = stack_env(f"http://127.0.0.1:{port}", StackConfig.load().region)
    else:
        variables = stack_env(state.endpoint_url, StackConfig.load().region, state.sample_api_ca)
        variables[RUN_DIR_ENV] = str(run_dir.resolve())
        if state.sample_api_url:
            variables[SAMPLE_API_URL_ENV] = state.sample_api_url
        if state.sample_api_admin_token:
            variables[ADMIN_TOKEN_ENV] = state.sample_api_admin_token
    for name, value in variables.items():
        print(f"export {name}={shlex.quote(value)}")


def _env_command(run_dir: Path) -> str:
    """The ``dsa local env`` command line for the stack of ``run_dir``."""
    return "dsa local env" if run_dir == default_run_dir() else f"dsa local env --run-dir {shlex.quote(str(run_dir))}"


def _print_admin_token(token: str) -> None:
    print(f"sample API admin token (header {ADMIN_TOKEN_HEADER}, for faults and ground truth): {token}; "
          f"`dsa local env` exports it as {ADMIN_TOKEN_ENV}", flush=True)


def _print_components(components: list[ComponentStatus]) -> None:
    width = max(len(c.name) for c in components)
    for c in components:
        print(f"{c.name:<{width}}  {c.address:<28}  {'up' if c.up else 'down'}", flush=True)
