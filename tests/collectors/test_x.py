"""The X collector against a replayed X API v2: what each scenario makes it observe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.collectors.x import COLLECTOR, TWEET_FIELDS, XCollector, snowflake_time
from archiver.errors import (
    CollectorError,
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
    RateLimited,
)
from tests.collectors.x_replay import (
    ACCOUNT_ID,
    NOW,
    TOKEN,
    FakeX,
    api_time,
    not_found,
    photo,
    video,
)
from tests.replay.server import ReplayServer, Reply

SWAHILI = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. #MafurikoWrenfield"
SLOVENIAN = "Obvestilo: čistilna akcija v soboto ob 9h, zbirno mesto pri šoli Žale 🧹"
PERSIAN = "ممنون از اطلاع‌رسانی به فارسی. برای کسانی که ماشین ندارند سرویس رفت‌وآمد هم هست؟"
OBSERVED = "2024-03-14T12:00:00.000000Z"
PROFILE = f"account:{ACCOUNT_ID}"


class Clock:
    """The transport's clock and sleep, so rate-limit waits are measured, not slept."""

    def __init__(self) -> None:
        self.now = NOW.timestamp()
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:     # one per module: stopping one takes half a second
        yield s


@pytest.fixture
def server(shared_server: ReplayServer) -> ReplayServer:
    """The module's server with no routes and no requests (each route() restarts its
    scripted sequence)."""
    shared_server.routes.clear()
    shared_server.requests.clear()
    return shared_server


@pytest.fixture
def x(server: ReplayServer) -> FakeX:
    fake = FakeX()
    fake.install(server)
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http(clock: Clock) -> Iterator[Transport]:
    with Transport(TransportSettings(retries=2, backoff=0.01), sleep=clock.sleep,
                   clock=clock.time) as t:
        yield t


def account(server: ReplayServer, **options: object) -> AccountConfig:
    return AccountConfig(id="acc-x-1", platform="x", platform_id=ACCOUNT_ID,
                         handle="WrenfieldCity", base_url=server.url,
                         credentials={"bearer_token": TOKEN}, options=options)


collector = XCollector(clock=lambda: NOW)


def by_id(harvest):  # noqa: ANN001, ANN201 - test helper
    return {o.item_id: o for o in harvest.observations}


def posts(harvest):  # noqa: ANN001, ANN201 - the observations after the profile item
    assert harvest.observations[0].item_id == PROFILE
    return [o.item_id for o in harvest.observations[1:]]


# -- posts ------------------------------------------------------------------------------


def test_module_exposes_the_collector_for_the_registry() -> None:
    assert COLLECTOR.platform == "x"
    assert isinstance(COLLECTOR, XCollector)


def test_posts_become_observations_with_text_exactly_as_published(server, x, http) -> None:
    at = NOW - timedelta(hours=5)
    first = x.post(SWAHILI, at, lang="sw")
    second = x.post(SLOVENIAN, at + timedelta(hours=1), lang="sl")

    harvest = collector.harvest(account(server), http, {}, [])

    assert posts(harvest) == [first, second]
    obs = by_id(harvest)[first]
    assert obs.platform == "x" and obs.account == ACCOUNT_ID and obs.kind == "post"
    assert obs.text == SWAHILI
    assert by_id(harvest)[second].text == SLOVENIAN
    assert obs.author == {"id": ACCOUNT_ID, "handle": "WrenfieldCity",
                          "name": "City of Wrenfield"}
    assert obs.parent_id is None and obs.event is None
    assert obs.published_at == "2024-03-14T07:00:00.000000Z"
    assert obs.observed_at == OBSERVED
    assert obs.url == f"https://x.com/WrenfieldCity/status/{first}"
    assert obs.lang == "sw"
    assert obs.raw == {"data": x.versions[first],
                       "includes": {"users": [x.users[ACCOUNT_ID]]}}
    assert harvest.listed == {PROFILE, first, second}


def test_html_entities_x_puts_in_text_are_decoded_and_raw_keeps_them(server, x, http) -> None:
    post = x.post("Roads &amp; bridges: closed &lt;until&gt; Friday", NOW - timedelta(hours=1))

    obs = by_id(collector.harvest(account(server), http, {}, []))[post]

    assert obs.text == "Roads & bridges: closed <until> Friday"
    assert obs.raw["data"]["text"] == "Roads &amp; bridges: closed &lt;until&gt; Friday"


