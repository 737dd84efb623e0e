"""The Mastodon user stream (server-sent events) as observations, against a replayed
streaming endpoint: the events used, the ones ignored, drops, and refusals."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from itertools import islice

import httpx
import pytest

from archiver.collectors.mastodon_stream import sse_events, stream_observations
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import CredentialsRejected, PlatformUnavailable
from archiver.records import Observation
from tests.collectors.mastodon_replay import (
    ACCOUNT_ID,
    NOW,
    TOKEN,
    api_time,
    at,
    public_account,
)
from tests.replay.server import ReplayServer, Reply

STREAM = "/api/v1/streaming/user"
DANA = public_account(0, "dana_p", "Dana Price", "mstdn.example")
FOLLOWED = public_account(2, "news", "Wrenfield News", "news.example")
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[Transport]:
    with Transport(TransportSettings(retries=1, backoff=0.01), sleep=sleeps.append) as t:
        yield t


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acct-m", platform="mastodon", platform_id=ACCOUNT_ID,
                         handle="city", base_url=server.url,
                         credentials={"access_token": TOKEN})


def sse(*events: tuple[str, object]) -> str:
    """An event stream as Mastodon's streaming server writes it: a `:)` greeting, then
    `event:` and `data:` lines, a blank line after each event."""
    out = [":)\n\n"]
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.append(f"event: {name}\ndata: {text}\n\n")
    return "".join(out)


def stream_reply(body: str, drop_after: int | None = None) -> Reply:
    return Reply(200, body.encode(), {"Content-Type": "text/event-stream"}, drop_after)


def consume(server, http, sleeps, n, **kw) -> list[Observation]:
    return list(islice(stream_observations(account(server), http, clock=lambda: NOW,
                                           sleep=sleeps.append, rng=random.Random(3), **kw),
                       n))


def test_sse_parsing_follows_the_spec():
    lines = [":)", "", "event: update", "data: {\"a\":", "data: 1}", "", ": heartbeat",
             "event: delete", "data:42", "", "event: update", "data: cut off"]
    assert list(sse_events(lines)) == [("update", '{"a":\n1}'), ("delete", "42")]


def test_the_accounts_posts_edits_comments_and_deletions_become_observations(
        server, instance, http, sleeps):
    post = instance.post(at(0.1), f"<p>{FA}</p>", language="fa")
    followed = instance.post(at(0.09), "<p>not ours</p>")
    followed["account"] = FOLLOWED
    comment = instance.reply(post, at(0.05), "<p>Merci!</p>", account=DANA)
    instance.edit(post, f"<p>{FA} (edited)</p>", at(0.01))
    instance.install(server)
    edited = dict(post)
    mention = {"id": "6", "type": "mention", "created_at": api_time(at(0.05)),
               "account": DANA, "status": comment}
    server.route("GET", STREAM, stream_reply(sse(
        ("update", {**post, "content": f"<p>{FA}</p>", "edited_at": None}),
        ("update", followed), ("notification", mention), ("status.update", edited),
        ("delete", followed["id"]), ("delete", post["id"]))))
    got = consume(server, http, sleeps, 4)
    assert [(o.item_id, o.kind, o.event) for o in got] == [
        (post["id"], "post", None), (comment["id"], "comment", None),
        (post["id"], "post", None), (post["id"], "post", "deleted")]
    assert got[0].text == FA and got[1].parent_id == post["id"]
    assert got[2].text == f"{FA} (edited)" and len(got[2].raw["history"]) == 2
    assert got[3] == Observation(platform="mastodon", account=ACCOUNT_ID,
                                 item_id=post["id"], kind="post", event="deleted",
                                 observed_at="2024-03-14T12:00:00.000000Z",
                                 raw={"event": "delete", "payload": post["id"]})
    assert server.calls(STREAM)[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_delete_of_an_id_the_archive_knows_is_a_deletion_of_that_item(
        server, instance, http, sleeps):
    instance.install(server)
    known = {"1111": KnownItem("1111", "comment", "1000", None, "live")}
    server.route("GET", STREAM, stream_reply(sse(("delete", "9999"), ("delete", "1111"))))
    [obs] = consume(server, http, sleeps, 1, known=known.get)
    assert (obs.item_id, obs.kind, obs.parent_id, obs.event) == \
        ("1111", "comment", "1000", "deleted")


def test_a_payload_sent_as_a_json_string_is_read_too(server, instance, http, sleeps):
    post = instance.post(at(0.1), "<p>Hi</p>")
    instance.install(server)
    server.route("GET", STREAM, stream_reply(sse(("update", json.dumps(json.dumps(post))))))
    [obs] = consume(server, http, sleeps, 1)
    assert (obs.item_id, obs.text) == (post["id"], "Hi")


def test_after_a_drop_it_reconnects_and_catches_up_over_rest(server, instance, http, sleeps):
    first = instance.post(at(0.3), "<p>first</p>")
    during = instance.post(at(0.2), "<p>posted while the stream was down</p>")
    after = instance.post(at(0.1), "<p>after</p>")
    instance.install(server)
    body = sse(("update", first), ("update", during))
    cut = body.index("event: update", body.index("event: update") + 1) + 30
    server.route("GET", STREAM, [stream_reply(body, drop_after=cut),
                                 stream_reply(sse(("update", after)))])
    got = consume(server, http, sleeps, 3)
    assert [o.item_id for o in got] == [first["id"], during["id"], after["id"]]
    assert len(server.calls(STREAM)) == 2 and len(sleeps) == 1
    [catch_up] = server.calls(f"/api/v1/accounts/{ACCOUNT_ID}/statuses")
    assert catch_up.arg("min_id") == first["id"]


def test_a_refused_token_raises_credentials_rejected(server, instance, http, sleeps):
    server.route("GET", STREAM, Reply.json({"error": "Error: Invalid access token"}, 401))
    with pytest.raises(CredentialsRejected):
        consume(server, http, sleeps, 1)


def test_a_stream_that_keeps_failing_raises_platform_unavailable(
        server, instance, http, sleeps):
    server.route("GET", STREAM, Reply(503, b"busy"))
    with pytest.raises(PlatformUnavailable, match="503"):
        consume(server, http, sleeps, 1, max_failures=3)
    assert len(sleeps) == 3 and len(server.calls(STREAM)) == 4


def test_stop_ends_the_stream_between_events(server, instance, http, sleeps):
    posts = [instance.post(at(0.1 * i), f"<p>{i}</p>", seq=i) for i in range(3)]
    instance.install(server)
    server.route("GET", STREAM, stream_reply(sse(*[("update", p) for p in posts])))
    got: list[Observation] = []
    with httpx.Client() as client:
        for obs in stream_observations(account(server), http, client=client,
                                       stop=lambda: len(got) >= 2, clock=lambda: NOW):
            got.append(obs)
    assert len(got) == 2


def test_a_malformed_event_raises_instead_of_becoming_an_observation(
        server, instance, http, sleeps):
    from archiver.errors import MalformedResponse
    server.route("GET", STREAM, stream_reply(sse(("update", {"id": "1", "content": "x"}))))
    with pytest.raises(MalformedResponse, match="created_at"):
        consume(server, http, sleeps, 1)
    server.route("GET", STREAM, stream_reply(sse(("update", "{not json"))))
    with pytest.raises(MalformedResponse, match="not JSON"):
        consume(server, http, sleeps, 1)


def test_a_mention_that_does_not_answer_the_account_is_ignored(server, instance, http, sleeps):
    other = instance.post(at(0.3), "<p>someone else's</p>")
    other["account"] = FOLLOWED
    elsewhere = instance.reply(other, at(0.2), "<p>@city look</p>", account=DANA)
    mine = instance.post(at(0.1), "<p>mine</p>")
    instance.install(server)
    note = {"id": "7", "type": "mention", "created_at": api_time(at(0.2)), "account": DANA,
            "status": elsewhere}
    favourite = {"id": "8", "type": "favourite", "created_at": api_time(at(0.2)),
                 "account": DANA, "status": mine}
    server.route("GET", STREAM, stream_reply(sse(("notification", note),
                                                 ("notification", favourite),
                                                 ("update", mine))))
    [obs] = consume(server, http, sleeps, 1)
    assert obs.item_id == mine["id"]


def test_the_streaming_server_may_live_elsewhere(server, instance, http, sleeps):
    post = instance.post(at(0.1), "<p>hi</p>")
    with ReplayServer() as streaming:
        streaming.route("GET", STREAM, stream_reply(sse(("update", post))))
        acct = AccountConfig(id="acct-m", platform="mastodon", platform_id=ACCOUNT_ID,
                             handle="city", base_url=server.url,
                             credentials={"access_token": TOKEN},
                             options={"streaming_url": streaming.url})
        [obs] = islice(stream_observations(acct, http, clock=lambda: NOW,
                                           sleep=sleeps.append), 1)
    assert obs.item_id == post["id"] and not server.calls(STREAM)


def test_an_event_larger_than_the_size_limit_is_refused(server, instance, sleeps):
    from archiver.errors import MalformedResponse
    post = instance.post(at(0.1), "<p>" + "š" * 5000 + "</p>")
    server.route("GET", STREAM, stream_reply(sse(("update", post))))
    with Transport(TransportSettings(max_bytes=4096)) as small, \
            pytest.raises(MalformedResponse, match="longer than 4096"):
        consume(server, small, sleeps, 1)
