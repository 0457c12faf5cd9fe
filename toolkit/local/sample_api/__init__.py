"""The sample third-party location API: a real loopback HTTP server with deterministic data,
API-key/Basic/OAuth auth, reproducible fault injection, ground truth and request accounting.

Others depend on these names::

    from toolkit.local.sample_api import SampleApi, DatasetParams, FaultPlan, FaultRule, AuthConfig, Record
    with SampleApi(dataset=DatasetParams(seed=7), auth=AuthConfig.api_key("secret")) as api:
        api.url, api.location_ids(), api.ground_truth(), api.set_faults(plan), api.request_counts()
"""

from .accounting import RequestCounts, RequestKey
from .api import ADMIN_TOKEN_ENV, DEFAULT_PORT, SampleApi
from .app import ADMIN_TOKEN_HEADER, DEFAULT_LIMIT, MAX_LIMIT
from .auth import AuthConfig
from .dataset import DATA_TYPES, Dataset, DatasetError, DatasetParams, Record, records_frame
from .faults import FAULT_KINDS, FaultPlan, FaultPlanError, FaultRule
from .locations_csv import DEFAULT_API_URL, DEFAULT_TASK_ID, read_locations_csv, write_locations_csv

__all__ = [
    "SampleApi", "DatasetParams", "Dataset", "DatasetError", "Record", "records_frame", "DATA_TYPES",
    "FaultPlan", "FaultRule", "FaultPlanError", "FAULT_KINDS", "AuthConfig", "RequestCounts", "RequestKey",
    "ADMIN_TOKEN_ENV", "ADMIN_TOKEN_HEADER", "DEFAULT_PORT", "DEFAULT_LIMIT", "MAX_LIMIT", "DEFAULT_API_URL", "DEFAULT_TASK_ID",
    "write_locations_csv", "read_locations_csv",
]
