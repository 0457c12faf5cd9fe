"""boto3 clients for the runtime's service integrations, called from asyncio without blocking it.

Every integration that talks to an AWS API (EventBridge connections, Secrets Manager, the
aws-sdk integrations, DynamoDB, Glue, S3 for Map Runs) goes through one :class:`AwsClients`:
one client per service (boto3 clients are thread-safe), pointed at the stack's endpoint, and
one small thread pool so that blocking boto3 calls never run on the event loop. A ``transport``
given by the host answers requests in process instead of over HTTP when it can.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import boto3
from botocore.config import Config

__all__ = ["AwsClients", "Transport"]

#: A botocore ``before-send`` handler: given the prepared request (``request=``), the response, or
#: None to send it over HTTP. The host of the runtime may answer its own endpoint's requests in
#: process this way (the local stack does), saving a socket and a thread hop per call.
Transport = Callable[..., Any]


class AwsClients:
    """Cached boto3 clients for one endpoint and region; ``call`` runs an operation in a worker thread."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        max_workers: int = 16,
        access_key: str = "test",
        secret_key: str = "test",
        transport: Transport | None = None,
    ):
        self.region = region
        self.endpoint_url = endpoint_url
        self._transport = transport
        self._session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=max_workers)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sfn-aws")

    def client(self, service: str) -> Any:
        """The cached boto3 client for ``service`` (a boto3 service name such as ``dynamodb``)."""
        with self._lock:
            found = self._clients.get(service)
            if found is None:
                found = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                if self._transport is not None:
                    found.meta.events.register("before-send", self._transport)
                self._clients[service] = found
            return found

    def available_services(self) -> list[str]:
        return self._session.get_available_services()

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Run ``client(service).<operation>(**params)`` (snake_case operation name) off the loop,
        in one trip to the thread pool (each trip costs a thread switch and the GIL's hand-over)."""
        return await self.run(functools.partial(self.call_blocking, service, operation, **params))

    def call_blocking(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """``client(service).<operation>(**params)`` in the calling thread (a worker's, never the loop's)."""
        return getattr(self.client(service), operation)(**params)

    async def run(self, func: Any, *args: Any) -> Any:
        """Run a blocking callable in the integrations' thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
