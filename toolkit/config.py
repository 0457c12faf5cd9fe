"""StackConfig: the one place for every resource name, the region, the account and the target.

Every other module asks a ``StackConfig`` for names; none holds a literal resource name.

Values come from four layers, each overriding the one before:

1. built-in defaults (names derived from ``stack_name``, account and region),
2. a YAML file (``path=`` or the ``DSA_CONFIG`` environment variable),
3. environment variables ``DSA_<FIELD>`` (for example ``DSA_STACK_NAME``),
4. keyword arguments to :meth:`StackConfig.load`.

On an AWS target the account is never a placeholder: :meth:`StackConfig.load` asks STS
(GetCallerIdentity, with the target's profile) when no ``account_id`` is given, and the region
must be one that can host the stack (:mod:`toolkit.regions`).

Unknown keys in any layer are rejected, and every value is checked against the rules AWS
applies to it; each problem is a :class:`ConfigError` whose message names the field.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

import yaml

from toolkit.errors import ToolkitError
from toolkit.regions import hosting_problem, partition_of

__all__ = ["ConfigError", "StackConfig", "LOCAL_ACCOUNT_ID", "DEFAULT_LOCAL_ENDPOINT", "MAX_PAGE_LIMIT"]

LOCAL_ACCOUNT_ID = "000000000000"
DEFAULT_LOCAL_ENDPOINT = "http://127.0.0.1:4566"
ENV_PREFIX = "DSA_"

# A page must fit in one state payload (256 KiB): the page-fetch workflow holds it whole as the
# HTTP Task's result, as its `rows` variable and as the putObject Body argument (where JSON
# escaping adds to it). Budget: 256 KiB less 4 KiB for the response headers and the part's own
# fields, at 256 bytes a row (the sample API's largest row is 216 bytes as served, plus the
# escaping of its quotes and newlines in the Body string): (262,144 - 4,096) // 256 = 1,008 rows,
# rounded down to 1,000 (which is also the sample API's own largest page). 10,000 rows at the
# sample's average of 133 bytes is ~1.3 MB: five times the quota.
PAYLOAD_QUOTA_BYTES = 256 * 1024
PAGE_ENVELOPE_BYTES = 4 * 1024
PAGE_ROW_BUDGET_BYTES = 256
MAX_PAGE_LIMIT = (PAYLOAD_QUOTA_BYTES - PAGE_ENVELOPE_BYTES) // PAGE_ROW_BUDGET_BYTES // 100 * 100
CONFIG_FILE_ENV = "DSA_CONFIG"
# DSA_ variables that are not config fields: the config file's path, and the local stack's
# (toolkit.local.state, toolkit.target, toolkit.local.iam, the sample API's; `dsa local env` exports some).
_NOT_FIELDS_ENV = frozenset({CONFIG_FILE_ENV, "DSA_RUN_DIR", "DSA_LOCAL_IAM", "DSA_SAMPLE_API_CA",
                             "DSA_SAMPLE_API_URL", "DSA_SAMPLE_API_ADMIN_TOKEN", "DSA_SAMPLE_API_PASSWORD",
                             "DSA_SAMPLE_API_CLIENT_SECRET"})


class ConfigError(ToolkitError, ValueError):
    """A configuration value is missing, unknown or breaks an AWS naming rule."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


