"""page_limit is bounded by what fits in a state's payload (256 KiB), with the sample API's rows."""

from __future__ import annotations

import json

from toolkit.config import MAX_PAGE_LIMIT, PAYLOAD_QUOTA_BYTES
from toolkit.local.sample_api import Dataset, DatasetParams


def _largest_row() -> dict:
    """The largest row the sample API serves for its default dataset."""
    dataset = Dataset(DatasetParams())
    largest = b""
    for location in dataset.location_ids():
        for data_type in ("failed", "rejected"):
            offset = 0
            while chunks := dataset.page(location, data_type, offset, 1000):
                largest = max([largest, *chunks], key=len)
                offset += 1000
    return json.loads(largest)


def _payloads(rows: list[dict]) -> dict[str, int]:
    """UTF-8 sizes of what the page-fetch workflow holds for one page, as it builds them."""
    body = {"count": len(rows), "results": rows}
    result = {"Headers": {"Content-Type": ["application/json; charset=utf-8"], "Date": ["Wed, 02 Dec 2026 12:00:00 GMT"],
                          "Server": ["Python/3.11 aiohttp/3.14"], "Content-Length": ["262144"]},
              "ResponseBody": body, "StatusCode": 200, "StatusText": "OK"}
    normalised = [{"discount_code": r["resourceKey"], "error_messages": [e["message"] for e in r["errors"]],
                   "status": r["state"]} for r in rows]
    part = {"task_id": "t" * 128, "run_id": "r" * 80, "location_id": "l" * 128, "data_type": "rejected",
            "offset": 10**9, "rows": normalised}
    arguments = {"Bucket": "b" * 63, "Key": "k" * 400, "ContentType": "application/json",
                 "Body": json.dumps(part, ensure_ascii=False, separators=(",", ":"))}
    size = lambda value: len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())  # noqa: E731
    return {"result": size(result), "rows": size(normalised), "putObject arguments": size(arguments)}


def test_a_page_of_max_page_limit_largest_rows_fits_every_payload() -> None:
    sizes = _payloads([_largest_row()] * MAX_PAGE_LIMIT)
    assert all(size <= PAYLOAD_QUOTA_BYTES for size in sizes.values()), sizes


def test_the_old_bound_did_not_fit() -> None:
    # ~1,900 sample rows already exceed the quota; 10,000 (the old bound) by far.
    sizes = _payloads([_largest_row()] * 10_000)
    assert all(size > PAYLOAD_QUOTA_BYTES for size in sizes.values()), sizes


def test_a_part_of_part_characters_fits_the_putobject_payload_on_aws() -> None:
    """A part gathers pages while its rows text stays within PART_CHARACTERS characters; on AWS
    (non-ASCII written as it is) a character is at most 4 bytes, escapes included."""
    from toolkit.workflows import PART_CHARACTERS

    def arguments_size(rows_text: str) -> int:
        envelope = json.dumps({"task_id": "t" * 128, "run_id": "r" * 80, "location_id": "l" * 128,
                               "data_type": "rejected", "offset": 10**9}, ensure_ascii=False, separators=(",", ":"))
        body = '{"rows":[' + rows_text + "]," + envelope[1:]
        arguments = {"Bucket": "b" * 63, "Key": "k" * 400, "ContentType": "application/json", "Body": body}
        return len(json.dumps(arguments, ensure_ascii=False, separators=(",", ":")).encode())

    def rows_text(characters: int) -> str:
        """Rows text of ``characters`` characters, nearly all of 4 bytes (the most any takes)."""
        return '{"discount_code":"' + "😀" * (characters - 20) + '"}'

    worst = rows_text(PART_CHARACTERS)
    assert len(worst) == PART_CHARACTERS
    assert arguments_size(worst) <= PAYLOAD_QUOTA_BYTES
    assert arguments_size(rows_text(PART_CHARACTERS * 11 // 10)) > PAYLOAD_QUOTA_BYTES  # the bound is near the quota
