"""The Bluesky collector against a replayed AppView: exactly the observations each scenario
should give, and a typed error (nothing half-harvested) for every kind of bad answer."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from archiver.collectors.bluesky import COLLECTOR, EARLIEST, BlueskyCollector
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import (
    CollectorError,
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
    RateLimited,
)
from archiver.records import Observation
from tests.collectors.bluesky_replay import DID, HANDLE, PUBLIC, AppView, image_blob
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️ #MafurikoWrenfield"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."     # with U+200C (ZWNJ)
SL = "Obvestilo: čistilna akcija v soboto, žoge in šotori so dobrodošli. 🧹"
FEED = "/xrpc/app.bsky.feed.getAuthorFeed"


@pytest.fixture
def appview(server: ReplayServer) -> AppView:
    return AppView(server)


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[Transport]:
    with Transport(TransportSettings(retries=2, backoff=0.01, max_wait=60),
                   sleep=sleeps.append, rng=random.Random(7)) as t:
        yield t


def account(server: ReplayServer, **options) -> AccountConfig:
    return AccountConfig(id="acct-1", platform="bluesky", platform_id=DID, handle=HANDLE,
                         base_url=server.url, options=options)


def harvest(server: ReplayServer, http: Transport, cursor=None, known=(), **options) -> Harvest:
    return COLLECTOR.harvest(account(server, **options), http, cursor or {}, list(known))


def by_id(h: Harvest) -> dict[str, Observation]:
    return {o.item_id: o for o in h.observations}


def posts(h: Harvest) -> list[Observation]:
    """The harvest's observations after the profile item (always first)."""
    assert h.observations[0].kind == "profile" and h.observations[0].item_id == DID
    return h.observations[1:]


def listed_posts(h: Harvest) -> set[str]:
    assert DID in h.listed
    return h.listed - {DID}


