"""Searching the demo archive as a records officer would: every version, every language,
filters, order, pages, snippets, and collapsing an item's versions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import InvalidRequest
from archiver.search.analyzer import normalize
from archiver.search.engine import FACETS
from archiver.search.query import SearchRequest, decode_cursor, encode_cursor
from tests.search.conftest import Indexed

FLOOD_WARNING = ("mastodon", "112060198503477832")  # posted, then edited twice


def catalog_items(demo: Indexed) -> dict[tuple[str, str], Any]:
    with demo.archive.catalog.reader() as conn:
        return {(r.platform, r.item_id): r for r in conn.execute(select(t.items))}


# -- every version, every language -----------------------------------------------------

def test_every_readable_capture_record_is_one_document(demo: Indexed) -> None:
    payloads = demo.payloads()
    assert demo.index.state().documents == len(payloads)
    assert sorted(demo.every_page(sort="oldest", limit=50)) == sorted(payloads)


def test_every_version_of_an_edited_item_is_a_document(demo: Indexed) -> None:
    versions = {seq: p for seq, p in demo.payloads().items()
                if (p["platform"], p["item_id"]) == FLOOD_WARNING}
    assert len(versions) >= 3 and {p["event"] for p in versions.values()} >= {"created",
                                                                               "edited"}
    found = demo.seqs(query="flood warning", platforms=("mastodon",), limit=100)
    assert set(versions) <= set(found)
    assert sorted(demo.seqs(query=f"item_id:{FLOOD_WARNING[1]}", limit=100)) == sorted(versions)


@pytest.mark.parametrize(("query", "wanted"), [
    ("druzabnih", "družabnih"),  # Slovenian without accents
    ("DRUŽABNIH", "družabnih"),
    ("كمك", "کمک"),  # Arabic kaf
    ("کمک", "كمك"),  # Persian kaf finds the post typed with Arabic letters
    ("مرکز کمک\u200cرسانی", "مركز كمك\u200cرساني"),
    ("کمکرسانی", "كمك\u200cرساني"),  # typed without the ZWNJ
    ("1403", "۱۴۰۳"),
    ("١٤٠٢", "١٤٠٢"),
    ("1402", "١٤٠٢"),
    ("mafuriko", "mafuriko"),
    ("\"mkutano wa hadhara\"", "Mkutano wa hadhara"),
    ("mlinsko", "Mlinsko"),
    ("hashtag:سیل_ورنفیلد", "#سيل_ورنفيلد"),
])
def test_a_query_matches_however_the_text_was_typed(demo: Indexed, query: str,
                                                     wanted: str) -> None:
    texts = [demo.payloads()[h.seq]["text"] for h in demo.find(query=query, limit=100).hits]
    assert any(wanted in text for text in texts), texts  # the other spelling is found
    assert all(normalize(wanted) in normalize(text) for text in texts)


def test_query_language_and_or_not_phrase_wildcard_field(demo: Indexed) -> None:
    payloads = demo.payloads()
    both = set(demo.seqs(query="sandbags AND ferry", limit=100))
    assert both and all("sandbags" in payloads[s]["text"].lower()
                        and "ferry" in payloads[s]["text"].lower() for s in both)
    either = set(demo.seqs(query="sandbags OR mafuriko", limit=100))
    assert either >= both | set(demo.seqs(query="mafuriko", limit=100))
    without = set(demo.seqs(query="sandbags NOT ferry", limit=100))
    assert without and not without & both
    phrase = demo.seqs(query='"mill street bridge"', limit=100)
    assert phrase and all("mill street bridge" in payloads[s]["text"].lower() for s in phrase)
    wild = set(demo.seqs(query="poplav*", limit=100))
    assert {s for s, p in payloads.items() if "poplav" in (p.get("text") or "").lower()} == wild
    assert set(demo.seqs(query="kind:reply lang:sw", limit=100)) == {
        s for s, p in payloads.items() if p["kind"] == "reply" and p.get("lang") == "sw"}


def test_deletion_notices_are_documents_so_deleted_is_searchable(demo: Indexed) -> None:
    notices = {s for s, p in demo.payloads().items() if p["event"] == "deleted"}
    assert len(notices) == 3
    assert set(demo.seqs(query="event:deleted", limit=100)) == notices
    assert set(demo.seqs(events=("deleted",), limit=100)) == notices


# -- filters ---------------------------------------------------------------------------

def test_deleted_and_hidden_filters_follow_the_items_state_in_the_catalog(
        demo: Indexed) -> None:
    items = catalog_items(demo)
    payloads = demo.payloads()
    state = {s: items[(p["platform"], p["item_id"])].state for s, p in payloads.items()}
    for flag, name in (("deleted", "deleted"), ("hidden", "hidden")):
        yes = set(demo.every_page(**{flag: True}, limit=7))
        no = set(demo.every_page(**{flag: False}, limit=50))
        assert yes == {s for s, st in state.items() if st == name} and yes
        assert no == set(payloads) - yes
    assert set(demo.every_page(query="flood", deleted=True)) == {
        s for s in demo.seqs(query="flood", limit=100) if state[s] == "deleted"}


def test_has_edits_filter_finds_every_version_of_edited_items(demo: Indexed) -> None:
    items = catalog_items(demo)
    edited = {k for k, r in items.items() if r.versions > 1}
    assert FLOOD_WARNING in edited
    found = demo.find(has_edits=True, limit=1000).hits
    assert {(h.platform, h.item_id) for h in found} == edited
    plain = demo.find(has_edits=False, limit=1000).hits
    assert not {(h.platform, h.item_id) for h in plain} & edited


def test_platform_account_kind_and_author_filters(demo: Indexed) -> None:
    payloads = demo.payloads()
    assert set(demo.seqs(platforms=("x",), limit=100)) == {
        s for s, p in payloads.items() if p["platform"] == "x"}
    assert set(demo.seqs(platforms=("X", "bluesky"), kinds=("comment",), limit=100)) == {
        s for s, p in payloads.items()
        if p["platform"] in ("x", "bluesky") and p["kind"] == "comment"}
    account = "109817207197313414"
    assert set(demo.seqs(accounts=(account,), query="quarry", limit=100)) == {
        s for s, p in payloads.items()
        if p["account"] == account and "quarry" in (p.get("text") or "").lower()}
    by_handle = set(demo.seqs(authors=("@WrenfieldCity",), limit=100))
    by_id = set(demo.seqs(authors=("1589327646410244096",), limit=100))
    assert by_handle == by_id == {s for s, p in payloads.items()
                                  if (p.get("author") or {}).get("handle") == "WrenfieldCity"}


def _published_day(p: dict[str, Any]) -> str | None:
    return p["published_at"][:10] if p.get("published_at") else None


def test_date_filter_includes_whole_days_at_both_boundaries(demo: Indexed) -> None:
    payloads = demo.payloads()
    days = sorted({d for p in payloads.values() if (d := _published_day(p))})
    for first, last in [(days[0], days[0]), (days[1], days[3]), ("2024-03-09", "2024-03-12"),
                        ("2000-01-01", "2099-12-31")]:
        expected = {s for s, p in payloads.items()
                    if (d := _published_day(p)) and first <= d <= last}
        assert set(demo.every_page(date_from=first, date_to=last, limit=9)) == expected


def test_date_filter_with_times_is_exact_to_the_microsecond(demo: Indexed) -> None:
    payloads = demo.payloads()
    road = {s for s, p in payloads.items()
            if p.get("published_at") == "2024-03-08T14:05:09.000000Z"}
    assert road
    at = demo.seqs(date_from="2024-03-08T14:05:09Z", date_to="2024-03-08T14:05:09Z")
    assert set(at) == road
    assert not set(demo.seqs(date_from="2024-03-08T14:05:09.000001Z",
                             date_to="2024-03-08T14:05:10Z")) & road
    # 15:05:09+01:00 is 14:05:09 UTC
    assert set(demo.seqs(date_from="2024-03-08T15:05:09+01:00",
                         date_to="2024-03-08T15:05:09+01:00")) == road


def test_captured_date_filter_uses_the_observation_time(demo: Indexed) -> None:
    payloads = demo.payloads()
    expected = {s for s, p in payloads.items() if p["observed_at"].startswith("2026-02-03")}
    assert expected and all(not p["published_at"].startswith("2026")
                            for s, p in payloads.items() if s in expected)
    got = demo.seqs(date_field="captured", date_from="2026-02-03", date_to="2026-02-03")
    assert set(got) == expected


def test_a_deletion_notice_has_no_publication_time_and_fails_a_published_filter(
        demo: Indexed) -> None:
    notices = set(demo.seqs(events=("deleted",)))
    assert not notices & set(demo.every_page(date_from="1900-01-01", limit=100))
    assert notices <= set(demo.every_page(date_field="captured", date_from="1900-01-01",
                                          limit=100))


# -- order and pages -------------------------------------------------------------------

def _time(p: dict[str, Any]) -> str:
    return p.get("published_at") or p["observed_at"]


def test_sort_by_time_newest_and_oldest(demo: Indexed) -> None:
    payloads = demo.payloads()
    newest = demo.every_page(sort="newest", limit=10)
    oldest = demo.every_page(sort="oldest", limit=10)
    assert newest == list(reversed(oldest))
    times = [_time(payloads[s]) for s in oldest]
    assert times == sorted(times)


@pytest.mark.parametrize("request_args", [
    {"sort": "relevance", "query": "flood OR poplave OR mafuriko OR سیل"},
    {"sort": "newest"},
    {"sort": "oldest", "platforms": ("mastodon",)},
    {"sort": "relevance"},
    {"sort": "newest", "collapse": True},
    {"sort": "relevance", "collapse": True, "query": "flood OR road"},
    {"sort": "oldest", "deleted": False, "date_from": "2024-03-08", "date_to": "2024-03-31"},
])
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_cursor_pages_return_every_hit_exactly_once(demo: Indexed, request_args: dict[str, Any],
                                                    limit: int) -> None:
    whole = demo.find(limit=1000, **request_args)
    assert whole.next_cursor is None
    paged = demo.every_page(limit=limit, **request_args)
    assert paged == [h.seq for h in whole.hits]
    assert len(paged) == len(set(paged)) == whole.total


def test_a_query_matching_everything_is_paginated_not_refused(demo: Indexed) -> None:
    first = demo.find(limit=5)
    assert first.total == demo.index.state().documents and len(first.hits) == 5
    assert first.next_cursor


@pytest.mark.parametrize("cursor", ["!!!", "abc", "e30", "eyJ2IjoyfQ", "x" * 600, "",
                                    "eyJ2IjoxLCJzIjoiMDAwMDAwMDAwMDAwMDAwMCIsImsiOlsxLDJdfQ"])
def test_a_malformed_or_foreign_cursor_is_an_invalid_request(demo: Indexed, cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        demo.find(query="flood", cursor=cursor or "=")


def test_a_cursor_only_continues_the_search_it_came_from(demo: Indexed) -> None:
    page = demo.find(query="flood", limit=2)
    assert page.next_cursor
    with pytest.raises(InvalidRequest, match="different search"):
        demo.find(query="road", cursor=page.next_cursor, limit=2)
    with pytest.raises(InvalidRequest, match="different search"):
        demo.find(query="flood", sort="newest", cursor=page.next_cursor)
    demo.find(query="flood", cursor=page.next_cursor, limit=5)  # a new page size is fine
    request = SearchRequest(query="flood", sort="newest")
    with pytest.raises(InvalidRequest):  # a float where a time belongs
        decode_cursor(encode_cursor(request, (1.5, 3)), request)  # type: ignore[arg-type]


# -- collapse --------------------------------------------------------------------------

def test_collapse_gives_each_item_once_with_its_latest_version_and_count(demo: Indexed) -> None:
    items = catalog_items(demo)
    payloads = demo.payloads()
    result = demo.find(query="flood warning", collapse=True, limit=100)
    keys = [(h.platform, h.item_id) for h in result.hits]
    assert len(keys) == len(set(keys)) == result.total
    hit = next(h for h in result.hits if (h.platform, h.item_id) == FLOOD_WARNING)
    versions = [s for s, p in payloads.items() if (p["platform"], p["item_id"]) == FLOOD_WARNING]
    assert hit.seq == max(versions) and hit.item is not None
    assert hit.item.versions == items[FLOOD_WARNING].versions == 3
    assert hit.item.matched == len(versions) and hit.item.latest_seq == hit.seq
    assert hit.item.state == "live" and not hit.item.deleted
    assert hit.as_dict()["item"]["latest_shown"] is True


def test_collapse_says_when_an_item_is_deleted_or_hidden(demo: Indexed) -> None:
    result = demo.find(collapse=True, limit=1000)
    states = Counter(h.item.state for h in result.hits if h.item)
    items = catalog_items(demo)
    assert states == Counter(r.state for r in items.values() if r.versions or r.state)
    deleted = demo.find(query="summer fair", deleted=True, collapse=True).hits
    assert [h.item.deleted for h in deleted if h.item] == [True]


# -- snippets and bad input -------------------------------------------------------------

def test_snippets_mark_the_match_however_it_was_typed(demo: Indexed) -> None:
    hits = demo.find(query="druzabnih").hits
    assert hits and all("<mark>družabnih</mark>" in h.snippet for h in hits)
    hits = demo.find(query="کمک").hits
    assert any("<mark>كمك</mark>" in h.snippet for h in hits)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"query": "nosuchfield:x"}, "unknown field 'nosuchfield'"),
    ({"query": "!!! ,,,"}, "no searchable words"),
    ({"query": "seq:abc"}, "bad value"),
    ({"date_from": "2024-02-30"}, "not a real date"),
    ({"date_from": "yesterday"}, "RFC 3339"),
    ({"date_to": "2024-03-08T10:00:00"}, "offset"),
    ({"date_from": "2024-03-09", "date_to": "2024-03-08"}, "after"),
    ({"sort": "random"}, "sort must be one of"),
    ({"limit": 0}, "limit"),
    ({"limit": 100_000}, "limit"),
    ({"date_field": "deleted_at"}, "date_field"),
    ({"platforms": "x"}, "platforms"),
])
def test_bad_input_is_an_invalid_request_naming_the_problem(demo: Indexed, kwargs: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        demo.find(**kwargs)


def test_request_from_string_parameters(demo: Indexed) -> None:
    request = SearchRequest.from_params({"q": "flood", "platform": ["x", "mastodon,bluesky"],
                                         "deleted": "false", "collapse": "1", "limit": "5",
                                         "from": "2024-03-01"})
    assert request.platforms == ("x", "mastodon", "bluesky") and request.deleted is False
    assert request.collapse and request.limit == 5 and request.date_from == "2024-03-01"
    with pytest.raises(InvalidRequest, match="unknown parameter"):
        SearchRequest.from_params({"q": "x", "colour": "red"})
    with pytest.raises(InvalidRequest, match="limit"):
        SearchRequest.from_params({"limit": "ten"})
    with pytest.raises(InvalidRequest, match="deleted"):
        SearchRequest.from_params({"deleted": "perhaps"})


# -- facets ------------------------------------------------------------------------------

def expected_facets(payloads: dict[int, dict[str, Any]], seqs: set[int] | None = None,
                    date_field: str = "published") -> dict[str, Counter[str]]:
    """The oracle: facet counts computed from the records read back from the log."""
    out: dict[str, Counter[str]] = {n: Counter() for n in FACETS}
    for seq, p in payloads.items():
        if seqs is not None and seq not in seqs:
            continue
        for name in ("platform", "kind", "event"):
            out[name][p[name].lower()] += 1
        out["account"][p["account"]] += 1
        when = p.get("published_at") if date_field == "published" else p.get("observed_at")
        if when:
            out["year"][when[:4]] += 1
    return out


def as_counters(facets: dict[str, list[tuple[str, int]]] | None) -> dict[str, Counter[str]]:
    assert facets is not None
    return {name: Counter(dict(counts)) for name, counts in facets.items()}


def test_facets_count_every_record_per_platform_account_kind_event_and_year(
        demo: Indexed) -> None:
    result = demo.find(facets=FACETS, limit=1)
    assert as_counters(result.facets) == expected_facets(demo.payloads())
    assert sum(n for _, n in result.facets["platform"]) == result.total


def test_facets_count_the_whole_match_set_of_the_query_and_filters_not_the_page(
        demo: Indexed) -> None:
    ask = {"query": "flood OR poplave OR mafuriko OR سیل", "kinds": ("post", "comment"),
           "facets": FACETS}
    first = demo.find(limit=2, sort="newest", **ask)
    matched = set(demo.every_page(limit=100, sort="newest", **ask))
    assert first.total == len(matched) > 2
    assert as_counters(first.facets) == expected_facets(demo.payloads(), matched)
    following = demo.find(limit=2, sort="newest", cursor=first.next_cursor, **ask)
    assert following.facets == first.facets


def test_each_facet_count_is_what_filtering_by_that_value_finds(demo: Indexed) -> None:
    """What a UI does with a facet: click a value, get that many results."""
    facets = demo.find(query="flood OR road", facets=FACETS).facets
    assert facets is not None
    for value, count in facets["platform"]:
        assert demo.find(query="flood OR road", platforms=(value,)).total == count
    for value, count in facets["account"]:
        assert demo.find(query="flood OR road", accounts=(value,)).total == count
    for value, count in facets["event"]:
        assert demo.find(query="flood OR road", events=(value,)).total == count
    for value, count in facets["year"]:
        assert demo.find(query="flood OR road", date_from=f"{value}-01-01",
                         date_to=f"{value}-12-31").total == count


def test_the_year_facet_is_of_the_chosen_date_field(demo: Indexed) -> None:
    captured = demo.find(facets=("year",), date_field="captured").facets
    assert as_counters(captured)["year"] == expected_facets(
        demo.payloads(), date_field="captured")["year"]
    published = demo.find(facets=("year",)).facets
    assert captured != published  # the demo was captured in 2026, published in 2023-24


def test_facets_list_years_latest_first_and_other_values_most_frequent_first(
        demo: Indexed) -> None:
    facets = demo.find(facets=FACETS).facets
    assert facets is not None
    years = [v for v, _ in facets["year"]]
    assert years == sorted(years, reverse=True) and len(years) > 1
    for name in ("platform", "account", "kind", "event"):
        counts = [(-n, v) for v, n in facets[name]]
        assert counts == sorted(counts) and len(counts) > 1, name


def test_facets_are_only_counted_when_asked_for(demo: Indexed) -> None:
    assert demo.find(query="flood").facets is None
    assert demo.find(query="flood").as_dict()["facets"] is None
    only = demo.find(query="flood", facets=("kind",))
    assert only.facets is not None and set(only.facets) == {"kind"}
    assert only.as_dict()["facets"]["kind"][0] == {"value": only.facets["kind"][0][0],
                                                   "count": only.facets["kind"][0][1]}


def test_a_search_matching_nothing_has_empty_facets(demo: Indexed) -> None:
    assert demo.find(query="nosuchwordanywhere", facets=FACETS).facets == {
        name: [] for name in FACETS}


@pytest.mark.parametrize(("given", "wanted"), [
    ({"facets": "true"}, FACETS), ({"facets": "all"}, FACETS), ({"facets": "false"}, ()),
    ({"facets": "year, platform"}, ("year", "platform")), ({}, ()),
    ({"facets": "Kind,kind"}, ("kind",)),
])
def test_facet_parameters_name_facets_or_all(given: dict[str, str],
                                             wanted: tuple[str, ...]) -> None:
    assert SearchRequest.from_params(given).facets == wanted


@pytest.mark.parametrize("facets", [("colour",), ("platform", "lang"), ("year", "")])
def test_an_unknown_facet_is_refused_naming_it(facets: tuple[str, ...]) -> None:
    with pytest.raises(InvalidRequest, match="unknown facet"):
        SearchRequest(facets=facets)


def test_a_cursor_stays_valid_when_facets_are_asked_for_or_not(demo: Indexed) -> None:
    first = demo.find(query="flood", limit=2)
    assert demo.find(query="flood", limit=2, cursor=first.next_cursor,
                     facets=("year",)).hits