def test_long_post_text_comes_from_note_tweet(server, x, http) -> None:
    post = x.post("Long notice… https://t.co/abc", NOW - timedelta(hours=1))
    whole = "Long notice " + "ž" * 400
    x.versions[post]["note_tweet"] = {"text": whole}

    assert by_id(collector.harvest(account(server), http, {}, []))[post].text == whole


def test_timeline_request_asks_for_the_documented_fields_and_bearer(server, x, http) -> None:
    x.post(SWAHILI, NOW - timedelta(hours=1))

    collector.harvest(account(server), http, {}, [])

    req = server.calls(f"/2/users/{ACCOUNT_ID}/tweets")[0]
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.arg("tweet.fields") == TWEET_FIELDS
    assert "edit_history_tweet_ids" in req.arg("tweet.fields")
    assert req.arg("expansions") == "author_id,attachments.media_keys,referenced_tweets.id"
    assert req.arg("media.fields") == "url,type,alt_text,preview_image_url,variants"
    assert req.arg("user.fields") == "username,name"
    assert req.arg("start_time") == "2024-02-13T12:00:00Z"    # first run: 30 days back
    assert req.arg("max_results") == "100"


def test_a_complete_listing_sets_the_window_from_start_time_to_now(server, x, http) -> None:
    ids = [x.post(f"Notice {i}", NOW - timedelta(hours=30 - i)) for i in range(12)]

    harvest = collector.harvest(account(server), http, {}, [])

    assert harvest.listed == set(ids) | {PROFILE}
    assert harvest.window_start == "2024-02-13T12:00:00.000000Z"    # first run: 30 days
    assert harvest.window_end == OBSERVED
    assert harvest.cursor["listed_until"] == OBSERVED


def test_pages_are_followed_with_pagination_token_to_the_end(server, x, http) -> None:
    ids = [x.post(f"Notice {i}", NOW - timedelta(hours=30 - i)) for i in range(12)]
    x_pages: list[str | None] = []

    def paged(req):  # noqa: ANN001, ANN202
        x_pages.append(req.arg("pagination_token"))
        req.query["max_results"] = ["5"]
        return x.timeline(req)

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", paged)
    harvest = collector.harvest(account(server, replies=False), http, {}, [])

    assert set(ids) | {PROFILE} == harvest.listed
    assert x_pages[0] is None and len(x_pages) == 3 and all(x_pages[1:])
    assert harvest.window_start is not None


def test_media_are_referenced_with_url_type_and_alt(server, x, http) -> None:
    post = x.post("Picha za mafuriko", NOW - timedelta(hours=2), lang="sw",
                  media=[photo("3_1768210570030782999", alt="Barabara iliyofurika"),
                         video("7_1768210570030783000")])

    obs = by_id(collector.harvest(account(server), http, {}, []))[post]

    assert obs.media == [
        {"id": "3_1768210570030782999", "url": "https://pbs.twimg.com/media/1768210570030782999.jpg",
         "mime": "image/jpeg", "alt": "Barabara iliyofurika"},
        {"id": "7_1768210570030783000",
         "url": "https://video.twimg.com/ext_tw_video/7_1768210570030783000/vid/1280x720/b.mp4",
         "mime": "video/mp4", "alt": None},
    ]
    assert obs.raw["includes"]["media"] == [x.media["3_1768210570030782999"],
                                            x.media["7_1768210570030783000"]]


# -- edits ------------------------------------------------------------------------------


def test_an_edit_chain_is_one_item_with_the_current_text(server, x, http) -> None:
    first = x.post("Road closed until Friday", NOW - timedelta(hours=3))
    current = x.edit(first, "Road closed until Saturday", NOW - timedelta(hours=2, minutes=40))

    harvest = collector.harvest(account(server), http, {}, [])

    assert posts(harvest) == [first]
    obs = harvest.observations[1]
    assert obs.text == "Road closed until Saturday"
    assert obs.raw["data"]["id"] == current
    assert obs.raw["data"]["edit_history_tweet_ids"] == [first, current]
    assert obs.published_at == "2024-03-14T09:00:00.000000Z"   # the chain's first version
    assert obs.url == f"https://x.com/WrenfieldCity/status/{current}"
    assert harvest.listed == {PROFILE, first}


def test_snowflake_time_is_the_creation_second() -> None:
    assert snowflake_time("1578516068309794817") == "2022-10-07T22:42:12.000000Z"


