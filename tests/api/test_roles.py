"""Who may call what: 401 without a valid token, 403 for a wrong role, 200 for a right one."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from archiver.api.permissions import PERMISSIONS
from archiver.tokens import ROLES, create_token, revoke_token
from archiver.wiring import Archive
from tests.api.conftest import assert_error, bearer

OBSERVATION = {"platform": "mastodon", "account": "42", "item_id": "1", "kind": "post",
               "text": "hello", "observed_at": "2026-01-01T00:00:00Z"}

# The specification, written out rather than read from permissions.py.
EXPECTED: dict[str, tuple[str, str, dict[str, Any], set[str] | None]] = {
    "health.health": ("GET", "/api/v1/health", {}, None),
    "health.ready": ("GET", "/api/v1/ready", {}, None),
    "metrics.metrics": ("GET", "/metrics", {}, None),
    "openapi.document": ("GET", "/api/v1/openapi.json", {}, None),
    "ingest.ingest": ("POST", "/api/v1/ingest", {"json": [OBSERVATION]}, {"admin"}),
    "records.get_record": ("GET", "/api/v1/records/1", {}, {"admin", "records_officer"}),
    "items.get_item": ("GET", "/api/v1/items/mastodon/1", {},
                       {"admin", "records_officer", "legal"}),
    "search.search": ("GET", "/api/v1/search?q=hello", {},
                      {"admin", "records_officer", "legal"}),
    "log.checkpoint": ("GET", "/api/v1/log/checkpoint", {}, {"admin", "auditor"}),
    "log.inclusion_proof": ("GET", "/api/v1/log/proof/inclusion?seq=0", {},
                            {"admin", "auditor"}),
    "log.consistency_proof": ("GET", "/api/v1/log/proof/consistency?old=1", {},
                              {"admin", "auditor"}),
    "log.vkey": ("GET", "/api/v1/log/vkey", {}, {"admin", "auditor"}),
    "audit.list_events": ("GET", "/api/v1/audit", {}, {"admin", "auditor"}),
}


_ADMIN = {"admin"}
_READERS = {"admin", "records_officer"}
_LEGAL = {"admin", "legal"}
_RUN_READERS = {"admin", "records_officer", "legal"}
_CERTIFICATES = {"admin", "records_officer", "legal", "auditor"}
_NO_ID = "00000000000000000000000000000000"

# Endpoints that need a resource (an id, a body) to do their work: the gate is checked
# with ids that do not exist and bodies that do not validate. An allowed role passes the
# gate (it gets the endpoint's own 400/404/409, never 401/403 and never a 500); every other
# role is refused before the endpoint looks at its input.
GUARDED: dict[str, tuple[str, str, dict[str, Any], set[str]]] = {
    "media.get_media": ("GET", f"/api/v1/media/{_NO_ID}", {}, {"admin", "records_officer",
                                                                "legal"}),
    "retention.list_policies": ("GET", "/api/v1/retention/policies", {}, _READERS),
    "retention.create_policy_view": ("POST", "/api/v1/retention/policies", {"json": {}},
                                     _READERS),
    "retention.get_policy": ("GET", f"/api/v1/retention/policies/{_NO_ID}", {}, _READERS),
    "retention.change_policy_view": ("PUT", f"/api/v1/retention/policies/{_NO_ID}",
                                     {"json": {}}, _READERS),
    "retention.retire_policy_view": ("POST", f"/api/v1/retention/policies/{_NO_ID}/retire",
                                     {"json": {}}, _READERS),
    "retention.policy_versions": ("GET", f"/api/v1/retention/policies/{_NO_ID}/versions", {},
                                  _READERS),
    "holds.list_holds": ("GET", "/api/v1/holds", {}, _LEGAL),
    "holds.place_hold_view": ("POST", "/api/v1/holds", {"json": {}}, _LEGAL),
    "holds.get_hold": ("GET", f"/api/v1/holds/{_NO_ID}", {}, _LEGAL),
    "holds.change_hold": ("PATCH", f"/api/v1/holds/{_NO_ID}", {"json": {}}, _LEGAL),
    "holds.release_hold_view": ("POST", f"/api/v1/holds/{_NO_ID}/release", {"json": {}},
                                _LEGAL),
    "holds.get_hold_history": ("GET", f"/api/v1/holds/{_NO_ID}/history", {}, _LEGAL),
    "disposition.list_disposition_runs": ("GET", "/api/v1/disposition-runs", {},
                                          _RUN_READERS),
    "disposition.create_disposition_run": ("POST", "/api/v1/disposition-runs",
                                           {"json": {"bogus": 1}}, _READERS),
    "disposition.get_disposition_run": ("GET", f"/api/v1/disposition-runs/{_NO_ID}", {},
                                        _RUN_READERS),
    "disposition.approve_disposition_run": (
        "POST", f"/api/v1/disposition-runs/{_NO_ID}/approve", {"json": {}}, _READERS),
    "disposition.decide_disposition_run": (
        "POST", f"/api/v1/disposition-runs/{_NO_ID}/decisions", {"json": {}}, _READERS),
    "disposition.execute_disposition_run": (
        "POST", f"/api/v1/disposition-runs/{_NO_ID}/execute", {"json": {}}, _READERS),
    "disposition.cancel_disposition_run": (
        "POST", f"/api/v1/disposition-runs/{_NO_ID}/cancel", {"json": {}}, _READERS),
    "disposition.disposition_certificate": (
        "GET", f"/api/v1/disposition-runs/{_NO_ID}/certificate", {}, _CERTIFICATES),
    "disposition.disposition_certificate_html": (
        "GET", f"/api/v1/disposition-runs/{_NO_ID}/certificate.html", {}, _CERTIFICATES),
    "exports.create_export": ("POST", "/api/v1/exports", {"json": {}}, _LEGAL),
    "exports.get_export": ("GET", f"/api/v1/exports/{_NO_ID}", {}, _LEGAL),
    "exports.download_export": ("GET", f"/api/v1/exports/{_NO_ID}/download", {}, _LEGAL),
    "accounts.list_accounts": ("GET", "/api/v1/accounts", {}, _ADMIN),
    "accounts.add_account": ("POST", "/api/v1/accounts", {"json": {}}, _ADMIN),
    "accounts.get_account": ("GET", f"/api/v1/accounts/{_NO_ID}", {}, _ADMIN),
    "accounts.update_account": ("PATCH", f"/api/v1/accounts/{_NO_ID}", {"json": {}}, _ADMIN),
    "accounts.remove_account": ("DELETE", f"/api/v1/accounts/{_NO_ID}", {}, _ADMIN),
    "accounts.account_health_view": ("GET", f"/api/v1/accounts/{_NO_ID}/health", {}, _ADMIN),
    "responses.list_response_sets": ("GET", "/api/v1/responses", {}, _READERS),
    "responses.list_exemptions": ("GET", "/api/v1/responses/exemptions", {}, _READERS),
    "responses.create_response_set": ("POST", "/api/v1/responses", {"json": {}}, _READERS),
    "responses.get_response_set": ("GET", f"/api/v1/responses/{_NO_ID}", {}, _READERS),
    "responses.add_response_redaction": (
        "POST", f"/api/v1/responses/{_NO_ID}/redactions", {"json": {}}, _READERS),
    "responses.review_response_redaction": (
        "POST", f"/api/v1/responses/{_NO_ID}/redactions/{_NO_ID}/review", {"json": {}},
        _READERS),
    "responses.response_package": ("POST", f"/api/v1/responses/{_NO_ID}/package",
                                   {"json": {}}, _READERS),
    "alerts.list_raised_alerts": ("GET", "/api/v1/alerts", {}, _READERS),
    "alerts.list_alert_rules": ("GET", "/api/v1/alert-rules", {}, _READERS),
    "alerts.create_alert_rule": ("POST", "/api/v1/alert-rules", {"json": {}}, _READERS),
    "alerts.get_alert_rule": ("GET", f"/api/v1/alert-rules/{_NO_ID}", {}, _READERS),
    "alerts.mute_alert_rule": ("POST", f"/api/v1/alert-rules/{_NO_ID}/mute", {"json": {}},
                               _READERS),
    "alerts.portal_settings": ("GET", "/api/v1/portal", {}, _ADMIN),
}

# Authenticated by the platform's signature, not a bearer token (archiver/api/webhooks.py).
SIGNED = {"webhooks.verify_meta", "webhooks.deliver_meta"}


def test_every_endpoint_is_in_the_permission_table_and_in_this_specification(app: Flask
                                                                             ) -> None:
    specified = set(EXPECTED) | set(GUARDED) | SIGNED
    assert not set(EXPECTED) & set(GUARDED)
    assert set(app.view_functions) == set(PERMISSIONS) == specified


def test_the_specification_and_the_permission_table_name_the_same_roles() -> None:
    for endpoint, (_, _, _, roles) in {**EXPECTED, **GUARDED}.items():
        allowed = PERMISSIONS[endpoint]
        assert (None if allowed is None else set(allowed)) == roles, endpoint
    assert all(PERMISSIONS[e] is None for e in SIGNED)


def test_every_endpoint_answers_each_role_as_specified(client: FlaskClient, archive: Archive,
                                                       tokens: dict[str, str]) -> None:
    client.post("/api/v1/ingest", json=[OBSERVATION], headers=bearer(tokens["admin"]))
    for endpoint, (method, url, kwargs, roles) in EXPECTED.items():
        anonymous = client.open(url, method=method, **kwargs)
        if roles is None:
            assert anonymous.status_code == 200, (endpoint, anonymous.get_data(as_text=True))
            continue
        error = assert_error(anonymous, 401, "unauthorized")
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer"), endpoint
        assert "token" in error["message"]
        for role in ROLES:
            response = client.open(url, method=method, headers=bearer(tokens[role]), **kwargs)
            if role in roles:
                assert response.status_code == 200, (endpoint, role, response.get_json())
            else:
                assert_error(response, 403, "forbidden")


def test_every_guarded_endpoint_lets_exactly_its_roles_through(client: FlaskClient,
                                                                tokens: dict[str, str]
                                                                ) -> None:
    for endpoint, (method, url, kwargs, roles) in GUARDED.items():
        anonymous = client.open(url, method=method, **kwargs)
        assert_error(anonymous, 401, "unauthorized")
        for role in ROLES:
            response = client.open(url, method=method, headers=bearer(tokens[role]), **kwargs)
            if role in roles:
                assert response.status_code not in (401, 403), (endpoint, role)
                assert response.status_code < 500, (endpoint, role, response.get_json())
            else:
                assert_error(response, 403, "forbidden")


def test_signed_webhooks_take_no_bearer_token_instead_of_a_signature(client: FlaskClient,
                                                                      tokens: dict[str, str]
                                                                      ) -> None:
    response = client.post("/api/v1/webhooks/meta", json={"object": "page", "entry": []},
                           headers=bearer(tokens["admin"]))
    assert_error(response, 401)


def test_a_token_with_several_roles_has_the_union_of_their_rights(client: FlaskClient,
                                                                  archive: Archive) -> None:
    _, value = create_token(archive.catalog, "both", ["auditor", "legal"])
    assert client.get("/api/v1/log/vkey", headers=bearer(value)).status_code == 200
    assert client.get("/api/v1/items/mastodon/1", headers=bearer(value)).status_code == 404
    assert_error(client.get("/api/v1/records/0", headers=bearer(value)), 403)


def test_unknown_malformed_and_revoked_tokens_are_all_401(client: FlaskClient,
                                                          archive: Archive) -> None:
    info, value = create_token(archive.catalog, "soon-gone", ["admin"])
    assert client.get("/api/v1/audit", headers=bearer(value)).status_code == 200
    revoke_token(archive.catalog, info.id)
    for headers in (bearer(value), bearer("arch_" + "A" * 43), bearer("nonsense"),
                    {"Authorization": f"Basic {value}"}, {"Authorization": "Bearer "},
                    {"Authorization": value}):
        assert_error(client.get("/api/v1/audit", headers=headers), 401, "unauthorized")


def test_a_token_in_the_query_string_is_not_accepted(client: FlaskClient,
                                                     tokens: dict[str, str]) -> None:
    assert_error(client.get(f"/api/v1/audit?access_token={tokens['admin']}"), 401)
