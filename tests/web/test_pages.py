"""Every page, every role: sign-in, the role table, CSRF, bad input, auditing, and what
each page shows, through Flask's test client (tests/web/test_browser.py drives Chromium)."""

from __future__ import annotations

import re
import stat
import zipfile
from io import BytesIO

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archiver.api import create_app
from archiver.api.permissions import WEB_PERMISSIONS
from archiver.catalog import schema as t
from archiver.exports import jobs
from archiver.tokens import ROLES, create_token, revoke_token
from archiver.web.verification import Verifications
from archiver.wiring import Archive
from tests.api.conftest import audit_rows, bearer
from tests.web.conftest import (
    PERSIAN_ITEM,
    PERSIAN_QUERY,
    PERSIAN_V1,
    PERSIAN_V2,
    csrf_of,
    post_form,
    sign_in,
)

ALL = set(ROLES)
# Pages and forms alone (no storage path of their own): on the embedded backend only.
ONE_BACKEND = pytest.mark.parametrize("backend_env", [("filesystem", "sqlite")],
                                      ids=["filesystem-sqlite"], indirect=True)
# The specification, written out rather than read from permissions.py: a GET of each
# page, who may open it, and what a permitted role gets (404: the id does not exist).
PAGES: dict[str, tuple[str, set[str], int]] = {
    "web.home": ("/", ALL, 302),
    "web.search": ("/search?q=flood", {"admin", "records_officer", "legal"}, 200),
    "web.item": ("/items/mastodon/112060198503477832", {"admin", "records_officer", "legal"},
                 200),
    "web.media": ("/media/" + "0" * 32, {"admin", "records_officer", "legal"}, 404),
    "web.proof": ("/proofs/1", {"admin", "auditor"}, 200),
    "web.accounts": ("/accounts", {"admin"}, 200),
    "web.retention": ("/retention", {"admin", "records_officer"}, 200),
    "web.holds": ("/holds", {"admin", "legal"}, 200),
    "web.runs": ("/disposition", {"admin", "records_officer", "legal"}, 200),
    "web.run": ("/disposition/run_nothing", {"admin", "records_officer", "legal"}, 404),
    "web.certificate": ("/disposition/run_nothing/certificate", ALL, 404),
    "web.exports": ("/exports", {"admin", "legal"}, 200),
    "web.export": ("/exports/exp-0000000000000000", {"admin", "legal"}, 404),
    "web.download_export": ("/exports/exp-0000000000000000/download", {"admin", "legal"},
                            404),
    "web.integrity": ("/integrity", {"admin", "auditor"}, 200),
    "alerts.alerts_page": ("/alerts", {"admin", "records_officer"}, 200),
}
POSTS: dict[str, tuple[str, set[str]]] = {
    "web.place_hold": ("/holds", {"admin", "legal"}),
    "web.release_hold": ("/holds/hold_nothing/release", {"admin", "legal"}),
    "web.create_run": ("/disposition", {"admin", "records_officer"}),
    "web.approve_run": ("/disposition/run_nothing/approve", {"admin", "records_officer"}),
    "web.execute_run": ("/disposition/run_nothing/execute", {"admin", "records_officer"}),
    "web.start_export": ("/exports", {"admin", "legal"}),
    "web.verify_now": ("/integrity/verify", {"admin", "auditor"}),
}