@dataclasses.dataclass(frozen=True)
class StackConfig:
    """Names and settings of one deployment of the aggregator (local or on AWS)."""

    target: str = "local"
    stack_name: str = "dsa"
    region: str = "us-east-1"
    account_id: str = ""
    profile: str = ""
    endpoint_url: str = DEFAULT_LOCAL_ENDPOINT

    # Resource names; empty means "derive from stack_name" (see __post_init__).
    locations_table: str = ""
    tasks_table: str = ""
    work_bucket: str = ""
    output_bucket: str = ""
    glue_job: str = ""
    connection_name: str = ""
    aggregator_state_machine: str = ""
    extraction_state_machine: str = ""
    page_fetch_state_machine: str = ""
    states_role: str = ""
    glue_role: str = ""
    # The EXPRESS page-fetch machine's history exists only here (level ERROR, no execution data).
    page_fetch_log_group: str = ""
    catalog_database: str = ""  # the Glue Data Catalog database and table of the consolidated output
    catalog_table: str = ""

    # Run defaults.
    max_concurrency: int = 10  # locations extracted at once
    # Requests in flight to the third-party API across all locations of a task: each location
    # fetches api_concurrency // max_concurrency batches of pages at once (at least one).
    api_concurrency: int = 40
    pages_per_batch: int = 10  # pages one page-fetch child fetches (more for very large locations)
    # Locations may fail without failing the run: the task ends PARTIAL and names them.
    tolerated_failure_percentage: float = 100.0
    page_limit: int = 100
    data_types: tuple[str, ...] = ("failed", "rejected")
    api_key_header: str = "x-api-key"
    api_key_env: str = "DSA_API_KEY"
    glue_worker_type: str = "G.1X"
    glue_workers: int = 2
    # Where the HTTP Task may send the connection's API key: IAM StringLike patterns of
    # states:HTTPEndpoint (``*`` any characters, ``?`` one), such as ``https://api.example.com/*``.
    # The states role's InvokeHTTPEndpoint is conditioned on them and `locations load` refuses
    # a row outside them. Empty: on a local target any endpoint ("*": the sample API's port
    # changes at each start); an AWS target must name its APIs (deploy and export refuse it empty).
    api_endpoints: tuple[str, ...] = ()

    # Retention: days until S3 lifecycle rules expire what grows with every task in the work
    # bucket, and the page-fetch log group's retention (one of the values CloudWatch Logs takes).
    # Parts and Map Run results are the input of reruns and of every later consolidation: a location
    # whose parts may have expired counts as without complete data (runs.coverage), so the default
    # rerun fetches it again.
    parts_expire_days: int = 14
    map_runs_expire_days: int = 14
    quarantine_expire_days: int = 30
    archive_expire_days: int = 90
    log_retention_days: int = 30

    def __post_init__(self) -> None:
        derived = _derived_names(self)
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        object.__setattr__(self, "data_types", _data_types(self.data_types))
        object.__setattr__(self, "api_endpoints", _api_endpoints(self.api_endpoints))
        _check_types(self)
        _validate(self)

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> "StackConfig":
        """Build a config from defaults < YAML file < ``DSA_*`` environment < keyword arguments."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        file_path = path if path is not None else environ.get(CONFIG_FILE_ENV)
        if file_path:
            values.update(_read_yaml(Path(file_path)))
        values.update(_read_environ(environ))
        for key in overrides:
            _check_known(key, "keyword argument")
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = _coerce(values)
        if values.get("target") == "aws" and not values.get("account_id"):
            cls(**{**values, "target": "local"})  # every other field's problem first, before STS
            values["account_id"] = _caller_account(values)
        return cls(**values)

    # --------------------------------------------------------------- derived
    @property
    def is_local(self) -> bool:
        return self.target == "local"

    @property
    def partition(self) -> str:
        """The region's partition (aws, aws-cn, aws-us-gov...); ``aws`` for a region botocore
        does not know, which only a local target accepts."""
        return partition_of(self.region) or "aws"

    def state_machine_arn(self, name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def role_arn(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{name}"

    @property
    def http_endpoint_patterns(self) -> tuple[str, ...]:
        """The states:HTTPEndpoint patterns the HTTP Task may call (``api_endpoints``; any on a
        local target that names none). An AWS target naming none is refused here, in one line."""
        if self.api_endpoints:
            return self.api_endpoints
        if self.is_local:
            return ("*",)
        raise ConfigError("api_endpoints", "an AWS target must name the API base URLs its locations use, "
                                           "e.g. ['https://api.example.com/*'] (the HTTP Task sends the API key "
                                           "only there)")

    def allows_endpoint(self, url: str) -> bool:
        """Whether the HTTP Task may call ``url``: IAM's StringLike against http_endpoint_patterns."""
        return any(_string_like(pattern, url) for pattern in self.http_endpoint_patterns)

    def replace(self, **changes: Any) -> "StackConfig":
        """A copy with some fields changed (derived names follow a new stack_name)."""
        base = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if "stack_name" in changes or "account_id" in changes or "region" in changes:
            defaults = _derived_names(self)
            base = {k: v for k, v in base.items() if not (k in defaults and v == defaults[k])}
        base.update(changes)
        return StackConfig(**base)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- internals

_FIELDS = {f.name: f for f in dataclasses.fields(StackConfig)}
_EXPIRE_FIELDS = ("parts_expire_days", "map_runs_expire_days", "quarantine_expire_days", "archive_expire_days")
_INT_FIELDS = {"max_concurrency", "api_concurrency", "pages_per_batch", "page_limit", "glue_workers",
               *_EXPIRE_FIELDS, "log_retention_days"}
