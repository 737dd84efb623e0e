"""The retention endpoints: roles, the flow through HTTP, and bad input refused with a clear
4xx that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archiver.catalog import schema as t
from archiver.wiring import Archive
from tests.api.conftest import assert_error
from tests.retention.conftest import ZERO_DAYS, bearer, capture_seqs, policy_doc, readable

HOLD = {"matter_name": "Doe v. City", "matter_number": "2026-CV-0042",
        "scope": {"platforms": ["x"]}, "reason": "litigation"}


def state(archive: Archive) -> dict[str, int]:
    """Everything a refused request must leave unchanged."""
    with archive.catalog.reader() as conn:
        return {tb.name: conn.execute(select(func.count()).select_from(tb)).scalar_one()
                for tb in (t.records, t.retention_policies, t.retention_policy_versions,
                           t.legal_holds, t.legal_hold_events, t.disposition_runs,
                           t.destroyed_records)}


def post(client: FlaskClient, url: str, token: str, body: Any = None) -> Any:
    return client.post(url, json=body if body is not None else {}, headers=bearer(token))


@pytest.fixture
def policy(client: FlaskClient, tokens: dict[str, str], demo: Archive) -> dict[str, Any]:
    r = post(client, "/api/v1/retention/policies", tokens["records_officer"],
             policy_doc(scope={"platforms": ["bluesky", "x"]}))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["policy"]


def test_the_whole_flow_through_http(client: FlaskClient, tokens: dict[str, str],
                                     demo: Archive, policy: dict[str, Any]) -> None:
    r = post(client, "/api/v1/holds", tokens["legal"], HOLD)
    assert r.status_code == 200 and r.get_json()["hold"]["placed_by"].startswith("legal-one")
    run = post(client, "/api/v1/disposition-runs", tokens["records_officer"]).get_json()
    assert run["state"] == "created" and run["preview"]["by_policy"][0]["records"] > 0
    approved = post(client, f"/api/v1/disposition-runs/{run['id']}/approve", tokens["admin"])
    assert approved.status_code == 200 and approved.get_json()["approved_by"] == "admin-one"
    done = post(client, f"/api/v1/disposition-runs/{run['id']}/execute",
                tokens["records_officer"]).get_json()
    assert done["state"] == "done"
    seq = capture_seqs(demo, platform="bluesky")[0]
    record = client.get(f"/api/v1/records/{seq}", headers=bearer(tokens["admin"])).get_json()
    assert record["payload"] is None and record["destroyed"] is True
    assert record["disposition"]["run_id"] == run["id"]
    assert record["disposition"]["schedule_code"] == "GRS 6.4 item 020"
    cert = client.get(f"/api/v1/disposition-runs/{run['id']}/certificate",
                      headers=bearer(tokens["auditor"]))
    assert cert.status_code == 200 and cert.get_json()["signature"]["alg"] == "Ed25519"
    page = client.get(f"/api/v1/disposition-runs/{run['id']}/certificate.html",
                      headers=bearer(tokens["legal"]))
    assert page.status_code == 200 and b"Certificate of destruction" in page.data
    x_seq = capture_seqs(demo, platform="x")[0]
    assert readable(demo, x_seq)


def test_an_item_answers_which_versions_were_disposed(client: FlaskClient,
                                                      tokens: dict[str, str], demo: Archive,
                                                      policy: dict[str, Any]) -> None:
    run = post(client, "/api/v1/disposition-runs", tokens["records_officer"]).get_json()
    post(client, f"/api/v1/disposition-runs/{run['id']}/approve", tokens["records_officer2"])
    post(client, f"/api/v1/disposition-runs/{run['id']}/execute", tokens["admin"])
    with demo.catalog.reader() as conn:
        item = conn.execute(select(t.items.c.item_id)
                            .where(t.items.c.platform == "bluesky")).scalars().first()
    body = client.get(f"/api/v1/items/bluesky/{item}", headers=bearer(tokens["legal"])
                      ).get_json()
    assert body["versions"] and all(v["payload"] is None and v["destroyed"]
                                    and v["disposition"]["run_id"] == run["id"]
                                    for v in body["versions"])


@pytest.mark.parametrize(("body", "field"), [
    (policy_doc(period={"amount": -5, "unit": "days"}), "period"),
    (policy_doc(period={"amount": 900, "unit": "years"}), "period"),
    (policy_doc(trigger="uploaded"), "trigger"),
    (policy_doc(action="shred"), "action"),
    (policy_doc(trigger="account_event"), "account_event"),
    (policy_doc(effective_from="yesterday"), "effective_from"),
    (policy_doc(scope={"platforms": "x"}), "platforms"),
    ({**policy_doc(), "extra": 1}, "extra"),
])
def test_a_bad_policy_is_a_400_naming_the_field_and_changes_nothing(
        client: FlaskClient, tokens: dict[str, str], archive: Archive, body: dict[str, Any],
        field: str) -> None:
    before = state(archive)
    error = assert_error(post(client, "/api/v1/retention/policies", tokens["admin"], body), 400)
    assert field in (error["message"] + str(error["details"]))
    assert state(archive) == before


@pytest.mark.parametrize("scope", [{}, {"accounts": []}, {"query": "   "}])
def test_a_hold_with_an_empty_scope_is_refused(client: FlaskClient, tokens: dict[str, str],
                                               archive: Archive, scope: dict[str, Any]) -> None:
    before = state(archive)
    error = assert_error(post(client, "/api/v1/holds", tokens["legal"],
                              {**HOLD, "scope": scope}), 400)
    assert "empty scope" in error["message"]
    assert state(archive) == before


def test_approval_by_the_creator_is_403_and_changes_nothing(
        client: FlaskClient, tokens: dict[str, str], demo: Archive,
        policy: dict[str, Any]) -> None:
    run = post(client, "/api/v1/disposition-runs", tokens["admin"]).get_json()
    before = state(demo)
    error = assert_error(post(client, f"/api/v1/disposition-runs/{run['id']}/approve",
                              tokens["admin"]), 403, "forbidden")
    assert "different person" in error["message"]
    assert state(demo) == before


def test_executing_an_unapproved_run_is_409_and_changes_nothing(
        client: FlaskClient, tokens: dict[str, str], demo: Archive,
        policy: dict[str, Any]) -> None:
    run = post(client, "/api/v1/disposition-runs", tokens["admin"]).get_json()
    before = state(demo)
    assert_error(post(client, f"/api/v1/disposition-runs/{run['id']}/execute",
                      tokens["records_officer"]), 409, "conflict")
    assert state(demo) == before
    assert all(readable(demo, s) for s in capture_seqs(demo, platform="bluesky"))


def test_transfer_refuses_destruction_until_exports_exist(
        client: FlaskClient, tokens: dict[str, str], demo: Archive) -> None:
    post(client, "/api/v1/retention/policies", tokens["admin"],
         policy_doc(action="transfer", scope={"platforms": ["bluesky"]}))
    run = post(client, "/api/v1/disposition-runs", tokens["admin"]).get_json()
    seq = capture_seqs(demo, platform="bluesky")[0]
    error = assert_error(post(client, f"/api/v1/disposition-runs/{run['id']}/decisions",
                              tokens["admin"], {"seqs": [seq], "decision": "destroy"}),
                         409, "export_required")
    assert "export" in error["message"]
    post(client, f"/api/v1/disposition-runs/{run['id']}/approve", tokens["admin2"])
    done = post(client, f"/api/v1/disposition-runs/{run['id']}/execute", tokens["admin"])
    assert done.get_json()["outcomes"] == {
        "export_required": len(capture_seqs(demo, platform="bluesky"))}
    assert readable(demo, seq)


def test_review_records_wait_for_a_decision(client: FlaskClient, tokens: dict[str, str],
                                            demo: Archive) -> None:
    post(client, "/api/v1/retention/policies", tokens["admin"],
         policy_doc(action="review", scope={"platforms": ["bluesky"]}))
    run = post(client, "/api/v1/disposition-runs", tokens["admin"]).get_json()
    first, *rest = capture_seqs(demo, platform="bluesky")
    r = post(client, f"/api/v1/disposition-runs/{run['id']}/decisions", tokens["admin"],
             {"seqs": [first], "decision": "destroy"})
    assert r.status_code == 200
    post(client, f"/api/v1/disposition-runs/{run['id']}/approve", tokens["admin2"])
    done = post(client, f"/api/v1/disposition-runs/{run['id']}/execute", tokens["admin"])
    assert done.get_json()["outcomes"] == {"destroyed": 1, "awaiting_review": len(rest)}
    assert not readable(demo, first) and all(readable(demo, s) for s in rest)


@pytest.mark.parametrize(("method", "url", "allowed"), [
    ("GET", "/api/v1/retention/policies", {"admin", "records_officer"}),
    ("POST", "/api/v1/retention/policies", {"admin", "records_officer"}),
    ("GET", "/api/v1/holds", {"admin", "legal"}),
    ("POST", "/api/v1/holds", {"admin", "legal"}),
    ("GET", "/api/v1/disposition-runs", {"admin", "records_officer", "legal"}),
    ("POST", "/api/v1/disposition-runs", {"admin", "records_officer"}),
])
def test_each_role_may_do_only_what_the_table_says(client: FlaskClient, tokens: dict[str, str],
                                                   archive: Archive, method: str, url: str,
                                                   allowed: set[str]) -> None:
    bodies = {"/api/v1/retention/policies": policy_doc(period=ZERO_DAYS),
              "/api/v1/holds": HOLD, "/api/v1/disposition-runs": {}}
    for role in ("admin", "records_officer", "legal", "auditor"):
        kwargs = {"json": bodies[url]} if method == "POST" else {}
        if method == "POST" and url.endswith("policies"):
            kwargs["json"] = policy_doc(name=f"policy of {role}")
        r = client.open(url, method=method, headers=bearer(tokens[role]), **kwargs)
        if role in allowed:
            assert r.status_code == 200, (role, url, r.get_json())
        else:
            assert_error(r, 403, "forbidden")


def test_unknown_ids_are_404_and_malformed_ids_400(client: FlaskClient,
                                                   tokens: dict[str, str]) -> None:
    h = bearer(tokens["admin"])
    assert_error(client.get("/api/v1/retention/policies/pol_0123456789abcdef", headers=h), 404)
    assert_error(client.get("/api/v1/holds/hold_0123", headers=h), 404)
    assert_error(client.get("/api/v1/disposition-runs/run_00", headers=h), 404)
    assert_error(client.get("/api/v1/disposition-runs/../etc", headers=h), 404)
    assert_error(client.get("/api/v1/holds/NOT-AN-ID", headers=h), 400)


def test_a_hold_history_is_append_only(client: FlaskClient, tokens: dict[str, str],
                                       archive: Archive) -> None:
    h = bearer(tokens["legal"])
    hold = post(client, "/api/v1/holds", tokens["legal"], HOLD).get_json()["hold"]
    r = client.patch(f"/api/v1/holds/{hold['id']}", json={"scope": {"accounts": ["a"]}},
                     headers=h)
    assert r.status_code == 200
    post(client, f"/api/v1/holds/{hold['id']}/release", tokens["legal"],
         {"reason": "Shauri limekwisha — پرونده بسته شد"})
    history = client.get(f"/api/v1/holds/{hold['id']}/history", headers=h).get_json()["history"]
    assert [e["change"] for e in history] == ["placed", "changed", "released"]
    assert history[0]["hold"]["scope"]["platforms"] == ["x"]
    assert history[2]["hold"]["release_reason"] == "Shauri limekwisha — پرونده بسته شد"
    assert_error(post(client, f"/api/v1/holds/{hold['id']}/release", tokens["legal"],
                      {"reason": "again"}), 409)


def test_nul_and_out_of_range_input_is_a_400_not_a_500(client: FlaskClient,
                                                       tokens: dict[str, str],
                                                       archive: Archive) -> None:
    hold = post(client, "/api/v1/holds", tokens["legal"], HOLD).get_json()["hold"]
    before = state(archive)
    assert_error(post(client, f"/api/v1/holds/{hold['id']}/release", tokens["legal"],
                      {"reason": "a\x00b"}), 400)
    assert_error(post(client, "/api/v1/retention/policies", tokens["admin"],
                      policy_doc(name="x\x00y")), 400)
    run = post(client, "/api/v1/disposition-runs", tokens["admin"]).get_json()
    assert_error(post(client, f"/api/v1/disposition-runs/{run['id']}/decisions",
                      tokens["admin"], {"seqs": [2**63], "decision": "keep"}), 400)
    after = state(archive)
    assert after["disposition_runs"] == before["disposition_runs"] + 1
    assert {k: v for k, v in after.items() if k not in ("disposition_runs", "records")} == \
        {k: v for k, v in before.items() if k not in ("disposition_runs", "records")}
