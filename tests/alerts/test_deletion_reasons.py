"""Deletion reasons: a deleted observation may say why the item vanished (a normalised
`reason`), Bluesky's lookups set it where the AppView says, and the payload, the API item
and the export rendering carry it; anything else is refused."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from archiver.collectors.bluesky import COLLECTOR
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import InvalidObservation
from archiver.exports import render
from archiver.log.reader import read_record
from archiver.records import parse_observation
from tests.api.conftest import bearer
from tests.collectors.bluesky_replay import DID, HANDLE, AppView
from tests.collectors.e2e_support import replay_server  # noqa: F401 - fixture: server
from tests.replay.server import Reply

DELETED = {"platform": "mastodon", "account": "42", "item_id": "9", "kind": "post",
           "event": "deleted", "observed_at": "2026-11-20T09:00:00Z"}


@pytest.fixture
def http() -> Iterator[Transport]:
    with Transport(TransportSettings(retries=0), sleep=lambda s: None,
                   rng=random.Random(1)) as t:
        yield t


def _parse(doc: dict) -> object:
    return parse_observation(doc, max_text_bytes=1000)


@pytest.mark.parametrize("doc", [
    {**DELETED, "reason": "vanished"},
    {**DELETED, "event": "hidden", "reason": "made_private"},
    {**DELETED, "event": None, "reason": "removed_by_account"},
])
def test_a_reason_outside_the_list_or_off_a_deletion_is_refused(doc):
    with pytest.raises(InvalidObservation, match="reason"):
        _parse({k: v for k, v in doc.items() if v is not None})


def test_the_payload_carries_the_reason_only_when_given():
    with_reason = _parse({**DELETED, "reason": "account_suspended"})
    assert with_reason.payload("deleted", "t")["reason"] == "account_suspended"
    assert "reason" not in _parse(DELETED).payload("deleted", "t")


@pytest.mark.parametrize("error, reason", [("AccountDeactivated", "account_deactivated"),
                                           ("AccountTakedown", "removed_by_platform"),
                                           ("NotFound", None)])
def test_bluesky_says_why_an_account_went_where_the_appview_does(server, http, error,
                                                                 reason):
    AppView(server).script("app.bsky.actor.getProfile",
                           Reply.json({"error": error, "message": "gone"}, 400))
    config = AccountConfig(id="acct-1", platform="bluesky", platform_id=DID, handle=HANDLE,
                           base_url=server.url, options={})

    [obs] = COLLECTOR.lookup(config, http, [KnownItem(DID, "profile", None, None, "live")])

    assert (obs.event, obs.reason) == ("deleted", reason)


def test_the_api_item_and_the_export_rendering_show_the_reason(archive, client, tokens):
    archive.ingestor.ingest([_parse({**DELETED, "event": None, "text": "Habari"})])
    summary = archive.ingestor.ingest([_parse({**DELETED, "reason": "removed_by_platform",
                                               "observed_at": "2026-11-21T09:00:00Z"})])
    r = client.get("/api/v1/items/mastodon/9", headers=bearer(tokens["records_officer"]))
    assert r.get_json()["deletion_reason"] == "removed_by_platform"
    rec = read_record(archive.appender, summary.seqs[0])
    view = render.ItemView("mastodon", "9", "post", "42", [render.VersionView(
        rec.envelope.seq, "C1", "deleted", rec.envelope.time, rec.payload, [])])
    assert "removed by platform" in render.item_html(view, package="p")


def test_the_web_item_page_shows_the_reason(archive, client, tokens):
    from tests.web.conftest import sign_in

    archive.ingestor.ingest([_parse({**DELETED, "event": None, "text": "Habari"})])
    archive.ingestor.ingest([_parse({**DELETED, "reason": "account_suspended",
                                     "observed_at": "2026-11-21T09:00:00Z"})])

    page = sign_in(client, tokens["records_officer"]).get("/items/mastodon/9")

    assert page.status_code == 200 and "(account suspended)" in page.get_data(as_text=True)