_FLOAT_FIELDS = {"tolerated_failure_percentage"}


def _derived_names(cfg: StackConfig) -> dict[str, str]:
    prefix = cfg.stack_name
    # Only a local target has a placeholder account; an AWS target's is resolved by load().
    account = cfg.account_id or (LOCAL_ACCOUNT_ID if cfg.is_local else "")
    return {
        "account_id": account,
        "locations_table": f"{prefix}-locations",
        "tasks_table": f"{prefix}-tasks",
        # Bucket names are global on AWS: make them unique per account and region.
        "work_bucket": f"{prefix}-work-{account}-{cfg.region}",
        "output_bucket": f"{prefix}-output-{account}-{cfg.region}",
        "glue_job": f"{prefix}-consolidate",
        "connection_name": f"{prefix}-thirdparty-api",
        "aggregator_state_machine": f"{prefix}-aggregator",
        "extraction_state_machine": f"{prefix}-extraction",
        "page_fetch_state_machine": f"{prefix}-page-fetch",
        "states_role": f"{prefix}-states-role",
        "glue_role": f"{prefix}-glue-role",
        # /aws/vendedlogs/: AWS's advice for Step Functions log groups (a short resource policy).
        "page_fetch_log_group": f"/aws/vendedlogs/states/{prefix}-page-fetch",
        # Athena reads lowercase letters, digits and underscores only.
        "catalog_database": f"{str(prefix).replace('-', '_')}_output",
        "catalog_table": "consolidated",
    }


def _caller_account(values: dict[str, Any]) -> str:
    """The account of the AWS target's credentials (STS GetCallerIdentity), checked against the
    region's partition: bucket names, ARNs and trust policies must carry the real account."""
    import boto3  # here, not at the top: only an AWS target without an account_id needs it
    from botocore.exceptions import BotoCoreError, ClientError

    region = str(values.get("region") or StackConfig.region)
    try:
        session = boto3.Session(profile_name=values.get("profile") or None, region_name=region)
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError("account_id", f"not set, and STS could not tell the AWS account ({exc})") from None
    arn_partition = identity["Arn"].split(":")[1]
    if partition_of(region) not in (None, arn_partition):
        raise ConfigError("region", f"{region} is in partition {partition_of(region)}, "
                                    f"but the credentials are for partition {arn_partition}")
    return identity["Account"]


