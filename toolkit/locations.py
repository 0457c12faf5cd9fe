"""Locations of a task: pandas DataFrames in, the locations table out, and back.

Validate first, write after. :func:`load_locations` checks every row (required columns, types,
``location_id`` characters, ``api_url`` form and, for AWS targets, that it is HTTPS (AWS's HTTP
Task calls HTTPS endpoints only) and not a loopback, private or link-local address, duplicates) and
returns a report with one row per input row: ``row`` (0-based, the DataFrame's order), ``line``
(the CSV line, the header being line 1; empty for a DataFrame), ``location_id``, ``action`` and
``reason`` (every problem of the row, joined by "; "). ``action`` is ``add``, ``update`` or
``unchanged`` for a row that is written (or needs no write), ``would add``/``would update`` when
nothing is written (``dry_run=True``, or a rejected row without ``partial=True``: then nothing
at all is written), and ``rejected``.

Table layout (docs/design.md): partition key ``task_id``, sort key ``location_id``; attributes
``api_url``, ``name``, ``enabled`` and ``tags`` (every other column, as strings).
"""

from __future__ import annotations

import csv
import ipaddress
import math
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

import boto3
import pandas as pd

from toolkit import aws
from toolkit.config import StackConfig
from toolkit.errors import ToolkitError

__all__ = [
    "REQUIRED_COLUMNS",
    "LocationsError",
    "check_task_id",
    "require_task",
    "Location",
    "validate_locations",
    "http_endpoints",
    "load_locations",
    "read_locations",
    "set_enabled",
    "remove_locations",
    "copy_locations",
]

REQUIRED_COLUMNS = ("task_id", "location_id", "api_url")
KNOWN_COLUMNS = REQUIRED_COLUMNS + ("name", "enabled")
REPORT_COLUMNS = ["row", "line", "location_id", "action", "reason"]
_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_BATCH = 25  # DynamoDB BatchWriteItem's limit


class LocationsError(ToolkitError):
    """Locations input that cannot be used at all (missing columns, unreadable file)."""


@dataclass(frozen=True)
class Location:
    """One validated location, as stored in the locations table."""

    task_id: str
    location_id: str
    api_url: str
    name: str = ""
    enabled: bool = True
    tags: dict[str, str] = field(default_factory=dict)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "task_id": {"S": self.task_id},
            "location_id": {"S": self.location_id},
            "api_url": {"S": self.api_url},
            "enabled": {"BOOL": self.enabled},
        }
        if self.name:
            item["name"] = {"S": self.name}
        if self.tags:
            item["tags"] = {"M": {k: {"S": v} for k, v in sorted(self.tags.items())}}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Location":
        return cls(
            task_id=item["task_id"]["S"],
            location_id=item["location_id"]["S"],
            api_url=item.get("api_url", {}).get("S", ""),
            name=item.get("name", {}).get("S", ""),
            enabled=item.get("enabled", {}).get("BOOL", True),
            tags={k: v.get("S", "") for k, v in item.get("tags", {}).get("M", {}).items()},
        )


# ----------------------------------------------------------------------------- validation


