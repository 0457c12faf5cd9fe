"""The gateway's IAM check: requests signed with an assumed role's keys are held to that role.

A Glue job run gets its job role's credentials from STS AssumeRole (moto's STS, in-process), as
on AWS. When the gateway sees a request signed with such an access key, it asks here first: the
request is turned into the IAM action and resource ARN AWS would authorise (Service
Authorization Reference: Amazon S3, Amazon CloudWatch Logs) and evaluated against the role. A
denied request gets the service's own AccessDenied answer. Requests signed with any other key
(the operator's ``test`` key, IAM users) are not checked.

Covered: S3 (object and bucket reads and writes, listings with the ``s3:prefix`` key, multipart
uploads, batch deletes per key, copies as GetObject on the source) and CloudWatch Logs (every
operation as ``logs:<Operation>`` on the log group ``...:log-group:NAME:*`` or, when a stream
is named, ``...:log-group:NAME:log-stream:STREAM``). Other services signed with an assumed
role's keys are let through (not yet authorised locally).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from sfn_runtime.authorization import AccessDenied
from toolkit.local.iam.roles import IamAuthorizer

__all__ = ["RequestAuthorizer", "Denial", "S3Request", "s3_permissions", "logs_permission", "access_key_of"]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_XML_KEY = re.compile(r"<Key>(.*?)</Key>", re.DOTALL)


@dataclass(frozen=True)
class Denial:
    """The answer the gateway sends instead of forwarding a denied request."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class S3Request:
    """What an S3 request names, in path style."""

    method: str
    bucket: str | None
    key: str | None
    query: dict[str, list[str]]
    headers: Any
    body: bytes = b""


def access_key_of(headers: Any, query: str) -> str | None:
    """The access key id a request is signed with (Authorization header or presigned URL)."""
    match = _CREDENTIAL.search(headers.get("Authorization", ""))
    if match:
        return match.group(1)
    credential = (parse_qs(query).get("X-Amz-Credential") or [None])[0]
    return credential.split("/", 1)[0] if credential else None


def s3_permissions(request: S3Request, partition: str = "aws") -> list[tuple[str, str, dict[str, Any]]]:
    """The (action, resource, condition keys) AWS authorises for one S3 request."""
    arn = f"arn:{partition}:s3:::"
    q, method = request.query, request.method
    if request.bucket is None:
        return [("s3:ListAllMyBuckets", "*", {})]
    bucket = arn + request.bucket
    if request.key is None:
        if method in ("GET", "HEAD"):
            if "uploads" in q:
                return [("s3:ListBucketMultipartUploads", bucket, {})]
            if "versions" in q:
                return [("s3:ListBucketVersions", bucket, {})]
            if "location" in q:
                return [("s3:GetBucketLocation", bucket, {})]
            sub = _subresource(q)
            if sub and method == "GET":
                return [(f"s3:GetBucket{sub}", bucket, {})]
            keys = {"s3:prefix": q["prefix"][0]} if q.get("prefix") else {}
            return [("s3:ListBucket", bucket, keys)]
        if method == "PUT":
            sub = _subresource(q)
            return [(f"s3:PutBucket{sub}" if sub else "s3:CreateBucket", bucket, {})]
        if method == "DELETE":
            sub = _subresource(q)
            return [(f"s3:DeleteBucket{sub}" if sub else "s3:DeleteBucket", bucket, {})]
        if method == "POST" and "delete" in q:
            keys = [unquote(k) for k in _XML_KEY.findall(request.body.decode("utf-8", "replace"))]
            return [("s3:DeleteObject", f"{bucket}/{k}", {}) for k in keys] or [("s3:DeleteObject", f"{bucket}/*", {})]
        return [("s3:ListBucket", bucket, {})]
    obj = f"{bucket}/{request.key}"
    if method in ("GET", "HEAD"):
        if "uploadId" in q:
            return [("s3:ListMultipartUploadParts", obj, {})]
        if "tagging" in q:
            return [("s3:GetObjectTagging", obj, {})]
        if "acl" in q:
            return [("s3:GetObjectAcl", obj, {})]
        return [("s3:GetObject", obj, {})]
    if method == "DELETE":
        return [("s3:AbortMultipartUpload" if "uploadId" in q else "s3:DeleteObject", obj, {})]
    if method == "PUT" and "tagging" in q:
        return [("s3:PutObjectTagging", obj, {})]
    if method == "PUT" and "acl" in q:
        return [("s3:PutObjectAcl", obj, {})]
    checks = [("s3:PutObject", obj, {})]
    source = request.headers.get("x-amz-copy-source")
    if method == "PUT" and source:
        checks.append(("s3:GetObject", arn + unquote(source.split("?", 1)[0].lstrip("/")), {}))
    return checks


