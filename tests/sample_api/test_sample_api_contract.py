"""The sample API's contract, pagination edges, dataset determinism and ground truth,
exercised over real HTTP against a server on a free loopback port."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.local.sample_api import (ADMIN_TOKEN_HEADER, DATA_TYPES, MAX_LIMIT, Dataset, DatasetError, DatasetParams,
                                      SampleApi)

PARAMS = DatasetParams(seed=11, locations=6, max_records=250, empty_location_share=0.3)


def http(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """(status, headers, raw body) of one real HTTP request; errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_json(url: str, headers: dict | None = None):
    status, _, body = http(url, headers=headers)
    return status, json.loads(body)


def admin(api: SampleApi) -> dict:
    return {ADMIN_TOKEN_HEADER: api.admin_token}


@pytest.fixture(scope="module")
def api():
    with SampleApi(dataset=PARAMS) as server:
        yield server


def page_through(api: SampleApi, location_id: str, state: str, limit: int) -> list[dict]:
    results, offset = [], 0
    while True:
        status, page = get_json(f"{api.url}/{location_id}/get-data?state={state}&limit={limit}&offset={offset}")
        assert status == 200
        assert page["count"] == len(page["results"])
        results.extend(page["results"])
        if page["count"] < limit:
            return results
        offset += limit


def test_summary_shape_matches_the_dataset(api):
    for location_id in api.location_ids():
        status, body = get_json(f"{api.url}/{location_id}/get-summary")
        assert status == 200
        assert set(body) == {"states"}
        assert body["states"] == api.dataset.sizes(location_id)
        assert set(body["states"]) == set(DATA_TYPES)


def test_data_page_shape(api):
    location_id = next(i for i in api.location_ids() if api.dataset.sizes(i)["failed"] >= 3)
    status, headers, raw = http(f"{api.url}/{location_id}/get-data?state=failed&limit=3&offset=0")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    page = json.loads(raw.decode("utf-8"))
    assert page["count"] == 3 and len(page["results"]) == 3
    for item in page["results"]:
        assert set(item) == {"resourceKey", "state", "errors"}
        assert item["state"] == "failed"
        assert isinstance(item["resourceKey"], str) and item["resourceKey"]
        assert all(set(e) == {"message"} and isinstance(e["message"], str) for e in item["errors"])


def test_paging_returns_exactly_the_ground_truth(api):
    truth = {(r.location_id, r.data_type, r.resourceKey, r.errors) for r in api.ground_truth()}
    fetched = []
    for location_id in api.location_ids():
        for state in DATA_TYPES:
            for item in page_through(api, location_id, state, limit=37):
                fetched.append((location_id, item["state"], item["resourceKey"],
                                tuple(e["message"] for e in item["errors"])))
    assert len(fetched) == len(set(fetched)) == len(truth)
    assert set(fetched) == truth


def test_last_page_exactly_at_a_multiple_of_limit(api):
    location_id = next(i for i in api.location_ids() if api.dataset.sizes(i)["rejected"] > 1)
    size = api.dataset.sizes(location_id)["rejected"]
    limit = size  # one full page, then an empty one ends the paging
    status, full = get_json(f"{api.url}/{location_id}/get-data?state=rejected&limit={limit}&offset=0")
    assert status == 200 and full["count"] == limit
    status, empty = get_json(f"{api.url}/{location_id}/get-data?state=rejected&limit={limit}&offset={limit}")
    assert status == 200 and empty == {"count": 0, "results": []}
    assert len(page_through(api, location_id, "rejected", limit)) == size


def test_offset_past_the_end_gives_count_zero(api):
    location_id = api.location_ids()[0]
    size = api.dataset.sizes(location_id)["failed"]
    status, body = get_json(f"{api.url}/{location_id}/get-data?state=failed&limit=10&offset={size + 1000}")
    assert status == 200 and body == {"count": 0, "results": []}


@pytest.mark.parametrize("query, parameter", [
    ("state=failed&limit=0&offset=0", "limit"),
    ("state=failed&limit=-5&offset=0", "limit"),
    ("state=failed&limit=abc&offset=0", "limit"),
    ("state=failed&limit=1.5&offset=0", "limit"),
    (f"state=failed&limit={MAX_LIMIT + 1}&offset=0", "limit"),
    ("state=failed&limit=10&offset=x", "offset"),
    ("state=failed&limit=10&offset=-1", "offset"),
    ("state=pending&limit=10&offset=0", "state"),
    ("limit=10&offset=0", "state"),
])
def test_bad_parameters_get_400_naming_the_parameter(api, query, parameter):
    status, body = get_json(f"{api.url}/{api.location_ids()[0]}/get-data?{query}")
    assert status == 400
    assert body["parameter"] == parameter
    assert parameter in body["message"]


def test_limit_at_maximum_is_accepted(api):
    status, body = get_json(f"{api.url}/{api.location_ids()[0]}/get-data?state=failed&limit={MAX_LIMIT}")
    assert status == 200 and body["count"] <= MAX_LIMIT


@pytest.mark.parametrize("path", ["/loc-999/get-summary", "/nowhere/get-data?state=failed&limit=1&offset=0",
                                  "/loc-000/get-summary"])
def test_unknown_location_gets_404_json(api, path):
    status, body = get_json(api.url + path)
    assert status == 404
    assert body["error"] == "NotFound" and "unknown location" in body["message"]


def test_ground_truth_endpoint_matches_python(api):
    ids = api.location_ids()[1:3]
    status, body = get_json(f"{api.url}/_admin/ground-truth?locations={','.join(ids)}", admin(api))
    assert status == 200
    assert body["records"] == [r.to_dict() for r in api.ground_truth(ids)]
    assert {r["location_id"] for r in body["records"]} <= set(ids)
    status, body = get_json(f"{api.url}/_admin/ground-truth?locations=loc-404", admin(api))
    assert status == 404 and body["parameter"] == "locations"