def validate_locations(
    source: pd.DataFrame | str | Path, *, task_id: str | None = None, refuse_private: bool = False,
    require_https: bool = False, allows_endpoint: Callable[[str], bool] | None = None,
) -> tuple[list[tuple[int, Location]], pd.DataFrame]:
    """Check every row; return the valid locations (with their row numbers) and the report.

    ``require_https`` rejects ``http://`` rows (on for AWS targets: the HTTP Task calls HTTPS only).
    ``allows_endpoint`` (StackConfig.allows_endpoint) rejects rows whose API calls fall outside
    the HTTP Task's scope (the config's ``api_endpoints``), which IAM would refuse mid-run.

    ``task_id`` fills a missing or empty ``task_id`` column. Report actions here are ``valid``
    or ``rejected``; :func:`load_locations` turns ``valid`` into add/update/unchanged.
    """
    frame = _read_source(source)
    lines = _csv_lines(source, len(frame))
    if task_id is not None:
        _check_id("task_id", task_id, raise_error=True)
        if "task_id" not in frame.columns:
            frame = frame.assign(task_id=task_id)
        else:
            frame["task_id"] = frame["task_id"].where(frame["task_id"].astype(str).str.strip() != "", task_id)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        problem = f"columns: missing required column(s) {', '.join(missing)}"
        if "task_id" in missing:
            raise LocationsError(f"{problem}; pass task_id=... for rows without one",
                                 cli=f"{problem}; pass --task-id TASK for rows without one")
        raise LocationsError(problem)
    valid: list[tuple[int, Location]] = []
    report: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    tag_columns = [c for c in frame.columns if c not in KNOWN_COLUMNS]
    for row_number, row in enumerate(frame.to_dict("records")):
        location_id = _text(row.get("location_id"))
        line = lines[row_number] if lines else None
        location, problems = _validate_row(row, tag_columns, refuse_private)
        if location is not None:
            if require_https:
                problems += _problems(_check_https, location.api_url)
            if allows_endpoint is not None:
                problems += _problems(_check_scope, location, allows_endpoint)
            key = (location.task_id, location.location_id)
            if key in seen:
                first = seen[key]
                where = f"line {lines[first]}" if lines else f"row {first}"
                problems.append(f"location_id: duplicate of {where} for task {location.task_id}")
            else:
                seen[key] = row_number
        entry = {"row": row_number, "line": line, "location_id": location_id}
        if problems:
            report.append({**entry, "action": "rejected", "reason": "; ".join(problems)})
            continue
        assert location is not None
        valid.append((row_number, location))
        report.append({**entry, "action": "valid", "reason": ""})
    return valid, pd.DataFrame(report, columns=REPORT_COLUMNS)


def _read_source(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    if not path.is_file():
        raise LocationsError(f"source: {path} does not exist")
    try:
        # Everything as text: ids like 007 must not become numbers.
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LocationsError(f"source: {path} is not a readable CSV file ({exc.__class__.__name__})") from None


def _csv_lines(source: pd.DataFrame | str | Path, rows: int) -> list[int] | None:
    """The line each data row of a CSV file starts on (the header is line 1), as pandas reads it
    (blank lines skipped, quoted cells may span lines); None for a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return None
    with open(source, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        starts, previous = [], 0
        for record in reader:
            if record:
                starts.append(previous + 1)
            previous = reader.line_num
    lines = starts[1:]
    return lines if len(lines) == rows else [n + 2 for n in range(rows)]


def _problems(check: Any, *args: Any) -> list[str]:
    """The problem ``check(*args)`` raises (ValueError), as a list of zero or one."""
    try:
        check(*args)
    except ValueError as exc:
        return [str(exc)]
    return []


def _validate_row(row: dict[str, Any], tag_columns: list[str], refuse_private: bool
                  ) -> tuple[Location | None, list[str]]:
    """The row's location (None if any field is wrong) and every problem it has, field by field."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    checks = (("task_id", lambda: _check_id("task_id", _text(row.get("task_id")))),
              ("location_id", lambda: _check_id("location_id", _text(row.get("location_id")))),
              ("api_url", lambda: _check_url(_text(row.get("api_url")), refuse_private)),
              ("enabled", lambda: _check_enabled(row.get("enabled"))))
    for name, check in checks:
        try:
            values[name] = check()
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        return None, problems
    tags = {c: _text(row.get(c)) for c in tag_columns if _text(row.get(c))}
    return Location(values["task_id"], values["location_id"], values["api_url"], _text(row.get("name")),
                    values["enabled"], tags), []


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def check_task_id(task_id: Any) -> str:
    """``task_id`` if it is usable as a task id (it becomes an S3 key segment and an execution name),
    else :class:`LocationsError` naming the field: check it before starting a run."""
    if not isinstance(task_id, str):
        raise LocationsError(f"task_id: must be a string, got {type(task_id).__name__}")
    return _check_id("task_id", task_id, raise_error=True)


