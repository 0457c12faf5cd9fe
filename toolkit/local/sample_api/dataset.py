"""The sample API's data: deterministic records per location, generated lazily from a seed.

Every location's sizes and records follow from ``(seed, location_id)`` alone, so any page can
be produced on demand and in any order: a dataset of thousands of locations costs nothing until
a page is asked for, a page costs only its own records, and a bounded cache keeps recent pages
as encoded JSON. That is what lets the server answer thousands of pages per second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import struct
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

import yaml

from toolkit.errors import ToolkitError

__all__ = ["CHUNK", "DATA_TYPES", "DatasetError", "DatasetParams", "Dataset", "Record", "records_frame"]

DATA_TYPES: tuple[str, ...] = ("failed", "rejected")
"""The data types (the API's ``state`` values) every location reports."""

CHUNK = 100
"""Records generated together (one seed per chunk of a location's data type)."""

_POOL_SIZE = 512
_ID_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_PAIRS = [a + b for a in _CODE_ALPHABET for b in _CODE_ALPHABET]  # 10 random bits -> 2 characters
_CODE_PAIRS_BYTES = [p.encode() for p in _CODE_PAIRS]
_CODE_ALPHABET_BYTES = [c.encode() for c in _CODE_ALPHABET]

# Error message templates: quotes, commas, newlines, tabs, backslashes and non-ASCII text on
# purpose, because the consolidated CSV must carry every one of them unchanged.
_MESSAGES = (
    'Code "{code}" expired, retry later\nline 2 — café ✓',
    "Amount 1,{n:03d}.50 exceeds the limit, order rejected",
    "Rejected by rule 'R{n}'; contact support",
    "Währung ungültig: €{n}, erwartet \"EUR\"",
    "重复的折扣码 {code}（已使用）",
    'Field "note" has an emoji 🚫, remove it',
    "Path C:\\promo\\{n}\\codes, tab\there",
    "Customer said: \"it's broken\", twice",
    "Plain failure {n}",
)
_NAMES = ("Zürich Bahnhof", "São Paulo Centro", "Kraków Rynek", "Dublin, Docklands", "Oslo Sentrum",
          "Québec \"Vieux\"", "Osaka 梅田", "Reykjavík", "Lisboa Baixa", "Austin Downtown")


class DatasetError(ToolkitError, ValueError):
    """A dataset parameter is unknown or out of range; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One record a location holds, as the ground truth reports it.

    ``resourceKey`` keeps the API's own field name: it is the value the pipeline writes as
    ``discount_code``. ``errors`` holds the messages of the record's ``errors`` list, in order.
    """

    location_id: str
    data_type: str
    resourceKey: str
    errors: tuple[str, ...]

    def to_api(self) -> dict[str, Any]:
        """The record as ``get-data`` returns it."""
        return {"resourceKey": self.resourceKey, "state": self.data_type,
                "errors": [{"message": m} for m in self.errors]}

    def to_dict(self) -> dict[str, Any]:
        """The record as the ground-truth endpoint returns it."""
        return {"location_id": self.location_id, "data_type": self.data_type,
                "resourceKey": self.resourceKey, "errors": list(self.errors)}


@dataclasses.dataclass(frozen=True)
class DatasetParams:
    """What the sample API's world looks like; the same parameters always give the same data.

    ``empty_location_share`` of the locations hold no data at all; of the others, each data type
    is empty with probability ``empty_type_share`` and otherwise holds 1..``max_records`` records.
    """

    seed: int = 7
    locations: int = 25
    id_prefix: str = "loc-"
    max_records: int = 2000
    empty_location_share: float = 0.2
    empty_type_share: float = 0.15
    cache_chunks: int = 4096

    def __post_init__(self) -> None:
        for name in ("seed", "locations", "max_records", "cache_chunks"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise DatasetError(f"dataset.{name}: must be an integer, got {value!r}")
        if not 0 <= self.locations <= 1_000_000:
            raise DatasetError(f"dataset.locations: must be between 0 and 1000000, got {self.locations}")
        if not 0 <= self.max_records <= 1_000_000:
            raise DatasetError(f"dataset.max_records: must be between 0 and 1000000, got {self.max_records}")
        if self.cache_chunks < 1:
            raise DatasetError(f"dataset.cache_chunks: must be at least 1, got {self.cache_chunks}")
        for name in ("empty_location_share", "empty_type_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise DatasetError(f"dataset.{name}: must be a number between 0 and 1, got {value!r}")
        if not isinstance(self.id_prefix, str) or not _ID_PREFIX_RE.match(self.id_prefix):
            raise DatasetError("dataset.id_prefix: must be 1-32 characters of letters, digits, '.', '_' or '-'")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DatasetParams":
        """Build from a mapping (e.g. a YAML file); unknown keys are rejected by name."""
        if not isinstance(values, dict):
            raise DatasetError("dataset: must be a mapping of parameters")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise DatasetError(f"dataset.{key}: unknown parameter (known: {', '.join(sorted(known))})")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> "DatasetParams":
        """Read parameters from a YAML file (``sample_data/dataset.yaml``); a top-level
        ``dataset:`` key is accepted, so the file can hold other sections too."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DatasetError(f"dataset file {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise DatasetError(f"dataset file {path}: not valid YAML ({exc.__class__.__name__})") from None
        if isinstance(values, dict) and "dataset" in values:
            values = values["dataset"]
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Dataset:
    """The records of every location of one :class:`DatasetParams`, produced on demand.

    Records are generated in chunks of :data:`CHUNK` consecutive records of one (location,
    data type), each chunk from its own seed, so serving a page costs only the chunks it
    overlaps, whatever the location's size. Each record takes 64 pseudo-random bits: five characters of
    its key's code and its errors, picked from a pool of error lists made once per seed (so
    building a record is one string format, not a JSON encoding). Chunks are kept as
    encoded JSON in a bounded LRU cache.

    Safe to share between the server's loop and the caller's thread: generation is pure and
    the cache is guarded by a lock (held only for the lookup, never while generating).
    """

    def __init__(self, params: DatasetParams | None = None):
        self.params = params or DatasetParams()
        self._width = max(3, len(str(self.params.locations)))
        self._cache: OrderedDict[tuple[str, str, int], tuple[bytes, ...]] = OrderedDict()
        self._sizes: dict[str, dict[str, int]] = {}  # tiny per location; kept for every location asked
        self._lock = threading.Lock()
        self._pool = _error_pool(self.params.seed)
        self._pool_json = [json.dumps([{"message": m} for m in errors], ensure_ascii=False,
                                      separators=(",", ":")).encode("utf-8") for errors in self._pool]

    def location_ids(self) -> list[str]:
        return [self._location_id(i) for i in range(1, self.params.locations + 1)]

    def has_location(self, location_id: str) -> bool:
        return self._index(location_id) is not None

    def sizes(self, location_id: str) -> dict[str, int]:
        """Records per data type (what ``get-summary`` reports), without generating records."""
        sizes = self._sizes.get(location_id)
        if sizes is None:
            if self._index(location_id) is None:
                raise KeyError(location_id)
            sizes = self._sizes[location_id] = self._draw_sizes(location_id)
        return sizes

    def page(self, location_id: str, data_type: str, offset: int, limit: int) -> list[bytes]:
        """The JSON of records ``offset .. offset+limit-1`` (fewer at the end, none past it)."""
        size = self.sizes(location_id)[data_type]
        end = min(offset + limit, size)
        out: list[bytes] = []
        position = offset
        while position < end:
            chunk = position // CHUNK
            encoded = self._encoded_chunk(location_id, data_type, chunk, size)
            out.extend(encoded[position - chunk * CHUNK: end - chunk * CHUNK])
            position = (chunk + 1) * CHUNK
        return out

    def records(self, location_ids: Iterable[str] | None = None) -> list[Record]:
        """Every record of the given locations (default: all), in location and data type order."""
        ids = self.location_ids() if location_ids is None else list(location_ids)
        unknown = [i for i in ids if not self.has_location(i)]
        if unknown:
            raise DatasetError(f"locations: unknown location id {unknown[0]!r}")
        out: list[Record] = []
        for location_id in ids:
            sizes = self.sizes(location_id)
            for data_type in DATA_TYPES:
                for chunk in range((sizes[data_type] + CHUNK - 1) // CHUNK):
                    out.extend(Record(location_id, data_type, key, self._pool[j])
                               for key, j in self._chunk(location_id, data_type, chunk, sizes[data_type]))
        return out

    def name(self, location_id: str) -> str:
        """A display name for the location (non-ASCII on purpose)."""
        index = self._index(location_id)
        if index is None:
            raise KeyError(location_id)
        return f"{_NAMES[(index - 1) % len(_NAMES)]} #{index}"

    # ------------------------------------------------------------ internals
    def _location_id(self, index: int) -> str:
        return f"{self.params.id_prefix}{index:0{self._width}d}"

    def _index(self, location_id: str) -> int | None:
        prefix = self.params.id_prefix
        digits = location_id[len(prefix):]
        if not location_id.startswith(prefix) or len(digits) != self._width or not digits.isdigit():
            return None
        index = int(digits)
        return index if 1 <= index <= self.params.locations else None

    def _draw_sizes(self, location_id: str) -> dict[str, int]:
        p = self.params
        words = _words(f"{p.seed}/{location_id}/sizes", 1 + 2 * len(DATA_TYPES))
        if words[0] / 2.0**64 < p.empty_location_share or p.max_records == 0:
            return {t: 0 for t in DATA_TYPES}
        sizes = {}
        for i, data_type in enumerate(DATA_TYPES):
            empty = words[1 + 2 * i] / 2.0**64 < p.empty_type_share
            sizes[data_type] = 0 if empty else 1 + words[2 + 2 * i] % p.max_records
        return sizes

    def _chunk_words(self, location_id: str, data_type: str, chunk: int, size: int) -> tuple[range, tuple[int, ...]]:
        """The record positions of one chunk and one 64-bit word per record.

        Bits 0-19 of a record's word pick its key's code (four characters from two 10-bit
        pairs, one from the next 5 bits) and bits 25 and up its error list in the pool.
        """
        positions = range(chunk * CHUNK, min(size, (chunk + 1) * CHUNK))
        return positions, _words(f"{self.params.seed}/{location_id}/{data_type}/{chunk}", len(positions))

    def _chunk(self, location_id: str, data_type: str, chunk: int, size: int) -> list[tuple[str, int]]:
        """(resourceKey, error pool index) of each record of one chunk."""
        positions, words = self._chunk_words(location_id, data_type, chunk, size)
        prefix = f"DC-{location_id}-{data_type[0].upper()}"
        pairs, alphabet, pool = _CODE_PAIRS, _CODE_ALPHABET, len(self._pool)
        return [(f"{prefix}{i:06d}-{pairs[w & 1023]}{pairs[(w >> 10) & 1023]}{alphabet[(w >> 20) & 31]}",
                 (w >> 25) % pool) for i, w in zip(positions, words)]

    def _encoded_chunk(self, location_id: str, data_type: str, chunk: int, size: int) -> tuple[bytes, ...]:
        """The JSON of each record of one chunk, as :meth:`_chunk` describes it, in one format each."""
        key = (location_id, data_type, chunk)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        positions, words = self._chunk_words(location_id, data_type, chunk, size)
        # the id prefix is checked to hold no '%', so it can sit inside the template
        template = (f'{{"resourceKey":"DC-{location_id}-{data_type[0].upper()}%06d-%s%s%s",'
                    f'"state":"{data_type}","errors":%s}}').encode()
        pairs, alphabet, pool = _CODE_PAIRS_BYTES, _CODE_ALPHABET_BYTES, self._pool_json
        n = len(pool)
        encoded = tuple(template % (i, pairs[w & 1023], pairs[(w >> 10) & 1023], alphabet[(w >> 20) & 31],
                                    pool[(w >> 25) % n]) for i, w in zip(positions, words))
        with self._lock:
            self._cache[key] = encoded
            while len(self._cache) > self.params.cache_chunks:
                self._cache.popitem(last=False)
        return encoded


def _words(text: str, count: int) -> tuple[int, ...]:
    """``count`` pseudo-random 64-bit words determined by ``text`` (SHAKE-128: fast, portable)."""
    return struct.unpack(f"<{count}Q", hashlib.shake_128(text.encode("utf-8")).digest(8 * count))


def _error_pool(seed: int) -> list[tuple[str, ...]]:
    """The error lists records pick from: mostly one message, sometimes none or two."""
    rng = random.Random(f"{seed}/errors")
    pool = []
    for _ in range(_POOL_SIZE):
        n_errors = rng.choices((0, 1, 2), weights=(1, 8, 2))[0]
        code = "".join(rng.choices(_CODE_ALPHABET, k=5))
        pool.append(tuple(rng.choice(_MESSAGES).format(code=code, n=rng.randint(1, 999)) for _ in range(n_errors)))
    return pool


def records_frame(records: Iterable[Record]):  # -> pandas.DataFrame (pandas imported lazily)
    """Records as a pandas DataFrame: location_id, data_type, resourceKey, messages (a list)."""
    import pandas as pd

    rows = [(r.location_id, r.data_type, r.resourceKey, list(r.errors)) for r in records]
    return pd.DataFrame(rows, columns=["location_id", "data_type", "resourceKey", "messages"])
