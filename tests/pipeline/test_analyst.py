"""The analyst's view of a real run: load_output and the Data Catalog table after the Glue job."""

from __future__ import annotations

import awswrangler as wr
import pandas as pd
import pytest

from toolkit import aws, results

pytestmark = pytest.mark.slow


def test_a_run_is_read_back_through_load_output_and_the_catalog(pipeline) -> None:
    ids = pipeline.stack.sample_api.location_ids()[:6]
    pipeline.load("analyst", ids)
    run, final = pipeline.run("analyst")
    assert final.status == "SUCCEEDED", (final.error, final.cause)
    truth = pipeline.stack.sample_api.ground_truth_frame(ids)

    frame = results.load_output("analyst", config=pipeline.config)
    check = results.compare_with_ground_truth(frame, truth)
    assert check.ok, check.summary()
    assert isinstance(frame["location_id"].dtype, pd.CategoricalDtype)
    assert frame["extracted_at"].dtype == "datetime64[ns, UTC]"

    manifest = results.load_manifest(pipeline.config, "analyst")
    cfg = pipeline.config
    assert manifest["catalog_partition"] == (f"{cfg.catalog_database}.{cfg.catalog_table}/task_id=analyst/"
                                             f"run_id={manifest['run_id']}")
    with aws.wrangler_endpoints(cfg) as session:
        table = wr.s3.read_parquet_table(table=cfg.catalog_table, database=cfg.catalog_database,
                                         partition_filter=lambda p: p["task_id"] == "analyst", boto3_session=session)
    assert results.compare_with_ground_truth(table, truth).ok
