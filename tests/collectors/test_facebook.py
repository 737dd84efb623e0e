"""The Facebook collector's own rules, against the replayed Graph API: paging, usage
headers, what a lookup may and may not call a deletion, options and credentials."""

from __future__ import annotations

from typing import Any

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.facebook import (
    COLLECTOR,
    DEFAULTS,
    next_query,
    options,
    regain_seconds,
)
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.errors import CollectorError, CredentialsRejected, MalformedResponse
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    ago,
    local_backend,
    run,
)
from tests.collectors.facebook_replay import PAGE_ID, TOKEN, VERSION, graph_time
from tests.replay.server import ReplayServer, Reply

SL = "Obvestilo: čistilna akcija v soboto."


def account(server: ReplayServer, **opts: Any) -> AccountConfig:
    return AccountConfig(id="acc_0000000000000001", platform="facebook", platform_id=PAGE_ID,
                         handle="WrenfieldCity", base_url=f"{server.url}/{VERSION}",
                         credentials={"access_token": TOKEN}, options=opts)


def known(item_id: str, parent: str | None = None) -> KnownItem:
    return KnownItem(item_id, "post" if parent is None else "comment", parent,
                     "2024-03-14T10:00:00.000000Z", "live")


def test_a_cursor_page_asks_for_after_and_a_time_page_for_nexts_query_without_the_token():
    assert next_query({"paging": {"cursors": {"before": "b", "after": "QVFIUj"},
                                  "next": "https://graph.facebook.com/x?after=QVFIUj"}},
                      "u", "facebook") == {"after": "QVFIUj"}
    nxt = ("https://graph.facebook.com/v21.0/1/posts?access_token=SECRET&limit=25"
           "&until=1624385168&__paging_token=enc_AdD")
    assert next_query({"paging": {"next": nxt}}, "u", "facebook") == {
        "limit": "25", "until": "1624385168", "__paging_token": "enc_AdD"}
    assert next_query({"paging": {"cursors": {"after": "x"}}}, "u", "facebook") is None
    with pytest.raises(MalformedResponse, match="no cursor"):
        next_query({"paging": {"next": "https://graph.facebook.com/x?access_token=S"}}, "u",
                   "facebook")


def test_a_listing_that_repeats_its_cursor_fails_instead_of_looping(server, page, http):
    post = page.post(SL, ago(10))
    loop = Reply.json({"data": [{"id": f"{post.split('_')[1]}_9", "message": "x",
                                 "created_time": graph_time(ago(5))}],
                       "paging": {"cursors": {"after": "same"},
                                  "next": "https://graph.facebook.com/next?after=same"}})
    server.route("GET", f"/{VERSION}/{post}/comments", loop)

    with pytest.raises(MalformedResponse, match="listing loops"):
        COLLECTOR.harvest(account(server), http, {}, [])


def test_usage_headers_give_the_time_to_regain_access_in_seconds():
    assert regain_seconds({"x-app-usage": '{"call_count":100,"total_time":12,'
                                          '"estimated_time_to_regain_access":7}'}) == 420
    assert regain_seconds({"x-business-use-case-usage":
                           '{"1":[{"type":"pages","estimated_time_to_regain_access":0}]}'}) == 0
    assert regain_seconds({"x-app-usage": "not json"}) is None


def test_a_successful_answer_whose_usage_is_exhausted_stops_the_run(archive, server, page,
                                                                    http):
    page.post(SL, ago(10))
    answer = server.routes[("GET", f"/{VERSION}/{PAGE_ID}/published_posts")]

    def exhausted(req):  # noqa: ANN001, ANN202
        reply = answer(req)
        reply.headers["X-App-Usage"] = ('{"call_count":100,"total_cputime":4,"total_time":5,'
                                        '"estimated_time_to_regain_access":3}')
        return reply

    server.route("GET", f"/{VERSION}/{PAGE_ID}/published_posts", exhausted)
    account_id = acc.add_account(archive.appender, platform="facebook", platform_id=PAGE_ID,
                                 handle="WrenfieldCity", base_url=f"{server.url}/{VERSION}",
                                 credentials={"access_token": TOKEN}).id
    result, captured = run(archive, account_id, http)
    assert result.outcome == "rate_limited" and captured == []


def test_a_post_whose_updated_time_moves_without_a_change_is_not_an_edit(archive, server,
                                                                          page, http):
    account_id = acc.add_account(archive.appender, platform="facebook", platform_id=PAGE_ID,
                                 handle="WrenfieldCity", base_url=f"{server.url}/{VERSION}",
                                 credentials={"access_token": TOKEN}).id
    post = page.post(SL, ago(10))
    run(archive, account_id, http)
    page.posts[post]["updated_time"] = graph_time(ago(1))   # a new comment moved it

    result, captured = run(archive, account_id, http)

    assert result.outcome == "ok" and captured == []


def test_a_lookup_error_other_than_100_33_decides_nothing(server, page, http):
    post = page.post(SL, ago(10))
    server.route("GET", f"/{VERSION}/{post}", Reply.json(
        {"error": {"message": "Unknown path components", "type": "OAuthException",
                   "code": 2500}}, 400))
    with pytest.raises(CollectorError, match="2500"):
        COLLECTOR.lookup(account(server), http, [known(post)])


def test_a_lookup_of_an_id_that_is_not_a_graph_id_asks_nothing(server, page, http):
    with pytest.raises(MalformedResponse, match="facebook lookup: '../me' is not a Graph id"):
        COLLECTOR.lookup(account(server), http, [known("../me")])
    assert server.requests == []


def test_a_lookup_with_a_token_no_longer_valid_records_no_deletion(server, page, http):
    post = page.post(SL, ago(10))
    page.delete(post)
    page.token_valid = False
    with pytest.raises(CredentialsRejected, match="no deletion can be confirmed"):
        COLLECTOR.lookup(account(server), http, [known(post)])


def test_a_lookup_of_a_live_comment_gives_its_current_state(server, page, http):
    post = page.post(SL, ago(10))
    comment = page.comment(post, "Hvala!", ago(5), by=("42", "Rok"))
    [obs] = COLLECTOR.lookup(account(server), http, [known(comment, post)])
    assert obs.event is None and obs.text == "Hvala!" and obs.parent_id == post


def test_an_account_without_an_access_token_is_a_credentials_problem(server, http):
    bare = AccountConfig(id="acc_0000000000000001", platform="facebook",
                         platform_id=PAGE_ID, handle="x", base_url=server.url)
    with pytest.raises(CredentialsRejected, match="no access_token"):
        COLLECTOR.harvest(bare, http, {}, [])


@pytest.mark.parametrize("opts,bad", [
    ({"recheck_days": -1}, "recheck_days"), ({"comments": "yes"}, "comments"),
    ({"api_version": "21"}, "api_version"), ({"since": 3}, "unknown option"),
])
def test_bad_options_are_refused_naming_them(server, opts, bad):
    with pytest.raises(CollectorError, match=bad):
        options("facebook", account(server, **opts), DEFAULTS)
