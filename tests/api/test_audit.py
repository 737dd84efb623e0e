"""The audit trail: every call on record, who/what/when/where/outcome, no secrets, no edits."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy.exc
from flask.testing import FlaskClient
from sqlalchemy import text

from archiver import audit
from archiver.catalog import schema as t
from archiver.wiring import Archive
from tests.api.conftest import assert_error, audit_rows, bearer


def _obs(item: str) -> dict[str, str]:
    return {"platform": "mastodon", "account": "42", "item_id": item, "kind": "post",
            "text": f"post {item}", "observed_at": "2026-01-01T00:00:00Z"}


def test_the_trail_shows_every_call_the_test_made_and_never_a_token(
        client: FlaskClient, demo: Archive, tokens: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin, officer, auditor = (bearer(tokens[r]) for r in ("admin", "records_officer",
                                                            "auditor"))
    calls = [
        ("POST", "/api/v1/ingest", admin, {"json": [_obs("a1")]}, 200, "ingest.ingest"),
        ("GET", "/api/v1/records/3", officer, {}, 200, "records.get_record"),
        ("GET", "/api/v1/records/3", auditor, {}, 403, "records.get_record"),
        ("GET", "/api/v1/records/3", {}, {}, 401, "records.get_record"),
        ("GET", "/api/v1/records/99999", officer, {}, 404, "records.get_record"),
        ("GET", "/api/v1/items/mastodon/a1", officer, {}, 200, "items.get_item"),
        ("GET", "/api/v1/log/proof/inclusion?seq=2", auditor, {}, 200, "log.inclusion_proof"),
        ("GET", "/api/v1/log/checkpoint?size=0", auditor, {}, 400, "log.checkpoint"),
        ("GET", "/api/v1/no-such-thing", admin, {}, 404, None),
        ("GET", "/api/v1/items/x%00y/1", admin, {}, 400, "items.get_item"),
        ("GET", "/api/v1/audit?limit=5", auditor, {}, 200, "audit.list_events"),
    ]
    before = len(audit_rows(demo))
    for method, url, headers, kwargs, status, _ in calls:
        assert client.open(url, method=method, headers=headers, **kwargs).status_code == status
    client.get("/api/v1/health")  # probes are not audited
    client.get("/api/v1/ready")
    client.get("/metrics")
    rows = audit_rows(demo)[before:]
    assert [(r.method, r.path, r.status, r.action) for r in rows] == [
        (m, unquote(u.split("?")[0]).replace("\x00", "\ufffd"), s, a)
        for m, u, _, _, s, a in calls]
    assert [r.actor_name for r in rows] == [
        "test-admin", "test-records_officer", "test-auditor", None, "test-records_officer",
        "test-records_officer", "test-auditor", "test-auditor", None, "test-admin",
        "test-auditor"]
    assert all(r.actor_id is None or r.actor_id.startswith("tok_") for r in rows)
    assert all(r.remote_addr == "127.0.0.1" for r in rows)
    assert '"seq": 3' in rows[1].resource
    assert '"item_id": "a1"' in rows[5].resource and '"platform": "mastodon"' in rows[5].resource
    assert '"seq": 2' in rows[6].resource
    assert '"archived": 1' in rows[0].resource
    # No token value anywhere: not in the trail, not in what was logged.
    dump = "\n".join(repr(tuple(r)) for r in audit_rows(demo))
    for value in tokens.values():
        assert value not in dump
        assert value not in caplog.text
        assert value[5:20] not in dump


def test_auditors_filter_by_actor_action_path_outcome_and_time(
        client: FlaskClient, archive: Archive, tokens: dict[str, str]) -> None:
    admin, auditor = bearer(tokens["admin"]), bearer(tokens["auditor"])
    start = datetime.now(UTC) - timedelta(seconds=1)
    client.post("/api/v1/ingest", headers=admin, json=[_obs("f1")])
    client.get("/api/v1/records/1", headers=admin)
    client.get("/api/v1/records/1", headers=auditor)  # 403
    client.get("/api/v1/records/1")  # 401
    client.get("/api/v1/records/999", headers=admin)  # 404

    def query(**params: str) -> list[tuple[str, int]]:
        response = client.get("/api/v1/audit", headers=auditor, query_string=params)
        assert response.status_code == 200, response.get_json()
        return [(e["path"], e["status"]) for e in response.get_json()["events"]]

    assert query(actor="test-admin") == [("/api/v1/ingest", 200), ("/api/v1/records/1", 200),
                                         ("/api/v1/records/999", 404)]
    token_id = client.get("/api/v1/audit", headers=auditor, query_string={
        "actor": "test-admin"}).get_json()["events"][0]["actor_id"]
    assert query(actor=token_id) == query(actor="test-admin")
    assert query(action="ingest.") == [("/api/v1/ingest", 200)]
    assert query(path="/api/v1/records/") == [("/api/v1/records/1", 200),
                                              ("/api/v1/records/1", 403),
                                              ("/api/v1/records/1", 401),
                                              ("/api/v1/records/999", 404)]
    assert query(outcome="denied") == [("/api/v1/records/1", 403), ("/api/v1/records/1", 401)]
    assert query(outcome="failed", path="/api/v1/records") == [("/api/v1/records/999", 404)]
    assert len(query(since=start.isoformat())) >= 5
    assert query(until=start.isoformat()) == []
    assert query(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert query(path="/api/v1/records/%") == []  # a literal %, not a wildcard


def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(
        client: FlaskClient, archive: Archive, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    for seq in range(7):
        client.get(f"/api/v1/records/{seq % 2}", headers=admin)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", "path": "/api/v1/records/"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/audit", headers=admin, query_string=params).get_json()
        seen += [e["id"] for e in body["events"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 == len(set(seen)) and seen == sorted(seen) and pages == 3


def test_the_trail_is_append_only_in_the_database(archive: Archive) -> None:
    audit.record(archive.catalog, audit.AuditEvent(time=audit.now_text(), method="GET",
                                                   path="/x", status=200))
    for statement in ("UPDATE audit_events SET status = 500",
                      "DELETE FROM audit_events"):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), \
                archive.catalog.engine.begin() as conn:
            conn.execute(text(statement))
    if archive.catalog.dialect == "postgresql":
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), \
                archive.catalog.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
    assert len(audit_rows(archive)) == 1


def test_a_read_is_refused_when_its_audit_event_cannot_be_written(
        client: FlaskClient, demo: Archive, tokens: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(catalog: object, event: object) -> int:
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(audit, "record", broken)
    response = client.get("/api/v1/records/1", headers=bearer(tokens["admin"]))
    error = assert_error(response, 503, "audit_unavailable")
    assert "payload" not in response.get_data(as_text=True)
    assert error["message"]


def test_the_rebuild_of_the_catalog_keeps_tokens_and_the_trail(
        client: FlaskClient, demo: Archive, tokens: dict[str, str]) -> None:
    from archiver.log.rebuild import rebuild_catalog

    client.get("/api/v1/records/1", headers=bearer(tokens["admin"]))
    before = audit_rows(demo)
    rebuild_catalog(demo.appender)
    assert audit_rows(demo) == before
    assert client.get("/api/v1/records/1", headers=bearer(tokens["admin"])).status_code == 200
    with demo.catalog.reader() as conn:
        assert conn.execute(t.tokens.select()).all()


def test_from_where_trusts_x_forwarded_for_only_behind_configured_proxies(
        make_app, archive: Archive, tokens: dict[str, str]) -> None:
    spoof = {**bearer(tokens["admin"]), "X-Forwarded-For": "203.0.113.9"}
    make_app().test_client().get("/api/v1/records/0", headers=spoof)
    make_app(ARCHIVER_API_PROXY_HOPS="1").test_client().get("/api/v1/records/0", headers=spoof)
    assert [r.remote_addr for r in audit_rows(archive)] == ["127.0.0.1", "203.0.113.9"]
