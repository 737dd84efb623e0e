"""/api/v1/responses: records officers build a response set, mark redactions, another
person reviews them, the package comes back redacted; bad input is a 4xx changing nothing."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.api.conftest import assert_error, bearer
from tests.exports.conftest import SWAHILI
from tests.redaction.conftest import log_actions, seq_of, span

SECRET = "Mtaa wa Kinu"
SCOPE = {"items": [{"platform": "mastodon", "item_id": "p1"}]}


@pytest.fixture
def created(thread, client, tokens):
    r = client.post("/api/v1/responses", headers=bearer(tokens["records_officer"]),
                    json={"name": "Flood request", "request_ref": "PRR-9", "scope": SCOPE})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _redaction(thread, **overrides):
    seq = seq_of(thread, "c1", "created")
    return {"seq": seq, "target": "text", "spec": span(SWAHILI, SECRET), "code": "(b)(6)",
            "note": "a resident's street", **overrides}


def test_a_redaction_reviewed_by_another_person_and_the_package_holds_no_secret(
        thread, client, tokens, created):
    url = f"/api/v1/responses/{created['id']}"
    r = client.post(url + "/redactions", headers=bearer(tokens["records_officer"]),
                    json=_redaction(thread))
    assert r.status_code == 201 and r.get_json()["state"] == "pending"
    review = f"{url}/redactions/{r.get_json()['id']}/review"

    own = client.post(review, headers=bearer(tokens["records_officer"]),
                      json={"decision": "approve"})
    other = client.post(review, headers=bearer(tokens["admin"]), json={"decision": "approve"})
    package = client.post(url + "/package", headers=bearer(tokens["records_officer"]))

    assert_error(own, 403)
    assert other.status_code == 200 and other.get_json()["state"] == "approved"
    assert package.status_code == 200 and package.mimetype == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(package.data))
    assert not any(SECRET.encode() in z.read(n) for n in z.namelist())
    assert log_actions(thread)[-2:] == ["redaction.added", "redaction.reviewed"]


@pytest.mark.parametrize("overrides, says", [
    ({"code": "(b)(99)"}, "unknown exemption code"),
    ({"seq": 0}, "not in response set"),
    ({"spec": {"start": 5, "end": 5}}, "not empty"),
    ({"spec": {"start": 0, "end": 10_000}}, "outside the text"),
    ({"target": "media", "spec": {"index": 0}}, "outside the record"),
])
def test_bad_redactions_are_refused_and_nothing_is_written(thread, client, tokens, created,
                                                           overrides, says):
    before = log_actions(thread)
    r = client.post(f"/api/v1/responses/{created['id']}/redactions",
                    headers=bearer(tokens["records_officer"]),
                    json=_redaction(thread, **overrides))
    assert says in assert_error(r, 400)["message"]
    assert log_actions(thread) == before
    got = client.get(f"/api/v1/responses/{created['id']}",
                     headers=bearer(tokens["records_officer"])).get_json()
    assert got["redactions"] == []


def test_an_overlapping_span_is_refused(thread, client, tokens, created):
    url = f"/api/v1/responses/{created['id']}/redactions"
    ok = client.post(url, headers=bearer(tokens["records_officer"]), json=_redaction(thread))
    assert ok.status_code == 201
    start = SWAHILI.index(SECRET)
    r = client.post(url, headers=bearer(tokens["records_officer"]),
                    json=_redaction(thread, spec={"start": start + 2, "end": start + 20}))
    assert "overlaps" in assert_error(r, 400)["message"]


@pytest.mark.parametrize("role", ["legal", "auditor"])
def test_other_roles_may_not_touch_responses(thread, client, tokens, role):
    r = client.post("/api/v1/responses", headers=bearer(tokens[role]),
                    json={"name": "x", "scope": SCOPE})
    assert_error(r, 403)
