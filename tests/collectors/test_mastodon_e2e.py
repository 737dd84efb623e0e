"""Mastodon end to end: the replayed instance -> the framework's runner -> capture -> log.

Each scenario asserts the exact events the run archived and that the next run archives
nothing new; failures archive nothing and leave the cursor where it was.
"""

from __future__ import annotations

import json

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.exports_cli import import_export
from archiver.collectors.runner import collect_account
from archiver.collectors.runs import RunResult
from archiver.collectors.transport import Transport, TransportSettings
from archiver.wiring import Archive
from tests.collectors import e2e_support
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    Captured,
    ago,
    captures_after,
    cli,
    head,
    local_backend,
)
from tests.collectors.e2e_support import last_payload as payload_of
from tests.collectors.mastodon_replay import (
    ACCOUNT_ID,
    NOT_FOUND,
    TOKEN,
    FakeMastodon,
    media_entity,
    media_path,
    note_activity,
    outbox,
    public_account,
)
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
PROFILE = f"account:{ACCOUNT_ID}"
STATUSES = f"/api/v1/accounts/{ACCOUNT_ID}/statuses"
DANA = public_account(0, "dana_p", "Dana Price", "mstdn.example")
ROK = public_account(1, "rok_z", "Rok Žagar", "toot.example")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17


@pytest.fixture
def instance(server: ReplayServer) -> FakeMastodon:
    return FakeMastodon()


@pytest.fixture
def account_id(archive: Archive, server: ReplayServer) -> str:
    return acc.add_account(archive.appender, platform="mastodon", platform_id=ACCOUNT_ID,
                           handle="city", base_url=server.url,
                           credentials={"access_token": TOKEN}).id


def run(archive: Archive, account_id: str, http: Transport, instance: FakeMastodon,
        server: ReplayServer) -> tuple[RunResult, Captured]:
    """The instance's current state installed on the server, then one run."""
    instance.install(server)
    return e2e_support.run(archive, account_id, http)


def ok(result: RunResult) -> None:
    assert result.outcome == "ok", result.error


def assert_second_run_archives_nothing(archive: Archive, account_id: str, http: Transport,
                                       instance: FakeMastodon, server: ReplayServer) -> None:
    instance.install(server)
    e2e_support.assert_second_run_archives_nothing(archive, account_id, http)


