"""The collection framework: runs, run records, cursors, deletion detection, failures.

A real collector (`fake_platform.FakeCollector`) reads a replay server; the archive is a
real one (filesystem + SQLite here; the accounts contract runs on PostgreSQL too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.collectors import registry
from archiver.collectors.health import account_health
from archiver.collectors.runner import collect_account
from archiver.collectors.runs import last_run
from archiver.collectors.scheduler import due_accounts, next_due
from archiver.errors import ConfigError, InvalidRequest
from archiver.log.reader import read_record
from archiver.log.rebuild import rebuild_catalog
from archiver.times import format_time
from archiver.wiring import Archive
from tests.collectors.e2e_support import local_backend  # noqa: F401 - fixture: backend_env
from tests.collectors.fake_platform import (
    ACCOUNT,
    PLATFORM,
    TOKEN,
    FakeCollector,
    FakeSocial,
    quick_transport,
)
from tests.replay.server import ReplayServer, Reply

SWAHILI = "Karibu kwenye mkutano wa wananchi kesho saa tatu asubuhi."
PERSIAN = "نشست شورای شهر فردا برگزار می‌شود"          # with a ZWNJ
SLOVENIAN = "Občinska seja bo jutri ob devetih. Žal brez prenosa."


@pytest.fixture(autouse=True)
def fake_registered() -> Iterator[None]:
    registry.register(FakeCollector())
    yield
    registry.unregister(PLATFORM)


NOW = datetime.now(UTC)


def ago(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).isoformat()


@pytest.fixture
def platform(server: ReplayServer) -> FakeSocial:
    p = FakeSocial(window=(ago(24 * 30), ago(-24)))
    p.post("100", SWAHILI, ago(3))
    p.post("101", PERSIAN, (NOW - timedelta(hours=2)).astimezone(
        timezone(timedelta(hours=3, minutes=30))).isoformat())
    p.comment("c1", "100", SLOVENIAN, ago(2.5))
    p.serve(server)
    return p


@pytest.fixture
def account(archive: Archive, server: ReplayServer) -> acc.Account:
    return acc.add_account(archive.appender, platform=PLATFORM, platform_id=ACCOUNT,
                           handle="wrenfield", base_url=server.url,
                           credentials={"token": TOKEN}, interval="15m")


def run(archive: Archive, account: acc.Account, **kw: Any) -> Any:
    return collect_account(archive, account.id, transport=quick_transport(), **kw)


def run_record(archive: Archive, seq: int) -> dict[str, Any]:
    payload = read_record(archive.appender, seq).payload
    assert payload is not None and payload["action"] == "collection.run"
    return payload["details"]


def item_state(archive: Archive, item_id: str) -> str | None:
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.items.c.state).where(
            t.items.c.platform == PLATFORM, t.items.c.item_id == item_id)).scalar()


def cursor_of(archive: Archive, account: acc.Account) -> dict[str, Any] | None:
    with archive.catalog.reader() as conn:
        text = conn.execute(select(t.collector_cursors.c.cursor).where(
            t.collector_cursors.c.account_id == account.id)).scalar()
    return None if text is None else json.loads(text)


def test_a_run_archives_posts_and_comments_and_records_what_it_saw(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    result = run(archive, account)
    assert result.outcome == "ok", result.error
    assert result.events["created"] == 3 and result.listed == 3 and result.looked_up == 0
    details = run_record(archive, result.seq)
    assert details["listed"] == ["100", "101", "c1"]
    assert details["threads"] == ["100", "101"]
    assert details["window"] == {"start": format_time(NOW - timedelta(days=30)),
                                 "end": format_time(NOW + timedelta(days=1))}
    assert details["outcome"] == "ok" and details["events"]["created"] == 3
    assert details["requests"] == 3 and details["account"] == account.id
    assert cursor_of(archive, account) == {"since": 2}


def test_text_in_every_language_is_archived_byte_for_byte(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    with archive.catalog.reader() as conn:
        seqs = dict(conn.execute(select(t.items.c.item_id, t.items.c.first_seq)
                                 .where(t.items.c.platform == PLATFORM)).all())
    texts = {i: read_record(archive.appender, s).payload["text"] for i, s in seqs.items()}
    assert texts == {"100": SWAHILI, "101": PERSIAN, "c1": SLOVENIAN}
    assert "\u200c" in texts["101"]


def test_a_second_run_archives_nothing_new_but_is_recorded(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    second = run(archive, account)
    assert second.outcome == "ok"
    assert sum(second.events.values()) == 0 and second.listed == 3
    assert run_record(archive, second.seq)["archived"] == 0


def test_an_edit_is_archived_as_edited(archive: Archive, account: acc.Account,
                                       platform: FakeSocial) -> None:
    run(archive, account)
    platform.posts["100"]["text"] = SWAHILI + " (imesahihishwa)"
    result = run(archive, account)
    assert result.events["edited"] == 1 and sum(result.events.values()) == 1


def test_a_post_missing_from_its_window_is_looked_up_and_archived_deleted(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        server: ReplayServer) -> None:
    run(archive, account)
    platform.delete("101")
    result = run(archive, account)
    assert result.looked_up == 1 and result.events["deleted"] == 1
    assert item_state(archive, "101") == "deleted"
    assert run_record(archive, result.seq)["looked_up"] == ["101"]
    # the platform's answer is in the deletion record's raw payload
    with archive.catalog.reader() as conn:
        seq = conn.execute(select(t.items.c.latest_seq).where(
            t.items.c.item_id == "101")).scalar()
    raw = read_record(archive.appender, seq).payload["raw"]
    assert raw == {"status": 404, "body": {"error": "Record not found", "id": "101"}}
    assert [r.path for r in server.calls("/api/items/101")] == ["/api/items/101"]


def test_a_post_outside_the_listed_window_is_not_presumed_deleted(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        server: ReplayServer) -> None:
    run(archive, account)
    platform.delete("100")                        # published 3 hours ago
    platform.window = (ago(2.5), ago(-24))
    result = run(archive, account)
    assert result.looked_up == 0 and result.events["deleted"] == 0
    assert item_state(archive, "100") == "live"
    assert server.calls("/api/items/100") == []


def test_a_comment_missing_from_a_fetched_thread_is_looked_up(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    platform.delete("c1")
    result = run(archive, account)
    assert result.events["deleted"] == 1 and item_state(archive, "c1") == "deleted"


def test_an_item_still_there_when_looked_up_is_not_deleted(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        server: ReplayServer) -> None:
    run(archive, account)
    item = platform.posts.pop("101")             # not listed, but the lookup finds it
    platform.lookup_override = [Reply.json(item)]
    result = run(archive, account)
    assert result.looked_up == 1 and sum(result.events.values()) == 0
    assert item_state(archive, "101") == "live"


def test_a_failed_run_is_recorded_with_its_reason_and_keeps_the_cursor(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    before = cursor_of(archive, account)
    platform.post("102", "new", ago(1))
    platform.timeline_override = [Reply(502, b"<html><body>Bad gateway</body></html>",
                                         {"Content-Type": "text/html"}),
                                  Reply(200, b"<html>maintenance</html>",
                                        {"Content-Type": "text/html"})]
    result = run(archive, account)
    assert result.outcome == "failed"
    assert "MalformedResponse" in result.error and "HTML" in result.error
    details = run_record(archive, result.seq)
    assert details["outcome"] == "failed" and details["error"] == result.error
    assert details["listed"] == [] and details["window"] == {"start": None, "end": None}
    assert cursor_of(archive, account) == before
    assert item_state(archive, "102") is None
    with archive.catalog.reader() as conn:
        assert last_run(conn, account.id).outcome == "failed"


def test_a_failing_lookup_archives_nothing_of_the_run(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    platform.post("102", "new post", ago(1))
    platform.delete("101")
    platform.lookup_override = [Reply(503, b"down")]
    result = run(archive, account)
    assert result.outcome == "failed" and "PlatformUnavailable" in result.error
    assert item_state(archive, "102") is None      # seen in the harvest, not archived
    assert item_state(archive, "101") == "live"    # not presumed deleted


def test_an_expired_token_pauses_the_account_and_raises_an_alert(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        caplog: pytest.LogCaptureFixture) -> None:
    platform.token = "rotated-by-the-platform"
    with caplog.at_level(logging.WARNING, logger="archiver.collectors"):
        result = run(archive, account)
    assert result.outcome == "failed" and result.error.startswith("credentials rejected")
    assert "account paused: credentials rejected" in result.notes
    a = acc.get_account(archive.catalog, account.id)
    assert (a.status, a.paused_reason) == ("paused", "credentials rejected")
    health = account_health(archive, account.id)
    assert [x["kind"] for x in health["alerts"]] == ["credentials_rejected"]
    assert any("paused" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    # paused: the next run does nothing; resuming clears the alert
    assert run(archive, account).outcome == "paused"
    acc.resume_account(archive.appender, account.id)
    assert account_health(archive, account.id)["alerts"] == []


def test_rate_limited_is_recorded_with_retry_at_and_the_scheduler_waits(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    platform.timeline_override = [Reply.json({"error": "slow down"}, 429,
                                             {"Retry-After": "900"})]
    result = run(archive, account)
    assert result.outcome == "rate_limited" and result.retry_at is not None
    with archive.catalog.reader() as conn:
        last = last_run(conn, account.id)
    assert last.outcome == "rate_limited" and last.retry_at == result.retry_at
    due = next_due(acc.get_account(archive.catalog, account.id), last)
    assert due.isoformat().startswith(result.retry_at[:16])
    assert account.id not in [a.id for a in due_accounts(archive)]
    assert account.id in [a.id for a in due_accounts(archive, due + timedelta(seconds=1))]


def test_paused_and_removed_accounts_are_not_due(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    assert [a.id for a in due_accounts(archive)] == [account.id]
    acc.pause_account(archive.appender, account.id, "holiday")
    assert due_accounts(archive) == []
    acc.resume_account(archive.appender, account.id)
    acc.remove_account(archive.appender, account.id)
    assert due_accounts(archive) == []
    with pytest.raises(InvalidRequest):
        run(archive, account)


def test_an_account_is_due_again_one_interval_after_its_last_run(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    now = datetime.now(UTC)
    assert due_accounts(archive, now) == []
    assert [a.id for a in due_accounts(archive, now + timedelta(minutes=16))] == [account.id]


def test_a_gap_is_reported_when_not_checked_for_longer_than_interval_and_grace(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    now = datetime.now(UTC)
    run(archive, account, clock=lambda: now - timedelta(hours=3))
    assert account_health(archive, account.id, clock=lambda: now - timedelta(
        hours=3, minutes=-20))["gap"] is False
    late = account_health(archive, account.id, clock=lambda: now)
    assert late["gap"] is True and late["gap_seconds"] > 2 * 3600
    # a failed run does not close the gap: only a successful one does
    platform.timeline_override = [Reply(500, b"")]
    assert run(archive, account).outcome == "failed"
    assert account_health(archive, account.id)["gap"] is True
    platform.timeline_override = None
    assert run(archive, account).outcome == "ok"
    assert account_health(archive, account.id)["gap"] is False


def test_rebuild_refills_the_collection_runs_from_the_log(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    run(archive, account)
    platform.timeline_override = [Reply(200, b"{not json")]
    run(archive, account)

    def rows() -> list[tuple[Any, ...]]:
        with archive.catalog.reader() as conn:
            return [tuple(r) for r in conn.execute(
                select(t.collection_runs).order_by(t.collection_runs.c.seq))]

    before = rows()
    assert [r[5] for r in before] == ["ok", "failed"]
    cursor = cursor_of(archive, account)
    rebuild_catalog(archive.appender)
    assert rows() == before
    # the catalog's own tables are not derived from the log: rebuild leaves them
    assert cursor_of(archive, account) == cursor == {"since": 2}
    assert acc.get_account(archive.catalog, account.id).credential_names == ["token"]
    platform.timeline_override = None
    assert run(archive, account).outcome == "ok"


class WrongAccountCollector(FakeCollector):
    """A buggy collector: files what it sees under another account."""

    platform = "fakebuggy"

    def harvest(self, account: Any, http: Any, cursor: Any, known: Any) -> Any:
        h = super().harvest(account, http, cursor, known)
        h.observations = [replace(o, account="someone-else", platform="fakebuggy")
                          for o in h.observations]
        return h


def test_observations_of_another_account_fail_the_run(
        archive: Archive, server: ReplayServer, platform: FakeSocial) -> None:
    registry.register(WrongAccountCollector())
    try:
        buggy = acc.add_account(archive.appender, platform="fakebuggy", platform_id=ACCOUNT,
                                handle="buggy", base_url=server.url,
                                credentials={"token": TOKEN})
        result = collect_account(archive, buggy.id, transport=quick_transport())
    finally:
        registry.unregister("fakebuggy")
    assert result.outcome == "failed" and "not of this account" in result.error
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.items.c.item_id)).all() == []


def test_registry_finds_registered_collectors_and_refuses_unknown_platforms() -> None:
    assert registry.get_collector(PLATFORM).platform == PLATFORM
    assert PLATFORM in registry.known_platforms()
    with pytest.raises(ConfigError, match="no collector"):
        registry.get_collector("myspace")
    with pytest.raises(ConfigError):
        registry.get_collector("../etc")


def test_worker_runs_due_accounts_and_stops_when_asked(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    import threading

    from archiver.collectors.scheduler import worker

    stop = threading.Event()
    seen: list[Any] = []

    def after(result: Any) -> None:
        seen.append(result)
        stop.set()

    thread = threading.Thread(target=worker, kwargs={
        "archive": archive, "after_each": after, "max_sleep": 0.2, "stop": stop,
        "install_signals": False})
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert [r.outcome for r in seen] == ["ok"] and seen[0].events["created"] == 3



PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
       b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
       b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def test_media_of_a_run_are_downloaded_and_referenced_by_sha256(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        server: ReplayServer) -> None:
    import hashlib

    server.route("GET", "/media/a.png", Reply(200, PNG, {"Content-Type": "image/png"}))
    server.route("GET", "/media/b.png", Reply(200, b"<html>not an image</html>",
                                              {"Content-Type": "image/png"}))
    platform.posts["100"]["media"] = [{"id": "m1", "url": f"{server.url}/media/a.png"},
                                      {"id": "m2", "url": f"{server.url}/media/b.png"}]
    result = run(archive, account)
    assert result.outcome == "ok", result.error
    assert any("media" in n and "b.png" in n for n in result.notes)   # refused, said why
    with archive.catalog.reader() as conn:
        seq = conn.execute(select(t.items.c.first_seq).where(
            t.items.c.item_id == "100")).scalar()
    media = read_record(archive.appender, seq).payload["media"]
    assert media[0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert "sha256" not in media[1]
    assert run(archive, account).events == {e: 0 for e in result.events}  # nothing new


def test_an_observation_that_fails_validation_fails_the_run_and_archives_nothing(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    platform.post("102", "Habari", "yesterday at noon")
    result = run(archive, account)
    assert result.outcome == "failed"
    assert "observation '102'" in result.error and "RFC 3339" in result.error
    assert item_state(archive, "100") is None


def test_publication_times_are_compared_in_utc_whatever_the_offset(
        archive: Archive, account: acc.Account, platform: FakeSocial,
        server: ReplayServer) -> None:
    run(archive, account)                   # 101 was published 2 h ago, given at +03:30
    platform.delete("101")
    platform.window = (ago(2.25), ago(1.75))
    assert run(archive, account).looked_up == 1
    platform.post("101", PERSIAN, ago(2))
    platform.delete("100")
    platform.window = (ago(1.9), ago(-1))   # 100 (3 h ago) and 101 (2 h ago) outside
    assert run(archive, account).looked_up == 0


def test_a_run_record_whose_row_was_lost_in_a_crash_gets_it_back(
        archive: Archive, account: acc.Account, platform: FakeSocial) -> None:
    from archiver.collectors.runs import adopt_missing_runs

    result = run(archive, account)
    with archive.catalog.writer() as conn:   # as if the catalog never committed the row
        conn.execute(t.collection_runs.delete())
    assert account_health(archive, account.id)["last_run"] is None
    assert adopt_missing_runs(archive.appender) == 1
    assert account_health(archive, account.id)["last_run"]["seq"] == result.seq
    assert adopt_missing_runs(archive.appender) == 0