def test_ground_truth_frame_columns(api):
    frame = api.ground_truth_frame(api.location_ids()[:2])
    assert list(frame.columns) == ["location_id", "data_type", "resourceKey", "messages"]
    assert len(frame) == len(api.ground_truth(api.location_ids()[:2]))


def test_request_counts_per_page_and_reset(api):
    api.reset_counts()
    location_id = api.location_ids()[0]
    for _ in range(3):
        http(f"{api.url}/{location_id}/get-data?state=failed&limit=5&offset=5")
    http(f"{api.url}/{location_id}/get-summary")
    counts = api.request_counts()
    assert counts.total == 4
    assert counts.get(location_id, "get-data", "failed", 5) == 3
    assert counts.get(location_id, "get-summary") == 1
    status, body = get_json(f"{api.url}/_admin/requests", admin(api))
    assert status == 200 and body["total"] == 4
    assert {"location_id": location_id, "endpoint": "get-data", "state": "failed", "offset": 5,
            "count": 3} in body["requests"]
    http(f"{api.url}/_admin/requests", method="DELETE", headers=admin(api))
    assert api.request_counts().total == 0


def test_dataset_is_deterministic_and_seed_dependent():
    a, b = Dataset(PARAMS), Dataset(PARAMS)
    assert a.records() == b.records()
    other = Dataset(DatasetParams(seed=12, locations=6, max_records=250, empty_location_share=0.3))
    assert other.records() != a.records()


def test_default_dataset_has_the_promised_variety():
    dataset = Dataset(DatasetParams())
    ids = dataset.location_ids()
    assert len(ids) == 25 and ids[0] == "loc-001" and ids[-1] == "loc-025"
    sizes = [dataset.sizes(i) for i in ids]
    assert any(s == {"failed": 0, "rejected": 0} for s in sizes)
    assert all(0 <= n <= 2000 for s in sizes for n in s.values())
    records = dataset.records()
    for data_type in DATA_TYPES:
        keys = [(r.location_id, r.resourceKey) for r in records if r.data_type == data_type]
        assert len(keys) == len(set(keys))
    messages = [m for r in records for m in r.errors]
    for needle in ('"', ",", "\n", "é", "✓"):
        assert any(needle in m for m in messages), needle
    assert {len(r.errors) for r in records} == {0, 1, 2}


def test_dataset_is_lazy_and_cache_is_bounded():
    params = DatasetParams(locations=5000, max_records=1000, cache_chunks=8, empty_location_share=0.0,
                           empty_type_share=0.0)
    dataset = Dataset(params)
    ids = dataset.location_ids()
    assert len(ids) == 5000 and ids[0] == "loc-0001" and ids[-1] == "loc-5000"
    assert len(dataset._cache) == 0
    for location_id in ids[:20]:
        dataset.page(location_id, "failed", 0, 10)
    assert len(dataset._cache) == 8


def test_pages_across_chunk_boundaries_match_the_records():
    params = DatasetParams(seed=2, locations=2, max_records=1000, empty_location_share=0.0, empty_type_share=0.0,
                           cache_chunks=3)
    dataset, fresh = Dataset(params), Dataset(params)
    location_id = dataset.location_ids()[0]
    size = dataset.sizes(location_id)["rejected"]
    expected = [json.dumps(r.to_api(), ensure_ascii=False, separators=(",", ":")).encode()
                for r in fresh.records([location_id]) if r.data_type == "rejected"]
    assert len(expected) == size
    for offset, limit in ((0, size), (95, 10), (199, 2), (size - 3, 50), (size, 5), (150, 1)):
        assert dataset.page(location_id, "rejected", offset, limit) == expected[offset:offset + limit]


@pytest.mark.parametrize("values, field", [
    ({"locations": -1}, "dataset.locations"),
    ({"max_records": "many"}, "dataset.max_records"),
    ({"empty_location_share": 1.5}, "dataset.empty_location_share"),
    ({"id_prefix": "a/b"}, "dataset.id_prefix"),
    ({"colour": "blue"}, "dataset.colour"),
])
def test_bad_dataset_parameters_name_the_field(values, field):
    with pytest.raises(DatasetError, match=field.replace(".", r"\.")):
        DatasetParams.from_dict(values)


def test_concurrent_clients_get_consistent_pages(api):
    location_id = max(api.location_ids(), key=lambda i: api.dataset.sizes(i)["failed"])
    expected = page_through(api, location_id, "failed", 20)
    results: list[list[dict]] = []

    def worker() -> None:
        results.append(page_through(api, location_id, "failed", 20))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 6 and all(r == expected for r in results)


def test_stop_frees_the_port_and_start_again_works():
    api = SampleApi(dataset=PARAMS)
    api.start()
    url = api.url
    assert get_json(url + "/_admin/health")[1]["locations"] == PARAMS.locations
    api.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/_admin/health", timeout=2)


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(0, 700), limit=st.integers(1, 400), cache=st.integers(1, 5))
def test_any_page_is_the_matching_slice_of_the_ground_truth(offset, limit, cache):
    params = DatasetParams(seed=4, locations=1, max_records=600, empty_location_share=0.0, empty_type_share=0.0,
                           cache_chunks=cache)
    dataset = Dataset(params)
    location_id = dataset.location_ids()[0]
    truth = [r.to_api() for r in dataset.records([location_id]) if r.data_type == "failed"]
    page = [json.loads(b) for b in dataset.page(location_id, "failed", offset, limit)]
    assert page == truth[offset:offset + limit]
