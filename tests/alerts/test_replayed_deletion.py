"""Done-when of issue 11: deleting a post in a replayed Mastodon scenario sends its alert
by email and by a signed webhook, from the alert worker the runner wakes."""

from __future__ import annotations

import hashlib
import hmac
import json

from archiver.alerts.store import create_rule, list_alerts
from archiver.alerts.worker import worker_for
from archiver.collectors import accounts as acc
from tests.alerts.conftest import WEBHOOK_SECRET
from tests.collectors import e2e_support
from tests.collectors.e2e_support import (  # noqa: F401 - fixtures: backend_env, server, http
    ago,
    local_backend,
    replay_server,
    transport,
)
from tests.collectors.mastodon_replay import ACCOUNT_ID, TOKEN, FakeMastodon
from tests.replay.server import Reply


def test_a_deleted_post_sends_its_alert_by_email_and_webhook(archive, server, http, mailbox):
    box, _ = mailbox
    instance = FakeMastodon()
    account_id = acc.add_account(archive.appender, platform="mastodon",
                                 platform_id=ACCOUNT_ID, handle="city", base_url=server.url,
                                 credentials={"access_token": TOKEN}).id
    server.route("POST", "/hooks/alerts", Reply(204))
    create_rule(archive, {"name": "Official post gone", "kind": "item_deleted",
                          "config": {"accounts": [f"mastodon:{ACCOUNT_ID}"]},
                          "channels": {"email": ["clerk@city.example"],
                                       "webhook": [f"{server.url}/hooks/alerts"]}},
                "admin@city")
    kept = instance.post(ago(40), "<p>kept</p>")
    gone = instance.post(ago(30), "<p>posted by mistake</p>")
    instance.install(server)
    assert e2e_support.run(archive, account_id, http)[0].outcome == "ok"
    assert worker_for(archive).wait_idle()
    assert list_alerts(archive) == []  # creations raise nothing
    instance.delete(gone)
    instance.install(server)

    result, captured = e2e_support.run(archive, account_id, http)

    assert captured == [("deleted", "post", gone["id"])] and result.outcome == "ok"
    assert worker_for(archive).wait_idle()
    [alert] = list_alerts(archive)
    assert alert["details"]["item_id"] == gone["id"] and alert["kind"] == "item_deleted"
    assert alert["deliveries"]["email"] == {"ok": True}
    [(to, message)] = box.messages
    assert to == ["clerk@city.example"] and gone["id"] in message["Subject"]
    [hook] = server.calls("/hooks/alerts")
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), hook.body,
                                    hashlib.sha256).hexdigest()
    assert hook.headers["x-archiver-signature"] == expected
    assert json.loads(hook.body)["details"]["item_id"] == gone["id"]
    assert kept["id"] not in message["Subject"]
