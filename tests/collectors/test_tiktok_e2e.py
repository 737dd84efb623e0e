"""TikTok end to end: the replayed Display API v2 -> the framework's runner -> capture ->
log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was. These accounts
have no Business API credentials, so no comments are read; comments are in
`test_tiktok_comments_e2e.py`.
"""

from __future__ import annotations

import json

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
from tests.collectors.tiktok_replay import OPEN_ID, TOKEN, envelope
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️ #Wrenfield"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"account:{OPEN_ID}"


def add(archive: Archive, server: ReplayServer, **options: object) -> str:
    return acc.add_account(archive.appender, platform="tiktok", platform_id=OPEN_ID,
                           handle="wrenfield", base_url=server.url,
                           credentials={"access_token": TOKEN},
                           options={"max_count": 2, **options}).id


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return add(archive, server)


def test_videos_are_created_once_with_their_covers(archive, account_id, server, tt, http):
    v1 = tt.video(SW, ago(60))
    v2 = tt.video(FA, ago(50), title="Basi 12")
    v3 = tt.video(SL, ago(40))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", PROFILE), ("created", "video", v1), ("created", "video", v2),
        ("created", "video", v3)])
    record = last_payload(archive, v1)
    assert record["text"] == SW and len(record["media"][0]["sha256"]) == 64
    assert last_payload(archive, v2)["text"] == f"Basi 12\n\n{FA}"
    lists = [json.loads(r.body) for r in server.calls("/v2/video/list/")]
    assert lists[0] == {"max_count": 2} and "cursor" in lists[1]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_changed_caption_is_an_edit(archive, account_id, tt, http):
    v = tt.video(SW, ago(60))
    run(archive, account_id, http)
    tt.videos[v]["video_description"] = SW + " (imesasishwa)"

    _, captured = run(archive, account_id, http)

    assert captured == [("edited", "video", v)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_video_is_found_by_query(archive, account_id, server, tt, http):
    v1 = tt.video(SW, ago(60))
    v2 = tt.video(SL, ago(50))
    run(archive, account_id, http)
    del tt.videos[v2]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert captured == [("deleted", "video", v2)]
    raw = last_payload(archive, v2)["raw"]
    assert raw["data"] == {"videos": []} and raw["request"]["filters"]["video_ids"] == [v2]
    assert v1 not in raw["request"]["filters"]["video_ids"]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_rename_edits_the_profile_and_is_noted(archive, account_id, tt, http):
    run(archive, account_id, http)
    tt.display_name = "Wrenfield Council"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert any("renamed" in n for n in result.notes)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_invalid_token_pauses_the_account(archive, account_id, tt, http):
    tt.token = "act.renewed"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "access_token_invalid" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_a_missing_scope_pauses_the_account(archive, account_id, tt, http):
    tt.overrides["video/list"] = [Reply.json(envelope({}, "scope_not_authorized",
                                                      "video.list not authorized"), 403)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_429_rate_limit_exceeded_is_waited_out(archive, account_id, tt, http):
    v = tt.video(SW, ago(60))
    tt.overrides["video/list"] = [Reply.json(envelope({}, "rate_limit_exceeded", "slow"),
                                             429, {"Retry-After": "1"}), None]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == [("created", "profile", PROFILE), ("created", "video", v)]
    assert_second_run_archives_nothing(archive, account_id, http)


@pytest.mark.parametrize("reply", [
    Reply(200, b"<html>502</html>", {"Content-Type": "text/html"}),
    Reply.json(envelope({"videos": {"id": "1"}, "has_more": False})),
    Reply.json(envelope({"videos": [{"id": 7300000000000000001, "create_time": 1}],
                         "has_more": False})),
    Reply.json(envelope({"videos": [], "has_more": "yes"})),
    Reply.json(envelope({}, "invalid_params", "max_count must be at most 20"), 400),
], ids=["html", "videos-not-a-list", "id-not-a-string", "has-more-not-bool",
        "invalid-params"])
def test_a_malformed_page_fails_and_archives_nothing(archive, account_id, tt, http, reply):
    tt.video(SW, ago(60))
    tt.overrides["video/list"] = [reply]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    del tt.overrides["video/list"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[:2] for c in captured) == [("created", "profile"), ("created", "video")]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_drop_mid_pagination_fails_then_resumes(archive, account_id, tt, http):
    videos = [tt.video(f"Video {i}", ago(60 - i)) for i in range(5)]
    body = Reply.json(envelope({"videos": list(tt.videos.values()), "has_more": False,
                                "cursor": 0})).encoded()
    tt.overrides["video/list"] = [None, Reply(200, body, {"Content-Type":
                                                          "application/json"},
                                              drop_after=60)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    del tt.overrides["video/list"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[2] for c in captured if c[1] == "video") == sorted(videos)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_is_refused(archive, account_id, tt):
    tt.video("x" * 300_000, ago(60))
    for small in quiet_transport(max_bytes=100_000):
        result, captured = run(archive, account_id, small)
    assert result.outcome == "failed" and captured == []
    assert "limit" in result.error


def test_later_runs_list_the_lookback_and_look_up_only_inside_it(archive, server, tt,
                                                                 http):
    account_id = add(archive, server, recheck_days=1)
    tt.video("Ya kwanza", ago(5 * 24 * 60))
    old = tt.video("Zamani sana", ago(4 * 24 * 60))
    tt.video("Zamani", ago(3 * 24 * 60))
    tt.video("Zamani kidogo", ago(3 * 24 * 60 - 1))
    for i in range(4):
        tt.video(f"Mpya {i}", ago(60 - i))
    run(archive, account_id, http)
    del tt.videos[old]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and captured == []
    assert server.calls("/v2/video/query/") == []   # older than the window: not presumed


def test_a_listing_that_reaches_the_first_video_looks_up_any_missing(archive, server, tt,
                                                                     http):
    account_id = add(archive, server, recheck_days=1)
    old = tt.video("Zamani", ago(3 * 24 * 60))
    tt.video("Mpya", ago(60))
    run(archive, account_id, http)
    del tt.videos[old]

    _, captured = run(archive, account_id, http)

    assert captured == [("deleted", "video", old)]
    assert_second_run_archives_nothing(archive, account_id, http)
