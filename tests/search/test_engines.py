"""The two engines, one archive: Whoosh and PostgreSQL full-text search find the same
records for the same request, however the query is typed; and the engine is chosen in
the settings.

Relevance order is not compared: Whoosh scores with BM25F, PostgreSQL with `ts_rank`,
so a relevance-sorted search is compared as a set (with its total), while time-sorted
and collapsed searches are compared in order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver.config import load_settings
from archiver.errors import ConfigError
from archiver.search.engine import FACETS
from archiver.search.engines import open_index
from archiver.search.postgres_engine import PostgresIndex, tsvector_literal
from archiver.search.query import SearchRequest, search
from archiver.search.whoosh_engine import SearchIndex
from archiver.wiring import Archive, init_archive
from tests.test_log_contract import DEMO, ingest

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def both(module_postgres_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Archive, SearchIndex, PostgresIndex]]:
    """One archive (filesystem + PostgreSQL) with the demo data, indexed by both engines."""
    home = tmp_path_factory.mktemp("engines") / "home"
    archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": str(home),
                                                 "ARCHIVER_CATALOG_URL": module_postgres_url}),
                              "test.archiver/engines")
    ingest(archive, DEMO)
    whoosh = SearchIndex(archive.settings.index_dir)
    postgres = PostgresIndex.for_settings(archive.settings)
    assert whoosh.catch_up(archive.appender) == postgres.catch_up(archive.appender) == 55
    yield archive, whoosh, postgres
    whoosh.close()
    postgres.close()
    archive.close()


MULTILINGUAL = [
    # Persian typed with Arabic yeh/kaf, with and without the ZWNJ, and the other way round
    "كمك", "کمک", "كمكرساني", "کمکرسانی", "كمك‌رساني", "مرکز کمک‌رسانی", '"مركز كمك رساني"',
    "خانوادههای", "خانواده", "همه", "سیل", "سيل زده", "اطلاعیه", "میخواهیم", "می خواهیم",
    "۱۴۰۳", "1403", "١٤٠٢", "1402", "رفت*",
    # Slovenian without accents, and in capitals
    "druzabnih", "DRUŽINO", "obcina", "Občina", "obcanom", "poplav*", "mlinsko OR mlinska",
    '"kolesarska steza"', "cistilno akcijo",
    # Swahili
    "mafuriko", "Mkutano", '"mkutano wa hadhara"', "barabara AND soko", "taarifa NOT mafuriko",
    "kiswahili",
    # English
    '"mill street bridge"', '"flood warning"', "flood warning", "Flood", "flood*",
    "sandbags NOT ferry", "sandbags OR mafuriko", '"quarry road" recycling',
    "(flood OR poplave OR mafuriko OR سیل) AND NOT road", "don't", "everyone's",
    "marcusbell_wf", "marcusbellwf", "@marcusbell_wf", "wheel?hair", "*ark", "fl?od", "flo*s",
    # fields
    "kind:reply lang:sw", "event:deleted", "event:edited flood", "hashtag:سیل_ورنفیلد",
    "author:WrenfieldCity", "name:*", "url:*", "platform:MASTODON", "seq:[10 TO 20]",
    "published_day:2024-03*", "captured_day:[2026-01-01 TO 2026-12-31]", "lang:[a TO f]",
    "item_id:112060198503477832", "text:[mi TO mk]", "*:*", "*", "flood ANDMAYBE road",
]


def _run(archive: Archive, index: Any, **kwargs: Any) -> Any:
    return search(index, archive, SearchRequest(**kwargs))


@pytest.mark.parametrize("query", MULTILINGUAL)
def test_both_engines_find_the_same_records(both: tuple[Archive, SearchIndex, PostgresIndex],
                                             query: str) -> None:
    archive, whoosh, postgres = both
    w = _run(archive, whoosh, query=query, limit=1000)
    p = _run(archive, postgres, query=query, limit=1000)
    assert {h.seq for h in w.hits} == {h.seq for h in p.hits}, query
    assert w.total == p.total
    snippets = {h.seq: h.snippet for h in w.hits}
    assert all(snippets[h.seq] == h.snippet for h in p.hits)  # the same marks
    for sort in ("newest", "oldest"):
        assert ([h.seq for h in _run(archive, whoosh, query=query, sort=sort, limit=1000).hits]
                == [h.seq for h in _run(archive, postgres, query=query, sort=sort,
                                        limit=1000).hits]), (query, sort)


def test_multilingual_queries_find_what_they_should(
        both: tuple[Archive, SearchIndex, PostgresIndex]) -> None:
    archive, whoosh, postgres = both
    for index in (whoosh, postgres):
        for typed in ("كمكرساني", "کمکرسانی", "druzabnih", "mafuriko", '"mill street bridge"'):
            assert _run(archive, index, query=typed).total > 0, (type(index).__name__, typed)


@pytest.mark.parametrize("request_args", [
    {"sort": "newest", "collapse": True},
    {"sort": "oldest", "collapse": True, "query": "flood OR poplave"},
    {"sort": "newest", "deleted": False, "date_from": "2024-03-08", "date_to": "2024-03-31"},
    {"sort": "oldest", "platforms": ("X", "bluesky"), "kinds": ("comment",)},
    {"sort": "newest", "authors": ("@WrenfieldCity",)},
    {"sort": "oldest", "date_field": "captured", "date_from": "2026-02-03"},
    {"sort": "newest", "has_edits": True, "query": "warning"},
    {"sort": "oldest", "hidden": True},
])
def test_both_engines_filter_order_and_collapse_alike(
        both: tuple[Archive, SearchIndex, PostgresIndex], request_args: dict[str, Any]) -> None:
    archive, whoosh, postgres = both
    w = _run(archive, whoosh, limit=1000, **request_args)
    p = _run(archive, postgres, limit=1000, **request_args)
    assert [(h.seq, h.item) for h in w.hits] == [(h.seq, h.item) for h in p.hits]
    assert w.total == p.total and w.total > 0


@pytest.mark.parametrize("request_args", [
    {},
    {"query": "flood OR poplave OR mafuriko OR سیل"},
    {"query": "event:edited OR event:deleted", "date_field": "captured"},
    {"sort": "newest", "deleted": False, "date_from": "2024-03-08", "date_to": "2024-03-31"},
    {"platforms": ("X", "bluesky"), "kinds": ("comment",), "collapse": True},
    {"query": "warning", "has_edits": True, "sort": "oldest"},
    {"query": "nosuchwordanywhere"},
])
def test_both_engines_count_the_same_facets(
        both: tuple[Archive, SearchIndex, PostgresIndex], request_args: dict[str, Any]) -> None:
    archive, whoosh, postgres = both
    w = _run(archive, whoosh, limit=1, facets=FACETS, **request_args)
    p = _run(archive, postgres, limit=1, facets=FACETS, **request_args)
    assert w.facets == p.facets
    assert w.facets is not None and set(w.facets) == set(FACETS)


@pytest.mark.parametrize("query", ["nosuchfield:x", "!!! ,,,", "seq:abc", "published_at:x",
                                   "http://example.org", "12:30"])
def test_both_engines_refuse_the_same_bad_queries(
        both: tuple[Archive, SearchIndex, PostgresIndex], query: str) -> None:
    from archiver.errors import InvalidRequest

    archive, whoosh, postgres = both
    for index in (whoosh, postgres):
        with pytest.raises(InvalidRequest):
            _run(archive, index, query=query)


def test_the_tsvector_holds_the_analyzers_terms_without_stemming(
        both: tuple[Archive, SearchIndex, PostgresIndex]) -> None:
    from archiver.search.documents import document_for

    doc = document_for(1, "2024-03-08T10:00:00.000000Z", {
        "platform": "x", "account": "a", "item_id": "1", "kind": "post", "event": "created",
        "text": "Floods: مركز كمك‌رساني #سيل_ورنفيلد @Bob running", "author": {"handle": "Ann"}})
    vector = tsvector_literal(doc)
    for lexeme in ("'floods':1", "'مرکز':2", "'کمکرسانی':3", "'کمک':3", "'رسانی':4",
                   "'running':", "'!h:سیل_ورنفیلد'", "'!m:bob'", "'!a:ann'", "'!t'"):
        assert lexeme in vector, lexeme
    assert "'flood'" not in vector and "'run'" not in vector  # no stemming


# -- choosing the engine ---------------------------------------------------------------

def test_the_engine_is_chosen_in_the_settings(tmp_path: Path, postgres_url: str) -> None:
    sqlite = load_settings(env={"ARCHIVER_HOME": str(tmp_path)})
    assert sqlite.search.engine == "whoosh"
    assert isinstance(open_index(sqlite), SearchIndex)
    pg = load_settings(env={"ARCHIVER_HOME": str(tmp_path), "ARCHIVER_CATALOG_URL": postgres_url,
                            "ARCHIVER_SEARCH_ENGINE": "postgres"})
    for index in (open_index(pg), SearchIndex.for_settings(pg)):
        assert isinstance(index, PostgresIndex)
        index.close()
    (tmp_path / "archiver.toml").write_text(f'[catalog]\nurl = "{postgres_url}"\n'
                                            '[search]\nengine = "postgres"\n')
    assert load_settings(env={"ARCHIVER_HOME": str(tmp_path)}).search.engine == "postgres"


def test_the_postgres_engine_is_refused_without_a_postgres_catalog(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a PostgreSQL catalog"):
        load_settings(env={"ARCHIVER_HOME": str(tmp_path), "ARCHIVER_SEARCH_ENGINE": "postgres"})
    with pytest.raises(ConfigError, match="engine must be 'whoosh' or 'postgres'"):
        load_settings(env={"ARCHIVER_HOME": str(tmp_path), "ARCHIVER_SEARCH_ENGINE": "solr"})
    (tmp_path / "archiver.toml").write_text('[search]\nengine = "postgres"\n')
    with pytest.raises(ConfigError, match="needs a PostgreSQL catalog"):
        load_settings(env={"ARCHIVER_HOME": str(tmp_path)})


def test_cli_indexes_into_and_searches_the_postgres_engine(tmp_path: Path,
                                                            postgres_url: str) -> None:
    import json
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    env = {**os.environ, "ARCHIVER_HOME": str(home), "ARCHIVER_CATALOG_URL": postgres_url,
           "ARCHIVER_SEARCH_ENGINE": "postgres"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    assert run("init", "--origin", "search.test/pg").returncode == 0
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(DEMO)
    assert run("ingest", str(demo)).returncode == 0
    result = run("search", "druzabnih", "--json", "--collapse")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["total"] == 2 and out["index_lag"] == 0
    assert all("<mark>družabnih</mark>" in h["snippet"] for h in out["hits"])
    assert json.loads(run("search", "status").stdout) == {
        "indexed_through": 55, "documents": 55, "lag": 0}
    assert json.loads(run("search", "reindex").stdout)["documents"] == 55
    assert not (home / "index").exists()  # nothing on the machine: the index is the catalog


RANDOM_PIECES = ["flood", "Road", "druž", "كمك", "کمک", "\u200c", "رسانی", "_", "'", '"', "(",
                 ")", "*", "?", "؟", ":", "kind", "hashtag", "text", "seq", "name", "url",
                 "author", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", " ", " ", " ", " ", "^2",
                 "~2", "[", "]", "{", "}", " TO ", "5", "10", "#", "@", "-", "!", "a", "mill",
                 "street", "bridge", "*:*", "lang", "sw", "reply", "event", "deleted",
                 "poplav", "mafuriko", "sandbags", "ferry", "\x00", "wrenfieldcity",
                 "published_day", "2024-03"]


def test_both_engines_agree_on_random_queries(
        both: tuple[Archive, SearchIndex, PostgresIndex]) -> None:
    """Any string, however malformed: the same records, or both refuse it."""
    from archiver.errors import InvalidRequest

    archive, whoosh, postgres = both
    rng = random.Random(11)
    found = 0
    for _ in range(400):
        query = "".join(rng.choice(RANDOM_PIECES) for _ in range(rng.randint(1, 7)))
        answers = []
        for index in (whoosh, postgres):
            try:
                result = _run(archive, index, query=query, limit=1000)
                answers.append((result.total, sorted(h.seq for h in result.hits)))
            except InvalidRequest:
                answers.append(None)
        assert answers[0] == answers[1], query
        found += bool(answers[0] and answers[0][0])
    assert found > 50  # the comparison is not between empty results
