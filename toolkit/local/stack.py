"""LocalStack: the whole embedded stack (gateway, moto, Step Functions, Glue, sample API) in one call.

Usable as a context manager from a notebook cell or a pytest fixture::

    with LocalStack(port=0) as stack:
        stack.client("s3").list_buckets()

:meth:`LocalStack.start` returns only once every component answers; :meth:`LocalStack.stop`
stops Glue runs (killing their process trees), Step Functions executions and every server
thread, and saves the state to ``data_dir`` when one is given (see :mod:`toolkit.local.persistence`).

The sample API wants an API key, as a real third-party API does: ``DSA_API_KEY`` when set, else
one the stack makes (``api_key``; ``dsa local up`` records it in its owner-only state file and the
discovery rule hands it to deploy; it is never printed).

The sample API serves HTTPS, as AWS's HTTP Task requires: a CA is made at start-up
(:mod:`toolkit.local.tls`), its PEM written to ``sample_api_ca`` (``ca_path``, else a private
temporary directory) and handed to the stack's HTTP Task as the one extra CA it trusts; ``env()``
exports it as ``DSA_SAMPLE_API_CA`` for other clients. ``sample_api_tls=False`` is the explicit
local opt-in to plain http (the HTTP Task then accepts ``http://`` endpoints too); never the default.

moto keeps its state per process: two ``LocalStack`` objects in one process share buckets,
tables, connections and secrets (each has its own Step Functions and Glue jobs).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import secrets
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from toolkit import aws
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError
from toolkit.local import collector, in_process
from toolkit.local.access import CorsPolicy
from toolkit.local.gateway import HEALTH_PATH, Gateway
from toolkit.local.glue import GlueJobs
from toolkit.local.iam import IamAuthorizer, enforced_by_default
from toolkit.local.iam.requests import RequestAuthorizer
from toolkit.local.moto_backend import MotoBridge
from toolkit.local.persistence import (
    Snapshot,
    capture_moto,
    check_data_dir,
    load_snapshot,
    restore_moto,
    save_snapshot,
)
from toolkit.local.restored import RestoredExecutions
from toolkit.local.server import BackgroundServer, PortInUseError
from toolkit.local.tls import SAMPLE_API_CA_ENV, LocalCa, sample_api_context

__all__ = ["LocalStack", "StackError", "ComponentStatus", "probe_components", "SAMPLE_API_CA_FILE"]

DEFAULT_PORT = 4566
DEFAULT_SAMPLE_API_PORT = 4567
READY_TIMEOUT_SECONDS = 30.0
SAMPLE_API_CA_FILE = "sample-api-ca.pem"


class StackError(ToolkitError):
    """The local stack cannot start (a busy port, an unreadable data directory, ...)."""


@dataclass(frozen=True)
class ComponentStatus:
    """One component of the stack, where it listens and whether it answered."""

    name: str
    address: str
    up: bool


class LocalStack:
    """Every AWS service the toolkit uses, on loopback, behind one endpoint; plus the sample API."""

    def __init__(
        self,
        config: StackConfig | None = None,
        *,
        port: int = DEFAULT_PORT,
        sample_api_port: int = DEFAULT_SAMPLE_API_PORT,
        time_scale: float = 1.0,
        data_dir: Path | None = None,
        sample_api: bool = True,
        host: str = "127.0.0.1",
        iam: bool | None = None,
        sample_api_tls: bool = True,
        ca_path: Path | None = None,
        cors_origins: tuple[str, ...] = (),
        faults: Any = None,
    ):
        if time_scale <= 0:
            raise StackError(f"time_scale: must be greater than 0, got {time_scale}")
        self._base_config = config or StackConfig.load()
        self.port = port
        self.sample_api_port = sample_api_port
        self.time_scale = time_scale
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.host = host
        # IAM enforcement (toolkit.local.iam): on unless turned off here or with DSA_LOCAL_IAM=off.
        self.iam = enforced_by_default() if iam is None else iam
        try:
            self._cors = CorsPolicy.of(cors_origins)
        except ValueError as exc:
            raise StackError(str(exc)) from None
        self._want_sample_api = sample_api
        self._faults = faults  # the sample API's first FaultPlan (None: no faults)
        self.sample_api_tls = sample_api_tls
        self._ca_path = Path(ca_path) if ca_path is not None else None
        self._ca: LocalCa | None = None
        self._ca_tempdir: str | None = None
        self.sample_api_ca: Path | None = None  # the CA's PEM while running with TLS
        self.sample_api: Any = None
        self.api_key: str | None = None  # the key the sample API wants while it runs (never logged)
        self.config = self._base_config
        self._bridge: MotoBridge | None = None
        self._holds_collector = False  # whether this stack raised the collector thresholds (collector.hold)
        self._gateway: Gateway | None = None
        self._server: BackgroundServer | None = None
        self._states: Any = None
        self._integrations: Any = None
        self._glue: GlueJobs | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise StackError("the local stack is not running")
        return self._server.url

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "LocalStack":
        """Start every component; return when all of them answer."""
        if self._server is not None:
            return self
        if self.data_dir is not None:
            check_data_dir(self.data_dir)
        snapshot = load_snapshot(self.data_dir) if self.data_dir is not None else None
        collector.hold()
        self._holds_collector = True
        try:
            if self.sample_api_tls and self._want_sample_api:
                self._make_ca()
            self._bridge = MotoBridge(account_id=self._base_config.account_id)
            if snapshot is not None:
                restore_moto(snapshot.moto)
            cfg = self._base_config
            requests_iam = RequestAuthorizer(account_id=cfg.account_id, region=cfg.region) if self.iam else None
            self._gateway = Gateway(self._bridge, iam=requests_iam, cors=self._cors, bound_host=self.host)
            server = BackgroundServer(self._gateway.app, host=self.host, port=self.port, name="dsa-gateway")
            try:
                server.start()
            except PortInUseError:
                raise _busy("gateway", self.host, self.port, "port=", "--port") from None
            self._server = server
            self.config = self._base_config.replace(endpoint_url=server.url, target="local")
            server.run(self._attach(server.url, snapshot))
            if self._want_sample_api:
                self._start_sample_api()
            self._wait_until_ready()
        except BaseException:
            self.stop(save=False)
            raise
        return self

    def stop(self, save: bool = True) -> None:
        """Stop everything (Glue runs and executions too); save the state if there is a data_dir.

        A failed save raises :class:`StackError` once everything is stopped, so it is never silent.
        """
        states_snapshot = glue_snapshot = None
        if self._server is not None:
            try:
                states_snapshot, glue_snapshot = self._server.run(self._detach(), timeout=60)
            finally:
                self._server.stop()
                self._server = None
        if self.sample_api is not None:
            self.sample_api.stop()
            self.sample_api = None
            self.api_key = None
        try:
            if self._bridge is not None:
                self._bridge.close()
                self._bridge = None
                if save and self.data_dir is not None:
                    self._save(Snapshot(capture_moto(), states_snapshot, glue_snapshot))
        finally:
            if self._holds_collector:
                collector.release()
                self._holds_collector = False
            self._gateway = None
            self._states = self._glue = self._integrations = None
            self.config = self._base_config
            self._ca = None
            self.sample_api_ca = None
            if self._ca_tempdir is not None:
                shutil.rmtree(self._ca_tempdir, ignore_errors=True)
                self._ca_tempdir = None

    def _save(self, snapshot: Snapshot) -> None:
        assert self.data_dir is not None
        try:
            save_snapshot(self.data_dir, snapshot)
        except (OSError, pickle.PicklingError, TypeError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
            raise StackError(f"data_dir: the state was NOT saved to {self.data_dir} ({detail})") from None

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ clients
    def env(self) -> dict[str, str]:
        """Environment variables that point boto3, awswrangler, the AWS CLI and ``dsa`` at this stack."""
        return stack_env(self.endpoint_url, self.config.region, self.sample_api_ca)

    def session(self) -> boto3.Session:
        """A boto3 session with the stack's dummy credentials and region."""
        return aws.session(self.config)

    def client(self, name: str, **kwargs: Any) -> Any:
        """A boto3 client for ``name`` talking to the stack's endpoint (``config=`` is a botocore Config)."""
        # StartSyncExecution's "sync-" host prefix would make the host unresolvable on loopback.
        kwargs.setdefault("config", aws.client_config(inject_host_prefix=False))
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return self.session().client(name, **kwargs)

    def components(self) -> list[ComponentStatus]:
        """Each component, its address and whether it answers right now."""
        sample_url = self.sample_api.url if self.sample_api is not None else None
        return probe_components(self.endpoint_url, sample_url, self.sample_api_ca)

    @property
    def ca(self) -> LocalCa | None:
        """The CA that signs the sample API's certificate while running with TLS (None with plain
        http): another sample API served with it is trusted by the stack's HTTP Task too."""
        return self._ca

    # ------------------------------------------------------------ internals
    def _make_ca(self) -> None:
        """Make the sample API's CA and write its PEM where the HTTP Task and clients read it."""
        self._ca = LocalCa()
        path = self._ca_path
        if path is None:
            self._ca_tempdir = tempfile.mkdtemp(prefix="dsa-ca-")
            path = Path(self._ca_tempdir) / SAMPLE_API_CA_FILE
        self.sample_api_ca = self._ca.write_pem(path)

    async def _attach(self, endpoint_url: str, snapshot: Snapshot | None) -> None:
        """Build our own services on the gateway's loop (they create asyncio objects)."""
        from sfn_runtime.integrations import HttpTaskSettings, register_all
        from sfn_runtime.api.service import StepFunctionsService

        cfg = self._base_config
        states = StepFunctionsService(region=cfg.region, account_id=cfg.account_id,
                                      time_scale=self.time_scale, endpoint_url=endpoint_url)
        authorizer = IamAuthorizer(account_id=cfg.account_id, region=cfg.region) if self.iam else None
        http_settings = HttpTaskSettings(
            ca_file=str(self.sample_api_ca) if self.sample_api_ca is not None else None,
            allow_plain_http=not self.sample_api_tls,
        )
        self._integrations = register_all(states, authorizer=authorizer, http_settings=http_settings,
                                          transport=in_process.transport(self._gateway))
        glue = GlueJobs(region=cfg.region, account_id=cfg.account_id, endpoint_url=endpoint_url,
                        time_scale=self.time_scale)
        if snapshot is not None:
            if snapshot.states:
                states.restore_snapshot(snapshot.states)
            if snapshot.glue:
                glue.restore_snapshot(snapshot.glue)
        self._states, self._glue = states, glue
        assert self._gateway is not None
        restored = [e["arn"] for e in (snapshot.states or {}).get("executions", [])] if snapshot else []
        self._gateway.attach(states=RestoredExecutions(states, restored) if restored else states, glue=glue)

    async def _detach(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Take the snapshots (before stopping, so running work is left out), then stop our services."""
        states_snapshot = self._states.to_snapshot() if self._states is not None else None
        glue_snapshot = self._glue.to_snapshot() if self._glue is not None else None
        if self._glue is not None:
            await self._glue.close()
        if self._states is not None:
            await self._states.close()
        if self._integrations is not None:
            await self._integrations.close()
        await asyncio.get_running_loop().shutdown_default_executor()
        return states_snapshot, glue_snapshot

    def _start_sample_api(self) -> None:
        from toolkit.local.sample_api import ADMIN_TOKEN_ENV, AuthConfig, SampleApi

        # The operator's key if one is set, else one of our own: the sample API always wants a key,
        # as a real third-party API does, and deploy sends the same one (see ``api_key``).
        key = os.environ.get(self._base_config.api_key_env) or secrets.token_urlsafe(24)
        auth = AuthConfig.api_key(key, header=self._base_config.api_key_header)
        # The admin token is random per start unless the operator fixed one in the environment.
        api = SampleApi(auth=auth, host=self.host, port=self.sample_api_port, ca=self._ca, faults=self._faults,
                        admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None)
        try:
            api.start()
        except PortInUseError:
            raise _busy("sample API", self.host, self.sample_api_port, "sample_api_port=",
                        "--sample-api-port") from None
        self.sample_api = api
        self.api_key = key

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            down = [c for c in self.components() if not c.up]
            if not down:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{c.name} ({c.address})" for c in down)
                raise StackError(f"the local stack did not come up within {READY_TIMEOUT_SECONDS:.0f} s: {names}")
            time.sleep(0.05)


def stack_env(endpoint_url: str, region: str, sample_api_ca: Path | str | None = None) -> dict[str, str]:
    """The environment a client needs to talk to a stack at ``endpoint_url`` (and its sample API's CA)."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        **aws.local_credentials_env(),
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",  # keep "sync-" etc. off the loopback host
        "DSA_ENDPOINT_URL": endpoint_url,
    }
    if sample_api_ca is not None:
        env[SAMPLE_API_CA_ENV] = str(sample_api_ca)
    return env


def probe_components(endpoint_url: str, sample_api_url: str | None,
                     sample_api_ca: Path | str | None = None) -> list[ComponentStatus]:
    """Ask a (possibly other process's) stack which components answer (an https sample API is
    verified against ``sample_api_ca``)."""
    health: dict[str, str] = {}
    try:
        with urllib.request.urlopen(endpoint_url + HEALTH_PATH, timeout=2) as reply:
            health = json.loads(reply.read())
    except (OSError, ValueError):
        pass
    out = [ComponentStatus("gateway", endpoint_url, health.get("gateway") == "up")]
    for name in ("moto", "states", "glue"):
        out.append(ComponentStatus(name, endpoint_url, health.get(name) == "up"))
    if sample_api_url is not None:
        out.append(ComponentStatus("sample-api", sample_api_url, _answers(sample_api_url, sample_api_ca)))
    return out


def _answers(url: str, ca_file: Path | str | None = None) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=2, context=sample_api_context(ca_file)):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP reply means the server is serving
    except OSError:
        return False


def _busy(component: str, host: str, port: int, keyword: str, option: str) -> StackError:
    """A busy port, said with the Python keyword or the CLI option that chooses another."""
    busy = f"{component}: port {port} on {host} is already in use (another local stack? see `dsa local status`;"
    return StackError(f"{busy} or choose another with {keyword})", cli=f"{busy} or choose another with {option})")
