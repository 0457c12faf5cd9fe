"""Garbage-collector thresholds for a process while it hosts the local stack.

CPython starts a young-generation collection every 700 net allocations and, now and then, a full
one over every tracked object. The stack allocates fast (each page the pipeline fetches is parsed,
mapped, measured and written) and holds much long-lived state (moto's stores, execution
histories), so at the default thresholds the collector took about a quarter of the stack's CPU
during an extraction (bench/bench_pipeline.py; 23.2 s of CPU for 100 locations, 15.7 s with the
thresholds below). The stack's own data holds few reference cycles, so collecting less often costs
little memory. The thresholds are raised while at least one stack runs in the process and put back
as they were when the last one stops (a notebook kernel keeps its own settings afterwards).
"""

from __future__ import annotations

import gc
import threading

__all__ = ["STACK_THRESHOLDS", "hold", "release"]

#: (young generation's allocations, young collections per middle one, middle per old one)
STACK_THRESHOLDS = (50_000, 20, 20)

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None


def hold() -> None:
    """A stack starts in this process: raise the thresholds (once for all stacks)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*(max(mine, theirs) for mine, theirs in zip(STACK_THRESHOLDS, _saved)))
        _holders += 1


def release() -> None:
    """A stack stopped: when it was the last one, put the process's own thresholds back."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