def test_a_listing_that_shows_an_old_version_fetches_the_current_one(server, x, http) -> None:
    post = x.post("Hello", NOW - timedelta(hours=3))
    comment = x.post("v1 of a comment", NOW - timedelta(hours=2), author="99",
                     reply_to=post)
    x.user("99", "rok_z", "Rok")
    newer = x.edit(comment, "v2 of a comment", NOW - timedelta(hours=1, minutes=50))

    def stale_search(req):  # noqa: ANN001, ANN202 - a search index that lags an edit
        reply = x.search(req)
        body = reply.encoded().replace(f'"id": "{newer}"'.encode(), f'"id": "{comment}"'.encode())
        body = body.replace(b"v2 of a comment", b"v1 of a comment")
        return Reply(200, body, reply.headers)

    server.route("GET", "/2/tweets/search/recent", stale_search)
    harvest = collector.harvest(account(server), http, {}, [])

    obs = by_id(harvest)[comment]
    assert obs.text == "v2 of a comment" and obs.raw["data"]["id"] == newer
    assert server.calls("/2/tweets")[0].arg("ids") == newer


# -- comments ---------------------------------------------------------------------------


def test_replies_are_comments_under_their_post_and_the_thread_is_listed(server, x,
                                                                           http) -> None:
    post = x.post(SWAHILI, NOW - timedelta(hours=4), lang="sw")
    x.user("1220458301937664000", "navid_wf", "نوید")
    comment = x.post("@WrenfieldCity " + PERSIAN, NOW - timedelta(hours=3),
                     author="1220458301937664000", reply_to=post, lang="fa")
    answer = x.post("@navid_wf بله، سرویس رایگان است.", NOW - timedelta(hours=2),
                    reply_to=comment, lang="fa")

    harvest = collector.harvest(account(server), http, {}, [])

    seen = by_id(harvest)
    assert seen[comment].kind == "comment"
    assert seen[comment].parent_id == post
    assert seen[comment].text == "@WrenfieldCity " + PERSIAN      # ZWNJ kept
    assert "\u200c" in seen[comment].text
    assert seen[comment].author == {"id": "1220458301937664000", "handle": "navid_wf",
                                    "name": "نوید"}
    assert seen[comment].url == f"https://x.com/navid_wf/status/{comment}"
    assert seen[answer].kind == "reply" and seen[answer].parent_id == comment
    assert harvest.threads == {post, comment, answer}
    assert harvest.listed == {PROFILE, post, comment, answer}
    query = server.calls("/2/tweets/search/recent")[0].arg("query")
    assert query == f"conversation_id:{post}"


def test_an_edited_post_searches_the_conversations_of_every_version(server, x, http) -> None:
    first = x.post("Original", NOW - timedelta(hours=3))
    current = x.edit(first, "Edited", NOW - timedelta(hours=2, minutes=50))

    collector.harvest(account(server), http, {}, [])

    assert server.calls("/2/tweets/search/recent")[0].arg("query") == \
        f"conversation_id:{first} OR conversation_id:{current}"


def test_a_comment_answering_an_edited_version_points_at_the_chain(server, x, http) -> None:
    first = x.post("Original", NOW - timedelta(hours=3))
    current = x.edit(first, "Edited", NOW - timedelta(hours=2, minutes=50))
    x.user("99", "rok_z", "Rok")
    comment = x.post("Hvala!", NOW - timedelta(hours=2), author="99", reply_to=current,
                     lang="sl")

    seen = by_id(collector.harvest(account(server), http, {}, []))

    assert seen[comment].parent_id == first


def test_threads_older_than_recent_search_reaches_are_not_claimed(server, x, http) -> None:
    old = x.post("Last week", NOW - timedelta(days=8))
    new = x.post("Today", NOW - timedelta(hours=1))

    harvest = collector.harvest(account(server), http, {}, [])

    assert harvest.threads == {new}
    assert old in harvest.listed
    queries = [r.arg("query") for r in server.calls("/2/tweets/search/recent")]
    assert queries == [f"conversation_id:{new}"]


