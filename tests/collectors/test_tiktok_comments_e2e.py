"""TikTok comments end to end: the replayed Business API v1.3 comment listings -> the
runner -> capture -> log (comments, replies, hidden, restored, deleted, typed errors).

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing.
"""

from __future__ import annotations

import pytest

from archiver.collectors import accounts as acc
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    cli,
    last_payload,
    local_backend,
    run,
)
from tests.collectors.tiktok_replay import (
    BUSINESS_ID,
    BUSINESS_PATH,
    BUSINESS_TOKEN,
    OPEN_ID,
    TOKEN,
    business,
)
from tests.replay.server import ReplayServer, Reply

SW = "Asante kwa taarifa! Barabara itafunguliwa lini?"
FA = "اطلاع‌رسانی خوبی بود، ممنون."
SL = "Hvala za obvestilo. Ali bo čistilna akcija tudi v nedeljo?"
EN = "Thanks, we will post an update on Friday."
LIST = f"{BUSINESS_PATH}/business/comment/list/"
REPLIES = f"{BUSINESS_PATH}/business/comment/reply/list/"


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return acc.add_account(
        archive.appender, platform="tiktok", platform_id=OPEN_ID, handle="wrenfield",
        base_url=server.url,
        credentials={"access_token": TOKEN, "business_access_token": BUSINESS_TOKEN},
        options={"business_id": BUSINESS_ID,
                 "business_base_url": server.url + BUSINESS_PATH}).id


def comments_of(captured: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return sorted(c for c in captured if c[1] in ("comment", "reply"))


def test_comments_and_replies_are_created_once(archive, account_id, server, tt, http):
    v = tt.video("Barabara imefungwa", ago(60))
    c1 = tt.comment(v, SW, ago(50))
    c2 = tt.comment(v, FA, ago(45), user="sara.m")
    r1 = tt.comment(v, EN, ago(40), parent=c1, owner=True)
    r2 = tt.comment(v, SL, ago(30), parent=c1, user="jana.n")

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert comments_of(captured) == sorted([("created", "comment", c1),
                                            ("created", "comment", c2),
                                            ("created", "reply", r1),
                                            ("created", "comment", r2)])
    assert last_payload(archive, c2)["text"] == FA
    reply = last_payload(archive, r2)
    assert reply["text"] == SL and reply["parent_id"] == c1
    assert last_payload(archive, c1)["parent_id"] == v
    assert last_payload(archive, c2)["author"] == {"id": "uid-sara.m", "handle": "sara.m",
                                                   "name": "Sara.M"}
    listed = server.calls(LIST)
    assert listed[0].arg("status") == "ALL" and listed[0].arg("business_id") == BUSINESS_ID
    assert listed[0].headers.get("access-token") == BUSINESS_TOKEN
    assert [r.arg("comment_id") for r in server.calls(REPLIES)] == [c1]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_long_listing_is_paged_with_the_cursor(archive, account_id, server, tt, http):
    v = tt.video("Mkutano wa hadhara", ago(60))
    ids = [tt.comment(v, f"Maoni {i}", ago(50 - i / 10)) for i in range(35)]

    _, captured = run(archive, account_id, http)

    assert sorted(c[2] for c in captured if c[1] == "comment") == sorted(ids)
    assert [r.arg("cursor") for r in server.calls(LIST)] == [None, "30"]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_hidden_comment_is_archived_hidden_then_restored(archive, account_id, tt, http):
    v = tt.video("Basi 12", ago(60))
    c = tt.comment(v, FA, ago(50))
    run(archive, account_id, http)
    tt.comments[c]["status"] = "HIDDEN"

    _, captured = run(archive, account_id, http)

    assert captured == [("hidden", "comment", c)]
    assert_second_run_archives_nothing(archive, account_id, http)
    tt.comments[c]["status"] = "PUBLIC"
    _, captured = run(archive, account_id, http)
    assert captured == [("restored", "comment", c)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_comment_hidden_before_the_first_run_is_archived_hidden(archive, account_id,
                                                                   tt, http):
    v = tt.video("Basi 12", ago(60))
    c = tt.comment(v, SL, ago(50))
    tt.comments[c]["status"] = "HIDDEN"

    _, captured = run(archive, account_id, http)

    assert [x for x in captured if x[2] == c] == [("hidden", "comment", c)]
    assert last_payload(archive, c)["text"] == SL


def test_deleted_comments_and_replies_are_recorded_deleted(archive, account_id, tt, http):
    v = tt.video("Barabara", ago(60))
    c1 = tt.comment(v, SW, ago(50))
    c2 = tt.comment(v, FA, ago(45))
    r = tt.comment(v, SL, ago(40), parent=c2)
    run(archive, account_id, http)
    del tt.comments[c1]
    del tt.comments[r]
    tt.comments[c2]["replies"] = 0

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", c1),
                                       ("deleted", "comment", r)])
    assert last_payload(archive, c1)["raw"]["absent_from"] == {
        "parent_id": v, "status": "ALL", "listing": "complete"}
    assert last_payload(archive, r)["raw"]["absent_from"]["parent_id"] == c2
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_comment_takes_its_replies_with_it(archive, account_id, tt, http):
    v = tt.video("Barabara", ago(60))
    c = tt.comment(v, SW, ago(50))
    r = tt.comment(v, EN, ago(40), parent=c, owner=True)
    run(archive, account_id, http)
    del tt.comments[c]
    del tt.comments[r]

    _, captured = run(archive, account_id, http)

    assert sorted(captured) == sorted([("deleted", "comment", c), ("deleted", "reply", r)])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_cut_comment_listing_presumes_nothing_deleted(archive, server, tt, http):
    account_id = acc.add_account(
        archive.appender, platform="tiktok", platform_id=OPEN_ID, handle="wrenfield",
        base_url=server.url,
        credentials={"access_token": TOKEN, "business_access_token": BUSINESS_TOKEN},
        options={"business_id": BUSINESS_ID, "max_pages": 1,
                 "business_base_url": server.url + BUSINESS_PATH}).id
    v = tt.video("Barabara", ago(60))
    first = tt.comment(v, SW, ago(50))
    for i in range(31):   # 31 left after the deletion: more than one page of 30
        tt.comment(v, f"Maoni {i}", ago(40 - i / 10))
    run(archive, account_id, http)
    del tt.comments[first]

    result, captured = run(archive, account_id, http)

    assert ("deleted", "comment", first) not in captured
    assert any("not presumed deleted" in n for n in result.notes)


