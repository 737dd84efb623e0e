"""Bluesky end to end: the replayed AppView -> the framework's runner -> capture -> log.

Each scenario asserts the exact events the run archived, and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.collectors.transport import Transport, TransportSettings
from archiver.log.reader import read_record
from archiver.wiring import Archive
from tests.collectors import e2e_support
from tests.collectors.bluesky_replay import DID, HANDLE, AppView, build_repo_car
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    assert_second_run_archives_nothing,
    cli,
    last_payload,
    local_backend,
    run,
)
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."


@pytest.fixture
def appview(server: ReplayServer) -> AppView:
    return AppView(server)


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return acc.add_account(archive.appender, platform="bluesky", platform_id=DID,
                           handle=HANDLE, base_url=server.url).id


def ago(minutes: int) -> str:
    """`createdAt` shortly before now, as Bluesky writes it (older would be backfill)."""
    return e2e_support.ago(minutes).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_posts_comments_and_media_are_created_once(archive, account_id, appview, http):
    post = appview.post(SW, ago(50), langs=["sw"], images=[("flood-map", "Ramani")])
    comment = appview.post(FA, ago(40), by="navid", parent=post)
    answer = appview.post("Asante, Navid.", ago(30), parent=comment)
    other = appview.post(SL, ago(20), langs=["sl"])

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", DID), ("created", "post", post),
        ("created", "comment", comment), ("created", "reply", answer),
        ("created", "post", other)])
    record = read_record(archive.appender, _seq_of(archive, post)).payload
    assert record["text"] == SW and record["media"][0]["sha256"]
    assert read_record(archive.appender, _seq_of(archive, comment)).payload["text"] == FA
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_updated_record_is_an_edit(archive, account_id, appview, http):
    post = appview.post("Cesta je zaprta do 12. ure.", ago(30), langs=["sl"])
    run(archive, account_id, http)
    appview.update(post, "Cesta je zaprta do 15. ure.")

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "post", post)]
    payload = last_payload(archive, post)
    assert payload["text"] == "Cesta je zaprta do 15. ure."
    assert payload["raw"]["cid"] == appview.cid(post)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_new_comment_is_created_under_its_post(archive, account_id, appview, http):
    post = appview.post(SW, ago(30))
    run(archive, account_id, http)
    comment = appview.post("Asante kwa taarifa!", ago(5), by="amani", parent=post)

    result, captured = run(archive, account_id, http)

    assert captured == [("created", "comment", comment)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_comment_the_account_hides_is_archived_hidden(archive, account_id, appview, http):
    post = appview.post(SL, ago(30))
    rude = appview.post("To je neumnost.", ago(20), by="rok", parent=post)
    run(archive, account_id, http)
    appview.hide(post, rude)

    result, captured = run(archive, account_id, http)

    assert captured == [("hidden", "comment", rude)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_post_and_comment_are_archived_deleted_with_bluesky_answer(
        archive, account_id, appview, http):
    post = appview.post(SW, ago(30))
    comment = appview.post("Asante!", ago(20), by="amani", parent=post)
    gone = appview.post(SL, ago(10))
    run(archive, account_id, http)
    appview.delete(comment)
    appview.delete(gone)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", comment),
                                       ("deleted", "post", gone)])
    for item in (comment, gone):
        payload = last_payload(archive, item)
        assert payload["event"] == "deleted"
        assert payload["raw"] == {"error": "NotFound", "message": f"Post not found: {item}"}
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_nested_comment_and_own_reply_elsewhere_are_found(
        archive, account_id, appview, http):
    post = appview.post(SW, ago(40))
    comment = appview.post("Asante!", ago(35), by="amani", parent=post)
    nested = appview.post(FA, ago(30), by="navid", parent=comment)
    theirs = appview.post("Je, barabara imefunguliwa?", ago(25), by="rok")
    own = appview.post("Bado, Rok.", ago(20), parent=theirs)
    first, captured = run(archive, account_id, http)
    assert ("created", "comment", nested) in captured and ("created", "reply", own) in captured
    appview.delete(nested)
    appview.delete(own)

    result, captured = run(archive, account_id, http)

    assert sorted(captured) == sorted([("deleted", "comment", nested),
                                       ("deleted", "reply", own)])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_renamed_account_edits_only_its_profile(archive, account_id, appview, http):
    post = appview.post(SW, ago(30))
    run(archive, account_id, http)
    appview.rename("wrenfield.gov.example")

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", DID)]
    assert f"handle changed from {HANDLE} to wrenfield.gov.example" in result.notes
    assert post  # the post's new URL is not an edit
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_429_with_retry_after_is_waited_out_in_the_run(archive, account_id, appview, http):
    post = appview.post(SW, ago(30))
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply.json({"error": "RateLimitExceeded"}, 429, {"Retry-After": "2"}))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and ("created", "post", post) in captured
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_long_rate_limit_records_the_run_and_archives_nothing(
        archive, account_id, appview, http):
    appview.post(SW, ago(30))
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply.json({"error": "RateLimitExceeded"}, 429,
                              {"RateLimit-Remaining": "0",
                               "RateLimit-Reset": str(int(time.time())
                                                      + 900)}))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and result.retry_at is not None
    assert captured == []


def test_an_expired_token_pauses_the_account_and_archives_nothing(
        archive, server, appview, http):
    account_id = acc.add_account(archive.appender, platform="bluesky", platform_id=DID,
                                 handle=HANDLE, base_url=server.url,
                                 credentials={"access_jwt": "eyJ.expired.jwt"}).id
    appview.post(SW, ago(30))
    appview.script("app.bsky.actor.getProfile",
                   Reply.json({"error": "ExpiredToken", "message": "Token has expired"}, 400))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "credentials rejected" in result.error
    assert captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"


@pytest.mark.parametrize("bad", [
    Reply(200, b"<html><body>Service Unavailable</body></html>",
          {"Content-Type": "text/html"}),
    Reply.json({"feed": [{"post": {"uri": "at://nobody", "cid": 7}}]}),
], ids=["html", "wrong-types"])
def test_a_malformed_page_fails_the_run_and_the_next_run_archives_everything(
        archive, account_id, appview, http, bad):
    post = appview.post(SW, ago(30))
    appview.script("app.bsky.feed.getAuthorFeed", bad)

    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "MalformedResponse" in failed.error
    assert captured == []
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == [("created", "post", post), ("created", "profile", DID)]


def test_a_connection_dropped_mid_pagination_archives_nothing_then_resumes(
        archive, account_id, appview, http, monkeypatch):
    monkeypatch.setattr("archiver.collectors.bluesky.FEED_PAGE", 1)
    first = appview.post(SW, ago(30))
    second = appview.post(SL, ago(20))
    page1 = Reply.json({"feed": [{"post": appview.view(second)}], "cursor": "1"})
    dropped = Reply(200, b'{"feed": [{"post": {"uri": "at://', {}, drop_after=12)
    appview.script("app.bsky.feed.getAuthorFeed", page1, *[dropped] * 3)

    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "PlatformUnavailable" in failed.error
    assert captured == []
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "profile", DID),
                                       ("created", "post", first),
                                       ("created", "post", second)])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_fails_the_run(archive, account_id, appview):
    appview.post("🌊" * 20000, ago(30))
    with Transport(TransportSettings(max_bytes=64 * 1024, retries=0),
                   sleep=lambda s: None) as small:
        result, captured = run(archive, account_id, small)

    assert result.outcome == "failed" and "larger than" in result.error
    assert captured == []


def _seq_of(archive: Archive, item_id: str) -> int:
    """The item's first record."""
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.records.c.seq).where(t.records.c.item_id == item_id)
                            .order_by(t.records.c.seq).limit(1)).scalar_one()



