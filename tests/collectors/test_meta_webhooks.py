"""Meta webhooks through the API: the subscription check, signed deliveries of Page feed
changes and Instagram comments/mentions archived once, forged ones archiving nothing.

Delivery shapes follow Meta's Webhooks reference for Pages (`feed`: `item`, `verb`,
`post_id`, `comment_id`, `parent_id`, `from`, `message`, `created_time` in epoch
seconds) and Instagram (`comments`: `id`, `text`, `from`, `media`; `mentions`:
`media_id`, `comment_id`). The content is written here for these tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archiver.api import create_app
from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.collectors.runner import collect_account
from archiver.config import load_settings
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    captures_after,
    head,
    last_payload,
    local_backend,
    quiet_transport,
)
from tests.collectors.facebook_replay import PAGE_ID, TOKEN, VERSION, FakePage
from tests.replay.server import ReplayServer

SECRET = "meta-app-secret-0f3c9a7e"
VERIFY = "wrenfield-verify-7d1e"
IG_ID = "17841405822304914"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
SW = "Taarifa: Barabara ya Kingfisher imefungwa. 🌧️"
POST = f"{PAGE_ID}_1000000000042"
COMMENT = "1000000000042_1000000000043"
NAVID = {"id": "1220458301937664", "name": "نوید"}
URL = "/api/v1/webhooks/meta"


@pytest.fixture
def hooked(make_archive: Any) -> Archive:
    """The archive with the webhook secrets configured and the Page and the Instagram
    account registered."""
    archive = make_archive(ARCHIVER_WEBHOOKS_META_APP_SECRET=SECRET,
                           ARCHIVER_WEBHOOKS_META_VERIFY_TOKEN=VERIFY)
    for platform, pid in (("facebook", PAGE_ID), ("instagram", IG_ID)):
        acc.add_account(archive.appender, platform=platform, platform_id=pid,
                        handle="wrenfieldcity", base_url="https://graph.facebook.com/v21.0",
                        credentials={"access_token": TOKEN})
    return archive


@pytest.fixture
def client(hooked: Archive) -> FlaskClient:
    return create_app(hooked.settings, hooked).test_client()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def feed(*values: dict[str, Any], page: str = PAGE_ID, time: int | None = None) -> bytes:
    entry = {"id": page, "time": time or values[0]["created_time"],
             "changes": [{"field": "feed", "value": v} for v in values]}
    return json.dumps({"object": "page", "entry": [entry]}, ensure_ascii=False).encode()


def post_change(verb: str, at: int, message: str | None = SW) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": PAGE_ID, "name": "City of Wrenfield"}, "item": "status",
        "post_id": POST, "verb": verb, "created_time": at, "published": 1,
        "post": {"id": POST, "status_type": "mobile_status_update", "is_published": True,
                 "permalink_url": f"https://www.facebook.com/{POST}"}}
    if message is not None:
        value["message"] = message
    return value


def comment_change(verb: str, at: int, message: str | None = FA) -> dict[str, Any]:
    value: dict[str, Any] = {"from": NAVID, "item": "comment", "post_id": POST,
                             "comment_id": COMMENT, "parent_id": POST, "verb": verb,
                             "created_time": at, "post": {"id": POST}}
    if message is not None:
        value["message"] = message
    return value


def stamp(minutes_ago: float) -> int:
    return int(ago(minutes_ago).timestamp())


def deliver(client: FlaskClient, archive: Archive, body: bytes,
            headers: dict[str, str] | None = None) -> tuple[Any, list[tuple[str, str, str]]]:
    before = head(archive)
    response = client.post(URL, data=body, headers=signed(body) if headers is None else headers)
    return response, captures_after(archive, before)


def record_count(archive: Archive) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.records)).scalar_one()


# -- the subscription check ---------------------------------------------------------------


def test_the_subscription_check_echoes_the_challenge_as_text(client):
    response = client.get(URL, query_string={"hub.mode": "subscribe", "hub.challenge":
                                             "1158201444", "hub.verify_token": VERIFY})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "1158201444"


def test_a_wrong_verify_token_is_403_and_the_token_is_not_audited(client, hooked):
    response = client.get(URL, query_string={"hub.mode": "subscribe", "hub.challenge": "1",
                                             "hub.verify_token": "guess"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    client.get(URL, query_string={"hub.mode": "subscribe", "hub.challenge": "1",
                                  "hub.verify_token": VERIFY})
    with hooked.catalog.reader() as conn:
        trail = json.dumps([list(r) for r in conn.execute(select(t.audit_events))],
                           default=str)
    assert VERIFY not in trail and "guess" not in trail


@pytest.mark.parametrize("query", [
    {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": VERIFY},
    {"hub.mode": "subscribe", "hub.verify_token": VERIFY},
    {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": VERIFY, "x": "1"},
    {"hub.mode": "subscribe", "hub.challenge": "<script>", "hub.verify_token": VERIFY},
], ids=["mode", "no-challenge", "unknown-parameter", "markup-challenge"])
def test_a_bad_subscription_check_is_400(client, query):
    response = client.get(URL, query_string=query)
    assert response.status_code == 400 and "error" in response.get_json()


def test_without_a_configured_verify_token_every_check_is_refused(make_archive):
    archive = make_archive()
    client = create_app(archive.settings, archive).test_client()
    response = client.get(URL, query_string={"hub.mode": "subscribe", "hub.challenge": "1",
                                             "hub.verify_token": ""})
    assert response.status_code == 403


# -- deliveries ---------------------------------------------------------------------------


def test_a_signed_delivery_archives_its_post_and_comment_before_answering(client, hooked):
    body = feed(post_change("add", stamp(10)), comment_change("add", stamp(9)))

    response, captured = deliver(client, hooked, body)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["archived"] == 2 and response.get_json()["changes"] == 2
    assert captured == [("created", "post", POST), ("created", "comment", COMMENT)]
    payload = last_payload(hooked, COMMENT)
    assert payload["text"] == FA and payload["parent_id"] == POST
    assert payload["author"] == {"id": NAVID["id"], "handle": None, "name": "نوید"}


@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"},
    {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
    None,
], ids=["missing", "forged", "other-secret"])
def test_a_forged_or_unsigned_delivery_is_401_and_archives_nothing(client, hooked, headers):
    body = feed(post_change("add", stamp(10)))
    before = record_count(hooked)

    response, captured = deliver(client, hooked, body,
                                 headers if headers is not None else signed(body, "not-it"))

    assert response.status_code == 401 and response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert captured == [] and record_count(hooked) == before


def test_a_body_changed_after_signing_is_refused(client, hooked):
    body = feed(post_change("add", stamp(10)))
    tampered = body.replace(SW.encode(), SL.encode())

    response, captured = deliver(client, hooked, tampered, signed(body))

    assert response.status_code == 401 and captured == []


def test_without_a_configured_app_secret_every_delivery_is_refused(make_archive):
    archive = make_archive()
    client = create_app(archive.settings, archive).test_client()
    body = feed(post_change("add", stamp(10)))
    response = client.post(URL, data=body, headers=signed(body, ""))
    assert response.status_code == 401


def test_a_replayed_delivery_archives_nothing_the_second_time(client, hooked):
    body = feed(post_change("add", stamp(10)), comment_change("add", stamp(9)))
    deliver(client, hooked, body)

    response, captured = deliver(client, hooked, body)

    assert response.status_code == 200 and captured == []


def test_out_of_order_edits_keep_the_newest_text(client, hooked):
    deliver(client, hooked, feed(post_change("add", stamp(30), "v1")))
    late = feed(post_change("edited", stamp(10), "v3"))
    early = feed(post_change("edited", stamp(20), "v2"))

    _, first = deliver(client, hooked, late)
    response, second = deliver(client, hooked, early)

    assert first == [("edited", "post", POST)]
    assert response.status_code == 200 and second == []
    assert last_payload(hooked, POST)["text"] == "v3"


def test_an_edit_notice_edits_a_held_item_and_creates_an_unknown_one(client, hooked):
    deliver(client, hooked, feed(post_change("add", stamp(30), SW)))

    _, held = deliver(client, hooked, feed(post_change("edited", stamp(5), SW + " (2)")))
    _, unknown = deliver(client, hooked, feed(comment_change("edited", stamp(4), FA)))

    assert held == [("edited", "post", POST)]
    assert unknown == [("created", "comment", COMMENT)]


def test_remove_hide_and_unhide_notices(client, hooked):
    deliver(client, hooked, feed(comment_change("add", stamp(30))))

    _, hidden = deliver(client, hooked, feed(comment_change("hide", stamp(20))))
    _, restored = deliver(client, hooked, feed(comment_change("unhide", stamp(15))))
    _, bare = deliver(client, hooked, feed(comment_change("unhide", stamp(12), None)))
    _, deleted = deliver(client, hooked, feed(comment_change("remove", stamp(10), None)))

    assert hidden == [("hidden", "comment", COMMENT)]
    assert restored == [("restored", "comment", COMMENT)]
    assert bare == []
    assert deleted == [("deleted", "comment", COMMENT)]


def test_a_delivery_for_an_unregistered_page_is_acknowledged_and_logged(client, hooked,
                                                                         caplog):
    body = feed(post_change("add", stamp(10)), page="999999999999")
    with caplog.at_level(logging.WARNING, logger="archiver.api.webhooks"):
        response, captured = deliver(client, hooked, body)

    assert response.status_code == 200 and captured == []
    assert response.get_json()["unregistered"] == ["facebook 999999999999"]
    assert "999999999999" in caplog.text


def test_unarchived_items_and_verbs_are_ignored_and_said(client, hooked):
    reaction = {"item": "reaction", "verb": "add", "post_id": POST, "reaction_type": "like",
                "created_time": stamp(5), "from": NAVID}
    response, captured = deliver(client, hooked, feed(reaction))
    assert response.status_code == 200 and captured == []
    assert "item 'reaction' is not archived" in response.get_json()["ignored"][0]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"object": "page"}'],
                         ids=["not-json", "array", "no-entry"])
def test_a_signed_but_malformed_delivery_is_400_and_archives_nothing(client, hooked, body):
    response, captured = deliver(client, hooked, body)
    assert response.status_code == 400 and captured == []


def test_instagram_comments_and_mentions_become_observations(client, hooked):
    at = stamp(5)
    body = json.dumps({"object": "instagram", "entry": [{"id": IG_ID, "time": at, "changes": [
        {"field": "comments", "value": {
            "from": {"id": "1784140000000001", "username": "navid_wf"},
            "media": {"id": "17900000000000001", "media_product_type": "FEED"},
            "id": "17900000000000002", "text": FA}},
        {"field": "mentions", "value": {"media_id": "17900000000000003",
                                        "comment_id": "17900000000000004"}}]}]},
        ensure_ascii=False).encode()

    response, captured = deliver(client, hooked, body)
    _, again = deliver(client, hooked, body)

    assert response.status_code == 200
    assert captured == [("created", "comment", "17900000000000002"),
                        ("created", "mention", "mention:17900000000000004")]
    assert last_payload(hooked, "17900000000000002")["text"] == FA
    assert last_payload(hooked, "17900000000000002")["parent_id"] == "17900000000000001"
    assert again == []


def test_polling_after_a_webhook_archives_nothing_twice(make_archive, tmp_path):
    """The webhook saw the post first; the next poll sees the same post: no new event."""
    archive = make_archive(ARCHIVER_WEBHOOKS_META_APP_SECRET=SECRET)
    with ReplayServer() as server:
        page = FakePage(server)
        post = page.post(SL, ago(10))
        account_id = acc.add_account(
            archive.appender, platform="facebook", platform_id=PAGE_ID, handle="WrenfieldCity",
            base_url=f"{server.url}/{VERSION}", credentials={"access_token": TOKEN}).id
        value = {**post_change("add", stamp(10), SL), "post_id": post}
        client = create_app(archive.settings, archive).test_client()
        response, captured = deliver(client, archive, feed(value))
        assert captured == [("created", "post", post)], response.get_json()
        transports: Iterator = quiet_transport()
        http = next(transports)
        before = head(archive)
        collect_account(archive, account_id, transport=http)
        assert captures_after(archive, before) == [("created", "profile", f"page:{PAGE_ID}")]
        assert_second_run_archives_nothing(archive, account_id, http)
        transports.close()


def test_the_secrets_come_from_files_and_are_masked(tmp_path):
    secret_file = tmp_path / "meta-secret"
    secret_file.write_text(SECRET + "\n")
    settings = load_settings(tmp_path / "home", env={
        "ARCHIVER_WEBHOOKS_META_APP_SECRET_FILE": str(secret_file),
        "ARCHIVER_WEBHOOKS_META_VERIFY_TOKEN": VERIFY})
    assert settings.webhooks.meta_app_secret == SECRET
    masked = settings.masked()["webhooks"]
    assert masked == {"meta_app_secret": "********", "meta_verify_token": "********"}


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], indirect=True,
                         ids=["s3-postgres"])
def test_a_delivery_on_s3_and_postgres_is_durable_before_the_answer(client, hooked):
    body = feed(post_change("add", stamp(10)), comment_change("add", stamp(9)))

    response, captured = deliver(client, hooked, body)
    _, again = deliver(client, hooked, body)

    assert response.status_code == 200
    assert captured == [("created", "post", POST), ("created", "comment", COMMENT)]
    assert last_payload(hooked, COMMENT)["text"] == FA and again == []


def test_other_objects_and_bad_entry_ids_are_ignored_and_said(client, hooked):
    body = json.dumps({"object": "user", "entry": [{"id": "1", "time": stamp(1),
                                                    "changes": [{"field": "feed",
                                                                 "value": {}}]}]}).encode()
    response, captured = deliver(client, hooked, body)
    assert response.status_code == 200 and captured == []
    assert "object 'user' is not archived" in response.get_json()["ignored"][0]

    body = feed(post_change("add", stamp(3)), page="../../etc")
    response, captured = deliver(client, hooked, body)
    assert captured == [] and "not a Graph id" in response.get_json()["ignored"][0]


def test_a_mention_from_a_webhook_never_fails_or_deletes_in_polling(make_archive):
    """A mention is not the account's item: the Instagram collector's window and lookups
    leave it alone, and the run goes on."""
    from tests.collectors.instagram_replay import IG_ID as FAKE_IG
    from tests.collectors.instagram_replay import TOKEN as IG_TOKEN
    from tests.collectors.instagram_replay import FakeInstagram
    archive = make_archive(ARCHIVER_WEBHOOKS_META_APP_SECRET=SECRET)
    with ReplayServer() as server:
        ig = FakeInstagram(server)
        ig.post(SL, ago(10))
        account_id = acc.add_account(
            archive.appender, platform="instagram", platform_id=FAKE_IG,
            handle="wrenfieldcity", base_url=f"{server.url}/{VERSION}",
            credentials={"access_token": IG_TOKEN}).id
        client = create_app(archive.settings, archive).test_client()
        body = json.dumps({"object": "instagram", "entry": [{"id": FAKE_IG, "time": stamp(5),
                           "changes": [{"field": "mentions", "value": {
                               "media_id": "17900000000000777"}}]}]}).encode()
        _, captured = deliver(client, archive, body)
        assert captured == [("created", "mention", "mention:17900000000000777")]
        transports: Iterator = quiet_transport()
        http = next(transports)
        result = collect_account(archive, account_id, transport=http)
        assert result.outcome == "ok" and result.looked_up == 0, result.error
        transports.close()


def test_a_removal_delivered_before_the_addition_leaves_the_item_deleted(client, hooked):
    _, first = deliver(client, hooked, feed(comment_change("remove", stamp(5), None)))
    _, late = deliver(client, hooked, feed(comment_change("add", stamp(9))))

    assert first == [("deleted", "comment", COMMENT)] and late == []
