"""The Mastodon collector against a replayed instance: exactly the observations each
scenario should give, and a typed error (nothing half-harvested) for every bad answer."""

from __future__ import annotations

import html
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.collectors import mastodon
from archiver.collectors.mastodon import COLLECTOR, MastodonCollector, html_to_text
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import (
    ConfigError,
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
)
from archiver.records import Observation
from tests.collectors.mastodon_replay import (
    ACCOUNT_ID,
    NOT_FOUND,
    NOW,
    TOKEN,
    FakeMastodon,
    at,
    media_entity,
    public_account,
    status_entity,
)
from tests.replay.server import ReplayServer, Reply

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️ #MafurikoWrenfield"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."     # with U+200C (ZWNJ)
SL = "Obvestilo: čistilna akcija v soboto, žoge in šotori so dobrodošli. 🧹"
STAMP = "2024-03-14T12:00:00.000000Z"
STATUSES = f"/api/v1/accounts/{ACCOUNT_ID}/statuses"
DANA = public_account(0, "dana_p", "Dana Price", "mstdn.example")
ROK = public_account(1, "rok_z", "Rok Žagar", "toot.example")


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[Transport]:
    with Transport(TransportSettings(retries=2, backoff=0.01, max_wait=60),
                   sleep=sleeps.append, rng=random.Random(7),
                   clock=lambda: NOW.timestamp()) as t:
        yield t


def account(server: ReplayServer, token: str | None = TOKEN, **options) -> AccountConfig:
    return AccountConfig(id="acct-m", platform="mastodon", platform_id=ACCOUNT_ID,
                         handle="city", base_url=server.url,
                         credentials={"access_token": token} if token else {},
                         options=options)


def collector(now: datetime = NOW) -> MastodonCollector:
    return MastodonCollector(clock=lambda: now)


def harvest(server: ReplayServer, instance: FakeMastodon, http: Transport, cursor=None,
            known=(), now: datetime = NOW, **options) -> Harvest:
    instance.install(server)
    return collector(now).harvest(account(server, **options), http, cursor or {},
                                  list(known))


def by_id(h: Harvest) -> dict[str, Observation]:
    return {o.item_id: o for o in h.observations}


def statuses_of(h: Harvest) -> dict[str, Observation]:
    return {k: v for k, v in by_id(h).items() if v.kind != "profile"}


def test_module_exposes_the_collector_for_the_registry():
    assert COLLECTOR.platform == "mastodon"
    assert isinstance(mastodon.COLLECTOR, MastodonCollector)