def _html(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_every_web_endpoint_is_decided_and_specified_here(app: Flask) -> None:
    web = app.extensions["archiver.web"]
    public = {"web.static", "web.signin", "web.signin_oidc", "web.oidc_callback",
              "web.signout", "portal.index", "portal.timeline", "portal.item",
              "portal.search"}  # the public portal: tests/portal
    assert set(web.view_functions) == set(WEB_PERMISSIONS) == set(PAGES) | set(POSTS) | public
    for endpoint in public:
        assert WEB_PERMISSIONS[endpoint] is None
    for endpoint, (_, roles, _) in PAGES.items():
        assert WEB_PERMISSIONS[endpoint] == roles, endpoint
    for endpoint, (_, roles) in POSTS.items():
        assert WEB_PERMISSIONS[endpoint] == roles, endpoint


@ONE_BACKEND
def test_every_page_sends_a_stranger_to_sign_in(client: FlaskClient, demo: Archive) -> None:
    for endpoint, (url, _, _) in PAGES.items():
        response = client.get(url)
        assert response.status_code == 302, endpoint
        assert response.headers["Location"].startswith("/signin?next="), endpoint


@ONE_BACKEND
def test_every_page_answers_each_role_as_the_api_does(signed_in: object, demo: Archive
                                                      ) -> None:
    for role in ROLES:
        client = signed_in(role)  # type: ignore[operator]
        for endpoint, (url, roles, ok) in PAGES.items():
            response = client.get(url)
            expected = ok if role in roles else 403
            assert response.status_code == expected, (endpoint, role, _html(response)[:400])
            assert response.mimetype == "text/html" or response.status_code == 302
            assert "Traceback" not in _html(response)


@ONE_BACKEND
def test_posts_are_refused_to_roles_without_them_and_change_nothing(
        signed_in: object, archive: Archive) -> None:
    for role in ROLES:
        client = signed_in(role)  # type: ignore[operator]
        page = client.get("/signin")  # any page carries the session's CSRF token
        token = csrf_of(_html(page))
        for endpoint, (url, roles) in POSTS.items():
            if role in roles:
                continue
            response = client.post(url, data={"csrf_token": token, "matter_name": "M",
                                              "matter_number": "1", "platforms": "x"})
            assert response.status_code == 403, (endpoint, role)
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.legal_holds)).all() == []
        assert conn.execute(select(t.disposition_runs)).all() == []


@ONE_BACKEND
def test_a_wrong_token_is_refused_with_401_and_no_session(client: FlaskClient,
                                                          archive: Archive) -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={"token": "arch_" + "A" * 43,
                                            "csrf_token": csrf_of(_html(page))})
    assert response.status_code == 401
    assert "not valid" in _html(response)
    assert client.get("/search").status_code == 302


def test_the_session_cookie_is_signed_httponly_strict_and_names_only_the_token_id(
        app: Flask, archive: Archive) -> None:
    info, value = create_token(archive.catalog, "officer", ["records_officer"])
    client = app.test_client()
    page = client.get("/signin")
    response = client.post("/signin", data={"token": value, "csrf_token": csrf_of(_html(page))})
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("archiver_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    assert value not in cookie and value[5:20] not in raw
    web = app.extensions["archiver.web"]
    data = web.session_interface.get_signing_serializer(web).loads(raw)
    assert data["id"] == info.id and data["kind"] == "token"
    assert "token" not in data and value not in str(data)
    tampered = raw[:-2] + ("A" if raw[-2] != "A" else "B") + raw[-1]
    other = app.test_client()
    other.set_cookie("archiver_session", tampered)
    assert other.get("/search").status_code == 302


def test_a_revoked_token_is_signed_out_at_the_next_request(app: Flask, archive: Archive
                                                          ) -> None:
    info, value = create_token(archive.catalog, "legal", ["legal"])
    client = sign_in(app.test_client(), value)
    assert client.get("/holds").status_code == 200
    revoke_token(archive.catalog, info.id)
    assert client.get("/holds").status_code == 302


@ONE_BACKEND
def test_sign_in_goes_back_where_asked_but_never_off_site(app: Flask,
                                                          tokens: dict[str, str]) -> None:
    client = app.test_client()
    page = client.get("/signin?next=/holds")
    response = client.post("/signin?next=/holds",
                           data={"token": tokens["legal"], "csrf_token": csrf_of(_html(page))})
    assert response.headers["Location"] == "/holds"
    client = app.test_client()
    page = client.get("/signin")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(f"/signin?next={target}",
                               data={"token": tokens["legal"],
                                     "csrf_token": csrf_of(_html(client.get("/signin")))})
        assert response.headers["Location"] == "/", target


@ONE_BACKEND
def test_sign_out_ends_the_session(signed_in: object) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    response = post_form(client, "/holds", "/signout", {})
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert client.get("/holds").status_code == 302


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
        signed_in: object, archive: Archive) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    form = {"matter_name": "Smith v. City", "matter_number": "2026-001", "platforms": "x"}
    for data in (form, {**form, "csrf_token": "forged"}, {**form, "csrf_token": ""}):
        response = client.post("/holds", data=data)
        assert response.status_code == 400
        assert "expired" in _html(response)
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.legal_holds)).all() == []
    assert client.post("/signout").status_code == 400
    assert client.get("/holds").status_code == 200  # still signed in


