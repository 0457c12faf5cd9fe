"""``getResolvedOptions`` with AWS Glue's rules, so a job script that breaks on Glue breaks locally.

What Glue's parser does (AWS Glue developer guide, "Accessing parameters using getResolvedOptions"
and "Using job parameters in AWS Glue jobs"; the rules below follow the ``awsglue.utils`` module of
the aws-glue-libs project, as its behaviour, not its code):

- ``options`` names the arguments the script wants, without the leading ``--``. Each one is
  required: a missing one raises :class:`GlueArgumentError` (argparse's message, e.g.
  ``the following arguments are required: --task_id``).
- Names Glue passes and owns are reserved: asking for one raises
  ``RuntimeError("Using reserved arguments <name>")`` before anything is parsed. They are
  ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``job-bookmark-option``,
  ``continuation-option``, ``job-bookmark-from``, ``job-bookmark-to``, ``encryption-type`` and
  ``enable-data-lineage``. ``JOB_NAME`` is not reserved: a script asks for it like any other.
- Glue's own arguments are returned without being asked: ``JOB_ID``, ``JOB_RUN_ID``,
  ``SECURITY_CONFIGURATION``, ``job_bookmark_option`` (default ``job-bookmark-disable``, or the
  one translated from a legacy ``--continuation-option``), ``job_bookmark_from``/``_to``,
  ``encryption_type``, ``enable_data_lineage``, ``TempDir`` and ``RedshiftTempDir`` (each set
  from the other); those Glue did not pass are ``None``.
- ``--name value`` and ``--name=value`` both work (argparse, which also accepts an unambiguous
  prefix of a name); arguments nobody asked for are ignored; keys with ``-`` come back with ``_``.
- ``--job-bookmark-option job-bookmark-pause`` needs both ``--job-bookmark-from`` and
  ``--job-bookmark-to`` or neither; any other bookmark option refuses both together.
"""

from __future__ import annotations

import argparse
from typing import Sequence

__all__ = ["GlueArgumentError", "getResolvedOptions", "RESERVED_OPTIONS"]

_BOOKMARK = "--job-bookmark-option"
_BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
_CONTINUATION = "--continuation-option"
_CONTINUATION_CHOICES = ("continuation-enabled", "continuation-readonly", "continuation-ignore")
_BOOKMARK_RANGE = ("--job-bookmark-from", "--job-bookmark-to")
_RUN_IDENTITY = ("--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION")
_ENCRYPTION = "--encryption-type"
_DATA_LINEAGE = "--enable-data-lineage"
_TEMP_DIRS = ("TempDir", "RedshiftTempDir")

# Reserved name (as a script would request it) -> how Glue's error names it, in the order Glue
# checks them: the bookmark options are named without their dashes, the others with.
RESERVED_OPTIONS: dict[str, str] = {
    _CONTINUATION[2:]: _CONTINUATION[2:],
    _BOOKMARK[2:]: _BOOKMARK[2:],
    **{flag[2:]: flag for flag in _BOOKMARK_RANGE},
    **{flag[2:]: flag for flag in _RUN_IDENTITY},
    _ENCRYPTION[2:]: _ENCRYPTION,
    _DATA_LINEAGE[2:]: _DATA_LINEAGE,
}


class GlueArgumentError(Exception):
    """The job's arguments do not satisfy what the script asked for (Glue's own exception name)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, as Glue's parser does."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str | None]:  # noqa: N802 - Glue's name
    """Resolve ``options`` (names without ``--``) from ``args`` (``sys.argv``) the way Glue does."""
    for name, shown in RESERVED_OPTIONS.items():
        if name in options:
            raise RuntimeError(f"Using reserved arguments {shown}")

    parser = _Parser()
    parser.add_argument(_BOOKMARK, choices=_BOOKMARK_CHOICES, required=False)
    parser.add_argument(_CONTINUATION, choices=_CONTINUATION_CHOICES, required=False)
    for flag in (*_BOOKMARK_RANGE, *_RUN_IDENTITY, _DATA_LINEAGE):
        parser.add_argument(flag, required=False)
    parser.add_argument(_ENCRYPTION, choices=("sse-s3",))
    for name in _TEMP_DIRS:
        parser.add_argument(f"--{name}", required=False)
    for name in options:
        if name not in _TEMP_DIRS:  # TempDir is optional even when asked for
            parser.add_argument(f"--{name}", required=True)

    known, _unknown = parser.parse_known_args(list(args)[1:])
    resolved: dict[str, str | None] = vars(known)

    if resolved["TempDir"] is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved["RedshiftTempDir"] is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]

    continuation = resolved.pop("continuation_option")
    if resolved["job_bookmark_option"] is None:
        resolved["job_bookmark_option"] = (
            _BOOKMARK_CHOICES[_CONTINUATION_CHOICES.index(continuation)] if continuation else "job-bookmark-disable")

    absent = [flag for flag in _BOOKMARK_RANGE if resolved[flag[2:].replace("-", "_")] is None]
    if resolved["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(_BOOKMARK_RANGE))
    return resolved
