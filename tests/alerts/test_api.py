"""/api/v1/alert-rules and /api/v1/alerts: an invalid pattern is a 400 and creates nothing;
rules are listed, muted; raised alerts are listed newest first."""

from __future__ import annotations

from archiver.alerts.worker import run_once
from archiver.records import parse_observation
from tests.api.conftest import assert_error, bearer

RULE = {"name": "Personal data in comments", "kind": "comment_match",
        "config": {"presets": ["phone"], "terms": ["idiot"]},
        "channels": {"email": ["clerk@city.example"]}}


def test_an_invalid_pattern_is_a_400_and_nothing_is_created(client, tokens, mailbox):
    bad = {**RULE, "config": {"patterns": ["([a-z]"]}}
    r = client.post("/api/v1/alert-rules", headers=bearer(tokens["admin"]), json=bad)
    assert "invalid pattern" in assert_error(r, 400)["message"]
    listed = client.get("/api/v1/alert-rules", headers=bearer(tokens["records_officer"]))
    assert listed.get_json() == {"rules": []}


def test_a_rule_raises_an_alert_listed_by_the_api_and_can_be_muted(archive, client, tokens,
                                                                    mailbox):
    r = client.post("/api/v1/alert-rules", headers=bearer(tokens["records_officer"]),
                    json=RULE)
    assert r.status_code == 201
    rule = r.get_json()
    archive.ingestor.ingest([parse_observation(
        {"platform": "mastodon", "account": "42", "item_id": "c9", "kind": "comment",
         "text": "Call me: ۰۹۱۲ ۳۴۵ ۶۷۸۹", "observed_at": "2026-11-20T09:00:00Z"},
        max_text_bytes=100_000)])
    run_once(archive)

    alerts = client.get("/api/v1/alerts", headers=bearer(tokens["admin"])).get_json()
    muted = client.post(f"/api/v1/alert-rules/{rule['id']}/mute",
                        headers=bearer(tokens["admin"]), json={"muted": True})

    [alert] = alerts["alerts"]
    assert alert["rule_id"] == rule["id"] and alert["details"]["item_id"] == "c9"
    assert alert["deliveries"]["email"]["ok"] is True
    assert muted.get_json()["muted"] is True


def test_legal_and_auditors_do_not_see_alerts(client, tokens):
    for role in ("legal", "auditor"):
        assert_error(client.get("/api/v1/alerts", headers=bearer(tokens[role])), 403)


def test_the_web_interface_lists_alerts_and_rules(archive, client, tokens, mailbox):
    from tests.web.conftest import sign_in

    r = client.post("/api/v1/alert-rules", headers=bearer(tokens["admin"]), json=RULE)
    assert r.status_code == 201
    archive.ingestor.ingest([parse_observation(
        {"platform": "mastodon", "account": "42", "item_id": "c7", "kind": "comment",
         "text": "you idiot", "observed_at": "2026-11-20T09:00:00Z"},
        max_text_bytes=100_000)])
    run_once(archive)

    page = sign_in(client, tokens["records_officer"]).get("/alerts")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Personal data in comments" in html and "mastodon c7" in html