@ONE_BACKEND
@pytest.mark.parametrize("url", [
    "/search?from=yesterday", "/search?from=2024-05-01&to=2024-01-01",
    "/search?cursor=not-a-cursor", "/search?sort=sideways", "/search?deleted=maybe",
    "/search?q=" + "a" * 5000, "/search?bogus=1", "/search?q=%00",
    "/items/x/" + "9" * 5000, "/media/not-hex", "/integrity?since=tomorrow",
    "/integrity?outcome=sideways", "/integrity?cursor=xyz", "/disposition/run%00",
    "/exports/exp-%00", "/holds?saved=%00", "/proofs/99999999999999999999",
])
def test_bad_input_is_a_400_page_never_a_500(signed_in: object, demo: Archive,
                                             url: str) -> None:
    response = signed_in("admin").get(url)  # type: ignore[operator]
    assert response.status_code == 400, (url, _html(response)[:600])
    assert response.mimetype == "text/html"
    assert "Traceback" not in _html(response) and "Internal error" not in _html(response)


@ONE_BACKEND
def test_bad_forms_are_400_pages_and_change_nothing(signed_in: object, archive: Archive
                                                    ) -> None:
    client = signed_in("admin")  # type: ignore[operator]
    for data in ({"matter_name": "M", "matter_number": "1"},  # empty scope
                 {"matter_name": "", "matter_number": "1", "platforms": "x"},
                 {"matter_name": "M", "matter_number": "1", "date_from": "soon"},
                 {"matter_name": "M" * 3000, "matter_number": "1", "platforms": "x"}):
        response = post_form(client, "/holds", "/holds", data)
        assert response.status_code == 400, (data, _html(response)[:400])  # type: ignore
    assert post_form(client, "/holds", "/holds/hold_nothing/release",
                     {"reason": "done"}).status_code == 404  # type: ignore[attr-defined]
    assert post_form(client, "/exports", "/exports", {}).status_code == 400  # type: ignore
    assert post_form(client, "/exports", "/exports",
                     {"hold": "hold_nothing"}).status_code == 404  # type: ignore
    assert post_form(client, "/disposition", "/disposition",
                     {"tombstone": "all"}).status_code == 400  # type: ignore
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.legal_holds)).all() == []


def test_a_persian_phrase_without_zwnj_finds_the_deleted_post(signed_in: object,
                                                              indexed: Archive) -> None:
    client = signed_in("records_officer")  # type: ignore[operator]
    html = _html(client.get("/search", query_string={"q": PERSIAN_QUERY, "deleted": "true"}))
    assert f"/items/x/{PERSIAN_ITEM}" in html
    assert "deleted" in html
    assert 'dir="auto"' in html and "<mark>" in html
    item = client.get(f"/items/x/{PERSIAN_ITEM}")
    page = _html(item)
    assert item.status_code == 200
    assert "Deleted at the source" in page and "2 versions" in page
    assert '<time datetime="2024-05-02T10:00:00' in page  # when the deletion was seen
    # Versions side by side, the changed word marked on each side, bytes as archived.
    assert "<del>شنبه</del>" in page and "<ins>یکشنبه</ins>" in page
    assert "می\u200cخواهیم" in page and PERSIAN_V2 in page
    assert PERSIAN_V1.split()[0] in page


@ONE_BACKEND
def test_facet_counts_are_links_that_filter(signed_in: object, indexed: Archive) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    html = _html(client.get("/search?q=flood"))
    links = re.findall(r'href="(/search\?[^"]*platform=([a-z]+)[^"]*)"', html)
    assert links, "no platform facet links"
    url, platform = links[0]
    filtered = _html(client.get(url.replace("&amp;", "&")))
    platforms = set(re.findall(r'class="platform p-([a-z]+)"', filtered))
    assert platforms == {platform}


