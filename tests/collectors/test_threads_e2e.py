"""Threads end to end: the replayed Threads API -> the framework's runner -> capture -> log.

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
from tests.collectors.threads_replay import PATH, TOKEN, USER_ID, gone
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"account:{USER_ID}"


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return acc.add_account(archive.appender, platform="threads", platform_id=USER_ID,
                           handle="wrenfield.city", base_url=server.url + PATH,
                           credentials={"access_token": TOKEN}).id


def test_posts_replies_and_own_answers_are_created_once(archive, account_id, th, http):
    p1 = th.post(SW, ago(60))
    p2 = th.post(SL, ago(50))
    c = th.reply(p1, FA, ago(40), username="navid.wf")
    answer = th.reply(c, "Ndiyo, ipo.", ago(30), username="wrenfield.city")
    nested = th.reply(answer, "Asante!", ago(20))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", PROFILE), ("created", "post", p1), ("created", "post", p2),
        ("created", "comment", c), ("created", "reply", answer),
        ("created", "comment", nested)])
    assert last_payload(archive, p1)["text"] == SW
    assert last_payload(archive, c)["text"] == FA
    assert last_payload(archive, nested)["parent_id"] == answer
    assert_second_run_archives_nothing(archive, account_id, http)


def test_changed_text_is_an_edit_through_the_fingerprint(archive, account_id, th, http):
    """Threads' API has no edit signal; a changed text is still archived as edited."""
    p = th.post("Ratiba ya leo", ago(60))
    run(archive, account_id, http)
    th.posts[p]["text"] = "Ratiba ya leo (imesasishwa)"

    _, captured = run(archive, account_id, http)

    assert captured == [("edited", "post", p)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_hidden_reply_is_hidden_and_unhiding_restores_it(archive, account_id, th, http):
    p = th.post(SW, ago(60))
    c = th.reply(p, "Tangazo la biashara", ago(50))
    run(archive, account_id, http)
    th.replies[c]["hide_status"] = "HIDDEN"

    _, captured = run(archive, account_id, http)
    assert captured == [("hidden", "comment", c)]
    assert_second_run_archives_nothing(archive, account_id, http)

    th.replies[c]["hide_status"] = "UNHUSHED"
    _, captured = run(archive, account_id, http)
    assert captured == [("restored", "comment", c)]


def test_deleted_post_and_reply_are_found_by_direct_fetch(archive, account_id, th, http):
    p1 = th.post(SW, ago(60))
    p2 = th.post(SL, ago(50))
    c = th.reply(p1, FA, ago(40))
    run(archive, account_id, http)
    th.delete(p2)
    th.delete(c)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "post", p2), ("deleted", "comment", c)])
    raw = last_payload(archive, p2)["raw"]
    assert raw["error"]["code"] == 100 and raw["error"]["error_subcode"] == 33
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_reply_takes_its_nested_replies_with_it(archive, account_id, th, http):
    p = th.post(SW, ago(60))
    c = th.reply(p, FA, ago(50))
    nested = th.reply(c, "Asante", ago(40), username="wrenfield.city")
    deeper = th.reply(nested, "Hvala", ago(30))
    run(archive, account_id, http)
    th.delete(c)

    _, captured = run(archive, account_id, http)

    assert sorted(captured) == sorted([("deleted", "comment", c),
                                       ("deleted", "reply", nested),
                                       ("deleted", "comment", deeper)])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_gone_answer_is_not_a_deletion_when_the_token_cannot_read_the_profile(
        archive, account_id, th, http):
    p1 = th.post(SW, ago(60))
    p2 = th.post(SL, ago(50))
    run(archive, account_id, http)
    th.delete(p2)
    th.overrides[f"/{USER_ID}"] = [None, Reply.json(gone(USER_ID), 400)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert p1 and "100/33" in result.error


def test_a_rename_edits_the_profile_and_is_noted(archive, account_id, th, http):
    run(archive, account_id, http)
    th.username, th.name = "wrenfield.council", "Wrenfield Council"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert any("renamed" in n for n in result.notes)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_expired_token_pauses_the_account(archive, account_id, th, http):
    th.token = "renewed"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "code 190" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_429_is_waited_out(archive, account_id, th, http):
    p = th.post(SW, ago(60))
    th.overrides[f"/{USER_ID}/threads"] = [Reply.json({}, 429, {"Retry-After": "3"}), None]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == [("created", "post", p), ("created", "profile", PROFILE)]
    assert http.waited >= 2.5
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_application_request_limit_is_rate_limited_not_a_token_problem(
        archive, account_id, th, http):
    th.overrides[f"/{USER_ID}/threads"] = [Reply.json(
        {"error": {"message": "Application request limit reached", "type":
                   "OAuthException", "is_transient": True, "code": 4,
                   "fbtrace_id": "A"}}, 400)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and captured == []
    assert result.retry_at is not None
    assert acc.get_account(archive.catalog, account_id).status == "active"


@pytest.mark.parametrize("reply", [
    Reply(200, b"<!DOCTYPE html><html>Sorry, something went wrong.</html>",
          {"Content-Type": "text/html"}),
    Reply.json({"data": {"id": "1"}}),
    Reply.json({"data": [{"id": 42, "timestamp": "2026-01-01T00:00:00+0000"}]}),
], ids=["html", "data-not-a-list", "id-not-a-string"])
def test_a_malformed_page_fails_and_archives_nothing(archive, account_id, th, http, reply):
    th.post(SW, ago(60))
    th.overrides[f"/{USER_ID}/threads"] = [reply]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert TOKEN not in result.error   # the token travels in the query string
    del th.overrides[f"/{USER_ID}/threads"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[:2] for c in captured) == [("created", "post"), ("created", "profile")]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_drop_mid_pagination_fails_then_resumes(archive, account_id, th, http):
    posts = [th.post(f"Chapisho {i}", ago(60 - i)) for i in range(5)]
    body = Reply.json({"data": [th.posts[p] for p in posts]}).encoded()
    th.overrides[f"/{USER_ID}/threads"] = [None, Reply(200, body, {"Content-Type":
                                                                   "application/json"},
                                                       drop_after=40)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "PlatformUnavailable" in result.error
    del th.overrides[f"/{USER_ID}/threads"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[2] for c in captured if c[1] == "post") == sorted(posts)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_is_refused(archive, account_id, th):
    th.post("x" * 300_000, ago(60))
    for small in quiet_transport(max_bytes=100_000):
        result, captured = run(archive, account_id, small)
    assert result.outcome == "failed" and captured == []
    assert "limit" in result.error