def test_a_hidden_reply_is_an_ordinary_comment_because_x_shows_no_hidden_state(
        server, x, http) -> None:
    # X offers PUT /2/tweets/:id/hidden to hide, and nothing to read it: the reply is
    # still returned by search, without any flag.
    post = x.post("Notice", NOW - timedelta(hours=3))
    x.user("66", "troll", "Troll")
    hidden = x.post("rude words", NOW - timedelta(hours=2), author="66", reply_to=post)

    obs = by_id(collector.harvest(account(server), http, {}, []))[hidden]

    assert obs.kind == "comment" and obs.event is None


# -- deletions --------------------------------------------------------------------------


def known(item_id: str, kind: str = "post", parent: str | None = None) -> KnownItem:
    return KnownItem(item_id=item_id, kind=kind, parent_id=parent,
                     published_at=api_time(NOW), state="live")


def test_a_deleted_post_gives_a_deleted_observation_with_xs_answer(server, x, http) -> None:
    post = x.post(SLOVENIAN, NOW - timedelta(hours=3), lang="sl")
    x.delete(post)

    [obs] = collector.lookup(account(server), http, [known(post)])

    assert obs.event == "deleted"
    assert obs.item_id == post and obs.kind == "post" and obs.account == ACCOUNT_ID
    assert obs.raw == not_found(post)
    assert obs.text is None and obs.observed_at == OBSERVED
    assert server.calls("/2/tweets")[0].arg("ids") == post


def test_deleting_the_newest_version_deletes_the_whole_chain(server, x, http) -> None:
    first = x.post("v1", NOW - timedelta(hours=3))
    current = x.edit(first, "v2", NOW - timedelta(hours=2, minutes=55))
    x.delete(current)

    [obs] = collector.lookup(account(server), http, [known(first)])

    assert obs.event == "deleted" and obs.item_id == first
    assert obs.raw["resource_id"] == first


def test_a_deleted_comment_keeps_its_kind_and_parent(server, x, http) -> None:
    post = x.post("Notice", NOW - timedelta(hours=3))
    x.user("99", "rok_z", "Rok")
    comment = x.post("Napaka", NOW - timedelta(hours=2), author="99", reply_to=post)
    x.delete(comment)

    [obs] = collector.lookup(account(server), http, [known(comment, "comment", post)])

    assert (obs.event, obs.kind, obs.parent_id) == ("deleted", "comment", post)


def test_lookup_of_a_live_edited_item_gives_its_current_version(server, x, http) -> None:
    first = x.post("v1", NOW - timedelta(hours=3))
    current = x.edit(first, "v2 ✅", NOW - timedelta(hours=2, minutes=55))

    [obs] = collector.lookup(account(server), http, [known(first)])

    assert obs.event is None and obs.item_id == first
    assert obs.text == "v2 ✅" and obs.raw["data"]["id"] == current
    [request] = server.calls("/2/tweets")          # the expansion brought it at once
    assert request.arg("ids") == first
    assert request.arg("expansions").endswith(",edit_history_tweet_ids")


def test_lookup_batches_a_hundred_ids_per_request(server, x, http) -> None:
    ids = [x.post(f"n{i}", NOW - timedelta(minutes=300 - i)) for i in range(150)]
    for i in ids[::2]:
        x.delete(i)

    found = collector.lookup(account(server), http, [known(i) for i in ids])

    assert [len(r.arg("ids").split(",")) for r in server.calls("/2/tweets")] == [100, 50]
    assert [o.item_id for o in found] == ids
    assert [o.event for o in found] == ["deleted", None] * 75


