"""``SampleApi``: the sample third-party API as a server you start, query and reconfigure from Python.

It runs on loopback in a :class:`~toolkit.local.server.BackgroundServer` thread; ``port=0``
picks a free port. Faults can be replaced and request counts read or reset while it runs.
Given a :class:`~toolkit.local.tls.LocalCa` it serves HTTPS with a loopback certificate from that
CA (as the local stack does by default: AWS's HTTP Task calls HTTPS only); without one, plain http.
"""

from __future__ import annotations

import secrets
from typing import Iterable

from toolkit.local.server import BackgroundServer
from toolkit.local.tls import LocalCa

from .accounting import RequestCounts
from .app import SampleApiState, build_app
from .auth import AuthConfig, Authenticator
from .dataset import Dataset, DatasetParams, Record, records_frame
from .faults import FaultPlan

__all__ = ["ADMIN_TOKEN_ENV", "DEFAULT_PORT", "SampleApi"]

ADMIN_TOKEN_ENV = "DSA_SAMPLE_API_ADMIN_TOKEN"
"""Where a client (a notebook, a script) finds the admin token; ``dsa local env`` exports it."""

DEFAULT_PORT = 4567
"""The sample API's documented default port (the local stack's gateway is on 4566)."""


class SampleApi:
    """The sample third-party location API on ``host:port``; a context manager.

    With no ``auth`` the data calls are not checked (``AuthConfig.none()``). The admin routes need
    :attr:`admin_token` (random unless given) in the ``X-Dsa-Admin-Token`` header.
    """

    def __init__(
        self,
        dataset: DatasetParams | None = None,
        auth: AuthConfig | None = None,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ca: LocalCa | None = None,
        admin_token: str | None = None,
    ):
        self.dataset = Dataset(dataset)
        self.ca = ca
        self.auth = auth or AuthConfig.none()
        self._state = SampleApiState(self.dataset, Authenticator(self.auth), faults,
                                     admin_token=admin_token or secrets.token_urlsafe(24))
        context = ca.server_context() if ca is not None else None
        self._server = BackgroundServer(lambda: build_app(self._state), host=host, port=port,
                                        name="sample-api", ssl_context=context)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:4567`` (the real port once started)."""
        return self._server.url

    @property
    def admin_token(self) -> str:
        """The token the admin routes (faults, ground truth, request counts) require."""
        return self._state.admin_token

    def __repr__(self) -> str:  # no token in reprs or logs
        return f"SampleApi(url={self.url!r})"

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> "SampleApi":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "SampleApi":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def location_ids(self) -> list[str]:
        return self.dataset.location_ids()

    def ground_truth(self, location_ids: Iterable[str] | None = None) -> list[Record]:
        """Exactly the records the locations hold (default: every location), whatever the faults."""
        return self.dataset.records(location_ids)

    def ground_truth_frame(self, location_ids: Iterable[str] | None = None):  # -> pandas.DataFrame
        """The ground truth as a DataFrame: location_id, data_type, resourceKey, messages."""
        return records_frame(self.ground_truth(location_ids))

    @property
    def faults(self) -> FaultPlan:
        return self._state.injector.plan

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Replace the fault plan (None: no faults); fault request numbering restarts at 0."""
        self._state.set_faults(plan or FaultPlan())

    def request_counts(self) -> RequestCounts:
        return self._state.counter.snapshot()

    def reset_counts(self) -> None:
        self._state.counter.reset()

    def expire_tokens(self) -> None:
        """Expire every OAuth token issued so far (to test that clients fetch a new one)."""
        self._state.authenticator.expire_tokens()
