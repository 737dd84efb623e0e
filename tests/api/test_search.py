"""GET /api/v1/search over HTTP, as a records officer's client would call it: roles, every
language however typed, filters, collapse, cursors, bad input, the audit trail, and the
index following API ingest (web workers read the index; `archiver search catch-up` writes it).
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from archiver.search.commands import search_group
from archiver.search.whoosh_engine import SearchIndex
from archiver.wiring import Archive
from tests.api.conftest import assert_error, audit_rows, bearer

URL = "/api/v1/search"
FLOOD_WARNING = "112060198503477832"  # a Mastodon post, edited twice
NOWRUZ = "112111861647278005"  # Persian, typed with Persian ی and ک: "پیشاپیش مبارک"
MEETING = "112200864412841239"  # Swahili: "Mkutano wa hadhara ... mafuriko"
DELETED_ITEMS = {"112065098142781785", "1796844194148891876",
                 "at://did:plc:bgpbkyhydeap4hihd4567was/app.bsky.feed.post/3knidosy7edio"}


def catch_up(archive: Archive) -> int:
    """What `archiver search catch-up` (or a worker) does: another writer than the app."""
    index = SearchIndex.for_settings(archive.settings)
    try:
        return index.catch_up(archive.appender)
    finally:
        index.close()


@pytest.fixture
def indexed(demo: Archive) -> Archive:
    """The demo archive, indexed."""
    assert catch_up(demo) > 0
    return demo


@pytest.fixture
def officer(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["records_officer"])


def get(client: FlaskClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(URL, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def every_page(client: FlaskClient, headers: dict[str, str], **params: Any
               ) -> list[dict[str, Any]]:
    """Follow `next_cursor` to the end; every hit of every page, in order."""
    hits: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        body = get(client, headers, **params, **({"cursor": cursor} if cursor else {}))
        hits += body["hits"]
        cursor = body["next_cursor"]
        if cursor is None:
            return hits
    raise AssertionError("pagination did not end")


def marked(hit: dict[str, Any]) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", hit["snippet"])


# -- who may search ----------------------------------------------------------------------

def test_admin_records_officer_and_legal_may_search_no_one_else(
        client: FlaskClient, indexed: Archive, tokens: dict[str, str]) -> None:
    assert_error(client.get(URL, query_string={"q": "flood"}), 401, "unauthorized")
    assert_error(client.get(URL, query_string={"q": "flood"},
                            headers=bearer(tokens["auditor"])), 403, "forbidden")
    for role in ("admin", "records_officer", "legal"):
        body = get(client, bearer(tokens[role]), q="flood")
        assert body["total"] > 0 and body["hits"], role


# -- every language, however typed -------------------------------------------------------

def test_a_query_finds_every_language_however_it_was_typed(
        client: FlaskClient, indexed: Archive, officer: dict[str, str]) -> None:
    # Persian typed with Arabic yeh and kaf (ي, ك) finds the post written with ی and ک.
    body = get(client, officer, q="پيشاپيش مبارك")
    assert NOWRUZ in {h["item_id"] for h in body["hits"]}
    nowruz = next(h for h in body["hits"] if h["item_id"] == NOWRUZ)
    assert nowruz["lang"] == "fa" and set(marked(nowruz)) == {"پیشاپیش", "مبارک"}
    # Slovenian without its accents.
    body = get(client, officer, q="druzabnih")
    assert body["hits"] and all(h["lang"] == "sl" for h in body["hits"])
    assert all(marked(h) == ["družabnih"] for h in body["hits"])
    # Swahili.
    body = get(client, officer, q="mafuriko")
    assert MEETING in {h["item_id"] for h in body["hits"]}
    assert all("mafuriko" in [m.lower() for m in marked(h)] for h in body["hits"])
    # The snippet is HTML: the text is escaped, only <mark> is markup.
    for hit in get(client, officer, q="flood", limit=100)["hits"]:
        assert re.sub(r"</?mark>", "", hit["snippet"]).count("<") == 0


def test_the_result_describes_each_hit(client: FlaskClient, indexed: Archive,
                                       officer: dict[str, str]) -> None:
    body = get(client, officer, q=f"item_id:{FLOOD_WARNING}", sort="oldest")
    assert (body["index"], body["index_lag"], body["collapsed"], body["sort"]) == (
        "ready", 0, False, "oldest")
    assert body["total"] == len(body["hits"]) >= 3
    first = body["hits"][0]
    assert (first["platform"], first["kind"], first["event"]) == ("mastodon", "post", "created")
    assert first["published_at"].startswith("2024-03-08T13:02:11")
    assert first["captured_at"] and first["author"]["handle"] and first["score"] is None
    assert first["item"] is None
    assert {h["event"] for h in body["hits"][1:]} == {"edited"}
    # A hit names its record: the records endpoint serves it.
    record = client.get(f"/api/v1/records/{first['seq']}", headers=officer).get_json()
    assert record["payload"]["item_id"] == FLOOD_WARNING


# -- filters, collapse, pages ------------------------------------------------------------

def test_filters_narrow_what_the_unfiltered_search_finds(
        client: FlaskClient, indexed: Archive, officer: dict[str, str]) -> None:
    everything = get(client, officer, sort="oldest", limit=100)
    assert everything["next_cursor"] is None and everything["total"] == len(everything["hits"])
    hits = everything["hits"]

    def seqs(**params: Any) -> list[int]:
        return [h["seq"] for h in every_page(client, officer, sort="oldest", limit=100,
                                             **params)]

    assert seqs(platform="bluesky") == [h["seq"] for h in hits if h["platform"] == "bluesky"]
    assert seqs(platform="bluesky,x") == [h["seq"] for h in hits
                                          if h["platform"] in ("bluesky", "x")]
    deleted = seqs(event="deleted")
    assert deleted == [h["seq"] for h in hits if h["event"] == "deleted"]
    assert {h["item_id"] for h in hits if h["seq"] in deleted} == DELETED_ITEMS
    in_range = [h["seq"] for h in hits
                if h["published_at"] and "2024-03-12" <= h["published_at"][:10] <= "2024-04-02"]
    assert in_range and seqs(**{"from": "2024-03-12", "to": "2024-04-02"}) == in_range
    # Filters combine with the query and with each other.
    assert seqs(q="flood", platform="mastodon", event="edited") == [
        h["seq"] for h in hits if h["item_id"] == FLOOD_WARNING and h["event"] == "edited"]
    # Item state now: deleted at the source.
    assert {h["item_id"] for h in every_page(client, officer, deleted="true")} == DELETED_ITEMS


def test_collapse_gives_each_item_once_with_its_versions(
        client: FlaskClient, indexed: Archive, officer: dict[str, str]) -> None:
    flat = every_page(client, officer, q="flood", limit=100)
    body = get(client, officer, q="flood", collapse="true", limit=100)
    assert body["collapsed"] is True
    items = [h["item_id"] for h in body["hits"]]
    assert len(items) == len(set(items)) == body["total"] == len({h["item_id"] for h in flat})
    warning = next(h for h in body["hits"] if h["item_id"] == FLOOD_WARNING)
    matching = [h["seq"] for h in flat if h["item_id"] == FLOOD_WARNING]
    assert warning["item"]["matched"] == len(matching) >= 3
    assert warning["item"]["versions"] >= 3 and warning["item"]["state"] == "live"
    assert warning["seq"] == max(matching) and warning["item"]["latest_shown"] is True


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_cursor_pages_return_every_hit_exactly_once(
        client: FlaskClient, indexed: Archive, officer: dict[str, str], sort: str) -> None:
    whole = get(client, officer, q="flood OR poplave OR mafuriko OR سیل", sort=sort,
                limit=100)
    paged = every_page(client, officer, q="flood OR poplave OR mafuriko OR سیل", sort=sort,
                       limit=3)
    seqs = [h["seq"] for h in paged]
    assert len(seqs) == len(set(seqs)) == whole["total"] > 3
    assert seqs == [h["seq"] for h in whole["hits"]]


# -- bad input: 400 with the error body, never a 500 -------------------------------------

def test_bad_cursors_are_400(client: FlaskClient, indexed: Archive,
                             officer: dict[str, str]) -> None:
    first = get(client, officer, q="flood", limit=2)
    assert first["next_cursor"]
    for cursor in ("not-a-cursor", "!!", "x" * 600, first["next_cursor"][:-3]):
        error = assert_error(client.get(URL, query_string={"q": "flood", "cursor": cursor},
                                        headers=officer), 400)
        assert "cursor" in error["message"], cursor
    # A cursor of another search (the query changed) is refused, not misapplied.
    error = assert_error(client.get(URL, query_string={"q": "bridge",
                                                       "cursor": first["next_cursor"]},
                                    headers=officer), 400, "invalid_request")
    assert "different search" in error["message"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"),
    ("limit=1000", "limit"),
    ("limit=ten", "limit"),
    ("page=2", "page"),
    ("date_from=2024-01-01", "date_from"),  # the parameter is `from`
    ("sort=popular", "sort"),
    ("deleted=maybe", "deleted"),
    ("collapse=", "collapse"),
    ("facets=", "facets"),
    ("facets=year;drop", "facets"),
])
def test_bad_parameters_are_400_naming_the_field(client: FlaskClient, indexed: Archive,
                                                  officer: dict[str, str], query: str,
                                                  field: str) -> None:
    error = assert_error(client.get(f"{URL}?{query}", headers=officer), 400, "invalid_request")
    assert error["details"]["errors"][0]["field"] == field


@pytest.mark.parametrize(("query", "words"), [
    ("q=nosuchfield:flood", "unknown field"),
    ("q=seq:[a TO b]", "bad value"),
    ("from=2024-02-30", "not a real date"),
    ("to=yesterday", "to must be a date"),
    ("from=2024-04-01&to=2024-03-01", "is after"),
    ("q=flood&q=bridge", "more than once"),
    ("platform=" + ",".join(f"p{i}" for i in range(101)), "at most 100"),
    ("facets=platform,colour", "unknown facet(s): 'colour'"),
])
def test_bad_queries_and_filters_are_400_naming_the_problem(
        client: FlaskClient, indexed: Archive, officer: dict[str, str], query: str,
        words: str) -> None:
    error = assert_error(client.get(f"{URL}?{query}", headers=officer), 400)
    assert words in error["message"], error


def test_a_query_matching_everything_is_paged_not_refused(
        client: FlaskClient, indexed: Archive, officer: dict[str, str]) -> None:
    body = get(client, officer, limit=1)
    assert body["total"] > 1 and len(body["hits"]) == 1 and body["next_cursor"]


# -- facets ------------------------------------------------------------------------------

def test_facets_are_counted_over_every_match_when_asked_for(
        client: FlaskClient, indexed: Archive, officer: dict[str, str]) -> None:
    assert get(client, officer, q="flood")["facets"] is None
    body = get(client, officer, q="flood OR mafuriko", facets="platform,year", limit=1)
    assert set(body["facets"]) == {"platform", "year"} and len(body["hits"]) == 1
    assert sum(c["count"] for c in body["facets"]["platform"]) == body["total"] > 1
    for count in body["facets"]["platform"]:
        assert get(client, officer, q="flood OR mafuriko", platform=count["value"])[
            "total"] == count["count"]
    everything = get(client, officer, facets="true")["facets"]
    assert set(everything) == {"platform", "account", "kind", "event", "year"}
    assert {c["value"] for c in everything["event"]} >= {"created", "edited", "deleted"}


def test_facets_are_described_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p["name"] for p in spec["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert "facets" in parameters
    assert "facets" in json.dumps(spec["components"]["schemas"]["SearchResultOut"])
    assert "FacetCountOut" in spec["components"]["schemas"]


# -- the audit trail ---------------------------------------------------------------------

def test_searches_are_audited_with_their_parameters_and_no_token(
        client: FlaskClient, indexed: Archive, tokens: dict[str, str]) -> None:
    before = len(audit_rows(indexed))
    params = {"q": "پيشاپيش مبارك", "platform": "mastodon", "from": "2024-03-01",
              "collapse": "true"}
    get(client, bearer(tokens["legal"]), **params)
    client.get(URL, query_string=params, headers=bearer(tokens["auditor"]))  # 403
    client.get(URL, query_string={"limit": "0"}, headers=bearer(tokens["legal"]))  # 400
    rows = audit_rows(indexed)[before:]
    assert [(r.action, r.status, r.actor_name) for r in rows] == [
        ("search.search", 200, "test-legal"), ("search.search", 403, "test-auditor"),
        ("search.search", 400, "test-legal")]
    resource = json.loads(rows[0].resource)
    assert {k: resource[k] for k in params} == {**params, "collapse": True}
    assert resource["limit"] == 20 and resource["sort"] == "relevance"
    dump = "\n".join(repr(tuple(r)) for r in audit_rows(indexed))
    for value in tokens.values():
        assert value not in dump and value[5:20] not in dump


# -- the index follows API ingest; web workers never write it ----------------------------

def test_an_unbuilt_index_searches_empty_and_the_app_never_creates_it(
        client: FlaskClient, demo: Archive, officer: dict[str, str],
        tokens: dict[str, str]) -> None:
    index_dir = demo.settings.index_dir
    body = get(client, officer, q="flood")
    assert (body["index"], body["total"], body["hits"], body["next_cursor"]) == (
        "empty", 0, [], None)
    assert body["index_lag"] > 0
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 200
    assert ready.get_json()["components"]["index"] == {
        "ok": True, "detail": "whoosh, empty", "documents": 0, "lag": body["index_lag"]}
    client.post("/api/v1/ingest", headers=bearer(tokens["admin"]), json=[
        {"platform": "mastodon", "account": "42", "item_id": "n1", "kind": "post",
         "text": "one more", "observed_at": "2026-01-01T00:00:00Z"}])
    assert f"archiver_index_lag_records {body['index_lag'] + 1}.0" in client.get(
        "/metrics").get_data(as_text=True)
    assert not index_dir.exists()  # searching, probing, scraping and ingest wrote nothing


def test_what_api_ingest_archives_is_searchable_after_catch_up(
        client: FlaskClient, indexed: Archive, tokens: dict[str, str]) -> None:
    admin, officer = bearer(tokens["admin"]), bearer(tokens["records_officer"])
    assert get(client, officer, q="hippopotamus")["total"] == 0  # the app's searcher is open
    response = client.post("/api/v1/ingest", headers=admin, json=[
        {"platform": "mastodon", "account": "42", "item_id": "h1", "kind": "post",
         "text": "A hippopotamus was seen near the Mill Street bridge",
         "observed_at": "2026-01-01T00:00:00Z", "lang": "en"},
        {"platform": "bluesky", "account": "did:plc:zoo", "item_id": "h2", "kind": "post",
         "text": "Kiboko ameonekana karibu na daraja", "lang": "sw",
         "observed_at": "2026-01-01T00:00:00Z"}])
    assert response.status_code == 200 and response.get_json()["archived"] == 2
    # Archived, not yet searchable: the web worker did not index it.
    body = get(client, officer, q="hippopotamus OR kiboko")
    assert (body["total"], body["index"], body["index_lag"]) == (0, "ready", 2)
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 200  # lag is a metric, not an outage
    index = ready.get_json()["components"]["index"]
    assert (index["ok"], index["lag"]) == (True, 2)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "archiver_index_lag_records 2.0" in metrics
    assert f"archiver_index_documents {index['documents']}.0" in metrics
    # `archiver search catch-up`, a writer outside the app, indexes them.
    run = CliRunner().invoke(search_group, ["catch-up"],
                             obj=SimpleNamespace(archive=lambda: indexed))
    assert run.exit_code == 0, run.output
    assert json.loads(run.output) == {"indexed": 2, "lag": 0}
    body = get(client, officer, q="hippopotamus OR kiboko")
    assert {(h["item_id"], h["lang"]) for h in body["hits"]} == {("h1", "en"), ("h2", "sw")}
    assert body["index_lag"] == 0
    index = client.get("/api/v1/ready").get_json()["components"]["index"]
    assert (index["lag"], index["documents"]) == (0, ready.get_json()["components"]["index"]
                                                  ["documents"] + 2)
    assert "archiver_index_lag_records 0.0" in client.get("/metrics").get_data(as_text=True)


def test_ready_is_503_when_the_index_cannot_be_read(
        make_app: Any, indexed: Archive) -> None:
    (indexed.settings.index_dir / "CURRENT").write_text("0123456789abcdef")  # no such index
    client = make_app().test_client()
    response = client.get("/api/v1/ready")
    error = assert_error(response, 503, "not_ready")
    components = error["details"]["components"]
    assert components["index"]["ok"] is False and components["index"]["detail"]
    assert components["catalog"]["ok"] and components["store"]["ok"]
    assert str(indexed.settings.index_dir) not in response.get_data(as_text=True)
    assert "archiver_index_up 0.0" in client.get("/metrics").get_data(as_text=True)
