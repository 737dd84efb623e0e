"""Bad input is refused with a 4xx and the error body, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archiver.wiring import Archive
from tests.api.conftest import assert_error, bearer, record_count

GOOD = {"platform": "mastodon", "account": "42", "item_id": "1", "kind": "post",
        "text": "hello", "observed_at": "2026-01-01T00:00:00Z"}


@pytest.fixture
def admin(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["admin"])


def _ndjson(*lines: object) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                    for line in lines)


BAD_BODIES = [
    (b"[{not json", "application/json", "invalid_request"),
    (b'{"platform": "x"}', "application/json", "invalid_request"),  # not an array
    (b"[" * 100_000 + b"]" * 100_000, "application/json", "invalid_request"),
    (b"[]", "application/json", "invalid_request"),
    (b"", "application/x-ndjson", "invalid_request"),
    (b"{not json\n", "application/x-ndjson", "invalid_observation"),
    (b"\xff\xfe\n", "application/x-ndjson", "invalid_observation"),
    (b"[" * 100_000 + b"]" * 100_000 + b"\n", "application/x-ndjson", "invalid_observation"),
    (_ndjson({**GOOD, "platform": 5}), "application/x-ndjson", "invalid_observation"),
    (_ndjson({**GOOD, "surprise": 1}), "application/x-ndjson", "invalid_observation"),
    (json.dumps([{**GOOD, "media": "x"}, {**GOOD, "published_at": "yesterday"}]).encode(),
     "application/json", "invalid_observation"),
    (json.dumps([{**GOOD, "author": {"id": "1", "extra": "x"}}]).encode(), "application/json",
     "invalid_observation"),
    # What the catalog or a JSON response could not hold: refused at the edge, not a 500.
    (_ndjson({**GOOD, "item_id": "a\x00b"}), "application/x-ndjson", "invalid_observation"),
    (_ndjson({**GOOD, "item_id": "\ud800"}), "application/x-ndjson", "invalid_observation"),
    (_ndjson({**GOOD, "raw": {"k": ["\udfff"]}}), "application/x-ndjson",
     "invalid_observation"),
    (b'[{"platform": "m", "account": "a", "item_id": "1", "kind": "post", "raw": NaN}]',
     "application/json", "invalid_observation"),
    (_ndjson({**GOOD, "raw": json.loads("[" * 150 + "]" * 150)}), "application/x-ndjson",
     "invalid_observation"),
    (_ndjson({**GOOD, "platform": "p" * 65}), "application/x-ndjson", "invalid_observation"),
    (_ndjson({**GOOD, "parent_id": "x" * 513}), "application/x-ndjson", "invalid_observation"),
]


def test_ingest_refuses_a_body_with_no_valid_observation_and_archives_nothing(
        client: FlaskClient, archive: Archive, admin: dict[str, str]) -> None:
    before = record_count(archive)
    for number, (body, content_type, code) in enumerate(BAD_BODIES):
        response = client.post("/api/v1/ingest", data=body, content_type=content_type,
                               headers=admin)
        error = assert_error(response, 400, code)
        if code == "invalid_observation":
            assert error["details"]["errors"][0]["line"] == 1, number
            assert error["details"]["errors"][0]["reason"], number
        assert record_count(archive) == before, number


def test_ingest_names_each_bad_line_and_archives_the_good_ones(
        client: FlaskClient, archive: Archive, admin: dict[str, str]) -> None:
    before = record_count(archive)
    body = _ndjson(GOOD, b"{oops", {**GOOD, "item_id": "2", "kind": ["post"]},
                   {**GOOD, "item_id": "3"})
    response = client.post("/api/v1/ingest", data=body, content_type="application/x-ndjson",
                           headers=admin)
    assert response.status_code == 200
    out = response.get_json()
    assert (out["received"], out["archived"], out["rejected"]) == (4, 2, 2)
    assert [e["line"] for e in out["errors"]] == [2, 3]
    assert "'kind' must be a string" in out["errors"][1]["reason"]
    assert record_count(archive) == before + 2


def test_ingest_refuses_other_media_types(client: FlaskClient, archive: Archive,
                                          admin: dict[str, str]) -> None:
    before = record_count(archive)
    for content_type in ("text/plain", "application/xml", None):
        response = client.post("/api/v1/ingest", data=_ndjson(GOOD), headers=admin,
                               content_type=content_type)
        assert_error(response, 415, "unsupported_media_type")
    assert record_count(archive) == before


def test_a_body_over_the_limit_is_413_and_changes_nothing(
        make_app: Callable[..., Flask], archive: Archive, tokens: dict[str, str]) -> None:
    client = make_app(ARCHIVER_API_MAX_BODY_BYTES="2000").test_client()
    before = record_count(archive)
    body = _ndjson(*({**GOOD, "item_id": str(i)} for i in range(40)))
    assert len(body) > 2000
    response = client.post("/api/v1/ingest", data=body, content_type="application/x-ndjson",
                           headers=bearer(tokens["admin"]))
    assert_error(response, 413, "payload_too_large")
    assert record_count(archive) == before
    small = client.post("/api/v1/ingest", data=_ndjson(GOOD),
                        content_type="application/x-ndjson", headers=bearer(tokens["admin"]))
    assert small.status_code == 200


BAD_REQUESTS = [
    ("/api/v1/records/abc", 400, "invalid_request"),
    ("/api/v1/records/-1", 400, "invalid_request"),
    ("/api/v1/records/1.5", 400, "invalid_request"),
    ("/api/v1/records/99999999999999999999999", 400, "invalid_request"),
    ("/api/v1/records/9223372036854775807", 404, "not_found"),
    ("/api/v1/records/5000", 404, "not_found"),
    ("/api/v1/records/1?verbose=1", 400, "invalid_request"),
    ("/api/v1/items/mastodon/no-such-item", 404, "not_found"),
    ("/api/v1/items/nowhere/1", 404, "not_found"),
    ("/api/v1/items/" + "p" * 65 + "/1", 400, "invalid_request"),
    ("/api/v1/log/checkpoint?size=0", 400, "invalid_request"),
    ("/api/v1/log/checkpoint?size=x", 400, "invalid_request"),
    ("/api/v1/log/checkpoint?size=99999", 404, "not_found"),
    ("/api/v1/log/checkpoint?sise=1", 400, "invalid_request"),
    ("/api/v1/log/checkpoint?size=1&size=2", 400, "invalid_request"),
    ("/api/v1/log/proof/inclusion", 400, "invalid_request"),
    ("/api/v1/log/proof/inclusion?seq=0&size=99999", 400, "invalid_request"),
    ("/api/v1/log/proof/inclusion?seq=5000", 400, "invalid_request"),
    ("/api/v1/log/proof/inclusion?seq=true", 400, "invalid_request"),
    ("/api/v1/log/proof/consistency?old=0", 400, "invalid_request"),
    ("/api/v1/log/proof/consistency?old=5&new=2", 400, "invalid_request"),
    ("/api/v1/log/proof/consistency?old=1&new=99999", 400, "invalid_request"),
    ("/api/v1/audit?cursor=garbage", 400, "invalid_request"),
    ("/api/v1/audit?cursor=YXVkaXQ6LTE", 400, "invalid_request"),  # "audit:-1"
    ("/api/v1/audit?cursor=%E2%98%83", 400, "invalid_request"),
    ("/api/v1/audit?limit=0", 400, "invalid_request"),
    ("/api/v1/audit?limit=1001", 400, "invalid_request"),
    ("/api/v1/audit?since=yesterday", 400, "invalid_request"),
    ("/api/v1/audit?since=2026-01-01T00:00:00", 400, "invalid_request"),  # no offset
    ("/api/v1/audit?since=0001-01-01T00:00:00%2B01:00", 400, "invalid_request"),
    ("/api/v1/audit?outcome=maybe", 400, "invalid_request"),
    ("/api/v1/audit?colour=red", 400, "invalid_request"),
    ("/api/v1/items/x%00/1", 400, "invalid_request"),  # NUL: PostgreSQL text refuses it
    ("/api/v1/audit?actor=%00", 400, "invalid_request"),
    ("/api/v1/audit?path=/api%00", 400, "invalid_request"),
    ("/api/v1/items/x/%ff%fe", 404, "not_found"),  # not UTF-8: decoded with replacement
    ("/api/v1/audit?cursor=%00", 400, "invalid_request"),
    ("/api/v1/nothing-here", 404, "not_found"),
    ("/api/v1/nothing%00here", 404, "not_found"),
    ("/api/v2/health", 404, "not_found"),
]


def test_bad_parameters_and_unknown_ids_are_4xx_with_the_error_body(
        client: FlaskClient, demo: Archive, admin: dict[str, str]) -> None:
    before = record_count(demo)
    for url, status, code in BAD_REQUESTS:
        response = client.get(url, headers=admin)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), url
        error = assert_error(response, status, code)
        if error["details"].get("errors"):
            assert {"in", "field", "reason"} <= set(error["details"]["errors"][0]), url
    assert record_count(demo) == before


def test_a_wrong_method_is_405_with_allow_and_the_error_body(client: FlaskClient,
                                                             admin: dict[str, str]) -> None:
    for method, url in (("DELETE", "/api/v1/records/1"), ("PUT", "/api/v1/ingest"),
                        ("GET", "/api/v1/ingest"), ("OPTIONS", "/api/v1/audit")):
        response = client.open(url, method=method, headers=admin)
        assert_error(response, 405, "method_not_allowed")
        assert "Allow" in response.headers


def test_validation_errors_name_the_field_not_the_value(client: FlaskClient,
                                                        admin: dict[str, str]) -> None:
    error = assert_error(client.get("/api/v1/audit?limit=s3cr3t-value", headers=admin), 400)
    assert error["details"]["errors"][0] == {
        "in": "query", "field": "limit", "reason": error["details"]["errors"][0]["reason"],
        "type": "int_parsing"}
    assert "s3cr3t-value" not in json.dumps(error)