def _subresource(query: dict[str, list[str]]) -> str:
    names = {"policy": "Policy", "tagging": "Tagging", "versioning": "Versioning", "lifecycle": "LifecycleConfiguration",
             "cors": "Cors", "acl": "Acl", "notification": "Notification", "encryption": "Encryption",
             "publicAccessBlock": "PublicAccessBlock", "ownershipControls": "OwnershipControls", "website": "Website",
             "logging": "Logging", "replication": "Replication", "object-lock": "ObjectLockConfiguration"}
    return next((name for key, name in names.items() if key in query), "")


def logs_permission(target: str, body: bytes, *, partition: str, region: str, account: str) -> tuple[str, str]:
    """(action, resource) of a CloudWatch Logs JSON request: ``logs:<Operation>`` on its log group or stream."""
    operation = target.rpartition(".")[2]
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        params = {}
    group = params.get("logGroupName") if isinstance(params, dict) else None
    stream = params.get("logStreamName") if isinstance(params, dict) else None
    if not isinstance(group, str):
        return f"logs:{operation}", "*"
    base = f"arn:{partition}:logs:{region}:{account}:log-group:{group}"
    return f"logs:{operation}", f"{base}:log-stream:{stream}" if isinstance(stream, str) else f"{base}:*"


class RequestAuthorizer:
    """Checks gateway requests signed with assumed-role keys against the role's policies."""

    def __init__(self, *, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self._iam = IamAuthorizer(account_id=account_id, region=region)

    def assumed_role(self, access_key: str | None) -> tuple[str, str] | None:
        """(role ARN, session name) when ``access_key`` came from STS AssumeRole, else None."""
        if not access_key:
            return None
        from moto.sts.models import sts_backends

        for partition in ("aws", "aws-cn", "aws-us-gov"):
            try:
                backend = sts_backends[self.account_id][partition]
            except KeyError:
                continue
            found = backend.get_assumed_role_from_access_key(access_key)
            if found is not None:
                return found.role_arn, found.session_name
        return None

    def check(self, *, service: str | None, method: str, raw_path: str, query: str, headers: Any,
              body: bytes) -> Denial | None:
        """None when the request may go on; the service's AccessDenied answer when IAM refuses it.

        ``raw_path`` is the path-style path (``/BUCKET/KEY`` for S3) as sent, ``query`` the raw query string.
        """
        if service not in ("s3", "logs"):
            return None
        role = self.assumed_role(access_key_of(headers, query))
        if role is None:
            return None
        role_arn, session = role
        partition = role_arn.split(":")[1]
        if service == "s3":
            bucket, _, key = raw_path.lstrip("/").partition("/")
            bucket, key = unquote(bucket) or None, unquote(key) if key else None
            request = S3Request(method, bucket, key, parse_qs(query, keep_blank_values=True), headers, body)
            checks = s3_permissions(request, partition)
        else:
            action, resource = logs_permission(headers.get("X-Amz-Target", ""), body, partition=partition,
                                               region=self.region, account=self.account_id)
            checks = [(action, resource, {})]
        for action, resource, keys in checks:
            try:
                self._iam.authorize(role_arn, action, resource, keys, session=session)
            except AccessDenied as denied:
                return _s3_denial(denied, method) if service == "s3" else _logs_denial(denied)
        return None


def _s3_denial(denied: AccessDenied, method: str) -> Denial:
    if method == "HEAD":
        return Denial(403, "application/xml", b"")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{escape(denied.message)}</Message></Error>")
    return Denial(403, "application/xml", body.encode())


def _logs_denial(denied: AccessDenied) -> Denial:
    body = json.dumps({"__type": "AccessDeniedException", "message": denied.message})
    return Denial(400, "application/x-amz-json-1.1", body.encode())