_SHOWN = 5  # how many known ids a refusal names


def require_task(
    config: StackConfig, task_id: Any, location_ids: Iterable[str] | None = None,
    *, session: boto3.Session | None = None,
) -> list[Location]:
    """The locations a run of ``task_id`` would cover: its enabled ones, or exactly ``location_ids``.

    Refuses, with :class:`LocationsError` naming the field and saying what exists, a task id the
    locations table does not know, a location id that is not the task's, and a task with no
    enabled location. Reads only: call it before anything is started or written (runs, dashboard).
    """
    check_task_id(task_id)
    client = aws.client(config, "dynamodb", session)
    known = _query(client, config, task_id)
    if not known:
        others = _some_task_ids(client, config)
        shown = f"known tasks: {', '.join(others)}{', ...' if len(others) == _SHOWN else ''}" if others else (
            "the locations table holds no task yet")
        raise LocationsError(f"task_id: no task {task_id!r} in {config.locations_table} ({shown})")
    if location_ids is None:
        enabled = [loc for loc in known if loc.enabled]
        if not enabled:
            raise LocationsError(f"task_id: task {task_id!r} has no enabled location "
                                 f"(all {len(known)} are disabled; enable some or name them)")
        return enabled
    by_id = {loc.location_id: loc for loc in known}
    wanted = list(dict.fromkeys(location_ids))
    if not wanted:
        raise LocationsError("locations: the list of locations to run is empty")
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        names = ", ".join(repr(i) for i in unknown[:_SHOWN]) + (", ..." if len(unknown) > _SHOWN else "")
        sample = ", ".join(sorted(by_id)[:_SHOWN]) + (", ..." if len(by_id) > _SHOWN else "")
        verb = "is not a location" if len(unknown) == 1 else f"({len(unknown)}) are not locations"
        raise LocationsError(f"locations: {names} {verb} of task {task_id!r} (it has {len(by_id)}: {sample})")
    return [by_id[i] for i in wanted]


def _some_task_ids(client: Any, config: StackConfig) -> list[str]:
    """Up to a few task ids of the locations table (stops reading once it has them)."""
    found: list[str] = []
    pages = client.get_paginator("scan").paginate(TableName=config.locations_table,
                                                  ProjectionExpression="task_id")
    for page in pages:
        for item in page.get("Items", []):
            task = item["task_id"]["S"]
            if task not in found:
                found.append(task)
                if len(found) == _SHOWN:
                    return sorted(found)
    return sorted(found)


def _check_id(field_name: str, value: str, raise_error: bool = False) -> str:
    problem = ""
    if not value:
        problem = "is empty"
    elif not _ID.match(value):
        problem = f"{value!r} may hold only letters, digits, '-', '_' and '.' (at most 128)"
    elif set(value) == {"."}:
        problem = f"{value!r} is not a usable id (it would be a path segment '.' or '..')"
    if problem and raise_error:
        raise LocationsError(f"{field_name}: {problem}")
    if problem:
        raise ValueError(f"{field_name}: {problem}")
    return value


_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


def _check_url(value: str, refuse_private: bool) -> str:
    if not value:
        raise ValueError("api_url: is empty")
    bad = _URL_FORBIDDEN.search(value)
    if bad:
        raise ValueError(f"api_url: must not hold spaces or control characters, found {bad.group()!r}")
    parsed = urlparse(value)
    if "@" in parsed.netloc:
        # The URL travels in execution input and history: a password there is a leaked secret.
        raise ValueError("api_url: must not hold a user name or password (use the connection's authorization)")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"api_url: {value!r} is not an absolute http(s) URL")
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"api_url: the port of {value!r} is not between 1 and 65535")
    if parsed.query or parsed.fragment:
        raise ValueError(f"api_url: {value!r} must not hold a query or fragment (paths are appended to it)")
    if refuse_private:
        internal = _internal_address(parsed.hostname)
        if internal is not None:
            shown = parsed.hostname if internal == parsed.hostname else f"{parsed.hostname} ({internal})"
            raise ValueError(f"api_url: {shown} is a loopback, private or link-local address")
    return value.rstrip("/")


