"""Jetstream -> observations, on both wires (v2 subscribeEvents and v1 /subscribe), against
a local WebSocket server replaying events in Jetstream's real shapes; then through
capture into an archive, alongside the poller."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.bluesky_jetstream import jetstream_observations
from archiver.collectors.runner import collect_account
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import CollectorError, MalformedResponse, PlatformUnavailable
from archiver.records import Observation
from tests.collectors.bluesky_replay import (
    DID,
    HANDLE,
    PUBLIC,
    AppView,
    Jetstream,
    image_blob,
    record_cid,
)
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    captures_after,
    local_backend,
)
from tests.replay.server import ReplayServer

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. 🧹"


def post(text: str, created: str = "2026-12-01T10:00:00.000Z", **extra) -> dict:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": created,
            "langs": ["fa"], **extra}


@pytest.fixture(params=[True, False], ids=["v2-subscribeEvents", "v1-subscribe"])
def js(request: pytest.FixtureRequest) -> Iterator[Jetstream]:
    with Jetstream(v2=request.param) as server:
        yield server


def position(event: dict) -> int:
    return event.get("seq", event.get("time_us"))


def stream(js: Jetstream, **kwargs):
    return jetstream_observations({DID: HANDLE}, js.url, idle_timeout=5, **kwargs)


def test_create_update_delete_become_post_and_deleted_observations(js):
    created = js.commit(DID, "create", "3lbqa2222aa", post(FA))
    updated = js.commit(DID, "update", "3lbqa2222aa", post(FA + " ✅"))
    deleted = js.commit(DID, "delete", "3lbqa2222aa")
    s = stream(js)

    got = list(s)

    uri = f"at://{DID}/app.bsky.feed.post/3lbqa2222aa"
    url = f"https://bsky.app/profile/{HANDLE}/post/3lbqa2222aa"
    author = {"id": DID, "handle": HANDLE, "name": None}
    assert [(o.item_id, o.kind, o.event, o.text) for o in got] == [
        (uri, "post", None, FA), (uri, "post", None, FA + " ✅"), (uri, "post", "deleted", None)]
    assert got[0] == Observation(
        platform="bluesky", account=DID, item_id=uri, kind="post", text=FA, author=author,
        published_at="2026-12-01T10:00:00.000000Z", observed_at=got[0].observed_at, url=url,
        lang="fa", raw=created)
    assert got[1].raw == updated
    assert got[2].raw == deleted and got[2].url == url
    assert s.cursor == position(deleted) and s.problems == []


def test_a_deleted_reply_keeps_the_kind_the_archive_knows(js):
    js.commit(DID, "delete", "3lbqa2222zz")
    uri = f"at://{DID}/app.bsky.feed.post/3lbqa2222zz"

    [obs] = list(jetstream_observations({DID: HANDLE}, js.url, idle_timeout=5,
                                        kind_of={uri: "reply"}.get))

    assert (obs.item_id, obs.kind, obs.event) == (uri, "reply", "deleted")


def test_the_text_survives_byte_for_byte_and_the_cid_is_kept(js):
    event = js.commit(DID, "create", "3lbqa2222ab", post(SL, langs=["sl"]))
    [obs] = list(stream(js))
    assert obs.text.encode() == SL.encode()
    assert (event.get("cid") or event["commit"]["cid"]) == record_cid(post(SL, langs=["sl"]))


def test_the_subscription_asks_for_posts_of_the_registered_dids_from_the_cursor(js):
    first = js.commit(DID, "create", "3lbqa2222ac", post("one"))
    list(jetstream_observations({DID: HANDLE, PUBLIC["amani"][0]: None}, js.url,
                                cursor=position(first), idle_timeout=5))

    [path] = js.requests
    if js.v2:
        assert path.startswith("/xrpc/network.bsky.jetstream.subscribeEvents?"
                               "collections=app.bsky.feed.post&dids=")
    else:
        assert path.startswith("/subscribe?wantedCollections=app.bsky.feed.post&wantedDids=")
    assert f"cursor={position(first)}" in path and "did%3Aplc%3Aamani" in path


def test_replies_and_images_are_read_from_the_record(js):
    parent = f"at://{PUBLIC['navid'][0]}/app.bsky.feed.post/3lbqparent22"
    photo = image_blob("bus-map")
    js.commit(DID, "create", "3lbqa2222ad", post(
        "Karibu!", reply={"root": {"uri": parent, "cid": "bafyreiroot"},
                          "parent": {"uri": parent, "cid": "bafyreiroot"}},
        embed={"$type": "app.bsky.embed.images",
               "images": [{"alt": "Ramani ya basi", "image": photo}]}))

    [obs] = list(stream(js))

    link = photo["ref"]["$link"]
    assert (obs.kind, obs.parent_id) == ("reply", parent)
    assert obs.media == [{"id": link, "mime": "image/jpeg", "alt": "Ramani ya basi",
                          "url": f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/"
                                 f"{link}@jpeg"}]


def test_other_accounts_and_collections_are_ignored_even_unfiltered(js):
    js.commit(PUBLIC["rok"][0], "create", "3lbqa2222ae", post("tuji"))
    js.commit(DID, "create", "3lbqa2222af", {"$type": "app.bsky.feed.like",
                                             "createdAt": "2026-12-01T10:00:00Z"},
              collection="app.bsky.feed.like")
    mine = js.commit(DID, "create", "3lbqa2222ag", post("mine"))
    # A server that ignores the filters: every event reaches the client.
    s = stream(js)
    s.subscribe_url = lambda: js.url  # type: ignore[method-assign] - no filters sent

    assert [o.text for o in s] == ["mine"] and s.cursor == position(mine)


def test_a_dropped_connection_raises_and_resuming_loses_and_repeats_nothing(js):
    events = [js.commit(DID, "create", f"3lbqb{n}22222", post(f"chapisho {n}"))
              for n in range(5)]
    js.drop_after.append(2)
    s = stream(js)

    got = []
    with pytest.raises(PlatformUnavailable, match="dropped"):
        for obs in s:
            got.append(obs)
    assert s.cursor == position(events[1])
    got.extend(s)  # the same stream reconnects from its cursor

    assert [o.text for o in got] == [f"chapisho {n}" for n in range(5)]
    assert f"cursor={position(events[1])}" in js.requests[1]


def test_a_saved_v2_cursor_resumes_after_the_last_event(tmp_path):
    with Jetstream(v2=True) as js:
        events = [js.commit(DID, "create", f"3lbqc{n}22222", post(f"n{n}")) for n in range(3)]
        got = list(stream(js, cursor=events[0]["seq"]))
    assert [o.text for o in got] == ["n1", "n2"]


def test_identity_events_change_the_handle_in_later_urls_and_are_noted(js):
    js.commit(DID, "create", "3lbqd222222", post("before"))
    js.identity(DID, "wrenfield.gov.example")
    js.commit(DID, "create", "3lbqd222223", post("after"))
    s = stream(js)

    before, after = list(s)

    assert before.url.startswith(f"https://bsky.app/profile/{HANDLE}/")
    assert after.url.startswith("https://bsky.app/profile/wrenfield.gov.example/")
    assert s.notes == [f"{DID}: handle changed from {HANDLE} to wrenfield.gov.example"]


def test_account_events_are_noted_not_archived(js):
    js.account(DID, False, "deactivated")
    s = stream(js)
    assert list(s) == [] and s.notes == [f"{DID}: account is inactive (deactivated)"]


@pytest.mark.parametrize("bad", ["not json at all", "[1, 2]", '{"kind": "commit"}'],
                         ids=["not-json", "not-object", "no-fields"])
def test_malformed_frames_are_skipped_with_a_problem_and_the_rest_delivered(js, bad):
    js.extra_frames.append(bad)
    js.commit(DID, "create", "3lbqe222222", post("still here"))
    s = stream(js)

    assert [o.text for o in s] == ["still here"]
    assert len(s.problems) == 1


def test_a_record_of_the_wrong_shape_is_never_an_observation(js):
    bad = js.commit(DID, "create", "3lbqf222222", {"$type": "app.bsky.feed.post",
                                                   "text": 42, "createdAt": "2026-12-01"})
    s = stream(js)

    assert list(s) == [] and "text is not a string" in s.problems[0]
    assert s.cursor == position(bad)  # skipped, not retried forever


def test_an_error_frame_ends_the_v2_stream():
    with Jetstream(v2=True) as js:
        js.extra_frames.append('{"$type": "error", "error": "ConsumerTooSlow", '
                               '"message": "consumer is too slow"}')
        with pytest.raises(PlatformUnavailable, match="ConsumerTooSlow"):
            list(stream(js))


def test_an_info_frame_is_noted_without_moving_the_cursor():
    with Jetstream(v2=True) as js:
        js.extra_frames.append('{"$type": "message", "payload": {"$type": '
                               '"network.bsky.jetstream.subscribeEvents#info", '
                               '"name": "OutdatedCursor", "message": "clamped to 1001"}}')
        s = stream(js, cursor=5)
        assert list(s) == [] and s.cursor == 5
        assert s.notes == ["jetstream info OutdatedCursor: clamped to 1001"]


def test_a_frame_over_the_size_limit_is_refused(js):
    js.commit(DID, "create", "3lbqg222222", post("🌊" * 5000))
    with pytest.raises(MalformedResponse, match="larger than 4096 bytes"):
        list(jetstream_observations([DID], js.url, idle_timeout=5, max_frame_bytes=4096))


def test_an_unreachable_server_raises_platform_unavailable():
    with pytest.raises(PlatformUnavailable, match="cannot connect"):
        list(jetstream_observations([DID], "ws://127.0.0.1:9/subscribe", open_timeout=2))


def test_a_bad_cursor_or_no_account_is_refused_before_connecting():
    with pytest.raises(CollectorError, match="cursor"):
        jetstream_observations([DID], "ws://127.0.0.1:9/subscribe", cursor=-1)
    with pytest.raises(CollectorError, match="DID"):
        jetstream_observations([], "ws://127.0.0.1:9/subscribe")


def test_a_quiet_stream_ends_after_the_idle_timeout():
    import time
    with Jetstream(v2=True) as js:
        js.commit(DID, "create", "3lbqi222222", post("kimya"))
        js.hold_open = 3.0  # the server stays connected and silent
        s = jetstream_observations([DID], js.url, idle_timeout=0.3)
        started = time.monotonic()
        assert [o.text for o in s] == ["kimya"]
        assert time.monotonic() - started < 2.0


def test_max_frames_bounds_one_iteration_and_the_next_continues():
    with Jetstream(v2=True) as js:
        for n in range(3):
            js.commit(DID, "create", f"3lbqj{n}22222", post(f"n{n}"))
        s = jetstream_observations([DID], js.url, idle_timeout=5, max_frames=2)
        assert [o.text for o in s] == ["n0", "n1"]
        assert [o.text for o in s] == ["n2"]


# -- into the archive, next to the poller ------------------------------------------------


def test_stream_events_archive_created_edited_deleted_once(archive):
    with Jetstream(v2=True) as js:
        js.commit(DID, "create", "3lbqh222222", post(FA))
        js.commit(DID, "update", "3lbqh222222", post(FA + " (به‌روز)"))
        js.commit(DID, "delete", "3lbqh222222")
        archive.ingestor.ingest(list(stream(js)))
        uri = f"at://{DID}/app.bsky.feed.post/3lbqh222222"
        assert captures_after(archive, -1) == [("created", "post", uri),
                                               ("edited", "post", uri),
                                               ("deleted", "post", uri)]

        archive.ingestor.ingest(list(stream(js)))  # the same events again (a replay)
        assert len(captures_after(archive, -1)) == 3


def test_a_post_seen_by_the_poller_and_then_the_stream_is_archived_once(archive):
    with ReplayServer() as server, Jetstream(v2=True) as js:
        appview = AppView(server)
        from datetime import UTC, datetime
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        uri = appview.post(FA, now, langs=["fa"])
        account_id = acc.add_account(archive.appender, platform="bluesky", platform_id=DID,
                                     handle=HANDLE, base_url=server.url).id
        with Transport(TransportSettings(retries=1), sleep=lambda s: None,
                       rng=random.Random(1)) as http:
            assert collect_account(archive, account_id, transport=http).outcome == "ok"
        before = captures_after(archive, -1)
        js.commit(DID, "create", uri.rsplit("/", 1)[1], appview.posts[uri].record)

        summary = archive.ingestor.ingest(list(stream(js)))

        assert summary.archived == 0 and captures_after(archive, -1) == before
