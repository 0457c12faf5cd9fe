"""``sample_data/locations.csv``: the sample task's locations, written from a dataset, read back checked.

Columns: ``task_id, location_id, api_url, name, enabled`` (the original sample's three fields
plus a display name and an on/off switch). ``api_url`` is the sample API's base URL.
"""

from __future__ import annotations

import csv
from pathlib import Path

from toolkit.errors import ToolkitError

from .api import DEFAULT_PORT
from .dataset import Dataset, DatasetParams

__all__ = ["LOCATION_COLUMNS", "DEFAULT_API_URL", "DEFAULT_TASK_ID", "write_locations_csv",
           "read_locations_csv"]

LOCATION_COLUMNS = ("task_id", "location_id", "api_url", "name", "enabled")
DEFAULT_API_URL = f"https://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_TASK_ID = "sample-task-001"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def write_locations_csv(path: str | Path, params: DatasetParams | None = None, *,
                        task_id: str = DEFAULT_TASK_ID, api_url: str = DEFAULT_API_URL) -> Path:
    """Write one row per location of the dataset, all enabled; written whole or not at all."""
    if not task_id:
        raise ToolkitError("task_id: must be non-empty")
    if not api_url.startswith(("http://", "https://")):
        raise ToolkitError(f"api_url: must start with http:// or https://, got {api_url!r}")
    dataset = Dataset(params)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LOCATION_COLUMNS)
        for location_id in dataset.location_ids():
            writer.writerow([task_id, location_id, api_url.rstrip("/"), dataset.name(location_id), "true"])
    tmp.replace(path)
    return path


def read_locations_csv(path: str | Path):  # -> pandas.DataFrame
    """Read and check a locations CSV; ``enabled`` becomes a bool column."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except OSError as exc:
        raise ToolkitError(f"locations file {path}: {exc.strerror or exc}") from None
    missing = [c for c in LOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ToolkitError(f"locations file {path}: missing column {missing[0]!r}")
    for column in ("task_id", "location_id", "api_url"):
        empty = frame.index[frame[column].str.strip() == ""]
        if len(empty):
            raise ToolkitError(f"locations file {path}: row {empty[0] + 2}: {column} is empty")
    duplicated = frame.duplicated(["task_id", "location_id"])
    if duplicated.any():
        row = frame.index[duplicated][0]
        raise ToolkitError(f"locations file {path}: row {row + 2}: duplicate location_id "
                           f"{frame.at[row, 'location_id']!r} for its task_id")
    flags = frame["enabled"].str.strip().str.lower()
    bad = frame.index[~flags.isin(_TRUE | _FALSE)]
    if len(bad):
        raise ToolkitError(f"locations file {path}: row {bad[0] + 2}: enabled must be true or false")
    frame["enabled"] = flags.isin(_TRUE)
    return frame