def _check_https(api_url: str) -> None:
    """Refuse a plain-http ``api_url``: AWS's HTTP Task calls HTTPS endpoints only."""
    if urlparse(api_url).scheme != "https":
        raise ValueError(f"api_url: {api_url!r} is not https:// (AWS's HTTP Task calls HTTPS endpoints only)")


#: The calls the workflows make per location: the HTTP Tasks' ApiEndpoint in asl/extraction.asl.json
#: ({api_url}/{location_id}/get-summary) and asl/page-fetch.asl.json (.../get-data).
API_CALLS = ("get-summary", "get-data")


def http_endpoints(location: Location) -> list[str]:
    """The URLs the HTTP Task calls for a location (its states:HTTPEndpoint values)."""
    return [f"{location.api_url}/{location.location_id}/{call}" for call in API_CALLS]


def _check_scope(location: Location, allows_endpoint: Callable[[str], bool]) -> None:
    """Refuse a location whose API calls fall outside the HTTP Task's IAM scope (api_endpoints)."""
    outside = [url for url in http_endpoints(location) if not allows_endpoint(url)]
    if outside:
        raise ValueError(f"api_url: {location.api_url!r} is outside the config's api_endpoints "
                         f"(the HTTP Task may not call {outside[0]})")


def _internal_address(host: str) -> str | None:
    """The non-public address ``host`` names or resolves to, or None.

    Numeric forms are read as the C resolver reads them (``127.1``, ``2130706433``, ``0x7f.1``,
    ``0177.0.0.1``, ``0``), a trailing dot is dropped, and names are resolved: every address they
    resolve to must be public. A name that does not resolve here cannot be judged and passes.
    """
    name = host.rstrip(".").lower()
    if not name or name == "localhost" or name.endswith(".localhost"):
        return host
    literal = _ip_literal(name)
    if literal is not None:
        return None if _is_public(literal) else host
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _is_public(address):
            return str(address)
    return None


def _ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not re.fullmatch(r"[0-9a-fx.]+", name):
        return None  # inet_aton would also accept "1.2.3.4 junk"
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _check_enabled(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text == "":
        return True
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"enabled: {value!r} is not true or false")


# ----------------------------------------------------------------------------- table access


