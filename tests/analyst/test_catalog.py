"""The output's Data Catalog table: deployed from the data dictionary, each run's partition added by
the Glue script's catalog step, read back through awswrangler's catalog readers (moto's Glue catalog)."""

from __future__ import annotations

import awswrangler as wr
import pytest

from toolkit import aws, layout, results, spec
from toolkit.resources import CatalogTable, Clients

from .conftest import FIRST, SECOND, TASK, glue_script


@pytest.fixture(scope="module")
def catalog(output):
    """The table deployed as deploy does, and both runs' partitions added as the Glue job does."""
    cfg = output.config
    clients = Clients.create(cfg, output.stack.session())
    table = CatalogTable(cfg, spec.stack_spec(cfg).catalog, {spec.STACK_TAG: cfg.stack_name})
    assert table.current(clients) is None
    table.create(clients)
    glue = glue_script()
    for run in (FIRST, SECOND, SECOND):  # the second run consolidated twice: its partition is pointed again
        args = glue.JobArgs(task_id=TASK, run_id=run, work_bucket=cfg.work_bucket, output_bucket=cfg.output_bucket,
                            locations_table=cfg.locations_table, catalog_database=cfg.catalog_database,
                            catalog_table=cfg.catalog_table)
        name = glue.register_partition(clients.glue, args, f"s3://{cfg.output_bucket}/{args.output_prefix}")
        assert name == f"{cfg.catalog_database}.{cfg.catalog_table}/task_id={TASK}/run_id={run}"
    yield clients, table
    table.delete(clients)
    assert table.current(clients) is None


def test_the_table_holds_the_data_dictionary_as_column_comments(output, catalog) -> None:
    clients, table = catalog
    found = table.current(clients)
    assert table.differences(clients, found) == []
    columns = found["StorageDescriptor"]["Columns"] + found["PartitionKeys"]
    meanings = {c.name: c.meaning for c in layout.DATA_DICTIONARY}
    assert {c["Name"]: c["Comment"] for c in columns} == meanings
    assert [c["Name"] for c in found["PartitionKeys"]] == ["task_id", "run_id"]
    assert all(len(c["Comment"]) <= 255 for c in columns)  # Glue's limit on a column comment
    partitions = clients.glue.get_partitions(DatabaseName=output.config.catalog_database,
                                             TableName=output.config.catalog_table)["Partitions"]
    assert sorted(p["Values"][1] for p in partitions) == [FIRST, SECOND]


def test_awswrangler_reads_the_table_back_as_the_ground_truth(output, catalog) -> None:
    cfg = output.config
    with aws.wrangler_endpoints(cfg) as session:
        frame = wr.s3.read_parquet_table(table=cfg.catalog_table, database=cfg.catalog_database,
                                         partition_filter=lambda p: p["run_id"] == SECOND, boto3_session=session)
        every = wr.s3.read_parquet_table(table=cfg.catalog_table, database=cfg.catalog_database,
                                         columns=["discount_code"], boto3_session=session)
        listed = wr.catalog.get_partitions(database=cfg.catalog_database, table=cfg.catalog_table,
                                           boto3_session=session)
    check = results.compare_with_ground_truth(frame, output.truth(output.second_ids))
    assert check.ok, check.summary()
    assert len(every) == len(output.truth(output.first_ids)) + len(output.truth(output.second_ids))
    assert len(listed) == 2


def test_a_missing_table_fails_the_catalog_step_naming_it(output) -> None:
    cfg = output.config
    glue = glue_script()
    args = glue.JobArgs(task_id=TASK, run_id=FIRST, work_bucket=cfg.work_bucket, output_bucket=cfg.output_bucket,
                        locations_table=cfg.locations_table, catalog_database="nodb", catalog_table="none")
    with pytest.raises(glue.ConsolidationError, match=r"^--catalog_table: cannot add the run's partition to nodb.none"):
        glue.register_partition(output.stack.client("glue"), args, "s3://x/y/")
    with pytest.raises(glue.ConsolidationError, match="--catalog_table: needed"):
        glue.parse_args(["consolidate", "--task_id", "t", "--run_id", "r", "--work_bucket", "w", "--output_bucket", "o",
                         "--locations_table", "l", "--catalog_database", "db"])
