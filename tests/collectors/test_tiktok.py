"""TikTok collector, piece by piece: options, the error envelope, text rules, the
account check (one behaviour each)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archiver.collectors import tiktok as tk
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.registry import get_collector
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from tests.collectors.tiktok_replay import (
    BUSINESS_ID,
    BUSINESS_PATH,
    BUSINESS_TOKEN,
    OPEN_ID,
    TOKEN,
    FakeTikTok,
    business,
    envelope,
)
from tests.replay.server import ReplayServer, Reply

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acc_1", platform="tiktok", platform_id=OPEN_ID,
                         handle="wrenfield", base_url=server.url,
                         credentials={"access_token": TOKEN})


def test_tiktok_is_a_built_in_platform():
    assert get_collector("tiktok") is tk.COLLECTOR


@pytest.mark.parametrize("options", [{"max_count": 21}, {"covers": 1},
                                     {"recheck_days": 0}, {"comments": True},
                                     {"business_id": ""}, {"business_id": True},
                                     {"business_base_url": "ftp://x"}])
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


def test_a_business_id_of_digits_typed_as_a_number_is_kept_as_text():
    assert tk.Options.of({"business_id": 7012345}).business_id == "7012345"


def business_api(server: ReplayServer, http, **credentials: str) -> tk.BusinessApi:  # noqa: ANN001
    acct = AccountConfig(id="acc_1", platform="tiktok", platform_id=OPEN_ID,
                         handle="wrenfield", base_url=server.url,
                         credentials={"access_token": TOKEN, **credentials},
                         options={"business_id": BUSINESS_ID,
                                  "business_base_url": server.url + BUSINESS_PATH})
    return tk.BusinessApi(acct, http, tk.Options.of(acct.options))


def test_a_business_id_without_a_business_token_is_a_configuration_error(server, http):
    with pytest.raises(ConfigError, match="business_access_token"):
        business_api(server, http)


@pytest.mark.parametrize("code", [40001, 40102, 40105])
def test_business_token_codes_reject_the_credentials(server, http, code):
    server.route("GET", f"{BUSINESS_PATH}/business/comment/list/",
                 Reply.json(business({}, code, "token")))
    api = business_api(server, http, business_access_token=BUSINESS_TOKEN)
    with pytest.raises(CredentialsRejected, match=str(code)):
        api.get("comment/list", {"video_id": "1"})


def test_business_code_40100_is_a_rate_limit_not_a_credentials_problem(server, http):
    server.route("GET", f"{BUSINESS_PATH}/business/comment/list/",
                 Reply.json(business({}, 40100, "Too many requests")))
    api = business_api(server, http, business_access_token=BUSINESS_TOKEN)
    with pytest.raises(RateLimited, match="40100"):
        api.get("comment/list", {"video_id": "1"})


def test_the_business_token_goes_in_access_token_without_bearer(server, http):
    server.route("GET", f"{BUSINESS_PATH}/business/comment/list/",
                 Reply.json(business({"comments": [], "has_more": False})))
    business_api(server, http, business_access_token=BUSINESS_TOKEN).get(
        "comment/list", {"video_id": "1"})
    req = server.calls(f"{BUSINESS_PATH}/business/comment/list/")[0]
    assert req.headers.get("access-token") == BUSINESS_TOKEN
    assert "authorization" not in req.headers and req.arg("business_id") == BUSINESS_ID


def comment(**fields: object) -> dict[str, object]:
    return {"comment_id": "7400000000000000001", "video_id": "1", "user_id": "u1",
            "create_time": 1764640000, "text": FA, "owner": False, "status": "PUBLIC",
            "username": "sara.m", "display_name": "Sara", **fields}


def acct() -> AccountConfig:
    return AccountConfig(id="acc_1", platform="tiktok", platform_id=OPEN_ID,
                         handle="wrenfield", base_url="http://x")


def test_the_accounts_own_comment_is_a_reply_and_text_is_kept_byte_for_byte():
    obs = tk.comment_observation(acct(), comment(owner=True), "1", "here")
    assert obs.kind == "reply" and obs.text == FA and obs.parent_id == "1"
    assert tk.comment_observation(acct(), comment(), "1", "here").kind == "comment"


def test_a_hidden_comment_carries_the_hidden_event():
    assert tk.comment_observation(acct(), comment(status="HIDDEN"), "1", "x").event == \
        "hidden"
    assert tk.comment_observation(acct(), comment(), "1", "x").event is None


def test_parent_comment_id_wins_over_the_listing_parent():
    obs = tk.comment_observation(acct(), comment(parent_comment_id="740"), "1", "x")
    assert obs.parent_id == "740"


@pytest.mark.parametrize("bad", [{"create_time": "yesterday"}, {"create_time": True},
                                 {"status": None}, {"owner": "yes"}, {"text": None}])
def test_a_comment_out_of_shape_is_malformed(bad):
    with pytest.raises(MalformedResponse):
        tk.comment_observation(acct(), comment(**bad), "1", "x")
