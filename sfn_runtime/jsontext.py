"""Compact JSON text of state data: how payloads are measured, recorded in history and parsed.

Every state's input, result and output is measured against AWS's 256 KiB quota (compact UTF-8
JSON), and the HTTP Task parses every page it fetches: on the pipeline's page loop this JSON work
was a tenth of the runtime's CPU with the standard library, so it goes through orjson. orjson's
text is the standard library's compact ``ensure_ascii=False`` text for everything a state can
hold, except integers beyond 64 bits (which fall back to the standard library), small floats'
exponents (``1.5e-7`` where Python writes ``1.5e-07``: a byte shorter) and NaN (``null``; Python
writes ``NaN``, which is not JSON and which no state can hold in AWS).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Keys that are str subclasses (aiohttp's header names) or numbers are written as json.dumps writes them.
_OPTIONS = orjson.OPT_NON_STR_KEYS
__all__ = ["dumps", "loads", "size"]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (no spaces, non-ASCII characters as they are)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (how AWS measures payloads)."""
    try:
        return len(orjson.dumps(value, option=_OPTIONS))
    except TypeError:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def loads(text: str | bytes) -> Any:
    """Parse JSON text; ``ValueError`` (json.JSONDecodeError) when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses what Python accepts (NaN, Infinity, lone surrogates); keep Python's answer
        return json.loads(text)