def rkey(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def test_module_exposes_the_collector_for_the_registry():
    assert isinstance(COLLECTOR, BlueskyCollector) and COLLECTOR.platform == "bluesky"


def test_a_post_becomes_one_observation_with_text_author_url_media_and_raw(
        server, appview, http):
    facets = [{"index": {"byteStart": 73, "byteEnd": 92}, "features": [
        {"$type": "app.bsky.richtext.facet#tag", "tag": "MafurikoWrenfield"}]}]
    uri = appview.post(SW, "2026-11-30T07:10:33.000Z", langs=["sw"], facets=facets,
                       images=[("flood-map", "Ramani ya barabara zilizofungwa")])

    h = harvest(server, http)

    blob = image_blob("flood-map")["ref"]["$link"]
    assert posts(h) == [Observation(
        platform="bluesky", account=DID, item_id=uri, kind="post", text=SW,
        author={"id": DID, "handle": HANDLE, "name": "City of Wrenfield"},
        published_at="2026-11-30T07:10:33.000000Z",
        url=f"https://bsky.app/profile/{HANDLE}/post/{rkey(uri)}", lang="sw",
        media=[{"id": blob, "mime": "image/jpeg", "alt": "Ramani ya barabara zilizofungwa",
                "url": f"{server.url}/img/feed_fullsize/plain/{DID}/{blob}@jpeg"}],
        raw=appview.view(uri))]
    assert posts(h)[0].raw["record"]["facets"] == facets
    assert listed_posts(h) == {uri}
    assert h.window_start == EARLIEST and h.window_end is not None
    assert h.cursor == {"handle": HANDLE, "newest": "2026-11-30T07:10:33.000000Z"}


def test_text_in_every_language_passes_through_byte_for_byte(server, appview, http):
    uris = [appview.post(t, f"2026-11-30T0{n}:00:00Z") for n, t in enumerate((SW, FA, SL))]

    texts = {o.item_id: o.text for o in harvest(server, http).observations}

    assert [texts[u].encode() for u in uris] == [t.encode() for t in (SW, FA, SL)]
    assert "\u200c" in texts[uris[1]]


def test_reposts_of_other_peoples_posts_are_not_the_accounts_items(server, appview, http):
    theirs = appview.post("Kesho mvua kubwa.", "2026-11-29T10:00:00Z", by="amani")
    appview.reposts.append(theirs)
    mine = appview.post(SW, "2026-11-30T07:10:33Z")

    h = harvest(server, http)

    assert [o.item_id for o in posts(h)] == [mine] and listed_posts(h) == {mine}


def test_the_feed_is_paged_to_its_end_with_the_platforms_cursor(
        server, appview, http, monkeypatch):
    monkeypatch.setattr("archiver.collectors.bluesky.FEED_PAGE", 2)
    uris = [appview.post(f"Post {n}", f"2026-11-{n + 1:02d}T09:00:00Z") for n in range(5)]

    h = harvest(server, http)

    assert [r.arg("cursor") for r in server.calls(FEED)] == [None, "2", "4"]
    assert [o.item_id for o in posts(h)] == uris[::-1]
    assert listed_posts(h) == set(uris) and h.window_start == EARLIEST


def test_an_updated_record_is_observed_with_its_new_text_and_cid(server, appview, http):
    uri = appview.post("Cesta je zaprta do 12. ure.", "2026-11-30T08:00:00Z", langs=["sl"])
    first = by_id(harvest(server, http))[uri]
    appview.update(uri, "Cesta je zaprta do 15. ure.")

    second = by_id(harvest(server, http, cursor={"handle": HANDLE,
                                                 "newest": "2026-11-30T08:00:00Z"}))[uri]

    assert second.text == "Cesta je zaprta do 15. ure." and first.text != second.text
    assert second.raw["cid"] != first.raw["cid"] and second.raw["cid"] == appview.cid(uri)


def test_the_whole_reply_tree_is_harvested_with_parents_and_kinds(server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    c1 = appview.post("Asante kwa taarifa!", "2026-11-30T07:20:00Z", by="amani", parent=post)
    c2 = appview.post(FA, "2026-11-30T07:25:00Z", by="navid", parent=c1)
    own = appview.post("Karibu, Amani.", "2026-11-30T07:30:00Z", parent=c1)

    h = harvest(server, http)
    seen = by_id(h)

    assert {u: (seen[u].kind, seen[u].parent_id) for u in (c1, c2, own)} == {
        c1: ("comment", post), c2: ("comment", c1), own: ("reply", c1)}
    assert seen[c2].author == {"id": PUBLIC["navid"][0], "handle": "navid.bsky.social",
                               "name": "نوید"}
    assert seen[c2].text == FA and seen[c2].event is None
    assert h.threads == {post, c1, c2, own} and listed_posts(h) == {post, c1, c2, own}
    assert len(posts(h)) == 4


def test_a_reply_the_account_hid_is_observed_as_hidden(server, appview, http):
    post = appview.post(SL, "2026-11-30T08:00:00Z")
    rude = appview.post("To je neumnost.", "2026-11-30T08:05:00Z", by="rok", parent=post)
    kind = appview.post("Hvala za obvestilo!", "2026-11-30T08:06:00Z", by="amani",
                        parent=post)
    appview.hide(post, rude)

    seen = by_id(harvest(server, http))

    assert seen[rude].event == "hidden" and seen[rude].text == "To je neumnost."
    assert seen[kind].event is None


def test_own_replies_to_other_peoples_posts_put_their_parents_in_threads(
        server, appview, http):
    theirs = appview.post("Je, barabara imefunguliwa?", "2026-11-30T06:00:00Z", by="amani")
    mine = appview.post("Bado, Amani.", "2026-11-30T07:00:00Z", parent=theirs)
    gone = f"at://{DID}/app.bsky.feed.post/3lbqgone2222"
    elsewhere = f"at://{PUBLIC['rok'][0]}/app.bsky.feed.post/3lbqrok22222"
    known = [KnownItem(gone, "reply", elsewhere, "2026-11-29T07:00:00.000000Z", "live")]

    h = harvest(server, http, known=known)

    assert by_id(h)[mine].kind == "reply" and mine in h.listed
    assert {theirs, elsewhere} <= h.threads  # so a deleted own reply gets looked up


def test_a_bad_option_is_refused_with_its_name(server, appview, http):
    with pytest.raises(CollectorError, match="lookback_days"):
        harvest(server, http, lookback_days="a week")


def test_posts_without_replies_cost_no_thread_request(server, appview, http):
    appview.post(SW, "2026-11-30T07:10:33Z")

    h = harvest(server, http)

    assert server.calls("/xrpc/app.bsky.feed.getPostThread") == [] and h.threads == set()


def test_a_known_comment_makes_its_thread_be_fetched_even_at_zero_replies(
        server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    gone = appview.post("Asante!", "2026-11-30T07:20:00Z", by="amani", parent=post)
    appview.delete(gone)
    known = [KnownItem(post, "post", None, "2026-11-30T07:10:33.000000Z", "live"),
             KnownItem(gone, "comment", post, "2026-11-30T07:20:00.000000Z", "live")]

    h = harvest(server, http, known=known)

    assert post in h.threads and gone not in h.listed


def test_lookup_of_a_deleted_post_keeps_the_platforms_not_found_answer(
        server, appview, http):
    uri = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.delete(uri)

    [obs] = COLLECTOR.lookup(account(server), http,
                             [KnownItem(uri, "post", None, "2026-11-30T07:10:33.000000Z",
                                        "live")])

    assert obs == Observation(
        platform="bluesky", account=DID, item_id=uri, kind="post",
        url=f"https://bsky.app/profile/{DID}/post/{rkey(uri)}", event="deleted",
        raw={"error": "NotFound", "message": f"Post not found: {uri}"})


def test_lookup_of_a_live_item_gives_its_current_state(server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    comment = appview.post("Asante!", "2026-11-30T07:20:00Z", by="amani", parent=post)
    hidden = appview.post("Uongo!", "2026-11-30T07:21:00Z", by="rok", parent=post)
    appview.hide(post, hidden)

    got = COLLECTOR.lookup(account(server), http, [
        KnownItem(post, "post", None, None, "live"),
        KnownItem(comment, "comment", post, None, "live"),
        KnownItem(hidden, "comment", post, None, "hidden")])

    assert [(o.item_id, o.kind, o.event, o.text) for o in got] == [
        (post, "post", None, SW), (comment, "comment", None, "Asante!"),
        (hidden, "comment", "hidden", "Uongo!")]


def test_lookup_skips_ids_that_cannot_be_bluesky_posts(server, appview, http):
    uri = appview.post(SW, "2026-11-30T07:10:33Z")

    got = COLLECTOR.lookup(account(server), http, [
        KnownItem("legacy-123", "post", None, None, "live"),
        KnownItem(f"at://{DID}/app.bsky.feed.like/3kx", "post", None, None, "live"),
        KnownItem(uri, "post", None, None, "live")])

    assert [o.item_id for o in got] == [uri]
    assert [r.args("uris") for r in server.calls("/xrpc/app.bsky.feed.getPosts")] == [[uri]]


def test_lookup_that_cannot_decide_raises_instead_of_presuming_deletion(
        server, appview, http):
    uri = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.delete(uri)
    appview.script("app.bsky.feed.getPostThread",
                   Reply.json({"error": "InternalServerError"}, 400))

    with pytest.raises(Exception, match="InternalServerError"):
        COLLECTOR.lookup(account(server), http, [KnownItem(uri, "post", None, None, "live")])


def test_the_profile_is_an_item_whose_text_is_the_name_and_handle(server, appview, http):
    profile = harvest(server, http).observations[0]

    assert profile == Observation(
        platform="bluesky", account=DID, item_id=DID, kind="profile",
        text=f"City of Wrenfield\n@{HANDLE}",
        author={"id": DID, "handle": HANDLE, "name": "City of Wrenfield"},
        url=f"https://bsky.app/profile/{DID}", raw=profile.raw)
    assert profile.raw["did"] == DID and profile.raw["followersCount"] == 1200


def test_lookup_of_a_profile_the_appview_no_longer_serves_is_a_deletion(
        server, appview, http):
    appview.script("app.bsky.actor.getProfile", Reply.json(
        {"error": "AccountDeactivated", "message": "Account is deactivated"}, 400))

    [obs] = COLLECTOR.lookup(account(server), http, [KnownItem(DID, "profile", None, None,
                                                               "live")])

    assert (obs.item_id, obs.kind, obs.event) == (DID, "profile", "deleted")
    assert obs.raw == {"error": "AccountDeactivated", "message": "Account is deactivated"}


def test_a_renamed_account_is_noted_and_its_new_handle_used(server, appview, http):
    uri = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.rename("wrenfield.gov.example")

    h = harvest(server, http, cursor={"handle": HANDLE, "newest": "2026-11-30T07:10:33Z"})

    profile, obs = h.observations
    assert h.notes == [f"handle changed from {HANDLE} to wrenfield.gov.example"]
    assert profile.text == "City of Wrenfield\n@wrenfield.gov.example"
    assert obs.url == f"https://bsky.app/profile/wrenfield.gov.example/post/{rkey(uri)}"
    assert obs.author["handle"] == "wrenfield.gov.example"
    assert h.cursor["handle"] == "wrenfield.gov.example"


def test_a_429_waits_for_retry_after_then_harvests_everything(
        server, appview, http, sleeps):
    uri = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply.json({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                              429, {"Retry-After": "7"}))

    h = harvest(server, http)

    assert [o.item_id for o in posts(h)] == [uri]
    assert len(server.calls(FEED)) == 2 and 6 <= max(sleeps) <= 7


def test_a_429_with_only_a_ratelimit_reset_header_waits_for_the_reset(
        server, appview, http, sleeps):
    import time
    appview.post(SW, "2026-11-30T07:10:33Z")
    reset = int(time.time()) + 20
    appview.script("app.bsky.feed.getAuthorFeed", Reply.json(
        {"error": "RateLimitExceeded"}, 429,
        {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0",
         "RateLimit-Reset": str(reset), "RateLimit-Policy": "3000;w=300"}))

    h = harvest(server, http)

    assert len(posts(h)) == 1 and 15 <= max(sleeps) <= 21


def test_a_rate_limit_longer_than_a_run_waits_raises_rate_limited(server, appview, http):
    appview.post(SW, "2026-11-30T07:10:33Z")
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply.json({"error": "RateLimitExceeded"}, 429, {"Retry-After": "900"}))

    with pytest.raises(RateLimited) as err:
        harvest(server, http)
    assert err.value.retry_at is not None


@pytest.mark.parametrize("reply", [
    Reply.json({"error": "ExpiredToken", "message": "Token has expired"}, 400),
    Reply.json({"error": "InvalidToken", "message": "Token could not be verified"}, 400),
    Reply.json({"error": "AuthenticationRequired", "message": "Invalid identifier"}, 401),
], ids=["expired", "revoked", "401"])
def test_a_refused_token_raises_credentials_rejected(server, appview, http, reply):
    appview.script("app.bsky.actor.getProfile", reply)
    acct = AccountConfig(id="acct-1", platform="bluesky", platform_id=DID, handle=HANDLE,
                         base_url=server.url, credentials={"access_jwt": "eyJ.old.jwt"})

    with pytest.raises(CredentialsRejected):
        COLLECTOR.harvest(acct, http, {}, [])
    assert server.requests[0].headers["authorization"] == "Bearer eyJ.old.jwt"


def test_no_credentials_means_no_authorization_header(server, appview, http):
    harvest(server, http)
    assert all("authorization" not in r.headers for r in server.requests)


@pytest.mark.parametrize(("body", "reason"), [
    (b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>", "HTML page"),
    (b'{"feed": [{"post": {"uri": "at://did:plc:x/app.bsky.feed.post/1"', "not JSON"),
    ({"feed": "none"}, "'feed' is missing or not a list"),
    ({"cursor": "2"}, "'feed' is missing"),
    ({"feed": [{"post": {"cid": "bafy", "author": {"did": DID}}}]}, "not an at:// URI"),
    ({"feed": [{"post": {"uri": f"at://{DID}/app.bsky.feed.post/3k", "cid": "bafy",
                         "author": {"did": DID},
                         "record": {"$type": "app.bsky.feed.post", "text": 42,
                                    "createdAt": "2026-11-30T07:10:33Z"}}}]},
     "record.text is not a string"),
    ({"feed": [{"post": {"uri": f"at://{DID}/app.bsky.feed.post/3k", "cid": "bafy",
                         "author": {"did": DID},
                         "record": {"$type": "app.bsky.feed.post", "text": "x"}}}]},
     "createdAt is missing"),
    ({"feed": [{"post": {"uri": f"at://{DID}/app.bsky.feed.post/3k", "cid": "bafy",
                         "author": {"did": "did:plc:someoneelse"},
                         "record": {"$type": "app.bsky.feed.post", "text": "x",
                                    "createdAt": "2026-11-30T07:10:33Z"}}}]},
     "is not the repository"),
], ids=["html", "truncated", "feed-type", "feed-missing", "uri", "text-type", "createdAt",
        "author"])
def test_a_malformed_page_raises_malformed_response_naming_the_problem(
        server, appview, http, body, reason):
    appview.post(SW, "2026-11-30T07:10:33Z")
    ctype = "text/html" if isinstance(body, bytes) and body.startswith(b"<") else \
        "application/json"
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply(200, body, {"Content-Type": ctype}))

    with pytest.raises(MalformedResponse, match=reason):
        harvest(server, http)


def test_a_malformed_thread_fails_the_harvest(server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.post("Asante!", "2026-11-30T07:20:00Z", by="amani", parent=post)
    appview.script("app.bsky.feed.getPostThread", Reply.json(
        {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": appview.view(post),
                    "replies": [{"$type": "app.bsky.feed.defs#somethingNew"}]}}))

    with pytest.raises(MalformedResponse, match="unexpected \\$type"):
        harvest(server, http)


def test_blocked_and_not_found_replies_are_neither_observed_nor_lost(server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    blocked = f"at://{PUBLIC['rok'][0]}/app.bsky.feed.post/3lblocked22"
    appview.script("app.bsky.feed.getPostThread", Reply.json({"thread": {
        "$type": "app.bsky.feed.defs#threadViewPost", "post": appview.view(post),
        "replies": [
            {"$type": "app.bsky.feed.defs#blockedPost", "uri": blocked, "blocked": True,
             "author": {"did": PUBLIC["rok"][0]}},
            {"$type": "app.bsky.feed.defs#notFoundPost",
             "uri": f"at://{PUBLIC['amani'][0]}/app.bsky.feed.post/3lgone2222",
             "notFound": True}]}}))
    appview.posts[post].reply_count = 2

    h = harvest(server, http)

    assert [o.item_id for o in posts(h)] == [post]
    assert listed_posts(h) == {post, blocked}


def test_a_connection_dropped_mid_page_is_retried_and_nothing_is_lost(
        server, appview, http):
    uris = {appview.post(f"Post {n} 🌊", f"2026-11-{n + 1:02d}T09:00:00Z") for n in range(3)}
    page = Reply.json({"feed": [{"post": appview.view(u)} for u in reversed(list(uris))]})
    appview.script("app.bsky.feed.getAuthorFeed",
                   Reply(page.status, page.body, page.headers, drop_after=40))

    h = harvest(server, http)

    assert {o.item_id for o in posts(h)} == uris
    assert len(server.calls(FEED)) == 2


def test_a_connection_that_keeps_dropping_raises_platform_unavailable(
        server, appview, http):
    appview.post(SW, "2026-11-30T07:10:33Z")
    page = Reply.json({"feed": [], "cursor": "x"})
    dropped = Reply(page.status, page.body, page.headers, drop_after=5)
    appview.script("app.bsky.feed.getAuthorFeed", *[dropped] * 5)

    with pytest.raises(PlatformUnavailable):
        harvest(server, http)


def test_a_drop_on_the_second_page_fails_the_whole_harvest(server, appview, http):
    for n in range(3):
        appview.post(f"Post {n}", f"2026-11-{n + 1:02d}T09:00:00Z")
    first = Reply.json({"feed": [{"post": appview.view(u)} for u in list(appview.posts)[:1]],
                        "cursor": "1"})
    broken = Reply(200, b'{"feed": [', {"Content-Type": "application/json"}, drop_after=4)
    appview.script("app.bsky.feed.getAuthorFeed", first, *[broken] * 3)

    with pytest.raises(PlatformUnavailable):
        harvest(server, http)


def test_a_payload_over_the_size_limit_is_refused(server, appview, sleeps):
    appview.post("x" * 5000, "2026-11-30T07:10:33Z")
    with (Transport(TransportSettings(max_bytes=4096), sleep=sleeps.append) as small,
          pytest.raises(MalformedResponse, match="larger than the 4096-byte limit")):
        harvest(server, small)


def test_a_later_run_lists_back_to_the_lookback_and_says_where_it_stopped(
        server, appview, http, monkeypatch):
    monkeypatch.setattr("archiver.collectors.bluesky.FEED_PAGE", 5)
    for day in range(1, 29):
        appview.post(f"Day {day}", f"2026-11-{day:02d}T09:00:00Z")
    # 28 posts in pages of 5, newest first: the page that reaches back past Nov 22 is the
    # last one asked for.
    h = COLLECTOR.harvest(account(server, lookback_days=6), http,
                          {"newest": "2026-11-28T09:00:00Z"}, [])

    assert len(server.calls(FEED)) == 2
    assert [o.text for o in posts(h)] == [f"Day {d}" for d in range(28, 18, -1)]
    assert h.window_start == "2026-11-19T09:00:00.000000Z"
    assert h.cursor["newest"] == "2026-11-28T09:00:00.000000Z"


def test_a_cursor_that_points_back_is_malformed(server, appview, http):
    appview.post(SW, "2026-11-30T07:10:33Z")
    page = {"feed": [{"post": appview.view(next(iter(appview.posts)))}], "cursor": "same"}
    appview.script("app.bsky.feed.getAuthorFeed", *[Reply.json(page)] * 3)

    with pytest.raises(MalformedResponse, match="points back to a page already read"):
        harvest(server, http)


def test_a_post_dated_in_the_future_does_not_move_the_look_back(server, appview, http):
    appview.post("Kesho", "2099-01-01T00:00:00Z")
    appview.post(SW, "2026-11-30T07:10:33Z")

    h = harvest(server, http, cursor={"newest": "2026-11-29T00:00:00Z"})

    assert h.cursor["newest"] == "2026-11-30T07:10:33.000000Z"


def test_a_post_deleted_before_its_thread_is_read_is_not_claimed_as_a_thread(
        server, appview, http):
    post = appview.post(SW, "2026-11-30T07:10:33Z")
    appview.post("Asante!", "2026-11-30T07:20:00Z", by="amani", parent=post)
    appview.script("app.bsky.feed.getPostThread", Reply.json(
        {"error": "NotFound", "message": f"Post not found: {post}"}, 400))

    h = harvest(server, http)

    assert post in h.listed and post not in h.threads


def test_threads_beyond_max_threads_wait_in_the_cursor_for_later_runs(
        server, appview, http):
    posts = []
    for day in range(1, 6):
        posts.append(appview.post(f"Siku {day}", f"2026-11-0{day}T09:00:00Z"))
        appview.post("Asante!", f"2026-11-0{day}T10:00:00Z", by="amani", parent=posts[-1])
    thread_calls = "/xrpc/app.bsky.feed.getPostThread"

    first = harvest(server, http, max_threads=3, lookback_days=1)
    assert first.threads == set(posts[2:][::-1]) | {c for c in first.listed if "amani" in c}
    assert first.cursor["threads_before"] == "2026-11-02T09:00:00.000000Z"
    assert first.notes == ["2 reply threads left for later runs (max_threads 3)"]

    server.requests.clear()
    second = harvest(server, http, cursor=first.cursor, max_threads=3, lookback_days=1)
    assert [r.arg("uri") for r in server.calls(thread_calls)] == [posts[4], posts[3], posts[1]]
    assert second.cursor["threads_before"] == "2026-11-01T09:00:00.000000Z"
    assert {o.item_id for o in posts_of(second)} >= set(posts)  # the whole feed is listed

    server.requests.clear()
    third = harvest(server, http, cursor=second.cursor, max_threads=3, lookback_days=1)
    assert [r.arg("uri") for r in server.calls(thread_calls)] == [posts[4], posts[3], posts[0]]
    assert "threads_before" not in third.cursor and third.notes == []

    server.requests.clear()
    fourth = harvest(server, http, cursor=third.cursor, max_threads=3, lookback_days=1)
    assert [r.arg("uri") for r in server.calls(thread_calls)] == [posts[4], posts[3]]
    assert fourth.cursor == {"handle": HANDLE, "newest": "2026-11-05T09:00:00.000000Z"}


def posts_of(h: Harvest) -> list[Observation]:
    return [o for o in h.observations if o.kind == "post"]


def test_a_first_run_stops_at_max_pages_and_says_so(server, appview, http, monkeypatch):
    monkeypatch.setattr("archiver.collectors.bluesky.FEED_PAGE", 10)
    for day in range(1, 29):
        appview.post(f"Day {day}", f"2026-11-{day:02d}T09:00:00Z")

    h = COLLECTOR.harvest(account(server, max_pages=2), http, {}, [])

    assert len(posts(h)) == 20 and h.window_start == "2026-11-09T09:00:00.000000Z"
    assert h.notes and "stopped after 2 pages" in h.notes[0]
