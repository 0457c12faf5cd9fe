"""The three workflow templates in ``asl/`` and how they are filled from a StackConfig.

Templates hold ``${Placeholder}`` tokens inside JSON strings; :func:`render_definitions` replaces
each one with a value from the config (names, ARNs, run defaults) and changes nothing else.
:func:`lint_template` keeps templates honest: no literal ARNs, bucket or table names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.config import StackConfig
from toolkit.errors import ToolkitError

__all__ = ["Workflow", "WORKFLOWS", "ASL_DIR", "placeholder_values", "render_definitions", "render", "lint_template"]

ASL_DIR = Path(__file__).resolve().parent.parent / "asl"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


@dataclass(frozen=True)
class Workflow:
    """One state machine: the config field holding its name, its template file and its type."""

    name_field: str
    template: str
    type: str  # STANDARD or EXPRESS

    def name(self, config: StackConfig) -> str:
        return getattr(config, self.name_field)

    def arn(self, config: StackConfig) -> str:
        return config.state_machine_arn(self.name(config))

    def template_text(self) -> str:
        return (ASL_DIR / self.template).read_text()


#: At most this many page-fetch batches per location: an inline Map iteration of the extraction
#: adds about 11 history events, so a location stays near 11,000 of the 25,000 events a
#: STANDARD execution may hold, whatever its size (batches grow instead).
MAX_BATCHES_PER_LOCATION = 1000

#: A part gathers consecutive pages while their rows, written as JSON, stay within this many
#: characters (a single larger page is a part of its own). JSONata counts characters; each takes
#: at most 4 bytes of UTF-8, or 2 where the putObject arguments escape it, so a part's arguments
#: (with keys and names at their longest) stay under the 256 KiB payload quota on AWS too.
PART_CHARACTERS = 64_000

# In dependency order: a workflow's children come before it.
WORKFLOWS: tuple[Workflow, ...] = (
    Workflow("page_fetch_state_machine", "page-fetch.asl.json", "EXPRESS"),
    Workflow("extraction_state_machine", "extraction.asl.json", "STANDARD"),
    Workflow("aggregator_state_machine", "aggregator.asl.json", "STANDARD"),
)


class TemplateError(ToolkitError):
    """A workflow template has an unknown or unfilled placeholder, or a literal resource name."""


def placeholder_values(config: StackConfig, connection_arn: str) -> dict[str, str]:
    """Every placeholder the templates may use, rendered as text for its place in the template."""
    by_field = {w.name_field: w for w in WORKFLOWS}
    return {
        "Partition": config.partition,  # integration ARNs: arn:${Partition}:states:::...
        "ConnectionArn": connection_arn,
        "LocationsTable": config.locations_table,
        "TasksTable": config.tasks_table,
        "WorkBucket": config.work_bucket,
        "OutputBucket": config.output_bucket,
        "GlueJob": config.glue_job,
        "PageFetchStateMachineArn": by_field["page_fetch_state_machine"].arn(config),
        "ExtractionStateMachineArn": by_field["extraction_state_machine"].arn(config),
        # Run defaults appear inside JSONata expressions, so they are JSONata literals.
        "DefaultMaxConcurrency": str(config.max_concurrency),
        "DefaultApiConcurrency": str(config.api_concurrency),
        "DefaultBatchConcurrency": str(max(1, config.api_concurrency // config.max_concurrency)),
        "PagesPerBatch": str(config.pages_per_batch),
        "MaxBatchesPerLocation": str(MAX_BATCHES_PER_LOCATION),
        "PartCharacters": str(PART_CHARACTERS),
        "DefaultToleratedFailurePercentage": _number(config.tolerated_failure_percentage),
        "DefaultPageLimit": str(config.page_limit),
        "DefaultDataTypes": "[" + ", ".join(f"'{t}'" for t in config.data_types) + "]",
    }


def render(template: str, values: dict[str, str]) -> str:
    """Fill one template's placeholders in its JSON strings; fail on any unknown placeholder."""
    try:
        tree = json.loads(template)
    except ValueError as exc:
        raise TemplateError(f"template is not valid JSON: {exc}") from None
    return json.dumps(_fill(tree, values), indent=2, ensure_ascii=False)


def render_definitions(config: StackConfig, connection_arn: str) -> dict[str, str]:
    """Each state machine's name mapped to its filled definition, in dependency order."""
    values = placeholder_values(config, connection_arn)
    return {w.name(config): render(w.template_text(), values) for w in WORKFLOWS}


# Every ARN in a template names its partition through ${Partition}, integration ARNs included:
# a literal arn:aws: is wrong in aws-cn and aws-us-gov.
_LITERAL_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:")
# Fields that name a resource: in a template their value must be exactly one placeholder.
_RESOURCE_FIELDS = {"TableName", "Bucket", "JobName", "StateMachineArn", "ConnectionArn"}


def lint_template(template: str) -> list[str]:
    """Problems in a template: literal ARNs (integration ARNs too: the partition varies) and
    resource-naming fields (TableName, Bucket, ...) that are not a placeholder."""
    problems = [
        f"literal ARN: {template[m.start():m.start() + 40]!r}" for m in _LITERAL_ARN.finditer(template)
    ]

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _RESOURCE_FIELDS and not (isinstance(item, str) and PLACEHOLDER.fullmatch(item)):
                    problems.append(f"{path}/{key}: resource name {item!r} is not a ${{Placeholder}}")
                walk(item, f"{path}/{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}/{index}")

    walk(json.loads(template), "")
    return problems


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: _lookup(m.group(1), values), value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _lookup(name: str, values: dict[str, str]) -> str:
    if name not in values:
        raise TemplateError(f"${{{name}}}: unknown placeholder (known: {', '.join(sorted(values))})")
    return values[name]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