@ONE_BACKEND
def test_search_pages_through_results(signed_in: object, indexed: Archive) -> None:
    client = signed_in("records_officer")  # type: ignore[operator]
    first = _html(client.get("/search"))
    nxt = re.search(r'rel="next" href="([^"]+)"', first)
    assert nxt, "the demo has more than one page of items"
    second = _html(client.get(nxt.group(1).replace("&amp;", "&")))
    items = re.compile(r'href="(/items/[^"]+)"')
    assert set(items.findall(first)).isdisjoint(items.findall(second))


def test_the_item_page_links_record_hashes_to_proofs_for_auditors(
        signed_in: object, indexed: Archive, app: Flask, tokens: dict[str, str]) -> None:
    html = _html(signed_in("admin").get(f"/items/x/{PERSIAN_ITEM}"))  # type: ignore
    with indexed.catalog.reader() as conn:
        rows = conn.execute(select(t.records.c.seq, t.records.c.record_hash)
                            .where(t.records.c.item_id == PERSIAN_ITEM)).all()
    assert len(rows) == 3
    for r in rows:
        assert r.record_hash.hex() in html
        assert f'href="/proofs/{r.seq}"' in html
    proof = signed_in("auditor").get(f"/proofs/{rows[0].seq}")  # type: ignore[operator]
    assert proof.status_code == 200 and rows[0].record_hash.hex() in _html(proof)
    api_proof = app.test_client().get(f"/api/v1/log/proof/inclusion?seq={rows[0].seq}",
                                      headers=bearer(tokens["auditor"])).get_json()
    for h in api_proof["hashes"]:
        assert h in _html(proof)


def test_every_read_is_on_the_audit_trail(signed_in: object, demo: Archive) -> None:
    client = signed_in("records_officer")  # type: ignore[operator]
    client.get("/items/mastodon/112060198503477832")
    client.get("/search?q=flood")
    client.get("/accounts")  # refused: on the trail as denied
    rows = audit_rows(demo)
    item = next(r for r in rows if r.action == "web.item")
    assert item.actor_name == "test-records_officer" and item.status == 200
    assert "112060198503477832" in item.resource
    assert any(r.action == "web.search" and "flood" in r.resource for r in rows)
    assert any(r.action == "web.accounts" and r.status == 403 for r in rows)
    assert not any(r.path.startswith("/static/") for r in rows)


