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


def test_every_endpoint_is_in_the_permission_table_and_in_this_specification(app: Flask
                                                                             ) -> None:
    assert set(app.view_functions) == set(PERMISSIONS) == set(EXPECTED)


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
