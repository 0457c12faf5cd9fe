"""Why a location failed, in an operator's words: the API's message, the HTTP status, a class, the tries.

A location's failure reaches the toolkit as an error name and a cause. The page-fetch workflow
writes its causes as a small JSON object (``message``, ``status``, ``class``, ``attempts``; its
class is for a reader of the execution, :func:`classify_error` is the toolkit's, and the
pipeline tests hold the two together); a failed HTTP
Task elsewhere (the extraction's summary call) leaves the response itself as its cause, from
which the API's own message is read; anything else is kept as text. :func:`explain` turns any of
them into a :class:`FailureCause`, and :data:`FAILURE_COLUMNS` lists the columns of
``runs.failures`` once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["FAILURE_CLASSES", "FAILURE_COLUMNS", "MESSAGE_LIMIT", "FailureCause", "classify_error", "explain"]

FAILURE_CLASSES = ("setup", "throttled", "transient", "bad data", "other")
"""setup: the request cannot work as configured (401/403/404, other 4xx and 3xx, a location not in
the table, no connection to the API): fix the setup, a rerun alone will not help. throttled: 429.
transient: 5xx and timeouts: a rerun usually helps. bad data: a page or summary that is
malformed, short or inconsistent with its count. other: anything else."""

FAILURE_COLUMNS = (
    "location_id",       # the failed location
    "status",            # the Map Run child's execution status (FAILED, TIMED_OUT, ABORTED)
    "class",             # one of FAILURE_CLASSES
    "http_status",       # the API's HTTP status, when an answer came
    "message",           # the API's own message (or the workflow's, for bad data), at most MESSAGE_LIMIT
    "attempts",          # HTTP requests made for the failing call, retries included (not redrives)
    "error",             # the Step Functions error name
    "failing_state",     # the last state the extraction entered
    "cause",             # the cause as recorded, for the details
    "duration_seconds",
    "execution_arn",     # the Map Run child
    "extraction_arn",    # the extraction execution it started, whose history holds the details
)

MESSAGE_LIMIT = 300
_HTTP_STATUS = re.compile(r"^States\.Http\.StatusCode\.(\d{3})$")
_SETUP_ERRORS = {"Location.NotFound", "States.Http.Socket"}
_TRANSIENT_ERRORS = {"States.Timeout", "States.HeartbeatTimeout"}
_BAD_DATA_ERRORS = {"Page.Malformed", "Page.CountMismatch", "Page.Short", "Summary.Invalid",
                    "States.QueryEvaluationError"}
_TIMED_OUT = "no answer within the timeout"  # the runtime's States.Http.Socket cause for a timeout


@dataclass(frozen=True)
class FailureCause:
    """What one failure says: its class, HTTP status, message and number of HTTP attempts."""

    failure_class: str
    http_status: int | None
    message: str
    attempts: int | None


def classify_error(error: str | None, http_status: int | None = None, message: str = "") -> str:
    """The class of a failure (see FAILURE_CLASSES), from its error name and HTTP status."""
    match = _HTTP_STATUS.match(error or "")
    status = int(match.group(1)) if match else http_status
    if error in _BAD_DATA_ERRORS:
        return "bad data"
    if error == "States.Http.Socket" and _TIMED_OUT in message:
        return "transient"
    if error in _SETUP_ERRORS:
        return "setup"
    if error in _TRANSIENT_ERRORS:
        return "transient"
    if match and status is not None:
        if status == 429:
            return "throttled"
        if status >= 500:
            return "transient"
        return "setup"
    return "other"


def explain(error: str | None, cause: str | None, attempts: int | None = None) -> FailureCause:
    """A failure's class, status, message and attempts from its error and cause.

    ``attempts`` is used when the cause does not say (a call whose tries the history counted).
    """
    cause = cause or ""
    details = _json_object(cause)
    status: int | None = None
    message = cause
    if details is not None and "message" in details:  # the page-fetch workflow's own cause
        message = str(details.get("message") or "")
        status = _int(details.get("status"))
        attempts = _int(details.get("attempts")) if "attempts" in details else attempts
    elif details is not None and "StatusCode" in details:  # a failed HTTP Task's response
        status = _int(details.get("StatusCode"))
        message = _api_message(details.get("ResponseBody")) or str(details.get("StatusText") or "")
    match = _HTTP_STATUS.match(error or "")
    if match:
        status = int(match.group(1))
    message = " ".join(message.split())[:MESSAGE_LIMIT]
    return FailureCause(classify_error(error, status, message), status, message, attempts)


def _api_message(body: Any) -> str:
    """The message an API put in its error body (``message``, OAuth's ``error_description``, ``error``)."""
    if isinstance(body, dict):
        for name in ("message", "error_description", "error", "detail"):
            if isinstance(body.get(name), str) and body[name]:
                return body[name]
        return json.dumps(body)
    return body if isinstance(body, str) else ""


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
