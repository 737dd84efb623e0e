"""TikTok collector, piece by piece: options, the error envelope, text rules, the
account check (one behaviour each)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archiver.collectors import tiktok as tk
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.registry import get_collector
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse
from tests.collectors.tiktok_replay import OPEN_ID, TOKEN, FakeTikTok, envelope
from tests.replay.server import ReplayServer, Reply

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acc_1", platform="tiktok", platform_id=OPEN_ID,
                         handle="wrenfield", base_url=server.url,
                         credentials={"access_token": TOKEN})


def test_tiktok_is_a_built_in_platform():
    assert get_collector("tiktok") is tk.COLLECTOR


@pytest.mark.parametrize("options", [{"max_count": 21}, {"covers": 1},
                                     {"recheck_days": 0}, {"comments": True}])
def test_bad_options_are_a_configuration_error(options):
    with pytest.raises(ConfigError):
        tk.Options.of(options)


def test_text_is_the_caption_after_a_different_title():
    assert tk.video_text({"video_description": FA, "title": ""}) == FA
    assert tk.video_text({"video_description": FA, "title": FA}) == FA
    assert tk.video_text({"video_description": FA, "title": "Basi"}) == f"Basi\n\n{FA}"


def test_a_token_of_another_user_is_refused(server):
    with pytest.raises(MalformedResponse, match="open_id"):
        tk.profile_observation(account(server), {"user": {"open_id": "someone",
                                                          "display_name": "x"}})


def test_an_error_code_in_a_200_answer_is_not_taken_for_data(server, http):
    server.route("GET", "/v2/user/info/",
                 Reply.json(envelope({}, "scope_not_authorized", "no scope")))
    with pytest.raises(CredentialsRejected, match="scope_not_authorized"):
        tk.TikTokApi(account(server), http).call("GET", "user/info", "open_id")


def test_lookups_ask_twenty_ids_a_request(server, http):
    fake = FakeTikTok()
    fake.install(server)
    ids = [fake.video(f"v{i}", datetime.now(UTC)) for i in range(25)]
    out = tk.COLLECTOR.lookup(account(server), http,
                              [KnownItem(i, "video", None, None, "live") for i in ids])
    bodies = [json.loads(r.body) for r in server.calls("/v2/video/query/")]
    assert [len(b["filters"]["video_ids"]) for b in bodies] == [20, 5]
    assert all(o.event is None for o in out) and len(out) == 25
