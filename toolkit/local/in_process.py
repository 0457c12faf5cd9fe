"""The runtime's own AWS calls to moto, answered in the calling thread instead of over loopback HTTP.

The Step Functions runtime reaches S3, DynamoDB, EventBridge, Secrets Manager and CloudWatch Logs
through boto3 clients pointed at the stack's gateway, from its worker threads. Over HTTP each call
was a request the gateway parsed on its event loop and handed to one more thread for moto: on the
pipeline's page loop (one S3 put per page) a third of the stack's CPU went to that trip.
botocore's ``before-send`` event lets a client answer a request itself: :func:`transport` answers
the moto-bound ones with the gateway's own code (S3 path style, the IAM check of a role's request,
moto), in the worker thread that made the call. Requests for our Step Functions, the Glue job
runner and IAM still go over HTTP (they are served on the event loop), as do every client's
outside the runtime: notebooks, the CLI and Glue scripts see the real endpoint.
"""

from __future__ import annotations

import io
import logging
from typing import Any, Callable
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from urllib3 import HTTPHeaderDict

from toolkit.local.access import strip_cors_headers
from toolkit.local.gateway import Gateway, signing_service

__all__ = ["transport"]

_log = logging.getLogger(__name__)


def transport(gateway: Gateway) -> Callable[..., AWSResponse | None]:
    """A ``before-send`` handler answering moto-bound requests through ``gateway`` in process."""

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        headers = [(name, _text(value)) for name, value in request.headers.items()]
        parts = urlsplit(request.url)
        service = signing_service(dict(headers), parts.query)
        if not gateway.serves_in_moto(service, dict(headers)):
            return None
        try:
            reply = gateway.moto_reply(
                method=request.method, raw_path=parts.path or "/", query=parts.query, headers=headers,
                body=_body(request.body), host=parts.netloc, port=parts.port or 80, service=service)
        except Exception:  # what the gateway's server answers when moto fails: a 500 (botocore retries it)
            _log.exception("moto failed on %s %s", request.method, parts.path)
            return AWSResponse(request.url, 500, HTTPHeaderDict({"Content-Length": "0"}), _Body(b""))
        answer = HTTPHeaderDict(strip_cors_headers(reply.headers))
        length = reply.content_length if request.method == "HEAD" and reply.content_length is not None else None
        answer["Content-Length"] = length or str(len(reply.body))
        return AWSResponse(request.url, reply.status, answer, _Body(reply.body))

    return before_send


class _Body(io.BytesIO):
    """A response body as botocore reads one from urllib3: ``read``, ``stream`` and ``close``."""

    def stream(self, amt: int = 2**16, decode_content: Any = None) -> Any:
        while chunk := self.read(amt):
            yield chunk


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _body(body: Any) -> bytes:
    """The bytes botocore would send: bytes, text or a file-like (a stream or an aws-chunked wrapper)."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    data = body.read()
    return data.encode("utf-8") if isinstance(data, str) else data
