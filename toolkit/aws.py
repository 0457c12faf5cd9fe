"""boto3 sessions and clients made from a StackConfig, and awswrangler pointed at the same place.

Against the local stack every client talks to ``config.endpoint_url`` with dummy credentials.
Against AWS, the profile and region come from the config, and endpoint overrides come from the
variables botocore itself reads (``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``), so a
VPC endpoint or a proxy works without code changes.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import boto3
from botocore.config import Config

from toolkit.config import StackConfig

__all__ = ["LOCAL_CREDENTIALS", "local_credentials_env", "client_config", "session", "client", "endpoint_for", "configure_wrangler",
           "wrangler_endpoints"]

# Dummy credentials for the local stack: it checks signatures' shape, not their secret. The one
# place they are set: sessions here, the environment of processes pointed at the stack below.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def local_credentials_env() -> dict[str, str]:
    """The dummy credentials as the environment variables botocore and the AWS CLI read."""
    return {"AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"]}

# awswrangler keeps one endpoint per service in its global config.
_WRANGLER_ENDPOINTS = {
    "s3": "s3_endpoint_url",
    "dynamodb": "dynamodb_endpoint_url",
    "sts": "sts_endpoint_url",
    "glue": "glue_endpoint_url",
    "secretsmanager": "secretsmanager_endpoint_url",
}


def client_config(**overrides: Any) -> Config:
    """Retries and timeouts used by every client: standard retry mode, bounded waits."""
    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 5},
        "connect_timeout": 5,
        "read_timeout": 70,
        "max_pool_connections": 50,
    }
    settings.update(overrides)
    return Config(**settings)


def session(config: StackConfig) -> boto3.Session:
    """A boto3 session for the config's target: dummy credentials locally, the profile on AWS."""
    if config.is_local:
        return boto3.Session(region_name=config.region, **LOCAL_CREDENTIALS)
    return boto3.Session(profile_name=config.profile or None, region_name=config.region)


def endpoint_for(config: StackConfig, service: str) -> str | None:
    """The endpoint a client for ``service`` should use, or None to let botocore decide."""
    if config.is_local:
        return config.endpoint_url
    env_name = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return os.environ.get(env_name) or os.environ.get("AWS_ENDPOINT_URL") or None


def client(config: StackConfig, service: str, boto_session: boto3.Session | None = None, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` pointed where the config says."""
    boto_session = boto_session or _cached_session(config)
    # Locally, host prefixes (StartSyncExecution's "sync-") would name hosts that do not exist.
    kwargs.setdefault("config", client_config(inject_host_prefix=not config.is_local))
    endpoint = endpoint_for(config, service)
    if endpoint:
        kwargs.setdefault("endpoint_url", endpoint)
    return boto_session.client(service, **kwargs)


def configure_wrangler(config: StackConfig) -> boto3.Session:
    """Point awswrangler's global endpoints at the config's target, for the rest of the process
    (a notebook's own ``wr.s3`` calls); return the session to pass it."""
    import awswrangler as wr

    for service, attribute in _WRANGLER_ENDPOINTS.items():
        setattr(wr.config, attribute, endpoint_for(config, service))
    return _cached_session(config)


@contextmanager
def wrangler_endpoints(config: StackConfig) -> Iterator[boto3.Session]:
    """awswrangler pointed at the config's target inside the block only; its global endpoints
    are restored after, so library calls leave no trace in the caller's awswrangler."""
    import awswrangler as wr

    saved = {attribute: getattr(wr.config, attribute) for attribute in _WRANGLER_ENDPOINTS.values()}
    try:
        yield configure_wrangler(config)
    finally:
        for attribute, value in saved.items():
            setattr(wr.config, attribute, value)


@lru_cache(maxsize=16)
def _cached_session(config: StackConfig) -> boto3.Session:
    return session(config)
