"""Facebook Pages end to end: the replayed Graph API -> the framework's runner -> capture
-> log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.collectors import accounts as acc
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    cli,
    drop_later_pages,
    last_payload,
    local_backend,
    quiet_transport,
    run,
)
from tests.collectors.facebook_replay import (
    PAGE_ID,
    TOKEN,
    VERSION,
    gone,
    page_limit,
)
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"page:{PAGE_ID}"
NAVID = ("1220458301937664", "نوید")
ROK = ("1220458301937665", "Rok Žagar")
PAGE = (PAGE_ID, "City of Wrenfield")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def add(archive: Archive, server: ReplayServer, *, base: str | None = None,
        **options: object) -> str:
    return acc.add_account(archive.appender, platform="facebook", platform_id=PAGE_ID,
                           handle="WrenfieldCity", base_url=base or f"{server.url}/{VERSION}",
                           credentials={"access_token": TOKEN}, options=options).id


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return add(archive, server)


def test_posts_visitor_posts_comments_replies_and_hidden_comments_are_archived_once(
        archive, account_id, server, page, http):
    server.route("GET", "/cdn/flood.jpg", Reply(200, JPEG, {"Content-Type": "image/jpeg"}))
    post = page.post(SW, ago(50), photo=f"{server.url}/cdn/flood.jpg")
    comment = page.comment(post, FA, ago(40), by=NAVID)
    answer = page.comment(comment, "بله، سرویس هست.", ago(35), by=PAGE)
    hidden = page.comment(post, "spam spam", ago(30), by=ROK, hidden=True)
    visitor = page.post(SL, ago(20), visitor=ROK)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", PROFILE), ("created", "post", post),
        ("created", "comment", comment), ("created", "reply", answer),
        ("hidden", "comment", hidden), ("created", "visitor_post", visitor)])
    record = last_payload(archive, post)
    assert record["text"] == SW and len(record["media"][0]["sha256"]) == 64
    assert last_payload(archive, comment)["text"] == FA
    assert last_payload(archive, answer)["parent_id"] == comment
    assert last_payload(archive, hidden)["text"] == "spam spam"
    assert last_payload(archive, visitor)["author"]["name"] == "Rok Žagar"
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_edited_post_and_comment_are_edited_events(archive, account_id, page, http):
    post = page.post("Cesta je zaprta do 12. ure.", ago(30))
    comment = page.comment(post, "Hvala!", ago(25), by=ROK)
    run(archive, account_id, http)
    page.edit(post, "Cesta je zaprta do 15. ure.", ago(5))
    page.edit(comment, "Hvala za obvestilo!", ago(4))

    result, captured = run(archive, account_id, http)

    assert sorted(captured) == sorted([("edited", "post", post),
                                       ("edited", "comment", comment)])
    assert last_payload(archive, post)["text"] == "Cesta je zaprta do 15. ure."
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_new_comment_is_created_under_its_post(archive, account_id, page, http):
    post = page.post(SW, ago(30))
    run(archive, account_id, http)
    comment = page.comment(post, "Asante kwa taarifa!", ago(2), by=NAVID)

    result, captured = run(archive, account_id, http)

    assert captured == [("created", "comment", comment)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_hiding_then_unhiding_a_comment_is_hidden_then_restored(archive, account_id, page,
                                                                 http):
    post = page.post(SW, ago(30))
    comment = page.comment(post, FA, ago(20), by=NAVID)
    run(archive, account_id, http)
    page.hide(comment)

    result, captured = run(archive, account_id, http)
    assert captured == [("hidden", "comment", comment)]
    assert_second_run_archives_nothing(archive, account_id, http)

    page.hide(comment, False)
    result, captured = run(archive, account_id, http)
    assert captured == [("restored", "comment", comment)]


def test_deleted_post_and_comment_are_archived_deleted_with_graphs_answer(
        archive, account_id, page, http):
    post = page.post(SW, ago(30))
    comment = page.comment(post, FA, ago(20), by=NAVID)
    gone_post = page.post(SL, ago(10))
    run(archive, account_id, http)
    page.delete(comment)
    page.delete(gone_post)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", comment),
                                       ("deleted", "post", gone_post)])
    for item in (comment, gone_post):
        payload = last_payload(archive, item)
        assert payload["event"] == "deleted" and payload["raw"] == gone(item)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_100_33_while_the_page_itself_does_not_answer_records_no_deletion(
        archive, account_id, server, page, http):
    post = page.post(SW, ago(30))
    run(archive, account_id, http)
    page.delete(post)
    # the Page answers the listing, then (permissions withdrawn) no longer answers itself
    replies = iter([page._page(None), Reply.json(gone(PAGE_ID), 400)])  # noqa: SLF001
    server.route("GET", f"/{VERSION}/{PAGE_ID}",
                 lambda req: next(replies, Reply.json(gone(PAGE_ID), 400)))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "cannot be told deleted" in result.error
    assert captured == []


def test_a_renamed_page_edits_only_its_profile(archive, account_id, page, http):
    page.post(SW, ago(30))
    run(archive, account_id, http)
    page.username = "WrenfieldCouncil"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert "page renamed: @WrenfieldCity is now @WrenfieldCouncil" in result.notes
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_429_with_retry_after_is_waited_out(archive, account_id, server, page, http):
    post = page.post(SW, ago(30))
    path = f"/{VERSION}/{PAGE_ID}/published_posts"
    answer = server.routes[("GET", path)]
    limited = [Reply.json({"error": {"message": "busy", "code": 4}}, 429,
                          {"Retry-After": "2"})]
    server.route("GET", path, lambda req: limited.pop() if limited else answer(req))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and ("created", "post", post) in captured
    assert http.waited > 1.5
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_page_rate_limit_records_the_run_rate_limited_until_access_is_regained(
        archive, account_id, server, page, http):
    page.post(SW, ago(30))
    server.route("GET", f"/{VERSION}/{PAGE_ID}/published_posts", page_limit(25))

    before = datetime.now(UTC)
    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and captured == []
    retry_at = datetime.fromisoformat(result.retry_at.replace("Z", "+00:00"))
    assert before + timedelta(minutes=24) < retry_at < before + timedelta(minutes=26)


def test_an_expired_token_pauses_the_account_and_raises_an_alert(archive, account_id, page,
                                                                   http):
    page.post(SW, ago(30))
    page.token = "rotated-by-facebook"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "credentials rejected" in result.error
    assert "190" in result.error and captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"
    with archive.catalog.reader() as conn:
        assert [a["kind"] for a in acc.open_alerts(conn, account_id)] == \
            ["credentials_rejected"]


def test_a_token_about_to_expire_raises_an_alert_and_the_run_goes_on(
        archive, account_id, page, http):
    post = page.post(SW, ago(30))
    page.data_access_expires_at = int((datetime.now(UTC) + timedelta(days=3)).timestamp())

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and ("created", "post", post) in captured
    with archive.catalog.reader() as conn:
        alerts = acc.open_alerts(conn, account_id)
    assert [a["kind"] for a in alerts] == ["token_expiring"]
    assert "data access expires" in alerts[0]["message"]
    assert acc.get_account(archive.catalog, account_id).status == "active"


def test_a_token_debug_token_says_is_invalid_pauses_the_account(archive, account_id, page,
                                                               http):
    page.post(SW, ago(30))
    page.token_valid = False

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"


@pytest.mark.parametrize("bad", [
    Reply(200, b"<html><body>Sorry, something went wrong.</body></html>",
          {"Content-Type": "text/html"}),
    Reply.json({"data": [{"id": 104612345678901, "message": "?"}]}),
    Reply.json({"data": {"id": "1"}}),
], ids=["html", "numeric-id", "data-not-a-list"])
def test_a_malformed_page_fails_the_run_and_the_next_run_archives_everything(
        archive, account_id, server, page, http, bad):
    post = page.post(SW, ago(30))
    path = f"/{VERSION}/{PAGE_ID}/published_posts"
    answer = server.routes[("GET", path)]
    server.route("GET", path, bad)

    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "MalformedResponse" in failed.error
    assert captured == []
    server.route("GET", path, answer)
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "post", post),
                                       ("created", "profile", PROFILE)])


def test_a_connection_dropped_mid_pagination_archives_nothing_then_resumes(
        archive, account_id, server, page, http):
    page.page_size = 3
    posts = [page.post(f"Obvestilo {i}", ago(60 - i)) for i in range(7)]
    path = f"/{VERSION}/{PAGE_ID}/published_posts"
    drop = drop_later_pages(server, path, "until")   # the second page drops while drop[0]
    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "PlatformUnavailable" in failed.error
    assert captured == []
    drop[0] = False
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "profile", PROFILE)]
                                      + [("created", "post", p) for p in posts])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_paging_keeps_to_the_configured_host_and_the_token_out_of_urls(
        archive, account_id, server, page, http):
    page.page_size = 2
    post = page.post(SW, ago(30))
    comments = [page.comment(post, f"Maoni {i}", ago(20 - i), by=NAVID) for i in range(5)]
    older = [page.post(f"Notice {i}", ago(60 - i)) for i in range(3)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert {i for _, _, i in captured} == {PROFILE, post, *comments, *older}
    assert all("access_token" not in r.query for r in server.requests)
    assert any(r.arg("__paging_token") for r in server.calls(
        f"/{VERSION}/{PAGE_ID}/published_posts"))
    assert [r.arg("after") for r in server.calls(f"/{VERSION}/{post}/comments")] == \
        [None, "2", "4"]


def test_a_huge_payload_fails_the_run(archive, account_id, page):
    page.post("🌊" * 20000, ago(30))
    transports = quiet_transport(max_bytes=64 * 1024, retries=0)
    result, captured = run(archive, account_id, next(transports))
    transports.close()

    assert result.outcome == "failed" and "larger than" in result.error
    assert captured == []


def test_the_base_url_without_a_version_gets_the_api_version_option(
        archive, server, page, http):
    account_id = add(archive, server, base=server.url, api_version=VERSION)
    post = page.post(SW, ago(30))

    result, captured = run(archive, account_id, http)

    assert ("created", "post", post) in captured


def test_an_unknown_option_fails_the_run_naming_it(archive, server, page, http):
    account_id = add(archive, server, recheck_dayz=3)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "recheck_dayz" in result.error


def test_the_command_line_adds_and_collects_a_page(archive, backend_env, server, page,
                                                   capsys, monkeypatch):
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    page.post(SW, ago(30))
    code, added, _ = cli(capsys, "accounts", "add", "facebook", "--platform-id", PAGE_ID,
                         "--handle", "WrenfieldCity", "--base-url", f"{server.url}/{VERSION}",
                         "--credential", f"access_token={TOKEN}",
                         "--option", "recheck_days=3")
    assert code == 0, added

    code, first, out = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert code == 0 and first["outcome"] == "ok", first
    assert first["events"]["created"] == 2          # the post and the Page's profile
    code, second, out2 = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert sum(second["events"].values()) == 0
    assert TOKEN not in out + out2


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], indirect=True,
                         ids=["s3-postgres"])
def test_the_same_run_on_s3_and_postgres(archive, account_id, page, http):
    post = page.post(SW, ago(40))
    comment = page.comment(post, FA, ago(30), by=NAVID)
    run(archive, account_id, http)
    page.edit(post, SW + " (imesasishwa)", ago(5))
    page.delete(comment)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("edited", "post", post),
                                       ("deleted", "comment", comment)])
    assert_second_run_archives_nothing(archive, account_id, http)