def test_posts_comments_replies_and_media_are_created_once(
        archive, account_id, instance, server, http):
    server.route("GET", media_path("112060182061966997"),
                 Reply(200, PNG, {"Content-Type": "image/png"}))
    image = media_entity("112060182061966997", description="Ramani ya mafuriko",
                         base=server.url)
    post = instance.post(ago(50), f"<p>{SW}</p>", language="sw", media=[image])
    comment = instance.reply(post, ago(40), f"<p>{FA}</p>", account=DANA, language="fa")
    answer = instance.reply(comment, ago(30), "<p>Asante.</p>")
    other = instance.post(ago(20), f"<p>{SL}</p>", language="sl")

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert sorted(captured) == sorted([
        ("observed", "profile", PROFILE), ("created", "post", post["id"]),
        ("created", "comment", comment["id"]), ("created", "reply", answer["id"]),
        ("created", "post", other["id"])])
    record = payload_of(archive, post["id"])
    assert record["text"] == SW and record["media"][0]["sha256"]
    assert record["media"][0]["alt"] == "Ramani ya mafuriko"
    assert payload_of(archive, comment["id"])["text"] == FA
    assert payload_of(archive, comment["id"])["parent_id"] == post["id"]
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_an_edit_is_archived_with_the_history_in_raw(archive, account_id, instance, server,
                                                      http):
    post = instance.post(ago(30), "<p>Cesta je zaprta do 12. ure.</p>", language="sl")
    ok(run(archive, account_id, http, instance, server)[0])
    instance.edit(post, "<p>Cesta je zaprta do 15. ure.</p>", ago(5))

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("edited", "post", post["id"])]
    record = payload_of(archive, post["id"])
    assert record["text"] == "Cesta je zaprta do 15. ure."
    assert len(record["raw"]["history"]) == 2
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_new_comment_on_an_archived_post_is_created(archive, account_id, instance, server,
                                                      http):
    post = instance.post(ago(30), "<p>Sandbags at Quarry Road.</p>")
    ok(run(archive, account_id, http, instance, server)[0])
    comment = instance.reply(post, ago(3), f"<p>{SL}</p>", account=ROK)

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("created", "comment", comment["id"])]
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_deleted_comment_is_a_deleted_event_with_the_platforms_answer(
        archive, account_id, instance, server, http):
    post = instance.post(ago(30), "<p>Road closed.</p>")
    comment = instance.reply(post, ago(20), "<p>Spam spam</p>", account=DANA)
    ok(run(archive, account_id, http, instance, server)[0])
    instance.delete(comment)

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("deleted", "comment", comment["id"])]
    assert result.looked_up == 1
    record = payload_of(archive, comment["id"])
    assert (record["raw"], record["parent_id"], record["text"]) == (NOT_FOUND, post["id"],
                                                                    None)
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_deleted_post_is_found_missing_from_the_window_and_looked_up(
        archive, account_id, instance, server, http):
    kept = instance.post(ago(40), "<p>kept</p>")
    gone = instance.post(ago(30), "<p>posted by mistake</p>")
    ok(run(archive, account_id, http, instance, server)[0])
    instance.delete(gone)

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("deleted", "post", gone["id"])]
    assert payload_of(archive, gone["id"])["raw"] == NOT_FOUND
    assert payload_of(archive, kept["id"])["event"] == "created"
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_deleted_reply_to_another_servers_post_is_detected(
        archive, account_id, instance, server, http):
    from tests.collectors.mastodon_replay import status_entity
    elsewhere = status_entity("112000000000000001", ago(90), "<p>Question?</p>",
                              account=DANA)
    reply = instance.reply(elsewhere, ago(20), "<p>Answer.</p>")
    ok(run(archive, account_id, http, instance, server)[0])
    instance.delete(reply)

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("deleted", "reply", reply["id"])]
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_renamed_account_is_an_edit_of_its_profile(archive, account_id, instance, server,
                                                     http):
    ok(run(archive, account_id, http, instance, server)[0])
    instance.rename(username="wrenfield", display_name="Občina Wrenfield")

    result, captured = run(archive, account_id, http, instance, server)

    ok(result)
    assert captured == [("edited", "profile", PROFILE)]
    assert payload_of(archive, PROFILE)["text"] == "Občina Wrenfield\n@wrenfield"
    assert any(n.startswith("account renamed") for n in result.notes)
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_429_with_retry_after_is_waited_for_and_the_run_completes(
        archive, account_id, instance, server, http):
    post = instance.post(ago(10), "<p>x</p>")
    instance.install(server)
    page = instance.statuses_reply
    server.route("GET", STATUSES, lambda req: [
        Reply.json({"error": "Too many requests"}, 429, {"Retry-After": "2"}), page(req)])
    before = head(archive)
    result = collect_account(archive, account_id, transport=http)
    ok(result)
    assert sorted(captures_after(archive, before)) == [("created", "post", post["id"]),
                                                       ("observed", "profile", PROFILE)]
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_an_expired_token_pauses_the_account_and_archives_nothing(
        archive, account_id, instance, server, http):
    instance.post(ago(10), "<p>x</p>")
    instance.token_valid = False

    result, captured = run(archive, account_id, http, instance, server)

    assert result.outcome == "failed" and "credentials rejected" in result.error
    assert captured == []
    assert acc.get_account(archive.catalog, account_id).status == "paused"
    instance.token_valid = True          # a paused account is not collected until resumed
    result, captured = run(archive, account_id, http, instance, server)
    assert (result.outcome, captured) == ("paused", [])