def test_a_hold_is_placed_and_released_from_the_page(signed_in: object, archive: Archive
                                                     ) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    response = post_form(client, "/holds", "/holds", {
        "matter_name": "Tabasamu v. Jiji", "matter_number": "2026-CV-0042",
        "reason": "ombi la taarifa", "platforms": "x, mastodon", "query": "سیل"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    with archive.catalog.reader() as conn:
        (row,) = conn.execute(select(t.legal_holds)).all()
    assert row.matter_name == "Tabasamu v. Jiji" and row.released_at is None
    assert "Tabasamu v. Jiji" in _html(client.get("/holds"))
    response = post_form(client, "/holds", f"/holds/{row.id}/release", {"reason": "settled"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.legal_holds)).one().released_at is not None


def test_an_export_from_a_hold_runs_and_downloads(signed_in: object, indexed: Archive,
                                                  app: Flask) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    post_form(client, "/holds", "/holds", {"matter_name": "Library", "matter_number": "7",
                                           "platforms": "x", "query": PERSIAN_QUERY})
    with indexed.catalog.reader() as conn:
        hold_id = conn.execute(select(t.legal_holds.c.id)).scalar_one()
    response = post_form(client, f"/exports?hold={hold_id}", "/exports",
                         {"hold": hold_id})  # the PDF box unticked: not sent
    assert response.status_code == 302  # type: ignore[attr-defined]
    export_url = response.headers["Location"]  # type: ignore[attr-defined]
    job = jobs.get_export(indexed, export_url.rsplit("/", 1)[1])
    assert job.scope == {"hold": hold_id} and job.options["pdf"] is False
    app.extensions["archiver"].cache["exports"].wait()
    status = client.get(export_url + "?format=json").get_json()
    assert status["state"] == "done", status
    download = client.get(export_url + "/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    names = zipfile.ZipFile(BytesIO(download.data)).namelist()
    assert any(n.endswith("bagit.txt") for n in names)


def test_verify_now_runs_in_the_background_and_keeps_the_result(
        signed_in: object, demo: Archive, app: Flask) -> None:
    client = signed_in("auditor")  # type: ignore[operator]
    response = post_form(client, "/integrity", "/integrity/verify", {})
    assert response.status_code == 302  # type: ignore[attr-defined]
    runs: Verifications = app.extensions["archiver"].cache["web.verifications"]
    runs.wait(60)
    html = _html(client.get("/integrity"))
    assert "intact" in html and "test-auditor" in html
    kept = Verifications(demo).runs()  # a new process reads the kept result
    assert kept[0]["state"] == "intact" and kept[0]["report"]["records"] > 50


def test_the_embedded_session_secret_is_generated_once_with_0600(archive: Archive) -> None:
    if archive.settings.store.kind == "s3":
        pytest.skip("a deployment takes its secret from settings")
    create_app(archive.settings, archive)
    path = archive.settings.home / "keys" / "web-session.key"
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    create_app(archive.settings, archive)
    assert path.read_text() == first


def test_a_deployment_without_a_session_secret_serves_the_api_but_not_the_web_ui(
        make_archive: object, backend_env: dict[str, str]) -> None:
    if backend_env.get("ARCHIVER_STORE_KIND") != "s3":
        pytest.skip("only a deployment refuses a generated secret")
    archive = make_archive(ARCHIVER_WEB_SESSION_SECRET="")  # type: ignore[operator]
    client = create_app(archive.settings, archive).test_client()
    response = client.get("/signin")
    assert response.status_code == 503 and "session_secret" in _html(response)
    assert client.get("/api/v1/health").status_code == 200


def test_a_disposition_run_is_previewed_approved_by_another_and_executed(
        signed_in: object, demo: Archive) -> None:
    from tests.retention.conftest import add_policy
    add_policy(demo, scope={"platforms": ["bluesky"]})
    officer = signed_in("records_officer")  # type: ignore[operator]
    created = post_form(officer, "/disposition", "/disposition", {"tombstone": "metadata"})
    run_url = created.headers["Location"]  # type: ignore[attr-defined]
    page = _html(officer.get(run_url))
    assert "destroy" in page and 'class="badge">created' in page
    # The creator may not approve their own run (two people): refused, nothing changes.
    refused = post_form(officer, run_url, run_url + "/approve", {})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert 'class="badge">created' in _html(officer.get(run_url))
    admin = signed_in("admin")  # type: ignore[operator]
    assert post_form(admin, run_url, run_url + "/approve", {}).status_code == 302  # type: ignore
    assert post_form(admin, run_url, run_url + "/execute", {}).status_code == 302  # type: ignore
    assert "Certificate of destruction" in _html(admin.get(run_url))
    certificate = signed_in("auditor").get(run_url + "/certificate")  # type: ignore
    assert certificate.status_code == 200 and certificate.mimetype == "text/html"
    with demo.catalog.reader() as conn:
        destroyed = conn.execute(select(t.records.c.seq).where(
            t.records.c.platform == "bluesky", t.records.c.destroyed_at.is_not(None))).all()
    assert destroyed


def test_the_accounts_page_shows_health_gaps_and_alerts(signed_in: object, archive: Archive
                                                       ) -> None:
    from datetime import UTC, datetime, timedelta

    from archiver.collectors import accounts as acc
    long_ago = datetime.now(UTC) - timedelta(days=3)
    account = acc.add_account(archive.appender, platform="mastodon", platform_id="42",
                              handle="jiji@social.example", base_url="https://social.example",
                              interval="1h", department="Mawasiliano",
                              clock=lambda: long_ago)
    with archive.catalog.writer() as conn:
        acc.raise_alert(conn, account.id, "token_expiring", "token ends in 3 days",
                        "2026-01-01T00:00:00Z")
    html = _html(signed_in("admin").get("/accounts"))  # type: ignore[operator]
    row = html[html.index("jiji@social.example"):]
    assert "Mawasiliano" in row and "never" in row
    assert "h unchecked" in row  # not run for three days: a gap
    assert "token_expiring" in row and "token ends in 3 days" in row


def test_the_item_page_shows_stored_media_served_decrypted(signed_in: object,
                                                          archive: Archive) -> None:
    from tests.media.conftest import blob, observation, png, sha
    image = png()
    archive.ingestor.ingest(
        [observation("m1", media=[{"id": "p", "url": "https://m/a.png", "sha256": sha(image),
                                   "alt": "ramani ya mafuriko"}])],
        media={sha(image): blob(image)})
    client = signed_in("legal")  # type: ignore[operator]
    html = _html(client.get("/items/mastodon/m1"))
    found = re.search(r'<img src="(/media/[0-9a-f]{32})" alt="ramani ya mafuriko"', html)
    assert found, html[:2000]
    media = client.get(found.group(1))
    assert media.status_code == 200 and media.data == image and media.mimetype == "image/png"
    assert media.headers["ETag"] == f'"{sha(image)}"'
    assert signed_in("auditor").get(found.group(1)).status_code == 403  # type: ignore


def test_an_export_from_a_search_runs_to_done(signed_in: object, indexed: Archive,
                                             app: Flask) -> None:
    client = signed_in("legal")  # type: ignore[operator]
    results = _html(client.get("/search", query_string={"q": PERSIAN_QUERY, "platform": "x"}))
    link = re.search(r'href="(/exports\?[^"]+)">Export these results', results)
    assert link, "the search page offers to export its results"
    form = _html(client.get(link.group(1).replace("&amp;", "&")))
    assert f'name="query" dir="auto" value="{PERSIAN_QUERY}"' in form
    assert 'value="x"' in form
    response = post_form(client, "/exports", "/exports",
                         {"query": PERSIAN_QUERY, "platform": "x", "pdf": "on"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    export_id = response.headers["Location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    job = jobs.get_export(indexed, export_id)
    assert job.scope == {"query": PERSIAN_QUERY, "filters": {"platform": "x"}}
    assert job.options["pdf"] is True
    app.extensions["archiver"].cache["exports"].wait()
    page = _html(client.get(f"/exports/{export_id}"))
    assert 'class="badge" data-field="state">done' in page
    assert jobs.get_export(indexed, export_id).sha256 in page


@ONE_BACKEND
def test_a_page_is_not_served_when_its_read_cannot_be_audited(
        signed_in: object, demo: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in("records_officer")  # type: ignore[operator]

    def broken(*_: object) -> int:
        raise OSError("the catalog is gone")

    monkeypatch.setattr("archiver.web.auth.audit.record", broken)
    response = client.get("/items/mastodon/112060198503477832")
    assert response.status_code == 503
    assert "Flood warning" not in _html(response) and "audit trail" in _html(response)


@ONE_BACKEND
def test_an_expired_or_unknown_session_is_signed_out(app: Flask, archive: Archive) -> None:
    import time
    info, _ = create_token(archive.catalog, "officer", ["records_officer"])
    web = app.extensions["archiver.web"]
    serializer = web.session_interface.get_signing_serializer(web)

    def opens_search(**session: object) -> int:
        client = app.test_client()
        client.set_cookie("archiver_session", serializer.dumps(session))
        return client.get("/search").status_code

    fresh = {"kind": "token", "id": info.id, "exp": int(time.time()) + 600}
    assert opens_search(**fresh) == 200
    assert opens_search(**{**fresh, "exp": int(time.time()) - 1}) == 302
    assert opens_search(**{**fresh, "id": "tok_0000000000000000"}) == 302
    # An OIDC session cannot be forged into existence when single sign-on is off.
    assert opens_search(kind="oidc", id="oidc:x", name="x", roles=["admin"],
                        exp=int(time.time()) + 600) == 302