def test_a_post_becomes_one_observation_with_text_author_url_media_and_raw(
        server, instance, http):
    image = media_entity("112060182061966997", description="Map of the flood zone")
    post = instance.post(at(3), "<p>Flood warning for Lowfield &amp; Riverside.</p>",
                         media=[image])
    h = harvest(server, instance, http)
    assert statuses_of(h) == {post["id"]: Observation(
        platform="mastodon", account=ACCOUNT_ID, item_id=post["id"], kind="post",
        text="Flood warning for Lowfield & Riverside.",
        author={"id": ACCOUNT_ID, "handle": "city", "name": "City of Wrenfield"},
        parent_id=None, published_at="2024-03-14T09:00:00.000000Z", observed_at=STAMP,
        url=f"https://social.wrenfield.example/@city/{post['id']}", lang="en",
        media=[{"id": "112060182061966997", "url": image["url"], "mime": "image/png",
                "alt": "Map of the flood zone"}],
        raw=post)}
    assert h.listed == {post["id"], f"account:{ACCOUNT_ID}"}
    assert server.calls(STATUSES)[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_text_in_every_language_passes_through_byte_for_byte(server, instance, http):
    posts = {text: instance.post(at(i + 1), f"<p>{text}</p>", language=lang)
             for i, (text, lang) in enumerate([(SW, "sw"), (FA, "fa"), (SL, "sl")])}
    got = statuses_of(harvest(server, instance, http))
    for text, post in posts.items():
        assert got[post["id"]].text.encode() == text.encode()
    assert "\u200c" in got[posts[FA]["id"]].text


@pytest.mark.parametrize(("html", "text"), [
    ("<p>One</p><p>Two</p>", "One\n\nTwo"),
    ("<p>Line one<br>line two<br />three</p>", "Line one\nline two\nthree"),
    ('<p>See <a href="https://wrenfield.example/flood/map-2024" rel="nofollow noopener" '
     'target="_blank"><span class="invisible">https://</span><span class="ellipsis">'
     'wrenfield.example/flood/ma</span><span class="invisible">p-2024</span></a></p>',
     "See https://wrenfield.example/flood/map-2024"),
    ('<p><span class="h-card" translate="no"><a href="https://social.wrenfield.example/@city"'
     ' class="u-url mention">@<span>city</span></a></span> hvala &#x1F30A; &lt;3 &quot;ok&quot;'
     '</p>', '@city hvala 🌊 <3 "ok"'),
    ("<p>Items:</p><ul><li>sandbags</li><li>water</li></ul>", "Items:\n\nsandbags\nwater"),
    ("plain  text,\u00a0kept", "plain  text,\u00a0kept"),
])
def test_html_content_becomes_plain_text_carefully(html, text):
    assert html_to_text(html) == text


def test_a_content_warning_comes_first_then_a_blank_line(server, instance, http):
    post = instance.post(at(2), "<p>Water level photos.</p>", spoiler_text="Flooding")
    assert statuses_of(harvest(server, instance, http))[post["id"]].text == \
        "Flooding\n\nWater level photos."


def test_an_edited_post_carries_its_edit_history_in_raw(server, instance, http):
    post = instance.post(at(5), "<p>Bridge closed.</p>")
    instance.edit(post, "<p>Bridge closed until 18:00.</p>", at(4))
    obs = statuses_of(harvest(server, instance, http))[post["id"]]
    assert obs.text == "Bridge closed until 18:00."
    assert [e["content"] for e in obs.raw["history"]] == \
        ["<p>Bridge closed.</p>", "<p>Bridge closed until 18:00.</p>"]
    assert {k: v for k, v in obs.raw.items() if k != "history"} == post


def test_the_history_is_fetched_again_only_when_edited_at_changes(server, instance, http):
    post = instance.post(at(5), "<p>Bridge closed.</p>")
    instance.edit(post, "<p>Bridge closed until 18:00.</p>", at(4))
    first = harvest(server, instance, http)
    history = f"/api/v1/statuses/{post['id']}/history"
    second = harvest(server, instance, http, cursor=first.cursor)
    assert len(server.calls(history)) == 1
    assert "history" not in statuses_of(second)[post["id"]].raw
    instance.edit(post, "<p>Bridge open again.</p>", at(1))
    third = harvest(server, instance, http, cursor=second.cursor)
    assert len(server.calls(history)) == 2
    assert statuses_of(third)[post["id"]].text == "Bridge open again."
    assert len(statuses_of(third)[post["id"]].raw["history"]) == 3


def test_the_whole_thread_is_harvested_with_kinds_and_parents(server, instance, http):
    post = instance.post(at(6), "<p>Sandbags at Quarry Road.</p>")
    comment = instance.reply(post, at(5), f"<p>{SL}</p>", account=ROK, language="sl")
    answer = instance.reply(comment, at(4), "<p>Until 22:00.</p>")
    nested = instance.reply(answer, at(3), f"<p>{FA}</p>", account=DANA, language="fa")
    h = harvest(server, instance, http)
    got = statuses_of(h)
    assert {i: (o.kind, o.parent_id) for i, o in got.items()} == {
        post["id"]: ("post", None), comment["id"]: ("comment", post["id"]),
        answer["id"]: ("reply", comment["id"]), nested["id"]: ("comment", answer["id"])}
    assert got[comment["id"]].author == {"id": ROK["id"], "handle": "rok_z@toot.example",
                                         "name": "Rok Žagar"}
    assert got[nested["id"]].text == FA and got[nested["id"]].lang == "fa"
    assert h.threads >= {post["id"], comment["id"], answer["id"], nested["id"]}
    assert h.listed >= set(got)


def test_a_reply_inside_a_fetched_thread_costs_no_second_request(server, instance, http):
    post = instance.post(at(6), "<p>Roads.</p>")
    comment = instance.reply(post, at(5), "<p>Which?</p>", account=DANA)
    instance.reply(comment, at(4), "<p>Mill Street.</p>")
    harvest(server, instance, http)
    contexts = [r.path for r in server.requests if r.path.endswith("/context")]
    assert contexts == [f"/api/v1/statuses/{post['id']}/context"]


def test_a_boost_is_archived_without_text_and_with_the_boosted_status_in_raw(
        server, instance, http):
    original = status_entity("112000000000000001", at(30), "<p>Road works on Elm.</p>",
                             account=DANA)
    boost = instance.boost(original, at(2))
    h = harvest(server, instance, http)
    obs = statuses_of(h)[boost["id"]]
    assert (obs.kind, obs.text, obs.media, obs.url) == ("boost", None, [], original["url"])
    assert obs.raw["reblog"] == original
    assert not [r for r in server.requests if r.path.endswith("/context")]


def test_an_async_refresh_is_noted_and_the_thread_revisited_next_run(server, instance, http):
    old = instance.post(at(24 * 30), "<p>Old announcement.</p>")
    for i in range(45):
        instance.post(at(24 * 10 + i / 10), f"<p>news {i}</p>", seq=i)
    instance.async_refresh.add(old["id"])
    first = harvest(server, instance, http, lookback_days=7, lookback_statuses=5)
    assert any("still fetching replies" in n and old["id"] in n for n in first.notes)
    assert first.cursor["revisit"] == {old["id"]: 1}
    # Replies have arrived and the refresh is done; the post is far outside the
    # look-back, but its thread is read again because of the note.
    late = instance.reply(old, at(1), "<p>Late answer.</p>", account=DANA)
    instance.async_refresh.clear()
    second = harvest(server, instance, http, cursor=first.cursor, lookback_days=7,
                     lookback_statuses=5)
    assert old["id"] not in second.listed
    assert statuses_of(second)[late["id"]].kind == "comment"
    assert old["id"] in second.threads and late["id"] in second.listed
    assert second.cursor["revisit"] == {}


def test_lookup_of_a_deleted_status_keeps_the_platforms_answer(server, instance, http):
    post = instance.post(at(5), "<p>Wrong date.</p>")
    comment = instance.reply(post, at(4), "<p>Spam</p>", account=DANA)
    instance.delete(comment)
    instance.install(server)
    known = KnownItem(comment["id"], "comment", post["id"], "2024-03-14T08:00:00.000000Z",
                      "live")
    assert collector().lookup(account(server), http, [known]) == [Observation(
        platform="mastodon", account=ACCOUNT_ID, item_id=comment["id"], kind="comment",
        parent_id=post["id"], observed_at=STAMP, raw=NOT_FOUND, event="deleted")]


def test_lookup_of_a_live_status_gives_its_current_state(server, instance, http):
    post = instance.post(at(5), "<p>Still here.</p>")
    instance.install(server)
    known = KnownItem(post["id"], "post", None, "2024-03-14T07:00:00.000000Z", "live")
    [obs] = collector().lookup(account(server), http, [known])
    assert (obs.event, obs.text, obs.raw) == (None, "Still here.", post)


def test_a_404_that_is_not_the_apis_answer_decides_nothing(server, instance, http):
    server.route("GET", "/api/v1/statuses/1234", Reply(404, b"<html>Not Found</html>",
                                                        {"Content-Type": "text/html"}))
    known = KnownItem("1234", "post", None, None, "live")
    with pytest.raises(MalformedResponse):
        collector().lookup(account(server), http, [known])


def test_a_lookup_that_cannot_reach_the_platform_raises(server, instance, http):
    server.route("GET", "/api/v1/statuses/1234", Reply(503, b"{}"))
    with pytest.raises(PlatformUnavailable):
        collector().lookup(account(server), http, [KnownItem("1234", "post", None, None,
                                                             "live")])


def test_the_profile_is_an_item_so_a_rename_is_an_edit_and_a_note(server, instance, http):
    first = harvest(server, instance, http)
    profile = by_id(first)[f"account:{ACCOUNT_ID}"]
    assert (profile.kind, profile.text) == ("profile", "City of Wrenfield\n@city")
    instance.rename(username="wrenfield", display_name="Mesto Wrenfield – občina")
    second = harvest(server, instance, http, cursor=first.cursor)
    assert by_id(second)[f"account:{ACCOUNT_ID}"].text == "Mesto Wrenfield – občina\n@wrenfield"
    assert any(n.startswith("account renamed: @city") and "@wrenfield" in n
               for n in second.notes)


def test_a_429_waits_for_retry_after_then_harvests_everything(server, instance, http, sleeps):
    post = instance.post(at(1), "<p>Hello</p>")
    instance.install(server)
    page = instance.statuses_reply
    server.route("GET", STATUSES, lambda req: [
        Reply.json({"error": "Too many requests"}, 429, {"Retry-After": "7"}), page(req)])
    h = collector().harvest(account(server), http, {}, [])
    assert 7 in sleeps
    assert post["id"] in statuses_of(h)


def test_a_429_with_the_mastodon_reset_header_waits_until_the_reset(
        server, instance, http, sleeps):
    instance.post(at(1), "<p>Hello</p>")
    instance.install(server)
    page = instance.statuses_reply
    reset = (NOW + timedelta(seconds=42)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    server.route("GET", STATUSES, lambda req: [
        Reply.json({"error": "Too many requests"}, 429,
                   {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset}), page(req)])
    collector().harvest(account(server), http, {}, [])
    assert pytest.approx(42) in sleeps


@pytest.mark.parametrize("reply", [
    Reply.json({"error": "The access token is invalid"}, 401),
    Reply.json({"error": "Your login is currently disabled"}, 403),
])
def test_a_refused_token_raises_credentials_rejected(server, instance, http, reply):
    instance.install(server)
    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}", reply)
    with pytest.raises(CredentialsRejected):
        collector().harvest(account(server), http, {}, [])


def test_an_expired_token_fails_the_harvest_whatever_it_had_seen(server, instance, http):
    instance.post(at(1), "<p>x</p>")
    instance.install(server)
    instance.token_valid = False
    with pytest.raises(CredentialsRejected):
        collector().harvest(account(server), http, {}, [])


def test_without_a_token_no_authorization_header_is_sent_and_it_is_noted(
        server, instance, http):
    instance.token = None
    instance.install(server)
    got = collector().harvest(account(server, token=None), http, {}, [])
    assert all("authorization" not in r.headers for r in server.requests)
    assert any("no access_token" in n for n in got.notes)


@pytest.mark.parametrize(("page", "says"), [
    ([{"id": "1", "content": "<p>x</p>"}], "'created_at' is missing"),
    ([{"id": 1}], "'id' must be a non-empty string"),
    ({"error": "?"}, "expected a list of statuses"),
])
def test_a_malformed_page_raises_malformed_response_naming_the_problem(
        server, instance, http, page, says):
    instance.install(server)
    server.route("GET", STATUSES, Reply.json(page))
    with pytest.raises(MalformedResponse, match=says):
        collector().harvest(account(server), http, {}, [])


def test_an_html_error_page_is_malformed(server, instance, http):
    instance.install(server)
    server.route("GET", STATUSES, Reply(200, b"<!DOCTYPE html><h1>We're sorry</h1>",
                                        {"Content-Type": "text/html"}))
    with pytest.raises(MalformedResponse, match="HTML"):
        collector().harvest(account(server), http, {}, [])


def test_a_malformed_status_in_a_thread_fails_the_harvest(server, instance, http):
    post = instance.post(at(2), "<p>x</p>")
    instance.install(server)
    server.route("GET", f"/api/v1/statuses/{post['id']}/context",
                 Reply.json({"ancestors": [], "descendants": [{"id": "9",
                                                               "created_at": "yesterday"}]}))
    with pytest.raises(MalformedResponse, match="created_at"):
        collector().harvest(account(server), http, {}, [])


def _two_pages(instance: FakeMastodon) -> list[dict]:
    return [instance.post(at(1 + i / 10), f"<p>post {i}</p>", seq=i) for i in range(50)]


def test_pages_are_followed_by_the_link_header_to_the_end(server, instance, http):
    posts = _two_pages(instance)
    h = harvest(server, instance, http)
    assert set(statuses_of(h)) == {p["id"] for p in posts}
    assert [r.arg("max_id") for r in server.calls(STATUSES)] == [None, posts[39]["id"]]
    assert h.window_start == "1970-01-01T00:00:00.000000Z" and h.window_end == STAMP


def test_a_connection_dropped_mid_page_is_retried_and_nothing_is_lost(
        server, instance, http):
    posts = _two_pages(instance)
    instance.install(server)
    page = instance.statuses_reply
    calls = []

    def flaky(req):
        calls.append(req)
        reply = page(req)
        if req.arg("max_id") and len(calls) == 2:
            reply.drop_after = 100
        return reply
    server.route("GET", STATUSES, flaky)
    h = collector().harvest(account(server), http, {}, [])
    assert set(statuses_of(h)) == {p["id"] for p in posts}


def test_a_drop_that_keeps_happening_fails_the_whole_harvest(server, instance, http):
    _two_pages(instance)
    instance.install(server)
    page = instance.statuses_reply

    def dropping(req):
        reply = page(req)
        if req.arg("max_id"):
            reply.drop_after = 100
        return reply
    server.route("GET", STATUSES, dropping)
    with pytest.raises(PlatformUnavailable):
        collector().harvest(account(server), http, {}, [])


def test_a_payload_over_the_size_limit_is_refused(server, instance, sleeps):
    instance.post(at(1), "<p>" + "ž" * 5000 + "</p>")
    instance.install(server)
    with Transport(TransportSettings(max_bytes=4096), sleep=sleeps.append) as small, \
            pytest.raises(MalformedResponse, match="limit"):
        collector().harvest(account(server), small, {}, [])


def test_a_link_header_that_points_back_is_malformed(server, instance, http):
    _two_pages(instance)
    instance.install(server)
    page = instance.statuses_reply

    def looping(req):
        reply = page(replace(req, query={"limit": ["40"]}))    # max_id ignored
        reply.headers["Link"] = (f'<https://x.example{STATUSES}?max_id=5>; rel="next"')
        return reply
    server.route("GET", STATUSES, looping)
    with pytest.raises(MalformedResponse, match="points back"):
        collector().harvest(account(server), http, {"since_id": "1"}, [])


def test_with_a_cursor_the_listing_stops_after_the_look_back(server, instance, http):
    old = [instance.post(at(24 * 20 + i), f"<p>old {i}</p>", seq=i) for i in range(60)]
    new = instance.post(at(1), "<p>new</p>")
    h = harvest(server, instance, http, cursor={"since_id": old[0]["id"]},
                lookback_days=7, lookback_statuses=5)
    assert len(server.calls(STATUSES)) == 1            # 40 statuses cover both
    assert h.window_start == min(o.published_at for o in statuses_of(h).values())
    assert h.cursor["since_id"] == new["id"]
    contexts = {r.path.split("/")[4] for r in server.requests if r.path.endswith("/context")}
    assert contexts == {new["id"], *[o["id"] for o in old[:4]]}


def test_a_first_run_harvests_the_whole_timeline_and_its_threads(server, instance, http):
    posts = [instance.post(at(24 * 100 + i), f"<p>{i}</p>", seq=i) for i in range(45)]
    h = harvest(server, instance, http)
    assert set(statuses_of(h)) == {p["id"] for p in posts}
    assert h.threads == {p["id"] for p in posts}


@pytest.mark.parametrize("options", [{"lookback_days": "a week"}, {"page_size": 80},
                                     {"max_pages": 0}])
def test_bad_account_options_are_refused(server, instance, http, options):
    with pytest.raises(ConfigError):
        harvest(server, instance, http, **options)


def test_a_second_harvest_gives_identical_observations(server, instance, http):
    post = instance.post(at(3), "<p>Same.</p>")
    instance.reply(post, at(2), "<p>ok</p>", account=DANA)
    first = harvest(server, instance, http)
    second = harvest(server, instance, http, cursor=first.cursor,
                     now=NOW + timedelta(minutes=15))
    strip = [(o.item_id, o.kind, o.text, o.parent_id) for o in first.observations]
    assert [(o.item_id, o.kind, o.text, o.parent_id) for o in second.observations] == strip


def test_now_is_utc_by_default():
    assert MastodonCollector()._now().tzinfo == UTC


@pytest.mark.parametrize(("kind", "url", "mime"), [
    ("image", "https://h.example/system/a/original/x.png", "image/png"),
    ("image", "https://h.example/system/a/original/x.jpeg?v=2", "image/jpeg"),
    ("gifv", "https://h.example/system/a/original/x.mp4", "video/mp4"),
    ("video", "https://h.example/system/a/original/x.png", None),   # disagrees: no guess
    ("audio", "https://h.example/system/a/original/x.mp3", "audio/mpeg"),
    ("unknown", "https://h.example/system/a/original/x.png", None),
    ("image", None, None),
])
def test_media_mime_comes_from_the_file_name_when_it_agrees_with_the_type(kind, url, mime):
    assert mastodon.media_mime(kind, url) == mime


def test_a_known_reply_of_the_window_names_its_parent_as_a_thread(server, instance, http):
    instance.post(at(2), "<p>x</p>")
    known = [KnownItem("99", "reply", "112000000000000001", "2024-03-14T11:00:00.000000Z",
                       "live"),
             KnownItem("98", "comment", "112000000000000002", "2024-03-14T11:00:00.000000Z",
                       "live")]
    h = harvest(server, instance, http, known=known)
    assert "112000000000000001" in h.threads
    assert "112000000000000002" not in h.threads


def test_a_cursor_of_another_shape_is_read_as_a_first_run(server, instance, http):
    posts = [instance.post(at(24 * 50 + i), f"<p>{i}</p>", seq=i) for i in range(3)]
    h = harvest(server, instance, http, cursor={"since_id": 5, "edited": "x",
                                                "revisit": [1], "profile": None})
    assert set(statuses_of(h)) == {p["id"] for p in posts}
    assert h.window_start == "1970-01-01T00:00:00.000000Z"


def test_lookup_of_the_profile_gives_the_account_or_its_deletion(server, instance, http):
    instance.install(server)
    item = KnownItem(f"account:{ACCOUNT_ID}", "profile", None, None, "live")
    [live] = collector().lookup(account(server), http, [item])
    assert (live.kind, live.event, live.text) == ("profile", None, "City of Wrenfield\n@city")
    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}",
                 Reply.json({"error": "Record not found"}, 404))
    [gone] = collector().lookup(account(server), http, [item])
    assert (gone.event, gone.raw) == ("deleted", NOT_FOUND)


