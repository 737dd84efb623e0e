"""The Instagram collector's own rules against the replayed Graph API: what a lookup may
call a deletion, media without a file, webhook mentions left alone."""

from __future__ import annotations

import pytest

from archiver.collectors.instagram import COLLECTOR
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.errors import CollectorError, MalformedResponse
from tests.collectors.e2e_support import ago
from tests.collectors.facebook_replay import VERSION, gone
from tests.collectors.instagram_replay import IG_ID, TOKEN
from tests.replay.server import ReplayServer, Reply

SL = "Obvestilo: čistilna akcija v soboto."


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acc_0000000000000002", platform="instagram", platform_id=IG_ID,
                         handle="wrenfieldcity", base_url=f"{server.url}/{VERSION}",
                         credentials={"access_token": TOKEN})


def known(item_id: str, parent: str | None = None, kind: str = "post") -> KnownItem:
    return KnownItem(item_id, kind, parent, "2024-03-14T10:00:00.000000Z", "live")


def test_a_gone_medium_is_deleted_only_while_the_account_itself_answers(server, ig, http):
    post = ig.post(SL, ago(10))
    ig.deleted.add(post)
    [obs] = COLLECTOR.lookup(account(server), http, [known(post)])
    assert obs.event == "deleted" and obs.raw == gone(post)

    server.route("GET", f"/{VERSION}/{IG_ID}", Reply.json(gone(IG_ID), 400))
    with pytest.raises(CollectorError, match="cannot be told deleted from unreadable"):
        COLLECTOR.lookup(account(server), http, [known(post)])


def test_a_lookup_of_an_id_that_is_not_a_graph_id_asks_nothing(server, ig, http):
    with pytest.raises(MalformedResponse,
                       match="instagram lookup: 'account:me' is not a Graph id"):
        COLLECTOR.lookup(account(server), http, [known("account:me", kind="profile")])
    assert server.requests == []


def test_a_medium_without_media_url_is_archived_without_its_file(server, ig, http):
    post = ig.post(SL, ago(10))
    del ig.media[post]["media_url"]          # withheld, e.g. for copyright
    harvest = COLLECTOR.harvest(account(server), http, {}, [])
    [obs] = [o for o in harvest.observations if o.item_id == post]
    assert obs.text == SL and obs.media == []


def test_mentions_and_the_profile_are_looked_up_without_failing(server, ig, http):
    found = COLLECTOR.lookup(account(server), http, [
        known("mention:17900000000000777", kind="mention"),
        known(f"account:{IG_ID}", kind="profile")])
    assert [o.item_id for o in found] == [f"account:{IG_ID}"]
    assert found[0].text == "City of Wrenfield\n@wrenfieldcity"


def test_a_reply_looked_up_keeps_its_comment_as_parent(server, ig, http):
    post = ig.post(SL, ago(10))
    comment = ig.comment(post, "Vprašanje", ago(8), by="rok_z")
    reply = ig.comment(comment, "Odgovor", ago(6), by="wrenfieldcity")
    [obs] = COLLECTOR.lookup(account(server), http, [known(reply, comment, "reply")])
    assert obs.parent_id == comment and obs.kind == "reply" and obs.event is None