def test_the_command_line_adds_collects_and_imports(
        archive, backend_env, appview, server, capsys, monkeypatch, tmp_path):
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    post = appview.post(SW, ago(30), langs=["sw"])
    appview.post(FA, ago(20), by="navid", parent=post)

    code, added, _ = cli(capsys, "accounts", "add", "bluesky", "--platform-id", DID,
                      "--handle", HANDLE, "--base-url", server.url,
                      "--option", "lookback_days=3")
    assert code == 0, added
    code, first, _ = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert code == 0 and first["outcome"] == "ok", first
    assert first["events"] == {"created": 3, "edited": 0, "deleted": 0, "hidden": 0,
                               "restored": 0, "observed": 0}
    code, second, _ = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert code == 0 and sum(second["events"].values()) == 0

    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    code, failed, _ = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert code == 1 and failed["outcome"] == "failed" and "HTML page" in failed["error"]

    car = tmp_path / "repo.car"
    car.write_bytes(build_repo_car(DID, {"app.bsky.feed.post/3kold222222a": {
        "$type": "app.bsky.feed.post", "text": SL, "createdAt": "2023-05-01T08:00:00Z",
        "langs": ["sl"]}}))
    code, imported, _ = cli(capsys, "import", "bluesky", str(car))
    assert code == 0 and imported["events"]["observed"] == 1, imported
    uri = f"at://{DID}/app.bsky.feed.post/3kold222222a"
    assert read_record(archive.appender, _seq_of(archive, uri)).payload["text"] == SL

    car.write_bytes(car.read_bytes()[:100])
    code, _, output = cli(capsys, "import", "bluesky", str(car))
    assert code == 2 and "not a CAR file" in output