def test_an_account_that_is_gone_fails_the_harvest(server, instance, http):
    instance.install(server)
    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}",
                 Reply.json({"error": "Record not found"}, 404))
    with pytest.raises(mastodon.CollectorError, match="gone"):
        collector().harvest(account(server), http, {}, [])


def test_a_status_of_another_account_in_the_listing_is_malformed(server, instance, http):
    post = instance.post(at(1), "<p>x</p>")
    instance.install(server)
    server.route("GET", STATUSES, Reply.json([{**post, "account": DANA}]))
    with pytest.raises(MalformedResponse, match="is by account"):
        collector().harvest(account(server), http, {}, [])


def test_an_answer_for_another_account_is_malformed(server, instance, http):
    instance.install(server)
    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}", Reply.json(DANA))
    with pytest.raises(MalformedResponse, match="answered account"):
        collector().harvest(account(server), http, {}, [])


def test_a_base_url_that_is_not_http_is_a_configuration_error(server, instance, http):
    bad = AccountConfig(id="a", platform="mastodon", platform_id=ACCOUNT_ID, handle="city",
                        base_url="file:///etc")
    with pytest.raises(ConfigError):
        collector().harvest(bad, http, {}, [])


def test_a_local_status_without_replies_costs_no_thread_request(server, instance, http):
    quiet = instance.post(at(3), "<p>quiet</p>")
    busy = instance.post(at(2), "<p>busy</p>")
    instance.reply(busy, at(1), "<p>hi</p>", account=DANA)
    emptied = instance.post(at(1.5), "<p>its only comment was deleted</p>")
    for status in (quiet, busy, emptied):      # statuses of the queried server itself
        status["uri"] = f"{server.url}/users/city/statuses/{status['id']}"
    known = [KnownItem("55", "comment", emptied["id"], "2024-03-14T11:00:00.000000Z",
                       "live")]
    h = harvest(server, instance, http, known=known)
    contexts = {r.path.split("/")[4] for r in server.requests if r.path.endswith("/context")}
    assert contexts == {busy["id"], emptied["id"]}
    assert quiet["id"] not in h.threads and emptied["id"] in h.threads


def test_a_status_seen_through_another_server_is_always_read(server, instance, http):
    remote = instance.post(at(3), "<p>replies may still be on their way</p>")
    harvest(server, instance, http)
    assert server.calls(f"/api/v1/statuses/{remote['id']}/context")


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_text_escaped_in_a_paragraph_comes_back_exactly(text):
    assert html_to_text(f"<p>{html.escape(text, quote=False)}</p>") == text
