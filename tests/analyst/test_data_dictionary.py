"""The data dictionary is the one statement of the output's columns: layout, README, catalog."""

from __future__ import annotations

from pathlib import Path

from toolkit import layout, results, spec
from toolkit.config import StackConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_dictionary_states_every_output_column_in_order() -> None:
    assert tuple(c.name for c in layout.DATA_DICTIONARY) == layout.OUTPUT_COLUMNS
    assert all(c.meaning.endswith(".") and c.type in ("string", "array<string>") for c in layout.DATA_DICTIONARY)
    assert {c.name for c in layout.DATA_DICTIONARY if c.type.startswith("array")} == set(layout.LIST_COLUMNS)
    assert list(results.data_dictionary()["name"]) == list(layout.OUTPUT_COLUMNS)


def test_the_readme_holds_the_dictionary_table() -> None:
    assert results.data_dictionary_markdown() in README.read_text(encoding="utf-8")


def test_the_catalog_table_takes_its_columns_and_comments_from_the_dictionary() -> None:
    table = spec.catalog_table_input(StackConfig(stack_name="dict-test"))
    columns = table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]
    assert sorted((c["Name"], c["Type"], c["Comment"]) for c in columns) == sorted(
        (c.name, c.type, c.meaning) for c in layout.DATA_DICTIONARY)
    assert table["StorageDescriptor"]["Location"].endswith(f"/{layout.CONSOLIDATED_PREFIX}")
    assert StackConfig(stack_name="dict-test").catalog_database == "dict_test_output"
