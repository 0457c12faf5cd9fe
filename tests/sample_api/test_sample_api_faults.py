"""Each fault mode of the sample API over real HTTP, its scoping (locations, endpoints, first N
requests), run-time changes through Python and the admin route, and reproducibility from the seed."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from toolkit.local.sample_api import ADMIN_TOKEN_HEADER, DatasetParams, FaultPlan, FaultPlanError, FaultRule, SampleApi

PARAMS = DatasetParams(seed=5, locations=4, max_records=60, empty_location_share=0.0, empty_type_share=0.0)


def http(url: str, method: str = "GET", body: bytes | None = None, timeout: float = 10,
         headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={**({"Content-Type": "application/json"} if body else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.fixture(scope="module")
def api():
    with SampleApi(dataset=PARAMS) as server:
        yield server


@pytest.fixture(autouse=True)
def no_faults_after(api):
    yield
    api.set_faults(None)


def page_url(api: SampleApi, location_id: str | None = None, offset: int = 0, limit: int = 10) -> str:
    location_id = location_id or api.location_ids()[0]
    return f"{api.url}/{location_id}/get-data?state=failed&limit={limit}&offset={offset}"


def statuses(api: SampleApi, url: str, n: int) -> list[int]:
    return [http(url)[0] for _ in range(n)]


def plan(*rules: FaultRule, seed: int = 1) -> FaultPlan:
    return FaultPlan(seed=seed, rules=rules)


@pytest.mark.parametrize("status", [500, 503])
def test_error_fault_answers_the_status_as_json(api, status):
    api.set_faults(plan(FaultRule("error", status=status)))
    code, _, body = http(page_url(api))
    assert code == status and json.loads(body)["error"] == "InjectedFault"


def test_error_rate_fires_on_some_requests_only(api):
    api.set_faults(plan(FaultRule("error", rate=0.5)))
    got = statuses(api, page_url(api), 40)
    assert set(got) == {200, 500}


def test_throttle_gives_429_with_retry_after(api):
    api.set_faults(plan(FaultRule("throttle", retry_after=7)))
    code, headers, body = http(page_url(api))
    assert code == 429 and headers["Retry-After"] == "7"
    assert json.loads(body)["error"] == "TooManyRequests"


def test_malformed_body_is_not_json(api):
    api.set_faults(plan(FaultRule("malformed")))
    for url in (page_url(api), f"{api.url}/{api.location_ids()[0]}/get-summary"):
        code, headers, body = http(url)
        assert code == 200 and headers["Content-Type"].startswith("application/json")
        with pytest.raises(ValueError):
            json.loads(body)


def test_count_mismatch_disagrees_with_results(api):
    api.set_faults(plan(FaultRule("count_mismatch", count_delta=-1)))
    full = json.loads(http(page_url(api, limit=10))[2])
    assert len(full["results"]) == 10 and full["count"] == 9
    past_end = json.loads(http(page_url(api, offset=10_000))[2])
    assert past_end["results"] == [] and past_end["count"] == 1
    summary = json.loads(http(f"{api.url}/{api.location_ids()[0]}/get-summary")[2])
    assert summary["states"] == api.dataset.sizes(api.location_ids()[0])  # get-data only


def test_not_found_fault_hides_a_real_location(api):
    hidden, visible = api.location_ids()[:2]
    api.set_faults(plan(FaultRule("not_found", locations=(hidden,))))
    assert http(f"{api.url}/{hidden}/get-summary")[0] == 404
    assert http(f"{api.url}/{visible}/get-summary")[0] == 200
    assert len(api.ground_truth([hidden])) == sum(api.dataset.sizes(hidden).values())


def test_latency_delays_but_answers(api):
    api.set_faults(plan(FaultRule("latency", seconds=0.3)))
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        http(page_url(api), timeout=0.05)
    assert http(page_url(api), timeout=10)[0] == 200


def test_hang_outlasts_the_client_timeout_and_does_not_block_stop():
    with SampleApi(dataset=PARAMS, faults=plan(FaultRule("hang", seconds=120))) as api:
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            http(page_url(api), timeout=0.3)
    # leaving the block stopped the server although a request was still held for 120 s


def test_fault_scoped_to_locations_and_endpoints(api):
    bad, good = api.location_ids()[:2]
    api.set_faults(plan(FaultRule("error", locations=(bad,), endpoints=("get-data",))))
    assert statuses(api, page_url(api, bad), 5) == [500] * 5
    assert http(f"{api.url}/{bad}/get-summary")[0] == 200
    assert statuses(api, page_url(api, good), 5) == [200] * 5


def test_first_requests_per_location_then_recovers(api):
    location_id = api.location_ids()[2]
    api.set_faults(plan(FaultRule("error", status=503, locations=(location_id,), first_requests=3)))
    got = [http(page_url(api, location_id, offset=o))[0] for o in (0, 10, 0, 0, 10)]
    assert got == [503, 503, 503, 200, 200]


def test_first_requests_per_request_key(api):
    api.set_faults(plan(FaultRule("error", first_requests=1, per="request")))
    assert statuses(api, page_url(api, offset=0), 2) == [500, 200]
    assert statuses(api, page_url(api, offset=10), 2) == [500, 200]


def test_admin_route_sets_and_shows_the_plan(api):
    admin = {ADMIN_TOKEN_HEADER: api.admin_token}
    body = json.dumps({"seed": 9, "rules": [{"kind": "error", "status": 503, "locations": [api.location_ids()[0]]}]})
    code, _, raw = http(f"{api.url}/_admin/faults", method="POST", body=body.encode(), headers=admin)
    assert code == 200
    assert api.faults == FaultPlan(seed=9, rules=(FaultRule("error", status=503, locations=(api.location_ids()[0],)),))
    assert http(page_url(api))[0] == 503
    assert json.loads(http(f"{api.url}/_admin/faults", headers=admin)[2]) == json.loads(raw)
    code, _, raw = http(f"{api.url}/_admin/faults", method="POST", headers=admin,
                        body=json.dumps({"rules": [{"kind": "error", "rate": 2}]}).encode())
    assert code == 400 and "faults.rules[0].rate" in json.loads(raw)["message"]
    assert api.faults.seed == 9  # a rejected plan changes nothing


@pytest.mark.parametrize("token", [None, "wrong"])
def test_admin_routes_refuse_requests_without_the_token(api, token):
    """A web page (or anyone on the machine) can not turn faults off or read the ground truth."""
    api.set_faults(plan(FaultRule("error", status=503)))
    headers = {} if token is None else {ADMIN_TOKEN_HEADER: token}
    code, _, raw = http(f"{api.url}/_admin/faults", method="POST", body=b'{"rules": []}', headers=headers)
    assert code == 401 and json.loads(raw)["error"] == ("MissingAdminToken" if token is None else "InvalidAdminToken")
    assert len(api.faults.rules) == 1
    for path, method in (("/_admin/faults", "GET"), ("/_admin/ground-truth", "GET"), ("/_admin/requests", "GET"),
                         ("/_admin/requests", "DELETE")):
        assert http(api.url + path, method=method, headers=headers)[0] == 401
    assert http(api.url + "/_admin/health")[0] == 200  # a liveness probe reveals nothing
    api.set_faults(None)


def decisions(api: SampleApi, urls: list[str]) -> list[int]:
    return [http(u)[0] for u in urls]


def test_faults_reproducible_from_the_seed_and_independent_of_interleaving(api):
    a, b = page_url(api, offset=0), page_url(api, offset=10)
    rule = FaultRule("error", rate=0.5)
    api.set_faults(plan(rule, seed=42))
    only_a = decisions(api, [a] * 30)
    api.set_faults(plan(rule, seed=42))
    interleaved = decisions(api, [a, b] * 30)
    assert interleaved[0::2] == only_a  # the k-th request to a key decides the same way
    api.set_faults(plan(rule, seed=43))
    assert decisions(api, [a] * 30) != only_a


def test_counts_include_faulted_requests(api):
    api.reset_counts()
    location_id = api.location_ids()[1]
    api.set_faults(plan(FaultRule("error", locations=(location_id,), first_requests=2)))
    for _ in range(3):
        http(page_url(api, location_id, offset=20))
    assert api.request_counts().get(location_id, "get-data", "failed", 20) == 3


def test_plan_from_yaml_file(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text("seed: 3\nrules:\n  - kind: throttle\n    rate: 0.25\n    retry_after: 2\n"
                    "  - kind: latency\n    seconds: 0.01\n    locations: [loc-001]\n", encoding="utf-8")
    loaded = FaultPlan.from_file(path)
    assert loaded == FaultPlan(seed=3, rules=(FaultRule("throttle", rate=0.25, retry_after=2),
                                              FaultRule("latency", seconds=0.01, locations=("loc-001",))))
    assert FaultPlan.from_dict(loaded.to_dict()) == loaded


@pytest.mark.parametrize("values, field", [
    ({"rules": [{"kind": "explode"}]}, "faults.rules[0].kind"),
    ({"rules": [{"rate": 0.5}]}, "faults.rules[0].kind"),
    ({"rules": [{"kind": "error", "status": 404}]}, "faults.rules[0].status"),
    ({"rules": [{"kind": "hang"}]}, "faults.rules[0].seconds"),
    ({"rules": [{"kind": "error", "endpoints": ["get-all"]}]}, "faults.rules[0].endpoints"),
    ({"rules": [{"kind": "error", "per": "day"}]}, "faults.rules[0].per"),
    ({"rules": [{"kind": "error", "colour": "red"}]}, "faults.rules[0].colour"),
    ({"seed": "x"}, "faults.seed"),
    ({"rule": []}, "faults.rule"),
])
def test_bad_plan_names_the_field(values, field):
    with pytest.raises(FaultPlanError) as info:
        FaultPlan.from_dict(values)
    assert str(info.value).startswith(field)
