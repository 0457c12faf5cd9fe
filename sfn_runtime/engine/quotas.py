"""Step Functions service quotas the local runtime enforces, as AWS documents them.

The values are AWS's defaults; docs/quotas.md lists every quota the pipeline could meet, where
the runtime enforces it and the test that shows it. Tests lower a quota here to reach it quickly
(one test per quota shows the default is AWS's). A caller may lift the payload, history and
variable quotas explicitly (``Quotas.lifted()``); the bench does, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True)
class Quotas:
    """Limits checked at run time; ``None`` means not enforced."""

    max_payload_bytes: int | None = 256 * KIB  # state/execution input and output, task results
    max_history_events: int | None = 25_000  # per execution; the execution fails when reached
    max_variable_bytes: int | None = 256 * KIB  # one variable's value
    max_assign_bytes: int | None = 256 * KIB  # all values of one Assign field together
    max_variables_total_bytes: int | None = 10 * KIB * KIB  # all variables stored in one execution
    max_name_length: int = 80  # state machine and execution names
    max_definition_bytes: int | None = 1024 * KIB
    max_express_seconds: float | None = 300  # an EXPRESS execution runs at most 5 minutes
    max_map_run_concurrency: int = 10_000  # child executions of one Map Run running at once
    max_batch_bytes: int = 256 * KIB  # ItemBatcher's MaxInputBytesPerBatch at most
    max_csv_header_bytes: int = 10 * KIB  # ItemReader: CSV headers of up to 10 KiB

    @classmethod
    def lifted(cls) -> "Quotas":
        """No payload, history or variable limits: for local benchmarks only (AWS enforces them)."""
        return cls(
            max_payload_bytes=None,
            max_history_events=None,
            max_variable_bytes=None,
            max_assign_bytes=None,
            max_variables_total_bytes=None,
            max_definition_bytes=None,
        )