def test_an_authorization_error_is_not_a_deletion(server, x, http) -> None:
    post = x.post("n", NOW - timedelta(hours=1))
    problem = {"value": post, "detail": f"Sorry, you are not authorized to see the Tweet "
               f"with id: [{post}].", "title": "Authorization Error", "resource_type": "tweet",
               "parameter": "ids", "resource_id": post,
               "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}
    server.route("GET", "/2/tweets", Reply.json({"errors": [problem]}))

    assert collector.lookup(account(server), http, [known(post)]) == []


def test_a_lookup_answer_silent_about_an_id_is_malformed(server, x, http) -> None:
    server.route("GET", "/2/tweets", Reply.json({"meta": {"result_count": 0}}))

    with pytest.raises(MalformedResponse, match="says nothing about 1234"):
        collector.lookup(account(server), http, [known("1234")])


# -- account renamed --------------------------------------------------------------------


def test_a_renamed_account_is_noted_and_its_posts_carry_the_new_handle(server, x,
                                                                         http) -> None:
    post = x.post(SWAHILI, NOW - timedelta(hours=1))
    x.rename("WrenfieldCouncil")

    harvest = collector.harvest(account(server), http, {"username": "WrenfieldCity"}, [])

    assert "account renamed: @WrenfieldCity is now @WrenfieldCouncil" in harvest.notes
    assert by_id(harvest)[post].author["handle"] == "WrenfieldCouncil"
    assert harvest.cursor["username"] == "WrenfieldCouncil"
    again = collector.harvest(account(server), http, harvest.cursor, [])
    assert not [n for n in again.notes if "renamed" in n]


def test_a_quiet_account_is_checked_for_a_rename_by_user_lookup(server, x, http) -> None:
    x.rename("WrenfieldCouncil")

    harvest = collector.harvest(account(server), http, {}, [])

    assert posts(harvest) == []
    assert "account renamed: @WrenfieldCity is now @WrenfieldCouncil" in harvest.notes
    assert server.calls(f"/2/users/{ACCOUNT_ID}")[0].arg("user.fields") == "username,name"


# -- read budget ------------------------------------------------------------------------


def test_a_spent_read_budget_stops_listing_and_leaves_no_window(server, x, http) -> None:
    for i in range(12):
        x.post(f"Notice {i}", NOW - timedelta(hours=20 - i))

    harvest = collector.harvest(account(server, read_budget_per_run=7), http, {}, [])

    assert harvest.window_start is None and harvest.window_end is None
    assert any("read budget spent after 7 posts" in n for n in harvest.notes)
    assert len(harvest.listed - {PROFILE}) == 7
    assert harvest.cursor["budget"] == {"month": "2024-03", "used": 7}
    assert harvest.cursor.get("listed_until") is None


def test_the_monthly_budget_counts_across_runs(server, x, http) -> None:
    for i in range(3):
        x.post(f"Notice {i}", NOW - timedelta(hours=20 - i))
    cursor = {"budget": {"month": "2024-03", "used": 98}, "listed_until": OBSERVED}

    harvest = collector.harvest(account(server, read_budget_per_month=100), http, cursor, [])

    assert harvest.window_start is None
    assert not server.calls(f"/2/users/{ACCOUNT_ID}/tweets")   # 2 left, a page needs 5


def test_a_new_month_starts_a_new_budget(server, x, http) -> None:
    x.post("n", NOW - timedelta(hours=2))
    cursor = {"budget": {"month": "2024-02", "used": 10_000}}

    harvest = collector.harvest(account(server, read_budget_per_month=100), http, cursor, [])

    assert harvest.window_start is not None
    assert harvest.cursor["budget"]["month"] == "2024-03"


def test_later_runs_recheck_a_week_and_never_leave_a_gap(server, x, http) -> None:
    x.post("n", NOW - timedelta(hours=2))

    collector.harvest(account(server), http, {"listed_until": "2024-03-14T11:00:00Z"}, [])
    collector.harvest(account(server), http, {"listed_until": "2024-02-20T00:00:00Z"}, [])

    starts = [r.arg("start_time") for r in server.calls(f"/2/users/{ACCOUNT_ID}/tweets")]
    assert starts == ["2024-03-07T12:00:00Z", "2024-02-20T00:00:00Z"]


# -- platform trouble -------------------------------------------------------------------


def test_429_waits_for_the_x_rate_limit_reset_header(server, x, http, clock) -> None:
    post = x.post(SWAHILI, NOW - timedelta(hours=1))
    reset = str(int(NOW.timestamp()) + 40)
    limited = Reply.json({"title": "Too Many Requests", "detail": "Too Many Requests",
                          "type": "about:blank", "status": 429}, 429,
                         headers={"x-rate-limit-limit": "1500", "x-rate-limit-remaining": "0",
                                  "x-rate-limit-reset": reset})
    calls = iter([limited])

    def timeline(req):  # noqa: ANN001, ANN202
        return next(calls, None) or x.timeline(req)

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", timeline)
    harvest = collector.harvest(account(server), http, {}, [])

    assert clock.slept == [40.0]
    assert post in harvest.listed


def test_a_reset_beyond_what_a_run_waits_raises_rate_limited(server, x, http) -> None:
    reset = int(NOW.timestamp()) + 900
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", Reply.json(
        {"title": "Too Many Requests", "status": 429}, 429,
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}))

    with pytest.raises(RateLimited) as caught:
        collector.harvest(account(server), http, {}, [])
    assert caught.value.retry_at == reset


