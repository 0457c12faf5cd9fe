"""The functions Step Functions offers both as JSONata functions and as intrinsic functions, once.

JSONata's ``$partition``, ``$range``, ``$hash``, ``$random`` and ``$uuid`` and the intrinsics
``States.ArrayPartition``, ``States.ArrayRange``, ``States.Hash``, ``States.MathRandom`` and
``States.UUID`` do the same work with the same limits (AWS's "Intrinsic functions" and
"Transforming data with JSONata" pages). Each caller checks its own argument types and turns
:class:`FunctionError` into its own error (QueryEvaluationError or IntrinsicFailure), prefixed
with its own function name.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

__all__ = [
    "FunctionError",
    "HASH_ALGORITHMS",
    "MAX_RANGE_ITEMS",
    "partition",
    "integer_range",
    "hash_text",
    "random_source",
    "new_uuid",
]

HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
MAX_RANGE_ITEMS = 1000


class FunctionError(Exception):
    """The arguments cannot be used; the message says what is wrong, without the function's name."""


def partition(items: list, size: int) -> list[list]:
    """``items`` in chunks of ``size`` (the last may be shorter)."""
    if size <= 0:
        raise FunctionError("the chunk size must be a positive integer")
    return [items[i : i + size] for i in range(0, len(items), size)]


def integer_range(start: int, end: int, step: int) -> list[int]:
    """``start``, ``start + step``, ... up to and including ``end``; at most 1,000 numbers."""
    if step == 0:
        raise FunctionError("the step must not be 0")
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise FunctionError(f"the range would have {count} items; at most {MAX_RANGE_ITEMS} are allowed")
    return [start + i * step for i in range(count)]


def hash_text(text: str, algorithm: Any) -> str:
    """The hex digest of ``text`` (UTF-8) with one of AWS's algorithm names (MD5 ... SHA-512)."""
    if algorithm not in HASH_ALGORITHMS:
        raise FunctionError(f"the algorithm must be one of {', '.join(HASH_ALGORITHMS)}, not '{algorithm}'")
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def random_source(seed: int | None) -> Any:
    """A generator seeded with ``seed`` (the same seed, the same numbers), or the shared one."""
    return random if seed is None else random.Random(seed)


def new_uuid() -> str:
    """A version 4 UUID as text."""
    return str(uuid.uuid4())
