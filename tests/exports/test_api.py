"""/api/v1/exports: legal and admin start exports, follow them, download the package until
it expires; everyone else is refused; bad scopes are clear 4xx answers."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from archiver.catalog import schema as t
from archiver.exports.jobs import exports
from archiver.wiring import Archive
from tests.api.conftest import assert_error, bearer

SCOPE = {"scope": {"items": [{"platform": "mastodon", "item_id": "p1"}]}}


def _start(client: FlaskClient, token: str, body: dict[str, Any] | None = None) -> Any:
    return client.post("/api/v1/exports", json=body or SCOPE, headers=bearer(token))


def _finished(client: FlaskClient, token: str, export_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/exports/{export_id}", headers=bearer(token)).get_json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"export {export_id} did not finish: {job}")


@pytest.mark.parametrize("role", ["legal", "admin"])
def test_legal_and_admin_export_follow_and_download(thread: Archive, client: FlaskClient,
                                                    tokens: dict[str, str], role: str) -> None:
    started = _start(client, tokens[role])
    assert started.status_code == 202
    job = started.get_json()
    assert job["state"] in ("queued", "running", "done") and job["created_seq"] > 0
    done = _finished(client, tokens[role], job["id"])
    assert done["state"] == "done", done
    assert done["progress"]["done"] == done["progress"]["total"] - 1 == 7
    assert done["summary"]["counts"]["records"] == 7
    got = client.get(done["download"], headers=bearer(tokens[role]))
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert hashlib.sha256(got.data).hexdigest() == done["sha256"] == got.headers[
        "X-Content-SHA256"]
    assert f'filename={job["id"]}.zip' in got.headers["Content-Disposition"]


@pytest.mark.parametrize("role", ["records_officer", "auditor"])
def test_other_roles_are_refused(thread: Archive, client: FlaskClient, tokens: dict[str, str],
                                 role: str) -> None:
    assert_error(_start(client, tokens[role]), 403, "forbidden")
    assert_error(client.get("/api/v1/exports/exp-0000000000000000",
                            headers=bearer(tokens[role])), 403)
    assert_error(client.get("/api/v1/exports/exp-0000000000000000/download",
                            headers=bearer(tokens[role])), 403)
    assert_error(client.post("/api/v1/exports", json=SCOPE), 401)


def test_downloads_are_on_the_audit_trail(thread: Archive, client: FlaskClient,
                                          tokens: dict[str, str]) -> None:
    job = _finished(client, tokens["legal"], _start(client, tokens["legal"]).get_json()["id"])
    client.get(job["download"], headers=bearer(tokens["legal"]))
    with thread.catalog.reader() as conn:
        rows = conn.execute(select(t.audit_events).where(
            t.audit_events.c.action == "exports.download_export")).all()
    assert len(rows) == 1 and rows[0].status == 200 and rows[0].actor_name == "test-legal"
    assert job["id"] in rows[0].resource


def test_an_expired_download_is_gone_with_the_error_body(thread: Archive, client: FlaskClient,
                                                         tokens: dict[str, str]) -> None:
    job = _finished(client, tokens["legal"], _start(client, tokens["legal"]).get_json()["id"])
    assert client.get(job["download"], headers=bearer(tokens["legal"])).status_code == 200
    with thread.catalog.writer() as conn:
        conn.execute(update(exports).where(exports.c.id == job["id"])
                     .values(expires_at="2000-01-01T00:00:00.000000Z"))
    for _ in range(2):
        error = assert_error(client.get(job["download"], headers=bearer(tokens["legal"])),
                             410, "gone")
        assert "expired" in error["message"]
    status = client.get(f"/api/v1/exports/{job['id']}", headers=bearer(tokens["legal"]))
    assert status.get_json()["state"] == "expired"


def test_an_empty_scope_is_a_400(thread: Archive, client: FlaskClient,
                                 tokens: dict[str, str]) -> None:
    error = assert_error(_start(client, tokens["legal"], {"scope": {}}), 400)
    assert "scope is empty" in error["message"]
    assert_error(_start(client, tokens["legal"], {"scope": {"items": []}}), 400)
    assert_error(_start(client, tokens["legal"], {"scope": {"filters": {"colour": "red"}}}),
                 400)
    assert_error(_start(client, tokens["legal"], {**SCOPE, "encoding": "latin-9"}), 400)


def test_a_search_that_does_not_parse_is_a_400_before_anything_is_logged(
        thread: Archive, client: FlaskClient, tokens: dict[str, str]) -> None:
    for scope in ({"query": "flood", "filters": {"from": "yesterday"}},
                  {"query": "x", "filters": {"has_edits": "maybe"}}):
        assert_error(_start(client, tokens["legal"], {"scope": scope}), 400)
    with thread.catalog.reader() as conn:
        assert conn.execute(select(exports)).first() is None


def test_an_unknown_hold_is_a_404(thread: Archive, client: FlaskClient,
                                  tokens: dict[str, str]) -> None:
    error = assert_error(_start(client, tokens["legal"], {"scope": {"hold": "no-such"}}), 404)
    assert "no legal hold" in error["message"]


def test_an_unknown_export_is_a_404(thread: Archive, client: FlaskClient,
                                    tokens: dict[str, str]) -> None:
    assert_error(client.get("/api/v1/exports/exp-0000000000000000",
                            headers=bearer(tokens["legal"])), 404)
    assert_error(client.get("/api/v1/exports/exp-0000000000000000/download",
                            headers=bearer(tokens["legal"])), 404)
    assert_error(client.get("/api/v1/exports/not-an-id", headers=bearer(tokens["legal"])), 400)


def test_a_search_matching_nothing_finishes_with_a_note(thread: Archive, client: FlaskClient,
                                                        tokens: dict[str, str]) -> None:
    job = _start(client, tokens["legal"], {"scope": {"query": "zzzznothing"}}).get_json()
    done = _finished(client, tokens["legal"], job["id"])
    assert done["state"] == "done" and done["summary"]["counts"]["records"] == 0
    assert any("no exportable records" in n for n in done["summary"]["notes"])