def test_an_expired_token_raises_credentials_rejected(server, x, http) -> None:
    x.token = "a-token-that-has-been-revoked"

    with pytest.raises(CredentialsRejected, match="401"):
        collector.harvest(account(server), http, {}, [])


def test_a_403_from_x_is_a_credentials_problem(server, x, http) -> None:
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", Reply.json(
        {"client_id": "1", "detail": "When authenticating requests to the Twitter API v2 "
         "endpoints, you must use keys and tokens from a Twitter developer App that is "
         "attached to a Project.", "reason": "client-not-enrolled",
         "title": "Client Forbidden", "type": "https://api.twitter.com/2/problems/client-forbidden",
         "required_enrollment": "Appropriate Level of API Access"}, 403))

    with pytest.raises(CredentialsRejected, match="client-not-enrolled"):
        collector.harvest(account(server), http, {}, [])


def test_missing_bearer_token_is_a_credentials_problem(server, x, http) -> None:
    acc = AccountConfig(id="a", platform="x", platform_id=ACCOUNT_ID, handle="h",
                        base_url=server.url, credentials={})
    with pytest.raises(CredentialsRejected, match="bearer_token"):
        collector.harvest(acc, http, {}, [])
    assert server.requests == []


@pytest.mark.parametrize(("change", "named"), [
    (lambda t: t.update(id=1768210570030782900), "data[0].id must be a string"),
    (lambda t: t.update(id="17682105700307829OO"), "data[0].id must be a numeric id"),
    (lambda t: t.pop("text"), "data[0].text is missing"),
    (lambda t: t.update(text=["a"]), "data[0].text must be a string"),
    (lambda t: t.update(created_at="yesterday"), "data[0].created_at"),
    (lambda t: t.update(edit_history_tweet_ids="1"), "edit_history_tweet_ids must be a list"),
    (lambda t: t.update(edit_history_tweet_ids=["1"]), "does not hold the post's own id"),
    (lambda t: t.update(referenced_tweets=[{"type": "replied_to"}]),
     "referenced_tweets[0].id is missing"),
    (lambda t: t.update(author_id="999"), "data[0].author_id is 999, not the account's"),
    (lambda t: t.update(attachments={"media_keys": [3]}), "media_keys must hold strings"),
])
def test_a_malformed_post_fails_the_run_naming_the_field(server, x, http, change,
                                                           named) -> None:
    x.post("ok", NOW - timedelta(hours=1))

    def altered(req):  # noqa: ANN001, ANN202 - X's answer with one field changed
        body = json.loads(x.timeline(req).encoded())
        change(body["data"][0])
        return Reply.json(body)

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", altered)
    with pytest.raises(MalformedResponse, match=named.replace("[", r"\[").replace("]", r"\]")):
        collector.harvest(account(server), http, {}, [])


@pytest.mark.parametrize(("body", "named"), [
    (b"<html><body>Over capacity</body></html>", "an HTML page"),
    (b'{"data": [{"id": "1", "te', "not JSON"),
    (b'["data"]', "the answer must be an object"),
    (b'{"meta": []}', "meta must be an object"),
    (b'{"data": "posts"}', "data must be a list"),
    (b'{"includes": {"users": [{"id": "1"}]}}', "includes.users[0].username is missing"),
    (b'{"meta": {"result_count": "3"}}', "meta.result_count must be an integer"),
    (b'{"hello": 1}', "has neither data, meta nor errors"),
])
def test_a_malformed_page_fails_the_run(server, x, http, body, named) -> None:
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets",
                 Reply(200, body, {"Content-Type": "application/json"}))

    with pytest.raises(MalformedResponse, match=named.replace("[", r"\[").replace("]", r"\]")):
        collector.harvest(account(server), http, {}, [])


def test_a_connection_dropped_mid_page_is_retried_and_the_listing_completes(
        server, x, http) -> None:
    ids = [x.post(f"Notice {i}", NOW - timedelta(hours=30 - i)) for i in range(12)]
    served: list[int] = []

    def flaky(req):  # noqa: ANN001, ANN202 - page 2 drops once, mid-body
        req.query["max_results"] = ["5"]
        reply = x.timeline(req)
        served.append(1)
        if len(served) == 2:
            return Reply(reply.status, reply.body, reply.headers, drop_after=40)
        return reply

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", flaky)
    harvest = collector.harvest(account(server, replies=False), http, {}, [])

    assert harvest.listed == set(ids) | {PROFILE} and harvest.window_start is not None
    assert len(served) == 4


