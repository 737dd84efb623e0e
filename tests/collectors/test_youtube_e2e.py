"""YouTube end to end: the replayed Data API v3 -> the framework's runner -> capture -> log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.runs import load_cursor
from archiver.log.reader import read_record
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    cli,
    last_payload,
    local_backend,
    quiet_transport,
    run,
)
from tests.collectors.youtube_replay import (
    API_KEY,
    BASE_PATH,
    CHANNEL_ID,
    QUOTA_EXCEEDED,
)
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"channel:{CHANNEL_ID}"


def add(archive: Archive, server: ReplayServer, **options: object) -> str:
    return acc.add_account(archive.appender, platform="youtube", platform_id=CHANNEL_ID,
                           handle="@cityofwrenfield", base_url=server.url + BASE_PATH,
                           credentials={"api_key": API_KEY}, options=options).id


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return add(archive, server)


def cursor_of(archive: Archive, account_id: str) -> dict:
    with archive.catalog.reader() as conn:
        return load_cursor(conn, account_id)


def test_videos_comments_and_replies_are_created_once(archive, server, yt, http):
    account_id = add(archive, server, thumbnails=True)
    v1 = yt.video("vidSwahili1", "Mafuriko", SW, ago(90), lang="sw")
    v2 = yt.video("vidSlovene2", "Čistilna akcija", SL, ago(80), lang="sl")
    v3 = yt.video("vidEnglish3", "Council meeting", "", ago(70), lang="en")
    top = yt.comment(v1, FA, ago(60), author="نوید", author_id="UCnavid00000000000000000")
    r1 = yt.comment(v1, "Asante!", ago(50), parent=top)
    r2 = yt.comment(v1, "Hvala.", ago(40), parent=top)
    r3 = yt.comment(v1, "بله، هست.", ago(30), parent=top,   # beyond the 2 inlined
                    author="City of Wrenfield", author_id=CHANNEL_ID)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("observed", "profile", PROFILE), ("created", "video", v1), ("created", "video", v2),
        ("created", "video", v3), ("created", "comment", top), ("created", "comment", r1),
        ("created", "comment", r2), ("created", "reply", r3)])
    video = last_payload(archive, v1)
    assert video["text"] == f"Mafuriko\n\n{SW}" and video["lang"] == "sw"
    assert len(video["media"][0]["sha256"]) == 64
    assert video["media"][0]["id"] == f"{v1}/thumbnail"
    assert last_payload(archive, v3)["text"] == "Council meeting"
    assert last_payload(archive, top)["text"] == FA
    assert last_payload(archive, top)["parent_id"] == v1
    assert last_payload(archive, r3)["parent_id"] == top
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_title_or_description_change_is_an_edit(archive, account_id, yt, http):
    v = yt.video("vidEdit00001", "Ratiba", SW, ago(60))
    run(archive, account_id, http)
    yt.edit_video(v, description=SW + "\nImesasishwa.")

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "video", v)]
    assert last_payload(archive, v)["text"].endswith("Imesasishwa.")
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_edited_comment_is_archived_as_edited(archive, account_id, yt, http):
    v = yt.video("vidComm00001", "Q&A", "", ago(60))
    c = yt.comment(v, "Kesho saa ngapi?", ago(50))
    run(archive, account_id, http)
    yt.edit_comment(c, "Kesho saa ngapi? (saa nne)", ago(5))

    _, captured = run(archive, account_id, http)

    assert captured == [("edited", "comment", c)]
    raw = last_payload(archive, c)["raw"]["snippet"]
    assert raw["updatedAt"] > raw["publishedAt"]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_deleted_video_and_comment_are_found_by_lookup(archive, account_id, server, yt,
                                                       http):
    v1 = yt.video("vidKeep00001", "Stays", "", ago(60))
    v2 = yt.video("vidGone00002", "Goes", "", ago(50))
    c = yt.comment(v1, "To be removed", ago(40))
    run(archive, account_id, http)
    yt.delete(v2)
    yt.delete(c)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "video", v2), ("deleted", "comment", c)])
    assert last_payload(archive, v2)["raw"]["items"] == []
    assert [r.arg("id") for r in server.calls(f"{BASE_PATH}/comments")
            if r.arg("id")] == [c]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_deleted_comment_takes_its_archived_replies_with_it(archive, account_id, yt,
                                                              http):
    v = yt.video("vidCasc00001", "Thread", "", ago(60))
    top = yt.comment(v, FA, ago(50))
    replies = [yt.comment(v, f"Jibu {i}", ago(40 - i), parent=top) for i in range(3)]
    run(archive, account_id, http)
    yt.delete(top)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", top)]
                                      + [("deleted", "comment", r) for r in replies])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_comment_held_for_review_is_indistinguishable_from_a_deleted_one(
        archive, account_id, yt, http):
    """With an API key, YouTube serves neither held nor rejected comments, nor their
    moderationStatus (owner OAuth only): the comment is recorded as deleted (docs)."""
    v = yt.video("vidHeld00001", "Held", "", ago(60))
    c = yt.comment(v, "Spammy link", ago(50))
    run(archive, account_id, http)
    yt.held.add(c)

    _, captured = run(archive, account_id, http)

    assert captured == [("deleted", "comment", c)]
    assert_second_run_archives_nothing(archive, account_id, http)
    yt.held.discard(c)   # approved by the owner: it comes back
    _, captured = run(archive, account_id, http)
    assert captured == [("restored", "comment", c)]


def test_a_rename_edits_the_profile_and_is_noted(archive, account_id, yt, http):
    run(archive, account_id, http)
    yt.title = "Wrenfield City Council"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert any("renamed" in n for n in result.notes)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_disabled_comments_are_noted_not_failed(archive, account_id, yt, http):
    v = yt.video("vidNoComm001", "No comments", "", ago(60))
    yt.disabled.add(v)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert ("created", "video", v) in captured
    assert any("commentsDisabled" in n for n in result.notes)
    assert v not in result_threads(archive, result)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_quota_exceeded_is_rate_limited_until_pacific_midnight(archive, account_id, yt,
                                                              http):
    yt.video("vidQuota0001", "Quota", "", ago(60))
    yt.overrides["videos"] = [Reply.json(QUOTA_EXCEEDED, 403)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and captured == []
    assert result.retry_at is not None and result.retry_at[11:13] in ("07", "08")
    del yt.overrides["videos"]
    _, captured = run(archive, account_id, http)
    assert sorted(captured) == [("created", "video", "vidQuota0001"),
                                ("observed", "profile", PROFILE)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_the_daily_quota_option_stops_the_run_and_presumes_nothing(archive, server, yt,
                                                                   http):
    account_id = add(archive, server, daily_quota=3)
    for i in range(6):
        yt.video(f"vidBudget{i:03d}", f"Video {i}", "", ago(60 - i))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert captured == [("observed", "profile", PROFILE)]
    assert any("daily quota of 3 units spent" in n for n in result.notes)
    assert cursor_of(archive, account_id)["quota"]["used"] == 3
    result, captured = run(archive, account_id, http)   # nothing left today
    assert result.outcome == "ok" and captured == [] and result.requests == 0


def test_a_rejected_key_pauses_the_account(archive, account_id, yt, http):
    yt.key = "another-key"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "API_KEY_INVALID" in result.error
    assert acc.get_account(archive.catalog, account_id).status == "paused"


def test_429_is_waited_out_and_the_run_completes(archive, account_id, yt, http):
    v = yt.video("vid429000001", "Busy", "", ago(60))
    yt.overrides["videos"] = [Reply.json({"error": {"code": 429, "message": "Too many "
                                                    "requests"}}, 429,
                                         headers={"Retry-After": "2"}), None]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert ("created", "video", v) in captured and http.waited >= 1.5
    assert_second_run_archives_nothing(archive, account_id, http)


@pytest.mark.parametrize("reply", [
    Reply(200, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"}),
    Reply.json({"kind": "youtube#videoListResponse", "items": {"id": "x"}}),
    Reply.json({"items": [{"id": "vidBad000001", "snippet": {"title": 7}}]}),
], ids=["html", "items-not-a-list", "title-not-a-string"])
def test_a_malformed_page_fails_the_run_and_archives_nothing(archive, account_id, yt, http,
                                                             reply):
    yt.video("vidBad000001", "Bad", "", ago(60))
    yt.overrides["videos"] = [reply]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "videos" in result.error
    del yt.overrides["videos"]
    _, captured = run(archive, account_id, http)
    assert sorted(captured) == [("created", "video", "vidBad000001"),
                                ("observed", "profile", PROFILE)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_connection_dropped_mid_pagination_fails_then_resumes(archive, account_id, yt,
                                                                http):
    for i in range(5):
        yt.video(f"vidDrop{i:05d}", f"Video {i}", "", ago(60 - i))
    items = [{"kind": "youtube#playlistItem", "id": f"UExpi{i}",
              "contentDetails": {"videoId": f"vidDrop{i:05d}"}} for i in range(5)]
    body = Reply.json({"kind": "youtube#playlistItemListResponse", "items": items}).encoded()
    yt.overrides["playlistItems"] = [Reply(200, body, {"Content-Type": "application/json"},
                                           drop_after=len(body) // 2)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and captured == []
    assert "PlatformUnavailable" in result.error
    del yt.overrides["playlistItems"]
    _, captured = run(archive, account_id, http)
    assert sorted(c[1] for c in captured) == ["profile"] + ["video"] * 5
    assert_second_run_archives_nothing(archive, account_id, http)


def result_threads(archive: Archive, result) -> list[str]:  # noqa: ANN001
    """The `threads` the run record names."""
    return read_record(archive.appender, result.seq).payload["details"]["threads"]


def test_the_command_line_collects_a_channel_and_never_prints_the_key(
        archive, backend_env, server, yt, capsys, monkeypatch):
    for k, value in backend_env.items():
        monkeypatch.setenv(k, value)
    v = yt.video("vidCli000001", "Mafuriko", SW, ago(60))
    code, added, output = cli(capsys, "accounts", "add", "youtube", "--platform-id",
                              CHANNEL_ID, "--handle", "@cityofwrenfield", "--base-url",
                              server.url + BASE_PATH, "--credential", f"api_key={API_KEY}",
                              "--option", "daily_quota=500")
    assert code == 0, output
    code, first, output = cli(capsys, "collect", "--once", "--account", added["id"],
                              "--json")
    assert code == 0 and first["outcome"] == "ok", output
    assert first["events"]["created"] == 1 and first["events"]["observed"] == 1
    assert last_payload(archive, v)["text"] == f"Mafuriko\n\n{SW}"
    yt.overrides["videos"] = [Reply(200, b"<html>oops</html>", {"Content-Type":
                                                                "text/html"})]
    code, failed, output2 = cli(capsys, "collect", "--once", "--account", added["id"],
                                "--json")
    assert code == 1 and failed["outcome"] == "failed"
    assert API_KEY not in output + output2


def test_a_huge_payload_is_refused(archive, account_id, yt):
    yt.video("vidHuge00001", "Huge", "x" * 300_000, ago(60))
    for small in quiet_transport(max_bytes=100_000):
        result, captured = run(archive, account_id, small)
    assert result.outcome == "failed" and captured == []
    assert "limit" in result.error


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], indirect=True,
                         ids=["s3-postgres"])
def test_the_same_run_on_s3_and_postgres(archive, server, yt, http):
    account_id = add(archive, server, thumbnails=True)
    v = yt.video("vidS3000001", "Mafuriko", SW, ago(60), lang="sw")
    c = yt.comment(v, FA, ago(50))
    r = yt.comment(v, SL, ago(45), parent=c)
    run(archive, account_id, http)
    yt.edit_video(v, title="Mafuriko (imesasishwa)")
    yt.delete(r)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == [("deleted", "comment", r), ("edited", "video", v)]
    assert last_payload(archive, v)["text"] == f"Mafuriko (imesasishwa)\n\n{SW}"
    assert last_payload(archive, c)["text"] == FA
    assert_second_run_archives_nothing(archive, account_id, http)
