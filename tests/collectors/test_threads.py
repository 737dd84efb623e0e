"""Threads collector, piece by piece: options, Graph errors, kinds, hide_status, media
and what it asks (one behaviour each)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.collectors import threads as th
from archiver.collectors.protocol import AccountConfig
from archiver.collectors.registry import get_collector
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from tests.collectors.threads_replay import EXPIRED, PATH, TOKEN, USER_ID, FakeThreads, gone
from tests.replay.server import ReplayServer, Reply

FA = "ممنون از اطلاع‌رسانی به فارسی."


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acc_1", platform="threads", platform_id=USER_ID,
                         handle="wrenfield.city", base_url=server.url + PATH,
                         credentials={"access_token": TOKEN})


def test_threads_is_a_built_in_platform():
    assert get_collector("threads") is th.COLLECTOR


@pytest.mark.parametrize("options", [{"page_size": 101}, {"max_pages": 0},
                                     {"recheck_days": True}, {"since": 1}])
def test_bad_options_are_a_configuration_error(options):
    with pytest.raises(ConfigError):
        th.Options.of(options)


def test_only_100_33_is_a_gone_answer():
    assert th.is_gone(gone("1"))
    assert not th.is_gone(EXPIRED)
    assert not th.is_gone({"error": {"code": 100, "error_subcode": 2207}})


@pytest.mark.parametrize(("body", "raised"), [
    (EXPIRED, CredentialsRejected),
    ({"error": {"message": "limit", "type": "OAuthException", "code": 17}}, RateLimited),
    (gone("1"), MalformedResponse),
], ids=["expired-token", "user-request-limit", "gone-when-not-a-lookup"])
def test_graph_errors_are_typed(server, http, body, raised):
    server.route("GET", f"{PATH}/1", Reply.json(body, 400))
    api = th.ThreadsApi(account(server), http, datetime.now(UTC))
    with pytest.raises(raised):
        api.get("1", {})


def test_a_hidden_reply_is_a_hidden_observation_and_others_are_not(server):
    reply = {"id": "5", "text": FA, "timestamp": "2026-12-01T10:00:00+0000",
             "hide_status": "HIDDEN"}
    assert th.observation(account(server), reply, "r", kind="comment",
                          parent="4").event == "hidden"
    for status in ("NOT_HUSHED", "UNHUSHED", "COVERED"):
        reply["hide_status"] = status
        assert th.observation(account(server), reply, "r", kind="comment",
                              parent="4").event is None


def test_a_carousel_gives_one_medium_per_child():
    post = {"id": "9", "media_type": "CAROUSEL_ALBUM", "children": {"data": [
        {"id": "91", "media_type": "IMAGE", "media_url": "https://cdn/1.jpg"},
        {"id": "92", "media_type": "VIDEO", "media_url": "https://cdn/2.mp4"}]}}
    assert th.media_of(post) == [
        {"id": "91", "url": "https://cdn/1.jpg", "mime": "image/jpeg"},
        {"id": "92", "url": "https://cdn/2.mp4", "mime": "video/mp4"}]


def test_a_later_run_asks_only_since_the_look_back(server, http):
    fake = FakeThreads()
    fake.install(server)
    fake.post("x", datetime.now(UTC))
    th.COLLECTOR.harvest(account(server), http,
                         {"listed_until": "2026-12-01T00:00:00Z"}, [])
    th.COLLECTOR.harvest(account(server), http, {"listed_until": "not a time"}, [])
    calls = server.calls(f"{PATH}/{USER_ID}/threads")
    assert calls[0].arg("since") is not None and calls[1].arg("since") is None


def test_the_conversation_names_every_reply_as_a_thread(server, http):
    fake = FakeThreads()
    fake.install(server)
    p = fake.post("x", datetime.now(UTC))
    r = fake.reply(p, FA, datetime.now(UTC))
    h = th.COLLECTOR.harvest(account(server), http, {}, [])
    assert {p, r} <= h.threads
    assert server.calls(f"{PATH}/{p}/conversation")[0].arg("reverse") == "false"