def test_a_connection_that_keeps_dropping_fails_the_run(server, x, http) -> None:
    for i in range(12):
        x.post(f"Notice {i}", NOW - timedelta(hours=30 - i))

    def dropping(req):  # noqa: ANN001, ANN202
        req.query["max_results"] = ["5"]
        reply = x.timeline(req)
        if req.arg("pagination_token"):
            return Reply(reply.status, reply.body, reply.headers, drop_after=40)
        return reply

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", dropping)
    with pytest.raises(PlatformUnavailable):
        collector.harvest(account(server, replies=False), http, {}, [])


def test_a_huge_page_is_refused(server, x, clock) -> None:
    x.post("x" * 5000, NOW - timedelta(hours=1))
    small = Transport(TransportSettings(max_bytes=4096, retries=0), sleep=clock.sleep,
                      clock=clock.time)

    with small, pytest.raises(MalformedResponse, match="larger than the 4096-byte limit"):
        collector.harvest(account(server), small, {}, [])


@pytest.mark.parametrize(("options", "named"), [
    ({"read_budget_per_run": "lots"}, "option read_budget_per_run must be a whole number"),
    ({"read_budget_per_month": -1}, "option read_budget_per_month must be a whole number"),
    ({"recheck_days": True}, "option recheck_days"),
    ({"replies": "yes"}, "option replies must be true or false"),
    ({"read_budjet": 10}, "unknown option\\(s\\) read_budjet"),
])
def test_a_bad_option_is_refused_before_any_request(server, x, http, options, named) -> None:
    with pytest.raises(CollectorError, match=named):
        collector.harvest(account(server, **options), http, {}, [])
    assert server.requests == []


def test_read_budget_is_the_short_name_of_the_per_run_budget(server, x, http) -> None:
    for i in range(8):
        x.post(f"Notice {i}", NOW - timedelta(hours=20 - i))

    harvest = collector.harvest(account(server, read_budget=6, replies=False), http, {}, [])

    assert len(harvest.listed - {PROFILE}) == 6


# -- the profile item and the reach of threads -------------------------------------------


def test_the_profile_is_an_item_whose_text_is_the_name_and_username(server, x, http) -> None:
    harvest = collector.harvest(account(server), http, {}, [])

    profile = harvest.observations[0]
    assert profile.item_id == PROFILE and profile.kind == "profile"
    assert profile.text == "City of Wrenfield\n@WrenfieldCity"
    assert profile.raw == x.users[ACCOUNT_ID] and profile.published_at is None
    assert profile.url == "https://x.com/WrenfieldCity"


def test_a_rename_changes_the_profile_text(server, x, http) -> None:
    x.rename("WrenfieldCouncil")

    profile = collector.harvest(account(server), http, {}, []).observations[0]

    assert profile.text == "City of Wrenfield\n@WrenfieldCouncil"


def test_archived_comments_below_a_searched_post_are_in_its_thread(server, x, http) -> None:
    post = x.post("Notice", NOW - timedelta(hours=3))
    gone = known("1768200000000000001", "comment", post)
    below_gone = known("1768200000000000002", "comment", gone.item_id)
    elsewhere = known("1768200000000000003", "comment", "1768100000000000000")

    harvest = collector.harvest(account(server), http, {}, [gone, below_gone, elsewhere])

    assert {gone.item_id, below_gone.item_id} <= harvest.threads
    assert elsewhere.item_id not in harvest.threads


def test_the_post_an_own_reply_answers_elsewhere_is_a_thread(server, x, http) -> None:
    x.user("42", "mayor", "Mayor")
    theirs = x.post("Question to the city", NOW - timedelta(hours=3), author="42")
    ours = x.post("@mayor Answered here.", NOW - timedelta(hours=2), reply_to=theirs)

    harvest = collector.harvest(account(server), http, {}, [])

    assert by_id(harvest)[ours].kind == "reply"
    assert by_id(harvest)[ours].parent_id == theirs
    assert theirs in harvest.threads and theirs not in harvest.listed