def _string_like(pattern: str, value: str) -> bool:
    """IAM's StringLike: case-sensitive, ``*`` any run of characters, ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _check_known(key: str, where: str) -> None:
    if key not in _FIELDS:
        raise ConfigError(key, f"unknown {where} (known: {', '.join(sorted(_FIELDS))})")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("config_file", f"{path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError("config_file", f"{path} is not a UTF-8 text file") from None
    except OSError as exc:
        raise ConfigError("config_file", f"{path} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except yaml.YAMLError as exc:
        raise ConfigError("config_file", f"{path} is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError("config_file", f"{path} must hold a mapping of field: value")
    for key in data:
        _check_known(str(key), f"key in {path.name}")
    return data


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_FIELDS_ENV:
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key == "api_key":  # the secret itself, read by deploy; never stored in the config
            continue
        _check_known(key, f"environment variable {name}")
        values[key] = value
    return values


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Values from YAML or the environment in their fields' types; a wrong type names the field."""
    out = dict(values)
    for key, value in values.items():
        if value is None:
            raise ConfigError(key, "must have a value, got null")
        if key in _INT_FIELDS:
            out[key] = _to_number(key, value, int)
        elif key in _FLOAT_FIELDS:
            out[key] = _to_number(key, value, float)
        elif key in ("data_types", "api_endpoints"):
            out[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = str(value)  # account_id: 123456789012 in YAML is a number
    return out


def _to_number(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(key, f"must be a number, got {_kind(value)}")
    try:
        number = int(value) if isinstance(value, int) else float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"must be a number, got {str(value)[:40]!r}") from None
    if kind is int and isinstance(number, float) and not number.is_integer():
        raise ConfigError(key, f"must be a whole number, got {value!r}")
    return kind(number)


def _kind(value: Any) -> str:
    """How a wrong value is named in an error: its YAML kind, not its Python repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _data_types(value: Any) -> tuple[str, ...]:
    """``data_types`` from a comma-separated string or a list of strings."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ConfigError("data_types", f"must be a list of names or a comma-separated string, got {_kind(value)}")
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        raise ConfigError("data_types", f"must hold names (strings), got {_kind(bad[0])}")
    return tuple(item.strip() for item in value if item.strip())


def _api_endpoints(value: Any) -> tuple[str, ...]:
    """``api_endpoints`` from a comma-separated string or a list of strings."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or any(not isinstance(item, str) for item in value):
        raise ConfigError("api_endpoints", f"must be a list of URL patterns or a comma-separated string, "
                                           f"got {_kind(value)}")
    return tuple(item.strip() for item in value if item.strip())


def _check_types(cfg: StackConfig) -> None:
    """Every field holds its declared type (keyword arguments skip :func:`_coerce`)."""
    for name, spec in _FIELDS.items():
        value = getattr(cfg, name)
        if name in _INT_FIELDS:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif name in _FLOAT_FIELDS:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif name in ("data_types", "api_endpoints"):
            ok = True  # normalised by _data_types and _api_endpoints
        else:
            ok = isinstance(value, str)
        if not ok:
            wanted = "a number" if name in _INT_FIELDS | _FLOAT_FIELDS else "a string"
            raise ConfigError(name, f"must be {wanted}, got {_kind(value)}")


# ------------------------------------------------------------- validation

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_CONNECTION = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
_GLUE_JOB = re.compile(r"^[\w .\-]{1,255}$")
# States: 1-80 chars; no whitespace, brackets, wildcards, the listed punctuation or controls.
_STATE_MACHINE_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
# The consolidation is a Spark (glueetl) job: G.025X is for streaming jobs and Z.2X for Ray jobs.
_SPARK_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")
_LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
# PutRetentionPolicy's retentionInDays values.
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                       2922, 3288, 3653)
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _validate(cfg: StackConfig) -> None:
    if cfg.target not in ("local", "aws"):
        raise ConfigError("target", f"must be 'local' or 'aws', got {cfg.target!r}")
    if not _PREFIX.match(cfg.stack_name):
        raise ConfigError(
            "stack_name",
            "must start with a lowercase letter and hold 1-20 lowercase letters, digits or '-'",
        )
    if not _REGION.match(cfg.region):
        raise ConfigError("region", f"{cfg.region!r} is not an AWS region name such as us-east-1")
    if not cfg.is_local and not cfg.account_id:
        raise ConfigError("account_id", "an AWS target needs its account (StackConfig.load asks STS for it)")
    if not _ACCOUNT.match(cfg.account_id):
        raise ConfigError("account_id", "must be 12 digits")
    if not cfg.is_local and cfg.account_id == LOCAL_ACCOUNT_ID:
        raise ConfigError("account_id", f"{LOCAL_ACCOUNT_ID} is the local stack's placeholder, not an AWS account")
    if not cfg.is_local and (problem := hosting_problem(cfg.region)):
        raise ConfigError("region", problem)
    _validate_endpoint(cfg.endpoint_url)
    for name in ("work_bucket", "output_bucket"):
        _validate_bucket(name, getattr(cfg, name))
    if cfg.work_bucket == cfg.output_bucket:
        raise ConfigError("output_bucket", "must differ from work_bucket")
    for name in ("locations_table", "tasks_table"):
        if not _TABLE.match(getattr(cfg, name)):
            raise ConfigError(name, "DynamoDB table names are 3-255 characters of A-Z a-z 0-9 _ . -")
    if cfg.locations_table == cfg.tasks_table:
        raise ConfigError("tasks_table", "must differ from locations_table")
    for name in ("aggregator_state_machine", "extraction_state_machine", "page_fetch_state_machine"):
        _validate_state_machine(name, getattr(cfg, name))
    if not _GLUE_JOB.match(cfg.glue_job):
        raise ConfigError("glue_job", "Glue job names are 1-255 characters of letters, digits, space, _ . -")
    if not _CONNECTION.match(cfg.connection_name):
        raise ConfigError("connection_name", "connection names are 1-64 characters of A-Z a-z 0-9 . - _")
    for name in ("states_role", "glue_role"):
        if not _ROLE.match(getattr(cfg, name)):
            raise ConfigError(name, "IAM role names are 1-64 characters of letters, digits and +=,.@_-")
    for name in ("catalog_database", "catalog_table"):
        if not re.match(r"^[a-z0-9_]{1,255}$", getattr(cfg, name)):
            raise ConfigError(name, "Glue Data Catalog names for Athena are 1-255 lowercase letters, digits or _")
    if not 1 <= cfg.max_concurrency <= 10_000:
        raise ConfigError("max_concurrency", "must be between 1 and 10000")
    if not 1 <= cfg.api_concurrency <= 10_000:
        raise ConfigError("api_concurrency", "must be between 1 and 10000")
    if not 1 <= cfg.pages_per_batch <= 100:
        raise ConfigError("pages_per_batch", "must be between 1 and 100")
    if not 0 <= cfg.tolerated_failure_percentage <= 100:
        raise ConfigError("tolerated_failure_percentage", "must be between 0 and 100")
    if not 1 <= cfg.page_limit <= MAX_PAGE_LIMIT:
        raise ConfigError("page_limit", f"must be between 1 and {MAX_PAGE_LIMIT} (a page must fit in the 256 KiB "
                                        "state payload)")
    if not cfg.data_types or any(not re.match(r"^[a-z][a-z0-9_]*$", t) for t in cfg.data_types):
        raise ConfigError("data_types", "must be one or more lowercase names such as 'failed'")
    if not re.match(r"^[A-Za-z0-9-]{1,128}$", cfg.api_key_header):
        raise ConfigError("api_key_header", "must be an HTTP header name")
    if cfg.glue_worker_type not in _SPARK_WORKER_TYPES:
        raise ConfigError("glue_worker_type", f"{cfg.glue_worker_type!r} is not a worker type of a Glue Spark job "
                                              f"({', '.join(_SPARK_WORKER_TYPES)})")
    if not 2 <= cfg.glue_workers <= 299:
        raise ConfigError("glue_workers", "Glue 5.0 jobs take 2-299 workers")
    for pattern in cfg.api_endpoints:
        _validate_api_endpoint(pattern, cfg.is_local)
    if not _LOG_GROUP.match(cfg.page_fetch_log_group):
        raise ConfigError("page_fetch_log_group", "log group names are 1-512 characters of A-Z a-z 0-9 _ - / . #")
    for name in _EXPIRE_FIELDS:
        if not 1 <= getattr(cfg, name) <= 3650:
            raise ConfigError(name, "must be between 1 and 3650 days")
    if cfg.log_retention_days not in _LOG_RETENTION_DAYS:
        raise ConfigError("log_retention_days", f"CloudWatch Logs keeps events for one of "
                                                f"{', '.join(map(str, _LOG_RETENTION_DAYS))} days")


def _validate_endpoint(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError("endpoint_url", f"must be an http(s) URL, got {url!r}")


# scheme://host, then a port or a path: the host is literal, so a pattern cannot stretch to
# another host (https://api.example.com* would also match https://api.example.com.evil.net).
_API_ENDPOINT = re.compile(r"^(https|http)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])[:/]\S*$")


def _validate_api_endpoint(pattern: str, local: bool) -> None:
    if pattern == "*" and local:
        return
    match = _API_ENDPOINT.match(pattern)
    if not match:
        raise ConfigError("api_endpoints", f"{pattern!r} is not a URL pattern such as https://api.example.com/* "
                                           "(literal host, then a port or path)")
    if match.group(1) == "http" and not local:
        raise ConfigError("api_endpoints", f"{pattern!r}: AWS's HTTP Task calls https:// endpoints only")


def _validate_bucket(field: str, name: str) -> None:
    if not 3 <= len(name) <= 63:
        raise ConfigError(field, f"S3 bucket names are 3-63 characters, {name!r} has {len(name)}")
    if not _BUCKET.match(name):
        raise ConfigError(
            field, f"{name!r}: S3 bucket names use a-z 0-9 . - and begin and end with a letter or digit"
        )
    if ".." in name:
        raise ConfigError(field, f"{name!r}: S3 bucket names must not hold two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise ConfigError(field, f"{name!r}: S3 bucket names must not look like an IP address")
    if name.startswith(_BUCKET_BAD_PREFIXES) or name.endswith(_BUCKET_BAD_SUFFIXES):
        raise ConfigError(field, f"{name!r}: S3 reserves this bucket name prefix or suffix")


def _validate_state_machine(field: str, name: str) -> None:
    if not 1 <= len(name) <= 80:
        raise ConfigError(field, f"state machine names are 1-80 characters, {name!r} has {len(name)}")
    bad = _STATE_MACHINE_FORBIDDEN.search(name)
    if bad:
        raise ConfigError(field, f"{name!r}: state machine names must not contain {bad.group()!r}")