def load_locations(
    config: StackConfig,
    source: pd.DataFrame | str | Path,
    *,
    task_id: str | None = None,
    dry_run: bool = False,
    partial: bool = False,
    refuse_private: bool | None = None,
    require_https: bool | None = None,
    session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Validate, then write locations; return the report (see the module docstring).

    ``refuse_private`` defaults to True for AWS targets, where a loopback or private ``api_url``
    would make the HTTP Task call into the account's own network. ``require_https`` defaults to
    True for AWS targets, whose HTTP Task refuses http:// endpoints. ``report.attrs["written"]``
    holds how many items were written.
    """
    if refuse_private is None:
        refuse_private = not config.is_local
    if require_https is None:
        require_https = not config.is_local
    config.http_endpoint_patterns  # an AWS target without api_endpoints: one line, before any row
    valid, report = validate_locations(source, task_id=task_id, refuse_private=refuse_private,
                                       require_https=require_https, allows_endpoint=config.allows_endpoint)
    client = aws.client(config, "dynamodb", session)
    existing = {}
    for task in sorted({loc.task_id for _, loc in valid}):
        existing.update({(loc.task_id, loc.location_id): loc for loc in _query(client, config, task)})
    rejected = int((report["action"] == "rejected").sum())
    write = not dry_run and (rejected == 0 or partial)
    to_write = []
    for row_number, location in valid:
        current = existing.get((location.task_id, location.location_id))
        action = "add" if current is None else ("unchanged" if current == location else "update")
        if action != "unchanged":
            to_write.append(location)
            action = action if write else f"would {action}"
        report.loc[report["row"] == row_number, "action"] = action
    if write:
        _batch_write(client, config, [{"PutRequest": {"Item": loc.to_item()}} for loc in to_write])
    report.attrs["written"] = len(to_write) if write else 0
    report.attrs["rejected"] = rejected
    return report


def read_locations(config: StackConfig, task_id: str, *, session: boto3.Session | None = None) -> pd.DataFrame:
    """The task's locations as a DataFrame (one column per attribute; tags as a dict column)."""
    client = aws.client(config, "dynamodb", session)
    rows = [loc.__dict__ for loc in _query(client, config, task_id)]
    columns = ["task_id", "location_id", "api_url", "name", "enabled", "tags"]
    return pd.DataFrame(rows, columns=columns)


def set_enabled(
    config: StackConfig, task_id: str, location_ids: Iterable[str], enabled: bool,
    *, session: boto3.Session | None = None,
) -> int:
    """Enable or disable locations (a disabled location is skipped by full runs); return the count."""
    client = aws.client(config, "dynamodb", session)
    count = 0
    for location_id in location_ids:
        try:
            client.update_item(
                TableName=config.locations_table,
                Key={"task_id": {"S": task_id}, "location_id": {"S": location_id}},
                UpdateExpression="SET enabled = :enabled",
                ConditionExpression="attribute_exists(location_id)",
                ExpressionAttributeValues={":enabled": {"BOOL": enabled}},
            )
        except client.exceptions.ConditionalCheckFailedException:
            raise LocationsError(f"location_id: {location_id!r} is not a location of task {task_id!r}") from None
        count += 1
    return count


def remove_locations(
    config: StackConfig, task_id: str, location_ids: Iterable[str], *, session: boto3.Session | None = None
) -> int:
    """Delete locations from the task; return how many were deleted."""
    client = aws.client(config, "dynamodb", session)
    ids = list(dict.fromkeys(location_ids))
    requests = [{"DeleteRequest": {"Key": {"task_id": {"S": task_id}, "location_id": {"S": i}}}} for i in ids]
    _batch_write(client, config, requests)
    return len(ids)


def copy_locations(
    config: StackConfig, from_task: str, to_task: str, *, session: boto3.Session | None = None
) -> pd.DataFrame:
    """Copy every location of one task to another task; return the load report."""
    frame = read_locations(config, from_task, session=session)
    if frame.empty:
        raise LocationsError(f"from_task: task {from_task!r} has no locations")
    frame = frame.assign(task_id=to_task)
    tags = pd.DataFrame(list(frame.pop("tags")), index=frame.index)
    return load_locations(config, pd.concat([frame, tags], axis=1), session=session, refuse_private=False)


def _query(client: Any, config: StackConfig, task_id: str) -> list[Location]:
    paginator = client.get_paginator("query")
    pages = paginator.paginate(
        TableName=config.locations_table,
        KeyConditionExpression="task_id = :task",
        ExpressionAttributeValues={":task": {"S": task_id}},
        ConsistentRead=True,
    )
    return [Location.from_item(item) for page in pages for item in page.get("Items", [])]


def _batch_write(client: Any, config: StackConfig, requests: list[dict[str, Any]], max_rounds: int = 12) -> None:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff until all are done."""
    for start in range(0, len(requests), _BATCH):
        pending = requests[start:start + _BATCH]
        for attempt in range(max_rounds):
            response = client.batch_write_item(RequestItems={config.locations_table: pending})
            pending = response.get("UnprocessedItems", {}).get(config.locations_table, [])
            if not pending:
                break
            time.sleep(min(0.05 * 2 ** attempt, 2.0))
        else:
            raise LocationsError(f"locations_table: {len(pending)} items still unprocessed after {max_rounds} tries")
