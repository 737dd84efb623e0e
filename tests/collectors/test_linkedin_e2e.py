"""LinkedIn end to end: the replayed Community Management API -> runner -> capture -> log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

import pytest

from archiver.collectors import accounts as acc
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    last_payload,
    local_backend,
    quiet_transport,
    run,
)
from tests.collectors.linkedin_replay import ORG, ORG_ID, PATH, TOKEN
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."


def add(archive: Archive, server: ReplayServer, **options: object) -> str:
    return acc.add_account(archive.appender, platform="linkedin", platform_id=ORG_ID,
                           handle="city-of-wrenfield", base_url=server.url + PATH,
                           credentials={"access_token": TOKEN},
                           options={"page_size": 2, **options}).id


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return add(archive, server)


def test_posts_comments_and_replies_are_created_once(archive, account_id, li, http):
    p1 = li.post(SW, ago(60))
    p2 = li.post(SL, ago(50))
    p3 = li.post("Council meeting at 10:00.", ago(45))
    c = li.comment(p1, FA, ago(40))
    answer = li.comment(c, "Ndiyo, ipo.", ago(30), actor=ORG)
    other = li.comment(c, "Hvala!", ago(20), actor="urn:li:person:R0kZ4g4r")

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", ORG), ("created", "post", p1), ("created", "post", p2),
        ("created", "post", p3), ("created", "comment", c), ("created", "reply", answer),
        ("created", "comment", other)])
    assert last_payload(archive, p1)["text"] == SW
    assert last_payload(archive, c)["text"] == FA
    assert last_payload(archive, c)["parent_id"] == p1
    assert last_payload(archive, other)["parent_id"] == c
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_edited_post_is_archived_as_edited(archive, account_id, li, http):
    p = li.post("Ratiba ya leo", ago(60))
    run(archive, account_id, http)
    li.edit(p, "Ratiba ya leo (imesasishwa)", ago(5))

    _, captured = run(archive, account_id, http)

    assert captured == [("edited", "post", p)]
    raw = last_payload(archive, p)["raw"]
    assert raw["lastModifiedAt"] > raw["publishedAt"]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_deleted_post_comment_and_reply_are_found_by_fetch(archive, account_id, li, http):
    p1 = li.post(SW, ago(60))
    p2 = li.post(SL, ago(50))
    c = li.comment(p1, FA, ago(40))
    r = li.comment(c, "Jibu", ago(30))
    run(archive, account_id, http)
    li.delete(p2)
    li.delete(r)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "post", p2), ("deleted", "comment", r)])
    assert last_payload(archive, p2)["raw"]["body"]["code"] == "NOT_FOUND"
    li.delete(c)
    _, captured = run(archive, account_id, http)
    assert captured == [("deleted", "comment", c)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_hidden_comments_are_not_exposed_and_nothing_is_marked_hidden(archive, account_id,
                                                                     li, http):
    """LinkedIn's Comments API carries no hidden state: every comment is `created`."""
    p = li.post(SW, ago(60))
    c = li.comment(p, "Spam?", ago(50))

    _, captured = run(archive, account_id, http)

    assert sorted(captured) == [("created", "comment", c), ("created", "post", p),
                                ("created", "profile", ORG)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_rename_edits_the_profile_and_is_noted(archive, account_id, li, http):
    run(archive, account_id, http)
    li.name = "Wrenfield City Council"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", ORG)]
    assert any("renamed" in n for n in result.notes)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_expired_token_pauses_the_account(archive, account_id, li, http):
    li.token = "renewed"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "EXPIRED_ACCESS_TOKEN" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_a_missing_permission_pauses_the_account(archive, account_id, li, http):
    li.overrides["posts"] = [Reply.json({"status": 403, "serviceErrorCode": 100,
                                         "code": "ACCESS_DENIED", "message": "Not enough "
                                         "permissions to access: posts.FINDER-author"}, 403)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "ACCESS_DENIED" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_429_is_retried(archive, account_id, li, http):
    p = li.post(SW, ago(60))
    li.overrides["posts"] = [Reply.json({"status": 429, "code": "TOO_MANY_REQUESTS",
                                         "message": "Resource level throttle limit"}, 429),
                             None]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == [("created", "post", p), ("created", "profile", ORG)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_429_that_persists_is_rate_limited(archive, account_id, li, http):
    li.overrides["posts"] = [Reply.json({"status": 429, "code": "TOO_MANY_REQUESTS",
                                         "message": "Daily limit"}, 429,
                                        {"Retry-After": "86000"})]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and captured == []
    assert result.retry_at is not None


@pytest.mark.parametrize("reply", [
    Reply(200, b"<html>LinkedIn is down</html>", {"Content-Type": "text/html"}),
    Reply.json({"elements": {"id": "x"}}),
    Reply.json({"elements": [{"id": "urn:li:share:1", "author": ORG, "commentary": "x",
                              "publishedAt": "yesterday"}]}),
    Reply.json({"elements": [{"id": "urn:li:share:1", "author": "urn:li:organization:9",
                              "commentary": "x", "publishedAt": 1}]}),
], ids=["html", "elements-not-a-list", "time-not-ms", "another-author"])
def test_a_malformed_page_fails_and_archives_nothing(archive, account_id, li, http, reply):
    li.post(SW, ago(60))
    li.overrides["posts"] = [reply]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    del li.overrides["posts"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[:2] for c in captured) == [("created", "post"), ("created", "profile")]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_drop_mid_pagination_fails_then_resumes(archive, account_id, li, http):
    posts = [li.post(f"Chapisho {i}", ago(60 - i)) for i in range(5)]
    body = Reply.json({"elements": [li.posts[p] for p in posts]}).encoded()
    li.overrides["posts"] = [None, Reply(200, body, {"Content-Type": "application/json"},
                                         drop_after=50)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    del li.overrides["posts"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[2] for c in captured if c[1] == "post") == sorted(posts)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_is_refused(archive, account_id, li):
    li.post("x" * 300_000, ago(60))
    for small in quiet_transport(max_bytes=100_000):
        result, captured = run(archive, account_id, small)
    assert result.outcome == "failed" and captured == []
    assert "limit" in result.error


def test_later_runs_reread_only_the_lookback_and_presume_nothing_older(archive, server,
                                                                      li, http):
    account_id = add(archive, server, lookback_posts=2)
    old = li.post("Zamani", ago(300))
    for i in range(3):
        li.post(f"Mpya {i}", ago(60 - i))
    run(archive, account_id, http)
    li.delete(old)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and captured == [] and result.looked_up == 0
