"""YouTube collector, piece by piece: options, quota days, error mapping, the shape of
observations, and what it asks the API (one behaviour each)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.collectors import youtube as yt
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.registry import get_collector, known_platforms
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from tests.collectors.youtube_replay import (
    API_KEY,
    BASE_PATH,
    CHANNEL_ID,
    COMMENTS_DISABLED,
    KEY_INVALID,
    QUOTA_EXCEEDED,
    FakeYouTube,
    error,
)
from tests.replay.server import ReplayServer, Reply

FA = "ممنون از اطلاع‌رسانی به فارسی."


def account(server: ReplayServer, **options: object) -> AccountConfig:
    return AccountConfig(id="acc_1", platform="youtube", platform_id=CHANNEL_ID,
                         handle="@city", base_url=server.url + BASE_PATH,
                         credentials={"api_key": API_KEY}, options=options)


def test_youtube_is_a_built_in_platform():
    assert "youtube" in known_platforms()
    assert get_collector("youtube") is yt.COLLECTOR


@pytest.mark.parametrize("options", [{"daily_quota": 0}, {"daily_quota": "lots"},
                                     {"thumbnails": "yes"}, {"comment_videos": -1},
                                     {"quota": 5}])
def test_bad_options_are_a_configuration_error(options):
    with pytest.raises(ConfigError):
        yt.Options.of(options)


def test_the_quota_day_is_pacific_time():
    # 07:30 UTC on 2 Dec is still 1 Dec in California (PST, UTC-8)
    assert yt.quota_day(datetime(2026, 12, 2, 7, 30, tzinfo=UTC)) == "2026-12-01"
    assert yt.quota_day(datetime(2026, 12, 2, 8, 30, tzinfo=UTC)) == "2026-12-02"


def test_quota_resets_at_the_next_pacific_midnight_in_summer_and_winter():
    winter = yt.next_pacific_midnight(datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    summer = yt.next_pacific_midnight(datetime(2026, 7, 2, 1, 0, tzinfo=UTC))
    assert datetime.fromtimestamp(winter, UTC) == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert datetime.fromtimestamp(summer, UTC) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


def test_error_reasons_come_from_errors_and_details():
    assert yt.error_reasons(QUOTA_EXCEEDED) == ["quotaExceeded"]
    assert yt.error_reasons(KEY_INVALID) == ["badRequest", "API_KEY_INVALID"]
    assert yt.error_reasons("<html>") == []


@pytest.mark.parametrize(("reply", "raised"), [
    (Reply.json(QUOTA_EXCEEDED, 403), RateLimited),
    (Reply.json(KEY_INVALID, 400), CredentialsRejected),
    (Reply.json(error(403, "forbidden", "Access forbidden."), 403), CredentialsRejected),
    (Reply.json(error(400, "invalidPageToken", "bad token"), 400), MalformedResponse),
], ids=["quota", "key-invalid", "forbidden", "other-400"])
def test_api_errors_are_typed(server, http, reply, raised):
    server.route("GET", f"{BASE_PATH}/videos", reply)
    api = yt.YouTubeApi(account(server), http, used=0, quota=100,
                        now=datetime.now(UTC))
    with pytest.raises(raised):
        api.get("videos", {"id": "x"})


def test_a_tolerated_reason_is_returned_not_raised(server, http):
    server.route("GET", f"{BASE_PATH}/commentThreads", Reply.json(COMMENTS_DISABLED, 403))
    api = yt.YouTubeApi(account(server), http, used=0, quota=100, now=datetime.now(UTC))
    assert api.get("commentThreads", {}, tolerate=frozenset({"commentsDisabled"})) == \
        ({}, "commentsDisabled")


def test_no_request_is_sent_past_the_daily_quota(server, http):
    api = yt.YouTubeApi(account(server), http, used=5, quota=5, now=datetime.now(UTC))
    with pytest.raises(yt.QuotaSpent):
        api.get("videos", {"id": "x"})
    assert server.requests == []


def test_an_account_without_a_key_is_rejected(server, http):
    config = AccountConfig(id="a", platform="youtube", platform_id=CHANNEL_ID, handle="h",
                           base_url=server.url, credentials={})
    with pytest.raises(CredentialsRejected):
        yt.YouTubeApi(config, http, used=0, quota=1, now=datetime.now(UTC))


def test_video_text_is_title_blank_line_description():
    assert yt.video_text({"title": "Mafuriko", "description": FA}) == f"Mafuriko\n\n{FA}"
    assert yt.video_text({"title": "Only", "description": ""}) == "Only"


def test_comment_text_prefers_text_original(server):
    comment = {"id": "Ugz1", "snippet": {"textOriginal": FA, "textDisplay": "<b>x</b>",
                                         "publishedAt": "2026-12-01T10:00:00Z"}}
    obs = yt.comment_observation(account(server), comment, "vid", "c")
    assert obs.text == FA and obs.parent_id == "vid" and obs.kind == "comment"


def test_a_video_of_another_channel_is_refused(server):
    video = {"id": "v", "snippet": {"title": "t", "publishedAt": "2026-12-01T10:00:00Z",
                                    "channelId": "UCsomeoneelse"}}
    with pytest.raises(MalformedResponse, match="not UCw3"):
        yt.video_observation(account(server), video, "videos items[0]", True)


def test_lookup_units_count_one_request_per_fifty_of_each_resource():
    items = [KnownItem(f"v{i}", "video", None, None, "live") for i in range(51)] + \
        [KnownItem("c1", "comment", "v1", None, "live")]
    assert yt.lookup_units(items) == 3


def test_comment_threads_are_asked_as_plain_text_with_the_key(server, http):
    fake = FakeYouTube()
    fake.install(server)
    fake.video("vid1", "t", "", datetime.now(UTC))
    yt.COLLECTOR.harvest(account(server), http, {}, [])
    call = server.calls(f"{BASE_PATH}/commentThreads")[0]
    assert call.arg("textFormat") == "plainText" and call.arg("key") == API_KEY
    assert call.arg("part") == "snippet,replies"


def test_the_quota_used_today_is_carried_in_the_cursor(server, http):
    fake = FakeYouTube()
    fake.install(server)
    fake.video("vid1", "t", "", datetime.now(UTC))
    today = yt.quota_day(datetime.now(UTC))
    h = yt.COLLECTOR.harvest(account(server), http,
                             {"quota": {"day": today, "used": 40}}, [])
    # channels + playlistItems + videos + commentThreads
    assert h.cursor["quota"] == {"day": today, "used": 44}
    h = yt.COLLECTOR.harvest(account(server), http,
                             {"quota": {"day": "2000-01-01", "used": 9999}}, [])
    assert h.cursor["quota"]["used"] == 4


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
_ACCOUNT = AccountConfig(id="acc_1", platform="youtube", platform_id=CHANNEL_ID,
                         handle="@city", base_url="https://www.googleapis.com/youtube/v3",
                         credentials={"api_key": API_KEY})


@settings(max_examples=200, deadline=None)
@given(text=_TEXT)
def test_any_comment_text_is_kept_exactly(text):
    comment = {"id": "Ugz1", "snippet": {"textOriginal": text, "textDisplay": "x",
                                         "publishedAt": "2026-12-01T10:00:00Z"}}
    assert yt.comment_observation(_ACCOUNT, comment, "v", "c").text == text


@settings(max_examples=200, deadline=None)
@given(title=_TEXT.filter(bool), description=_TEXT)
def test_any_title_and_description_come_back_exactly(title, description):
    text = yt.video_text({"title": title, "description": description})
    assert text == (f"{title}\n\n{description}" if description else title)
    assert text.startswith(title) and text.endswith(description)