@pytest.mark.parametrize("bad", [
    Reply.json([{"id": "1", "content": "<p>no date</p>"}]),
    Reply(200, b"<!DOCTYPE html><title>502 Bad Gateway</title>",
          {"Content-Type": "text/html"}),
    Reply(200, b"x" * 3_000_000, {"Content-Type": "application/json"}),
])
def test_a_bad_page_fails_the_run_and_the_next_good_run_archives_everything(
        archive, account_id, instance, server, http, bad):
    post = instance.post(ago(10), "<p>x</p>")
    instance.install(server)
    server.route("GET", STATUSES, bad)
    with Transport(TransportSettings(retries=1, backoff=0.01, max_bytes=2_000_000),
                   sleep=lambda s: None) as small:
        before = head(archive)
        result = collect_account(archive, account_id, transport=small)
        assert result.outcome == "failed" and "MalformedResponse" in result.error
        assert captures_after(archive, before) == []
        result, captured = run(archive, account_id, small, instance, server)
    ok(result)
    assert sorted(captured) == [("created", "post", post["id"]),
                                ("observed", "profile", PROFILE)]
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_a_drop_mid_pagination_fails_the_run_and_nothing_is_archived(
        archive, account_id, instance, server, http):
    posts = [instance.post(ago(60 - i), f"<p>{i}</p>", seq=i) for i in range(45)]
    instance.install(server)
    page = instance.statuses_reply

    def dropping(req):
        reply = page(req)
        if req.arg("max_id"):
            reply.drop_after = 50
        return reply
    server.route("GET", STATUSES, dropping)
    before = head(archive)
    result = collect_account(archive, account_id, transport=http)
    assert result.outcome == "failed" and "PlatformUnavailable" in result.error
    assert captures_after(archive, before) == []

    result, captured = run(archive, account_id, http, instance, server)
    ok(result)
    assert len(captured) == len(posts) + 1
    assert_second_run_archives_nothing(archive, account_id, http, instance, server)


def test_an_imported_export_is_observed_and_then_collected_without_duplicates(
        archive, account_id, instance, server, http, tmp_path):
    post = instance.post(ago(60 * 24 * 30), f"<p>{FA}</p>", language="fa")
    path = tmp_path / "outbox.json"
    path.write_text(json.dumps(outbox([note_activity(post["id"], ago(60 * 24 * 30),
                                                     f"<p>{FA}</p>", language="fa")]),
                               ensure_ascii=False))
    summary = import_export(archive, "mastodon", path, account_id=account_id)
    assert summary.events.get("observed") == 1

    result, captured = run(archive, account_id, http, instance, server)
    ok(result)
    assert captured == [("observed", "profile", PROFILE)]


def test_the_command_line_adds_collects_and_imports(
        archive, backend_env, instance, server, capsys, monkeypatch, tmp_path):
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    post = instance.post(ago(30), f"<p>{SW}</p>", language="sw")
    instance.reply(post, ago(20), f"<p>{FA}</p>", account=DANA)
    instance.install(server)
    code, added, output = cli(capsys, "accounts", "add", "mastodon", "--platform-id",
                              ACCOUNT_ID, "--handle", "city", "--base-url", server.url,
                              "--credential", f"access_token={TOKEN}",
                              "--option", "lookback_days=3")
    assert TOKEN not in output
    assert code == 0, output

    code, first, output = cli(capsys, "collect", "--once", "--account", added["id"], "--json")
    assert TOKEN not in output
    assert code == 0 and first["outcome"] == "ok", output
    assert first["events"] == {"created": 2, "edited": 0, "deleted": 0, "hidden": 0,
                               "restored": 0, "observed": 1}
    code, second, output = cli(capsys, "collect", "--once", "--account", added["id"],
                               "--json")
    assert TOKEN not in output
    assert code == 0 and sum(second["events"].values()) == 0

    path = tmp_path / "outbox.json"
    old = note_activity("111000000000000000", ago(60 * 24 * 400), f"<p>{SL}</p>",
                        language="sl")
    path.write_text(json.dumps(outbox([old]), ensure_ascii=False))
    code, _, output = cli(capsys, "import", "mastodon", str(path), "--account", added["id"])
    assert TOKEN not in output
    assert code == 0, output
    assert payload_of(archive, "111000000000000000")["text"] == SL
    assert payload_of(archive, "111000000000000000")["account"] == ACCOUNT_ID
