"""Instagram end to end: the replayed Instagram Graph API -> the framework's runner ->
capture -> log. Each scenario asserts the exact events archived and that the next run
archives nothing new; failures archive nothing.
"""

from __future__ import annotations

import pytest

from archiver.collectors import accounts as acc
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    drop_later_pages,
    last_payload,
    local_backend,
    quiet_transport,
    run,
)
from tests.collectors.facebook_replay import VERSION, gone, page_limit
from tests.collectors.instagram_replay import IG_ID, TOKEN
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"account:{IG_ID}"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
MEDIA = f"/{VERSION}/{IG_ID}/media"


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return acc.add_account(archive.appender, platform="instagram", platform_id=IG_ID,
                           handle="wrenfieldcity", base_url=f"{server.url}/{VERSION}",
                           credentials={"access_token": TOKEN}).id


def test_media_carousels_comments_replies_and_hidden_comments_are_archived_once(
        archive, account_id, server, ig, http):
    for name in ("a", "b"):
        server.route("GET", f"/cdn/{name}.png", Reply(200, PNG, {"Content-Type": "image/png"}))
    album = ig.post(SW, ago(50), urls=[f"{server.url}/cdn/a.png", f"{server.url}/cdn/b.png"])
    comment = ig.comment(album, FA, ago(40), by="navid_wf")
    answer = ig.comment(comment, "@navid_wf بله.", ago(35), by="wrenfieldcity")
    hidden = ig.comment(album, "spam spam", ago(30), by="spammer", hidden=True)
    photo = ig.post(SL, ago(20))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", PROFILE), ("created", "post", album),
        ("created", "comment", comment), ("created", "reply", answer),
        ("hidden", "comment", hidden), ("created", "post", photo)])
    record = last_payload(archive, album)
    assert record["text"] == SW
    assert [len(m["sha256"]) for m in record["media"]] == [64, 64]
    assert last_payload(archive, answer)["parent_id"] == comment
    assert last_payload(archive, comment)["text"] == FA
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_edited_caption_is_an_edited_event(archive, account_id, ig, http):
    post = ig.post("Cesta je zaprta do 12. ure.", ago(30))
    run(archive, account_id, http)
    ig.edit_caption(post, "Cesta je zaprta do 15. ure.")

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "post", post)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_new_comment_and_a_comment_hidden_later(archive, account_id, ig, http):
    post = ig.post(SW, ago(30))
    first = ig.comment(post, "Asante!", ago(20), by="amani_k")
    run(archive, account_id, http)
    second = ig.comment(post, "Asante sana!", ago(2), by="amani_k")
    ig.comments[first]["hidden"] = True

    result, captured = run(archive, account_id, http)

    assert sorted(captured) == sorted([("created", "comment", second),
                                       ("hidden", "comment", first)])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_deleted_media_and_comment_are_archived_deleted_with_graphs_answer(
        archive, account_id, ig, http):
    post = ig.post(SW, ago(30))
    comment = ig.comment(post, FA, ago(20), by="navid_wf")
    other = ig.post(SL, ago(10))
    run(archive, account_id, http)
    ig.deleted |= {comment, other}

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", comment),
                                       ("deleted", "post", other)])
    assert last_payload(archive, other)["raw"] == gone(other)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_more_replies_than_the_nested_page_are_read_from_the_replies_edge(
        archive, account_id, server, ig, http):
    ig.page_size = 2
    post = ig.post(SW, ago(30))
    comment = ig.comment(post, "Swali", ago(25), by="amani_k")
    replies = [ig.comment(comment, f"Jibu {i}", ago(20 - i), by="navid_wf") for i in range(5)]

    result, captured = run(archive, account_id, http)

    assert {i for e, k, i in captured if k == "comment"} == {comment, *replies}
    assert len(server.calls(f"/{VERSION}/{comment}/replies")) == 3
    assert all("access_token" not in r.query for r in server.requests)


def test_a_renamed_account_edits_only_its_profile(archive, account_id, ig, http):
    ig.post(SW, ago(30))
    run(archive, account_id, http)
    ig.username = "wrenfieldcouncil"

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert "account renamed: @wrenfieldcity is now @wrenfieldcouncil" in result.notes


def test_a_429_is_waited_out_and_a_usage_limit_is_rate_limited(archive, account_id, server,
                                                                ig, http):
    post = ig.post(SW, ago(30))
    answer = server.routes[("GET", MEDIA)]
    limited = [Reply.json({"error": {"code": 4, "message": "busy"}}, 429, {"Retry-After": "1"})]
    server.route("GET", MEDIA, lambda req: limited.pop() if limited else answer(req))
    result, captured = run(archive, account_id, http)
    assert result.outcome == "ok" and ("created", "post", post) in captured

    server.route("GET", MEDIA, page_limit(10))
    result, captured = run(archive, account_id, http)
    assert result.outcome == "rate_limited" and result.retry_at and captured == []


def test_an_expired_token_pauses_the_account(archive, account_id, ig, http):
    ig.post(SW, ago(30))
    ig.token = "rotated"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "credentials rejected" in result.error
    assert captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"


@pytest.mark.parametrize("bad", [
    Reply(200, b"<html>Sorry</html>", {"Content-Type": "text/html"}),
    Reply.json({"data": [{"id": "17900000000000099", "media_type": "IMAGE",
                          "timestamp": "yesterday"}]}),
    Reply.json({"data": [{"id": "17900000000000099", "timestamp": "2024-03-14T10:00:00+0000"}]}),
], ids=["html", "bad-time", "no-media-type"])
def test_a_malformed_page_fails_the_run_and_the_next_run_archives_everything(
        archive, account_id, server, ig, http, bad):
    post = ig.post(SW, ago(30))
    answer = server.routes[("GET", MEDIA)]
    server.route("GET", MEDIA, bad)

    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "MalformedResponse" in failed.error
    assert captured == []
    server.route("GET", MEDIA, answer)
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "post", post),
                                       ("created", "profile", PROFILE)])


def test_a_connection_dropped_mid_pagination_archives_nothing_then_resumes(
        archive, account_id, server, ig, http):
    ig.page_size = 3
    posts = [ig.post(f"Obvestilo {i}", ago(60 - i)) for i in range(7)]
    drop = drop_later_pages(server, MEDIA, "after")   # the second page drops while drop[0]
    failed, captured = run(archive, account_id, http)
    assert failed.outcome == "failed" and "PlatformUnavailable" in failed.error
    assert captured == []
    drop[0] = False
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "profile", PROFILE)]
                                      + [("created", "post", p) for p in posts])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_fails_the_run(archive, account_id, ig):
    ig.post("🌊" * 20000, ago(30))
    transports = quiet_transport(max_bytes=64 * 1024, retries=0)
    result, captured = run(archive, account_id, next(transports))
    transports.close()

    assert result.outcome == "failed" and "larger than" in result.error
    assert captured == []


def test_the_command_line_adds_an_account_on_the_default_graph_url(archive, backend_env,
                                                                   capsys, monkeypatch):
    from tests.collectors.e2e_support import cli
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    code, added, out = cli(capsys, "accounts", "add", "instagram", "--platform-id", IG_ID,
                           "--handle", "wrenfieldcity", "--credential", f"access_token={TOKEN}")
    assert code == 0, out
    assert added["base_url"] == "https://graph.facebook.com/v21.0"
    assert TOKEN not in out