def test_lookup_of_a_deleted_account_profile_is_a_deletion(server, x, http) -> None:
    problem = {"value": ACCOUNT_ID, "detail": f"Could not find user with id: [{ACCOUNT_ID}].",
               "title": "Not Found Error", "resource_type": "user", "parameter": "id",
               "resource_id": ACCOUNT_ID,
               "type": "https://api.twitter.com/2/problems/resource-not-found"}
    server.route("GET", f"/2/users/{ACCOUNT_ID}", Reply.json({"errors": [problem]}))

    [obs] = collector.lookup(account(server), http, [known(PROFILE, "profile")])

    assert (obs.item_id, obs.kind, obs.event, obs.raw) == (PROFILE, "profile", "deleted",
                                                           problem)


def test_a_suspended_account_is_not_a_deletion(server, x, http) -> None:
    problem = {"value": ACCOUNT_ID, "detail": f"User has been suspended: [{ACCOUNT_ID}].",
               "title": "Forbidden", "resource_type": "user", "parameter": "id",
               "resource_id": ACCOUNT_ID,
               "type": "https://api.twitter.com/2/problems/resource-not-found"}
    server.route("GET", f"/2/users/{ACCOUNT_ID}", Reply.json({"errors": [problem]}))

    assert collector.lookup(account(server), http, [known(PROFILE, "profile")]) == []


def test_lookup_of_a_live_profile_gives_it_now(server, x, http) -> None:
    x.rename("WrenfieldCouncil")

    [obs] = collector.lookup(account(server), http, [known(PROFILE, "profile")])

    assert obs.event is None and obs.text == "City of Wrenfield\n@WrenfieldCouncil"


def test_a_repost_keeps_the_reposted_post_in_raw(server, x, http) -> None:
    x.user("42", "mayor", "Mayor")
    original = x.post("Kesho mkutano wa wananchi saa tatu.", NOW - timedelta(hours=5),
                      author="42", lang="sw")
    repost = x.post("RT @mayor: Kesho mkutano wa wananchi saa tatu.", NOW - timedelta(hours=4))
    x.versions[repost]["referenced_tweets"] = [{"type": "retweeted", "id": original}]

    def expanded(req):  # noqa: ANN001, ANN202 - X expands referenced_tweets.id
        body = json.loads(x.timeline(req).encoded())
        body.setdefault("includes", {})["tweets"] = [x.versions[original]]
        return Reply.json(body)

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", expanded)
    obs = by_id(collector.harvest(account(server), http, {}, []))[repost]

    assert obs.kind == "post" and obs.parent_id is None
    assert obs.raw["includes"]["tweets"] == [x.versions[original]]


def test_a_timeline_answered_with_errors_only_fails_instead_of_looking_empty(
        server, x, http) -> None:
    problem = {"value": ACCOUNT_ID, "detail": f"User has been suspended: [{ACCOUNT_ID}].",
               "title": "Forbidden", "resource_type": "user", "parameter": "id",
               "resource_id": ACCOUNT_ID,
               "type": "https://api.twitter.com/2/problems/resource-not-found"}
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", Reply.json({"errors": [problem]}))

    with pytest.raises(CollectorError, match="User has been suspended"):
        collector.harvest(account(server), http, {}, [])


def test_unpaired_surrogates_from_x_become_replacement_characters_and_a_note(
        server, x, http) -> None:
    post = x.post("placeholder", NOW - timedelta(hours=1))

    def cut(req):  # noqa: ANN001, ANN202 - X cut an emoji in half: \ud83c, no low half
        raw = x.timeline(req).encoded().replace(b"placeholder", b"Mafuriko \\ud83c")
        return Reply(200, raw, {"Content-Type": "application/json"})

    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", cut)
    harvest = collector.harvest(account(server), http, {}, [])

    obs = by_id(harvest)[post]
    assert obs.text == "Mafuriko \ufffd" and obs.raw["data"]["text"] == "Mafuriko \ufffd"
    assert any("unpaired UTF-16 surrogates" in n for n in harvest.notes)


def test_a_next_token_that_repeats_is_malformed_not_an_endless_listing(server, x,
                                                                          http) -> None:
    server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", Reply.json(
        {"meta": {"result_count": 0, "next_token": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk"}}))

    with pytest.raises(MalformedResponse, match="meta.next_token repeats"):
        collector.harvest(account(server), http, {}, [])
    assert len(server.calls(f"/2/users/{ACCOUNT_ID}/tweets")) == 2
