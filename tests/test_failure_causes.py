"""A failure's cause read as an operator needs it: the API's message, HTTP status, class, attempts."""

from __future__ import annotations

import json

import pytest

from toolkit.failure_causes import FAILURE_CLASSES, MESSAGE_LIMIT, classify_error, explain


def _http_cause(status: int, body, headers: dict | None = None) -> str:
    """A failed HTTP Task's cause as the runtime leaves it: the response, headers first."""
    return json.dumps({"Headers": headers or {"Content-Type": ["application/json"], "Server": ["x"]},
                       "ResponseBody": body, "StatusCode": status, "StatusText": "Status"})


def test_a_page_fetch_cause_gives_its_message_status_and_attempts() -> None:
    cause = json.dumps({"message": "unknown location 'ghost'", "status": 404, "attempts": 1})
    assert explain("States.Http.StatusCode.404", cause) == explain("States.Http.StatusCode.404", cause, 9)
    explained = explain("States.Http.StatusCode.404", cause)
    assert (explained.failure_class, explained.http_status, explained.message, explained.attempts) == (
        "setup", 404, "unknown location 'ghost'", 1)


def test_a_raw_http_response_gives_the_apis_own_message_not_its_headers() -> None:
    cause = _http_cause(401, {"error": "Unauthorized", "message": "missing or wrong API key"})
    explained = explain("States.Http.StatusCode.401", cause, attempts=1)
    assert explained.message == "missing or wrong API key"
    assert (explained.failure_class, explained.http_status, explained.attempts) == ("setup", 401, 1)
    oauth = explain("States.Http.StatusCode.403", _http_cause(403, {"error": "x", "error_description": "expired"}))
    assert oauth.message == "expired" and oauth.attempts is None
    text = explain("States.Http.StatusCode.503", _http_cause(503, "<html>busy</html>"))
    assert text.message == "<html>busy</html>" and text.failure_class == "transient"


def test_messages_are_capped_and_kept_on_one_line() -> None:
    long = explain("Page.Short", json.dumps({"message": "a\nb " + "x" * 1000, "status": 200, "attempts": 4}))
    assert len(long.message) == MESSAGE_LIMIT and long.message.startswith("a b x")
    assert explain("Custom", "plain text").message == "plain text"


@pytest.mark.parametrize(("error", "message", "expected"), [
    ("States.Http.StatusCode.401", "", "setup"),
    ("States.Http.StatusCode.403", "", "setup"),
    ("States.Http.StatusCode.404", "", "setup"),
    ("States.Http.StatusCode.302", "", "setup"),
    ("Location.NotFound", "", "setup"),
    ("States.Http.Socket", "GET https://x/y: ConnectionRefusedError", "setup"),
    ("States.Http.StatusCode.429", "", "throttled"),
    ("States.Http.StatusCode.500", "", "transient"),
    ("States.Http.StatusCode.503", "", "transient"),
    ("States.Timeout", "", "transient"),
    ("States.Http.Socket", "GET https://x/y: no answer within the timeout", "transient"),
    ("Page.Malformed", "", "bad data"),
    ("Page.Short", "", "bad data"),
    ("Page.CountMismatch", "", "bad data"),
    ("Summary.Invalid", "", "bad data"),
    ("States.Runtime", "", "other"),
    (None, "", "other"),
])
def test_classes(error, message, expected) -> None:
    assert classify_error(error, None, message) == expected
    assert expected in FAILURE_CLASSES