def test_a_revoked_business_token_pauses_the_account(archive, account_id, tt, http):
    tt.video("Barabara", ago(60))
    tt.business_token = "act.renewed"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "40105" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_code_40100_is_rate_limited_and_archives_nothing(archive, account_id, tt, http):
    v = tt.video("Barabara", ago(60))
    tt.comment(v, SW, ago(50))
    tt.overrides["comment/list"] = [Reply.json(business({}, 40100, "Too many requests"))]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and captured == []
    del tt.overrides["comment/list"]
    _, captured = run(archive, account_id, http)
    assert len(comments_of(captured)) == 1
    assert_second_run_archives_nothing(archive, account_id, http)


@pytest.mark.parametrize("reply", [
    Reply(200, b"<html>502</html>", {"Content-Type": "text/html"}),
    Reply.json(business({"comments": {"comment_id": "1"}, "has_more": False})),
    Reply.json(business({"comments": [{"comment_id": "1", "create_time": 1, "text": "x",
                                       "status": "REMOVED"}], "has_more": False})),
    Reply.json(business({"comments": [{"comment_id": 1, "create_time": 1, "text": "x",
                                       "status": "PUBLIC"}], "has_more": False})),
    Reply.json(business({"comments": [], "has_more": "no"})),
    Reply.json(business({}, 40002, "video_id is invalid")),
    Reply.json({"code": "0", "message": "OK", "data": {}}),
], ids=["html", "comments-not-a-list", "unknown-status", "id-not-a-string",
        "has-more-not-bool", "param-error", "code-not-a-number"])
def test_a_malformed_comment_page_fails_and_archives_nothing(archive, account_id, tt, http,
                                                             reply):
    v = tt.video("Barabara", ago(60))
    tt.comment(v, SW, ago(50))
    tt.overrides["comment/list"] = [reply]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    del tt.overrides["comment/list"]
    _, captured = run(archive, account_id, http)
    assert len(comments_of(captured)) == 1
    assert_second_run_archives_nothing(archive, account_id, http)


def test_without_business_credentials_comments_are_noted_not_read(archive, server, tt,
                                                                  http):
    account_id = acc.add_account(archive.appender, platform="tiktok", platform_id=OPEN_ID,
                                 handle="wrenfield", base_url=server.url,
                                 credentials={"access_token": TOKEN}).id
    v = tt.video("Barabara", ago(60))
    tt.comment(v, SW, ago(50))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(c[1] for c in captured) == ["profile", "video"]
    assert any("comments not collected" in n for n in result.notes)
    assert server.calls(LIST) == []


def test_the_command_line_adds_business_credentials_and_collects_comments(
        archive, backend_env, server, tt, capsys, monkeypatch):
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    v = tt.video("Barabara", ago(60))
    tt.comment(v, SW, ago(50))
    hidden = tt.comment(v, FA, ago(40))
    tt.comments[hidden]["status"] = "HIDDEN"

    code, added, _ = cli(capsys, "accounts", "add", "tiktok", "--platform-id", OPEN_ID,
                         "--handle", "wrenfield", "--base-url", server.url,
                         "--credential", f"access_token={TOKEN}",
                         "--credential", f"business_access_token={BUSINESS_TOKEN}",
                         "--option", f"business_id={BUSINESS_ID}",
                         "--option", f"business_base_url={server.url}{BUSINESS_PATH}")
    assert code == 0, added
    code, first, out = cli(capsys, "collect", "--once", "--account", added["id"], "--json")

    assert code == 0 and first["outcome"] == "ok", first
    assert first["events"]["created"] == 3 and first["events"]["hidden"] == 1
    assert BUSINESS_TOKEN not in out
