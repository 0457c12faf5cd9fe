"""Who may talk to the local stack's gateway: the checks that keep a web page from using it.

A stack on loopback is still reachable from any web page the operator opens: a page can send
requests to ``http://127.0.0.1:4566`` (and, by DNS rebinding, read the answers under its own
host name). Every AWS SDK and the AWS CLI sign their requests and name a loopback host; none
sends ``Origin`` or ``Sec-Fetch-*`` headers, which browsers add to what a page sends. So the gateway:

- refuses a request whose ``Host`` is not a loopback name (:func:`is_loopback_host`): DNS
  rebinding needs a host name of the attacker's;
- refuses a request a web page sent (:func:`from_web_page`) unless its origin is allow-listed:
  signatures are not verified (any credentials will do, as with every local AWS emulator), so a
  page could forge a presigned query string; only a browser's own headers tell it apart;
- refuses an unsigned request (:func:`is_signed`) unless it is one of :data:`UNSIGNED_ROUTES`:
  SigV4 in the ``Authorization`` header for any service; a presigned query string (SigV4, or
  SigV2, which boto3 still uses by default for S3 presigned URLs) for S3 only, as on AWS;
- sends CORS headers only for origins in an allow-list (:class:`CorsPolicy`), and strips the ones
  moto's own application adds (it answers any ``Origin`` with itself).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import parse_qs

__all__ = ["UNSIGNED_ROUTES", "CorsPolicy", "from_web_page", "is_loopback_host", "is_signed", "strip_cors_headers"]

#: (method, path) answered without a signature: liveness probes that reveal and change nothing.
#: ``/_dsa/health`` is the gateway's own (see :data:`toolkit.local.gateway.HEALTH_PATH`).
UNSIGNED_ROUTES = frozenset({("GET", "/_dsa/health"), ("HEAD", "/_dsa/health")})

_SIGV4_HEADER = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=[^,\s]+/aws4_request\s*,")
_HOST_PORT = re.compile(r"^(?P<name>\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")
_LOCALHOST_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*localhost$")


def is_signed(headers: Any, query: str) -> bool:
    """True if the request carries an AWS signature: SigV4 in its header, or an S3 presigned query."""
    if _SIGV4_HEADER.match(headers.get("Authorization", "")):
        return True
    if "X-Amz-Credential" not in query and "AWSAccessKeyId" not in query:
        return False
    params = parse_qs(query)
    if params.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"] and params.get("X-Amz-Signature"):
        scope = (params.get("X-Amz-Credential") or [""])[0].split("/")
        return len(scope) >= 5 and scope[-1] == "aws4_request" and scope[-2] == "s3"
    return bool(params.get("AWSAccessKeyId") and params.get("Signature") and params.get("Expires"))


def from_web_page(method: str, headers: Any) -> bool:
    """True if a browser sent the request on behalf of a page (not a user opening a URL).

    Browsers send ``Origin`` with every request but GET/HEAD navigations and no-cors reads, and
    ``Sec-Fetch-Site`` with every request; ``none`` (or a top-level GET navigation) means the user
    opened the address themselves, e.g. a presigned URL.
    """
    if headers.get("Origin") is not None:
        return True
    site = headers.get("Sec-Fetch-Site")
    if site is None or site == "none":
        return False
    return not (method in ("GET", "HEAD") and headers.get("Sec-Fetch-Mode") == "navigate")


def is_loopback_host(host: str, also: Iterable[str] = ()) -> bool:
    """True if a ``Host`` header names this machine's loopback interface, with or without a port.

    Accepted: ``localhost`` and names under it (S3's ``bucket.localhost`` and
    ``bucket.s3.localhost``: browsers and resolvers keep ``.localhost`` on loopback, RFC 6761),
    dotted IPv4 addresses in 127.0.0.0/8, ``[::1]``, and the names in ``also`` (the address the
    gateway was bound to, when that is not loopback).
    """
    match = _HOST_PORT.match(host.strip())
    if match is None or (match.group("port") is not None and int(match.group("port")) > 65535):
        return False
    name = match.group("name").lower()
    if name in {h.lower() for h in also}:
        return True
    if _LOCALHOST_NAME.match(name):
        return True
    if name.startswith("["):
        try:
            return ipaddress.IPv6Address(name[1:-1]).is_loopback
        except ValueError:
            return False
    try:
        return ipaddress.IPv4Address(name) in _LOOPBACK_V4  # dotted quads only: no 2130706433
    except ValueError:
        return False


_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")


def strip_cors_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without any ``Access-Control-*`` header (moto's app allows every origin)."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]


@dataclass(frozen=True)
class CorsPolicy:
    """The origins a browser page may call the gateway from; empty (the default) allows none."""

    origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, origins: Iterable[str]) -> "CorsPolicy":
        cleaned = frozenset(o.strip().rstrip("/") for o in origins if o.strip())
        for origin in cleaned:
            if origin == "*" or not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"cors-origin: must be scheme://host[:port], got {origin!r}")
        return cls(cleaned)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin in self.origins

    def preflight_headers(self, origin: str, request_headers: Any) -> dict[str, str]:
        """The answer to an allowed origin's OPTIONS preflight."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, HEAD, PUT, POST, DELETE",
            "Access-Control-Allow-Headers": request_headers.get("Access-Control-Request-Headers", ""),
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }

    def response_headers(self, origin: str) -> dict[str, str]:
        """Headers added to an allowed origin's actual request."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": "ETag, x-amz-request-id, x-amzn-RequestId, x-amz-version-id",
            "Vary": "Origin",
        }
