"""Fault plans for the sample API: what goes wrong, where, how often, reproducibly.

A :class:`FaultPlan` is a seed and an ordered list of :class:`FaultRule`. For every request to a
data endpoint the :class:`FaultInjector` asks each matching rule whether it fires.

Reproducibility: requests are numbered per *request key* ``(location_id, path, query)`` (the
query with its parameters sorted), starting at 0 when the plan is set. Rule ``i`` fires on the
k-th request of a key when ``blake2b(seed, i, location_id, path, query, k)`` read as a fraction
in [0, 1) is below the rule's ``rate``. The decision thus depends only on the seed, the rule's
position, the key and k, never on how requests to other keys interleave, timing or threads.

``first_requests=N`` limits a rule to the first N requests, counted per location (``per:
location``, all endpoints together) or per request key (``per: request``): the way to fail the
first N attempts and then recover (retry tests). ``rate: 1`` with ``locations: [x]`` fails every
request of x (failure beyond retries).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ToolkitError

__all__ = ["FAULT_KINDS", "ENDPOINTS", "FaultPlanError", "FaultRule", "FaultPlan", "FaultDecision",
           "FaultInjector"]

FAULT_KINDS = ("latency", "error", "throttle", "hang", "malformed", "count_mismatch", "not_found")
"""latency/hang delay the answer by ``seconds`` (hang: meant to outlast the client's timeout);
error answers ``status`` (500 or 503); throttle answers 429 with ``Retry-After``; malformed
answers 200 with a truncated JSON body; count_mismatch reports a ``count`` that disagrees with
the page's results (get-data only); not_found answers 404 as for an unknown location."""

ENDPOINTS = ("get-summary", "get-data")
_DELAYS = ("latency", "hang")
_PER = ("location", "request")


class FaultPlanError(ToolkitError, ValueError):
    """A fault plan field is unknown or invalid; the message names it."""


@dataclasses.dataclass(frozen=True)
class FaultRule:
    """One kind of fault, where it applies and how often (see the module docstring)."""

    kind: str
    rate: float = 1.0
    locations: tuple[str, ...] | None = None
    endpoints: tuple[str, ...] | None = None
    first_requests: int = 0
    per: str = "location"
    seconds: float = 0.0
    status: int = 500
    retry_after: int = 1
    count_delta: int = -1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultPlanError(f"kind: must be one of {', '.join(FAULT_KINDS)}, got {self.kind!r}")
        if not _is_number(self.rate) or not 0.0 <= self.rate <= 1.0:
            raise FaultPlanError(f"rate: must be a number between 0 and 1, got {self.rate!r}")
        if self.locations is not None:
            if isinstance(self.locations, str) or not all(isinstance(x, str) for x in self.locations):
                raise FaultPlanError("locations: must be a list of location ids")
            object.__setattr__(self, "locations", tuple(self.locations))
        if self.endpoints is not None:
            if isinstance(self.endpoints, str) or any(e not in ENDPOINTS for e in self.endpoints):
                raise FaultPlanError(f"endpoints: must be a list of {', '.join(ENDPOINTS)}")
            object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if not _is_int(self.first_requests) or self.first_requests < 0:
            raise FaultPlanError(f"first_requests: must be an integer >= 0, got {self.first_requests!r}")
        if self.per not in _PER:
            raise FaultPlanError(f"per: must be 'location' or 'request', got {self.per!r}")
        if not _is_number(self.seconds) or self.seconds < 0:
            raise FaultPlanError(f"seconds: must be a number >= 0, got {self.seconds!r}")
        if self.kind in _DELAYS and self.seconds <= 0:
            raise FaultPlanError(f"seconds: a {self.kind} fault needs seconds > 0")
        if self.status not in (500, 503):
            raise FaultPlanError(f"status: must be 500 or 503, got {self.status!r}")
        if not _is_int(self.retry_after) or self.retry_after < 0:
            raise FaultPlanError(f"retry_after: must be an integer >= 0, got {self.retry_after!r}")
        if not _is_int(self.count_delta) or self.count_delta == 0:
            raise FaultPlanError(f"count_delta: must be a non-zero integer, got {self.count_delta!r}")

    def applies_to(self, location_id: str, endpoint: str) -> bool:
        return ((self.locations is None or location_id in self.locations)
                and (self.endpoints is None or endpoint in self.endpoints))

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        for key in ("locations", "endpoints"):
            if values[key] is not None:
                values[key] = list(values[key])
        return values


@dataclasses.dataclass(frozen=True)
class FaultPlan:
    """A seed and the rules, in order: delays add up; the first other fault that fires wins."""

    seed: int = 0
    rules: tuple[FaultRule, ...] = ()

    def __post_init__(self) -> None:
        if not _is_int(self.seed):
            raise FaultPlanError(f"faults.seed: must be an integer, got {self.seed!r}")
        object.__setattr__(self, "rules", tuple(self.rules))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FaultPlan":
        """Build from a mapping: ``{"seed": 1, "rules": [{"kind": "error", "rate": 0.1}, ...]}``."""
        if not isinstance(values, dict):
            raise FaultPlanError("faults: must be a mapping with 'seed' and 'rules'")
        for key in values:
            if key not in ("seed", "rules"):
                raise FaultPlanError(f"faults.{key}: unknown field (known: rules, seed)")
        raw_rules = values.get("rules") or []
        if not isinstance(raw_rules, list):
            raise FaultPlanError("faults.rules: must be a list")
        known = {f.name for f in dataclasses.fields(FaultRule)}
        rules = []
        for i, raw in enumerate(raw_rules):
            where = f"faults.rules[{i}]"
            if not isinstance(raw, dict):
                raise FaultPlanError(f"{where}: must be a mapping")
            for key in raw:
                if key not in known:
                    raise FaultPlanError(f"{where}.{key}: unknown field (known: {', '.join(sorted(known))})")
            if "kind" not in raw:
                raise FaultPlanError(f"{where}.kind: required")
            try:
                rules.append(FaultRule(**raw))
            except FaultPlanError as exc:
                raise FaultPlanError(f"{where}.{exc}") from None
        return cls(seed=values.get("seed", 0), rules=tuple(rules))

    @classmethod
    def from_file(cls, path: str | Path) -> "FaultPlan":
        """Read a plan from a YAML or JSON file (JSON is YAML)."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise FaultPlanError(f"faults file {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise FaultPlanError(f"faults file {path}: not valid YAML/JSON ({exc.__class__.__name__})") from None
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "rules": [r.to_dict() for r in self.rules]}


@dataclasses.dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait ``delay`` seconds, then apply ``fault`` (or answer)."""

    delay: float = 0.0
    fault: FaultRule | None = None


_NO_FAULT = FaultDecision()


class FaultInjector:
    """Applies one plan; its request numbering starts afresh with every new injector."""

    def __init__(self, plan: FaultPlan | None = None):
        self.plan = plan or FaultPlan()
        self._per_key: dict[tuple[str, str, str], int] = {}
        self._per_location: dict[str, int] = {}
        self._lock = threading.Lock()

    def decide(self, location_id: str, endpoint: str, path: str, query_string: str) -> FaultDecision:
        """Number this request and decide its fate; parameter order in the query does not matter."""
        if not self.plan.rules:
            return _NO_FAULT
        key = (location_id, path, "&".join(sorted(query_string.split("&"))) if query_string else "")
        with self._lock:
            k = self._per_key.get(key, 0)
            self._per_key[key] = k + 1
            k_location = self._per_location.get(location_id, 0)
            self._per_location[location_id] = k_location + 1
        delay = 0.0
        fault = None
        for i, rule in enumerate(self.plan.rules):
            if not rule.applies_to(location_id, endpoint):
                continue
            if rule.first_requests and (k_location if rule.per == "location" else k) >= rule.first_requests:
                continue
            if rule.rate < 1.0 and _fraction(self.plan.seed, i, key, k) >= rule.rate:
                continue
            if rule.kind in _DELAYS:
                delay += rule.seconds
            elif fault is None and not (rule.kind == "count_mismatch" and endpoint != "get-data"):
                fault = rule
        return FaultDecision(delay, fault) if (delay or fault) else _NO_FAULT


def _fraction(seed: int, rule_index: int, key: tuple[str, str, str], k: int) -> float:
    text = json.dumps([seed, rule_index, *key, k], ensure_ascii=False).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2.0**64


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
