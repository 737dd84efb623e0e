"""Alert rules: what each kind raises, in any script, what a muted rule does, what bad
rules are refused with (nothing changed), and webhook retries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from archiver.alerts.rules import check_config, compile_rule
from archiver.alerts.store import create_rule, list_alerts, list_rules, set_muted
from archiver.alerts.worker import run_once
from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.errors import InvalidRequest
from archiver.records import parse_observation
from tests.collectors.e2e_support import replay_server  # noqa: F401 - fixture: server
from tests.replay.server import Reply

ADMIN = "admin@city"


def _obs(item: str, text: str | None, kind: str = "comment", **extra: Any) -> Any:
    doc = {"platform": "mastodon", "account": "42", "item_id": item, "kind": kind,
           "text": text, "observed_at": "2026-11-20T09:00:00Z", "parent_id": "p1",
           "author": {"id": "7", "handle": "resident", "name": "Resident"}, **extra}
    return parse_observation({k: v for k, v in doc.items() if v is not None},
                             max_text_bytes=100_000)


def _rule(archive: Any, kind: str, config: dict[str, Any], **channels: Any) -> dict:
    return create_rule(archive, {"name": f"{kind} rule", "kind": kind, "config": config,
                                 "channels": channels or {"email": ["clerk@city.example"]}},
                       ADMIN)


def _system_records(archive: Any) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.records)
                            .where(t.records.c.type == "system")).scalar_one()


@pytest.mark.parametrize("text", [
    "شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹ است",          # Persian digits: a phone number
    "piga simu 0712 345 678 sasa",       # Swahili, ASCII digits
    "pišite na ana.novak@primer.si",     # Slovenian, an email address
])
def test_a_comment_with_personal_data_in_any_script_raises_an_alert(archive, mailbox, text):
    _rule(archive, "comment_match", {"presets": ["phone", "email"]})
    archive.ingestor.ingest([_obs("c1", text)])

    [alert] = run_once(archive)

    assert alert.details["item_id"] == "c1" and alert.details["matched"]
    assert len(mailbox[0].messages) == 1


def test_watch_terms_match_across_arabic_and_persian_letter_forms(archive, mailbox):
    _rule(archive, "comment_match", {"terms": ["كيك"]})  # Arabic kaf and yeh
    archive.ingestor.ingest([_obs("c1", "این کیک خوشمزه است"),  # Persian forms
                             _obs("c2", "no match here")])

    assert [a.details["item_id"] for a in run_once(archive)] == ["c1"]


def test_posts_do_not_raise_comment_rules_and_edits_raise_edit_rules(archive, mailbox):
    _rule(archive, "comment_match", {"terms": ["flood"]})
    _rule(archive, "item_edited", {})
    archive.ingestor.ingest([_obs("p1", "flood warning", kind="post", parent_id=None)])
    assert run_once(archive) == []
    archive.ingestor.ingest([_obs("p1", "flood warning lifted", kind="post", parent_id=None,
                                  observed_at="2026-11-20T10:00:00Z")])

    [alert] = run_once(archive)

    assert (alert.kind, alert.details["event"]) == ("item_edited", "edited")


def test_a_muted_rule_raises_nothing(archive, mailbox):
    rule = _rule(archive, "comment_match", {"terms": ["spam"]})
    set_muted(archive, rule["id"], True, ADMIN)
    archive.ingestor.ingest([_obs("c1", "spam spam")])

    assert run_once(archive) == [] and list_alerts(archive) == []
    assert list_rules(archive)[0]["muted"] is True


@pytest.mark.parametrize("config, says", [
    ({"patterns": ["(unclosed"]}, "invalid pattern"),
    ({"patterns": ["x" * 501]}, "at most 500"),
    ({"presets": ["passport"]}, "unknown preset"),
    ({}, "needs terms, patterns or presets"),
    ({"terms": ["ok"], "colour": "red"}, "unknown setting"),
])
def test_a_bad_rule_is_refused_and_nothing_is_written(archive, mailbox, config, says):
    before = _system_records(archive)
    with pytest.raises(InvalidRequest, match=says):
        _rule(archive, "comment_match", config)
    assert list_rules(archive) == [] and _system_records(archive) == before


def test_email_without_smtp_settings_is_refused(make_archive):
    bare = make_archive()
    with pytest.raises(InvalidRequest, match="smtp_host"):
        _rule(bare, "item_deleted", {})


def test_a_catastrophic_pattern_gives_up_instead_of_hanging():
    rule = compile_rule("r", "n", "comment_match",
                        check_config("comment_match", {"patterns": [r"^(\w+\s?)*$"]}))
    hits = rule.matches("a" * 5000 + "!")
    assert hits == [] or "gave up" in hits[0]


def test_a_failing_webhook_is_retried_and_its_attempts_recorded(archive, mailbox, server):
    server.route("POST", "/hook", [Reply(503), Reply(204)])
    _rule(archive, "comment_match", {"terms": ["spam"]},
          webhook=[f"{server.url}/hook"])
    archive.ingestor.ingest([_obs("c1", "spam")])

    [alert] = run_once(archive, sleep=lambda s: None)

    [saved] = list_alerts(archive)
    assert saved["id"] == alert.id
    assert saved["deliveries"][f"webhook {server.url}/hook"] == {"ok": True, "attempts": 2,
                                                                 "status": 204}


def test_a_credential_about_to_expire_raises_its_rule(archive, mailbox):
    account = acc.add_account(archive.appender, platform="mastodon", platform_id="42",
                              handle="city", base_url="https://social.example",
                              credentials={"access_token": "t"})
    _rule(archive, "credential_expiring", {"accounts": ["mastodon:42"]})
    _rule(archive, "collection_failed", {})
    with archive.catalog.writer() as conn:
        acc.raise_alert(conn, account.id, "token_expiring", "expires in 3 days",
                        "2026-12-01T00:00:00Z")

    [alert] = run_once(archive)

    assert alert.kind == "credential_expiring" and alert.details["what"] == "token_expiring"


def test_a_collection_gap_raises_once_per_gap(archive, mailbox):
    account = acc.add_account(archive.appender, platform="mastodon", platform_id="42",
                              handle="city", base_url="https://social.example",
                              credentials={"access_token": "t"})
    _rule(archive, "collection_failed", {"accounts": ["mastodon:42"]})
    with archive.catalog.writer() as conn:  # added a day ago, never collected since
        conn.execute(t.accounts.update().where(t.accounts.c.id == account.id)
                     .values(created_at="2026-01-01T00:00:00.000000Z"))

    [alert] = run_once(archive)

    assert alert.details["what"] == "gap" and alert.details["account_id"] == account.id
    assert run_once(archive) == []
