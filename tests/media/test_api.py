"""GET /api/v1/media/{id}: the decrypted file for admin, records_officer and legal, with
its type and an ETag of its SHA-256; 401/403 for others; 404 for an unknown or destroyed
file; every call in the audit trail. Items show the media references."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete

from archiver.catalog import schema as t
from archiver.tokens import ROLES
from archiver.wiring import Archive
from tests.api.conftest import assert_error, audit_rows, bearer
from tests.media.conftest import blob, jpeg, observation, png, sha


@pytest.fixture
def stored(archive: Archive) -> dict[str, Any]:
    """Item 1 with a PNG and a JPEG; returns {mime: media id}."""
    a, b = png(), jpeg()
    archive.ingestor.ingest(
        [observation("1", media=[{"id": "p", "url": "https://m/a.png", "sha256": sha(a)},
                                 {"id": "j", "url": "https://m/b.jpg", "sha256": sha(b)}])],
        media={sha(a): blob(a), sha(b): blob(b, "image/jpeg")})
    with archive.catalog.reader() as conn:
        rows = conn.execute(t.media.select()).all()
    return {row.mime: row.id for row in rows}


def test_readers_get_the_decrypted_file_with_its_type_and_etag(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    for role in ("admin", "records_officer", "legal"):
        r = client.get(f"/api/v1/media/{stored['image/png']}", headers=bearer(tokens[role]))
        assert r.status_code == 200, (role, r.get_data())
        assert r.data == png() and r.mimetype == "image/png"
        assert r.headers["ETag"] == f'"{sha(png())}"'
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.get(f"/api/v1/media/{stored['image/jpeg']}", headers=bearer(tokens["legal"]))
    assert r.data == jpeg() and r.mimetype == "image/jpeg"


def test_auditors_and_anonymous_callers_get_no_file(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    url = f"/api/v1/media/{stored['image/png']}"
    assert_error(client.get(url), 401, "unauthorized")
    for role in set(ROLES) - {"admin", "records_officer", "legal"}:
        assert_error(client.get(url, headers=bearer(tokens[role])), 403, "forbidden")


def test_a_matching_if_none_match_is_answered_304(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    r = client.get(f"/api/v1/media/{stored['image/png']}",
                   headers={**bearer(tokens["admin"]), "If-None-Match": f'"{sha(png())}"'})
    assert r.status_code == 304 and r.data == b""


def test_an_unknown_id_is_404_and_a_malformed_one_400(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    assert_error(client.get("/api/v1/media/" + "0" * 32, headers=admin), 404)
    for bad in ("xyz", "0" * 31, "0" * 33, "A" * 32, "..%2F..%2Fkeys"):
        r = client.get(f"/api/v1/media/{bad}", headers=admin)
        assert r.status_code in (400, 404), (bad, r.status_code)
        assert_error(r, r.status_code)


def test_a_file_whose_key_is_destroyed_is_404(
        client: FlaskClient, archive: Archive, tokens: dict[str, str],
        stored: dict[str, str]) -> None:
    media_id = stored["image/png"]
    with archive.catalog.writer() as conn:  # what disposition does to a data key
        conn.execute(delete(t.data_keys).where(t.data_keys.c.kid == media_id))
    error = assert_error(client.get(f"/api/v1/media/{media_id}",
                                    headers=bearer(tokens["admin"])), 404)
    assert "destroyed" in error["message"]


def test_every_read_of_a_file_is_in_the_audit_trail(
        client: FlaskClient, archive: Archive, tokens: dict[str, str],
        stored: dict[str, str]) -> None:
    media_id = stored["image/png"]
    client.get(f"/api/v1/media/{media_id}", headers=bearer(tokens["legal"]))
    client.get(f"/api/v1/media/{media_id}", headers=bearer(tokens["auditor"]))
    rows = [r for r in audit_rows(archive) if r.action == "media.get_media"]
    assert [(r.actor_name, r.status) for r in rows] == [("test-legal", 200),
                                                        ("test-auditor", 403)]
    assert media_id in rows[0].resource


def test_the_item_shows_its_media_references(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    r = client.get("/api/v1/items/mastodon/1", headers=bearer(tokens["records_officer"]))
    media = r.get_json()["versions"][0]["payload"]["media"]
    assert [(m["id"], m["object"], m["sha256"], m["mime"]) for m in media] == [
        ("p", f"media/{stored['image/png']}", sha(png()), "image/png"),
        ("j", f"media/{stored['image/jpeg']}", sha(jpeg()), "image/jpeg")]


def test_a_byte_range_is_served_partially_for_seeking_in_a_video(
        client: FlaskClient, tokens: dict[str, str], stored: dict[str, str]) -> None:
    r = client.get(f"/api/v1/media/{stored['image/png']}",
                   headers={**bearer(tokens["admin"]), "Range": "bytes=0-7"})
    assert r.status_code == 206 and r.data == png()[:8]
    assert r.headers["Content-Range"] == f"bytes 0-7/{len(png())}"
