"""X end to end: the replayed X API v2 -> the framework's runner -> capture -> log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.transport import Transport, TransportSettings
from archiver.wiring import Archive
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    assert_second_run_archives_nothing,
    cli,
    last_payload,
    local_backend,
    run,
)
from tests.collectors.x_replay import ACCOUNT_ID, TOKEN, FakeX, not_found
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"account:{ACCOUNT_ID}"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


@pytest.fixture
def x(server: ReplayServer) -> FakeX:
    fake = FakeX()
    fake.install(server)
    return fake


def add(archive: Archive, server: ReplayServer, **options: object) -> str:
    return acc.add_account(archive.appender, platform="x", platform_id=ACCOUNT_ID,
                           handle="WrenfieldCity", base_url=server.url,
                           credentials={"bearer_token": TOKEN}, options=options).id


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return add(archive, server)


def test_posts_comments_and_replies_are_created_once(archive, account_id, server, x, http):
    x.media["3_1768210570030782999"] = {
        "media_key": "3_1768210570030782999", "type": "photo",
        "url": f"{server.url}/media/flood.jpg", "alt_text": "Barabara iliyofurika"}
    server.route("GET", "/media/flood.jpg", Reply(200, JPEG, {"Content-Type": "image/jpeg"}))
    post = x.post(SW, ago(50), lang="sw")
    x.versions[post]["attachments"] = {"media_keys": ["3_1768210570030782999"]}
    x.user("1220458301937664000", "navid_wf", "نوید")
    comment = x.post(FA, ago(40), author="1220458301937664000", reply_to=post, lang="fa")
    answer = x.post("@navid_wf بله.", ago(30), reply_to=comment, lang="fa")
    other = x.post(SL, ago(20), lang="sl")

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([
        ("created", "profile", PROFILE), ("created", "post", post),
        ("created", "comment", comment), ("created", "reply", answer),
        ("created", "post", other)])
    record = last_payload(archive, post)
    assert record["text"] == SW and len(record["media"][0]["sha256"]) == 64
    assert last_payload(archive, comment)["text"] == FA
    assert last_payload(archive, comment)["parent_id"] == post
    assert_second_run_archives_nothing(archive, account_id, http)


def test_an_edit_is_an_edited_event_of_the_chains_first_id(archive, account_id, x, http):
    post = x.post("Cesta je zaprta do 12. ure.", ago(30), lang="sl")
    run(archive, account_id, http)
    current = x.edit(post, "Cesta je zaprta do 15. ure.", ago(25))

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "post", post)]
    payload = last_payload(archive, post)
    assert payload["text"] == "Cesta je zaprta do 15. ure."
    assert payload["raw"]["data"]["id"] == current
    assert payload["raw"]["data"]["edit_history_tweet_ids"] == [post, current]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_new_comment_is_created_under_its_post(archive, account_id, x, http):
    post = x.post(SW, ago(30))
    run(archive, account_id, http)
    x.user("77", "amani_k", "Amani")
    comment = x.post("Asante kwa taarifa!", ago(5), author="77", reply_to=post, lang="sw")

    result, captured = run(archive, account_id, http)

    assert captured == [("created", "comment", comment)]
    assert_second_run_archives_nothing(archive, account_id, http)


def test_deleted_post_and_comment_are_archived_deleted_with_xs_answer(
        archive, account_id, x, http):
    post = x.post(SW, ago(30))
    x.user("77", "amani_k", "Amani")
    comment = x.post("Asante!", ago(20), author="77", reply_to=post)
    gone = x.post(SL, ago(10))
    run(archive, account_id, http)
    x.delete(comment)
    x.delete(gone)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("deleted", "comment", comment),
                                       ("deleted", "post", gone)])
    for item in (comment, gone):
        payload = last_payload(archive, item)
        assert payload["event"] == "deleted" and payload["raw"] == not_found(item)
    assert_second_run_archives_nothing(archive, account_id, http)


def test_deleting_an_edited_version_deletes_the_chain_item(archive, account_id, x, http):
    post = x.post("v1", ago(30))
    current = x.edit(post, "v2", ago(28))
    run(archive, account_id, http)
    x.delete(current)

    result, captured = run(archive, account_id, http)

    assert captured == [("deleted", "post", post)]
    assert last_payload(archive, post)["raw"]["resource_id"] == post
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_renamed_account_edits_only_its_profile(archive, account_id, x, http):
    x.post(SW, ago(30))
    run(archive, account_id, http)
    x.rename("WrenfieldCouncil")

    result, captured = run(archive, account_id, http)

    assert captured == [("edited", "profile", PROFILE)]
    assert "account renamed: @WrenfieldCity is now @WrenfieldCouncil" in result.notes
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_429_is_waited_out_until_the_reset_header(archive, account_id, server, x, http):
    post = x.post(SW, ago(30))
    reset = str(int(datetime.now(UTC).timestamp()) + 2)
    limited = [Reply.json({"title": "Too Many Requests", "status": 429}, 429,
                          {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})]

    def timeline(req):  # noqa: ANN001, ANN202
        return limited.pop() if limited else x.timeline(req)

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", timeline)
    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and ("created", "post", post) in captured
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_long_rate_limit_records_the_run_and_archives_nothing(
        archive, account_id, server, x, http):
    x.post(SW, ago(30))
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", Reply.json(
        {"title": "Too Many Requests", "status": 429}, 429,
        {"x-rate-limit-remaining": "0",
         "x-rate-limit-reset": str(int(datetime.now(UTC).timestamp()) + 900)}))

    result, captured = run(archive, account_id, http)

    assert result.outcome == "rate_limited" and result.retry_at is not None
    assert captured == []


def test_an_expired_token_pauses_the_account_and_archives_nothing(archive, account_id, x,
                                                                    http):
    x.post(SW, ago(30))
    x.token = "rotated-by-the-platform"

    result, captured = run(archive, account_id, http)

    assert result.outcome == "failed" and "credentials rejected" in result.error
    assert captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"


@pytest.mark.parametrize("bad", [
    Reply(200, b"<html><body>Over capacity</body></html>", {"Content-Type": "text/html"}),
    Reply.json({"data": [{"id": 1768210570030782900, "text": "?"}]}),
], ids=["html", "wrong-types"])
def test_a_malformed_page_fails_the_run_and_the_next_run_archives_everything(
        archive, account_id, server, x, http, bad):
    post = x.post(SW, ago(30))
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", bad)

    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "MalformedResponse" in failed.error
    assert captured == []
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", x.timeline)
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "post", post),
                                       ("created", "profile", PROFILE)])


def test_a_connection_dropped_mid_pagination_archives_nothing_then_resumes(
        archive, account_id, server, x, http):
    posts = [x.post(f"Notice {i}", ago(60 - i)) for i in range(7)]
    drop = [True]

    def paged(req):  # noqa: ANN001, ANN202 - five per page; page 2 drops while `drop`
        req.query["max_results"] = ["5"]
        reply = x.timeline(req)
        if req.arg("pagination_token") and drop[0]:
            return Reply(reply.status, reply.body, reply.headers, drop_after=30)
        return reply

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", paged)
    failed, captured = run(archive, account_id, http)

    assert failed.outcome == "failed" and "PlatformUnavailable" in failed.error
    assert captured == []
    drop[0] = False
    result, captured = run(archive, account_id, http)
    assert sorted(captured) == sorted([("created", "profile", PROFILE)]
                                      + [("created", "post", p) for p in posts])
    assert_second_run_archives_nothing(archive, account_id, http)


def test_a_huge_payload_fails_the_run(archive, account_id, x):
    x.post("🌊" * 20000, ago(30))
    with Transport(TransportSettings(max_bytes=64 * 1024, retries=0),
                   sleep=lambda s: None) as small:
        result, captured = run(archive, account_id, small)

    assert result.outcome == "failed" and "larger than" in result.error
    assert captured == []


def test_a_spent_read_budget_archives_what_it_read_and_presumes_nothing_deleted(
        archive, server, x, http):
    account_id = add(archive, server, read_budget_per_run=5, replies=False)
    posts = [x.post(f"Notice {i}", ago(60 - i)) for i in range(8)]

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("created", "profile", PROFILE)]
                                      + [("created", "post", p) for p in posts[-5:]])
    assert any("read budget spent after 5 posts" in n for n in result.notes)
    x.delete(posts[-1])
    result, captured = run(archive, account_id, http)
    # the next five reach one older post; the deleted one is not looked up: no window
    assert captured == [("created", "post", posts[2])] and result.looked_up == 0


def test_the_command_line_adds_collects_and_imports_an_x_archive(
        archive, backend_env, server, x, capsys, monkeypatch, tmp_path):
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    x.post(SW, ago(30), lang="sw")
    code, added, output = cli(capsys, "accounts", "add", "x", "--platform-id", ACCOUNT_ID,
                              "--handle", "WrenfieldCity", "--base-url", server.url,
                              "--credential", f"bearer_token={TOKEN}",
                              "--option", "read_budget=200")
    assert code == 0, output
    account_id = added["id"]

    code, first, output = cli(capsys, "collect", "--once", "--account", account_id, "--json")
    assert code == 0 and first["outcome"] == "ok", output
    assert first["events"]["created"] == 2          # the post and the profile
    code, second, output = cli(capsys, "collect", "--once", "--account", account_id, "--json")
    assert sum(second["events"].values()) == 0
    assert TOKEN not in output

    old = {"tweet": {"id_str": "1200000000000000000", "id": "1200000000000000000",
                     "full_text": SL, "created_at": "Wed Nov 27 12:00:00 +0000 2019",
                     "lang": "sl", "entities": {}}}
    account_js = "window.YTD.account.part0 = " + json.dumps([{"account": {
        "accountId": ACCOUNT_ID, "username": "WrenfieldCity",
        "accountDisplayName": "City of Wrenfield"}}])
    path = tmp_path / "twitter-2024-03-20.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/account.js", account_js)
        zf.writestr("data/tweets.js", "window.YTD.tweets.part0 = " + json.dumps([old]))
    code, _, output = cli(capsys, "import", "x", str(path), "--account", account_id)
    assert code == 0, output
    assert last_payload(archive, "1200000000000000000")["event"] == "observed"
    assert last_payload(archive, "1200000000000000000")["text"] == SL

    bad = tmp_path / "not-x.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("outbox.json", "{}")
    code, _, output = cli(capsys, "import", "x", str(bad))
    assert code != 0 and "no data/tweets.js" in output


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], indirect=True,
                         ids=["s3-postgres"])
def test_the_same_run_on_s3_and_postgres(archive, account_id, x, http):
    post = x.post(SW, ago(40), lang="sw")
    x.user("1220458301937664000", "navid_wf", "نوید")
    comment = x.post(FA, ago(30), author="1220458301937664000", reply_to=post, lang="fa")
    run(archive, account_id, http)
    x.edit(post, SW + " (imesasishwa)", ago(35))
    x.delete(comment)

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok", result.error
    assert sorted(captured) == sorted([("edited", "post", post),
                                       ("deleted", "comment", comment)])
    assert last_payload(archive, post)["text"] == SW + " (imesasishwa)"
    assert_second_run_archives_nothing(archive, account_id, http)
