"""Indexing follows the log: catch-up, lag, reindex, disposition and the one writer, on
both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from archiver.catalog import schema as t
from archiver.search.engine import IndexLocked
from archiver.search.whoosh_engine import SearchIndex
from archiver.times import format_time
from tests.search.conftest import Indexed
from tests.test_log_contract import DEMO, ingest, obs

QUERIES: list[dict[str, Any]] = [
    {"query": "flood OR poplave OR mafuriko OR سیل", "limit": 100},
    {"query": "kmk OR کمک*", "sort": "newest"},
    {"sort": "oldest", "limit": 100},
    {"collapse": True, "limit": 100},
    {"deleted": True, "limit": 100},
    {"query": '"mill street"', "date_from": "2024-03-08", "date_to": "2024-04-30"},
]


def results(ix: Indexed) -> list[Any]:
    return [[(h.seq, h.score, h.snippet, h.item) for h in ix.find(**q).hits] + [ix.find(**q).total]
            for q in QUERIES]


def capture_count(ix: Indexed) -> int:
    with ix.archive.catalog.reader() as conn:
        return len(conn.execute(select(t.records.c.seq).where(
            t.records.c.type == "capture", t.records.c.destroyed_at.is_(None))).all())


def destroy(ix: Indexed, seq: int) -> None:
    """What disposition does to the catalog: the data key is gone, the record marked."""
    with ix.archive.catalog.writer() as conn:
        kid = conn.execute(select(t.records.c.kid).where(t.records.c.seq == seq)).scalar_one()
        conn.execute(delete(t.data_keys).where(t.data_keys.c.kid == kid))
        conn.execute(update(t.records).where(t.records.c.seq == seq)
                     .values(destroyed_at=format_time(datetime.now(UTC))))


def test_lag_counts_committed_records_not_yet_searchable(indexed: Indexed) -> None:
    assert indexed.index.lag(indexed.archive.appender) == 0
    assert indexed.find().total == 0  # no index yet
    assert indexed.index.catch_up(indexed.archive.appender) == 0
    assert indexed.find(sort="newest", date_from="2024-01-01", deleted=True).total == 0
    summary = ingest(indexed.archive, DEMO)
    assert indexed.index.lag(indexed.archive.appender) == summary.archived == 55
    assert indexed.find(query="flood").total == 0  # committed, not yet indexed
    assert indexed.index.catch_up(indexed.archive.appender) == 55
    assert indexed.index.lag(indexed.archive.appender) == 0
    assert indexed.find(query="flood").total > 0


def test_catch_up_after_more_ingest_indexes_only_the_new_records(indexed: Indexed) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    before = indexed.index.state()
    more = ingest(indexed.archive, [
        obs("n1", "Zanzibar quokka sighting near the marina", platform="mastodon"),
        obs("n1", "Zanzibar quokka sighting near the marina (edited)", platform="mastodon",
            observed_at="2026-01-02T00:00:00Z"),
    ])
    assert more.archived == 2
    assert indexed.index.lag(indexed.archive.appender) == 2
    assert indexed.index.catch_up(indexed.archive.appender) == 2
    after = indexed.index.state()
    assert after.documents == before.documents + 2
    assert after.indexed_through == max(more.seqs)
    assert indexed.index.catch_up(indexed.archive.appender) == 0  # nothing twice
    assert sorted(indexed.seqs(query="quokka")) == sorted(more.seqs)


def test_reindex_gives_the_same_results_as_incremental_catch_up(indexed: Indexed) -> None:
    lines = DEMO.splitlines(keepends=True)
    for start in range(0, len(lines), 13):  # many small commits: several Whoosh segments
        ingest(indexed.archive, b"".join(lines[start:start + 13]))
        indexed.index.catch_up(indexed.archive.appender)
    incremental = results(indexed)
    state = indexed.index.state()
    whoosh = indexed.engine == "whoosh"
    if whoosh:
        live = (indexed.archive.settings.index_dir / "CURRENT").read_text()
    assert indexed.index.reindex(indexed.archive.appender) == state.documents
    if whoosh:
        assert (indexed.archive.settings.index_dir / "CURRENT").read_text() != live
        assert not (indexed.archive.settings.index_dir / live).exists()
    assert indexed.index.state() == state
    assert results(indexed) == incremental


def _index_bytes(index_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in index_dir.rglob("*") if p.is_file())


def index_holds(ix: Indexed, word: str) -> bool:
    """Whether the index still holds `word`: in the Whoosh files, or in a row of the
    PostgreSQL engine's table (text or terms)."""
    if ix.engine == "whoosh":
        return word.encode() in _index_bytes(ix.archive.settings.index_dir).lower()
    with ix.archive.catalog.reader() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM search_documents WHERE lower(text) LIKE :w "
            "OR tokens::text LIKE :w"), {"w": f"%{word}%"}).scalar_one())


def test_a_disposed_record_is_withheld_then_removed_from_the_index_files(
        indexed: Indexed) -> None:
    ingest(indexed.archive, DEMO)
    secret = ingest(indexed.archive, [obs("s1", "Quokkaphone number 0142 for disposal")])
    indexed.index.catch_up(indexed.archive.appender)
    seq = secret.seqs[0]
    assert indexed.seqs(query="quokkaphone") == [seq]
    assert index_holds(indexed, "quokkaphone")

    destroy(indexed, seq)
    assert indexed.seqs(query="quokkaphone") == []  # the catalog says destroyed: withheld
    documents = indexed.index.state().documents
    assert indexed.index.remove([seq]) == 1
    assert indexed.index.state().documents == documents - 1
    assert not index_holds(indexed, "quokkaphone")
    assert indexed.index.lag(indexed.archive.appender) == 0
    assert indexed.index.catch_up(indexed.archive.appender) == 0
    assert indexed.index.reindex(indexed.archive.appender) == capture_count(indexed)
    assert indexed.find(query="quokkaphone").total == 0


def test_only_one_process_writes_and_readers_are_not_blocked(indexed: Indexed) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    ingest(indexed.archive, [obs("w1", "written while locked")])
    other = indexed.other()
    with other._writer_lock():  # type: ignore[attr-defined]
        for write in (lambda: indexed.index.catch_up(indexed.archive.appender),
                      lambda: indexed.index.reindex(indexed.archive.appender),
                      lambda: indexed.index.remove([1], wait=0)):
            with pytest.raises(IndexLocked):
                write()
        assert indexed.find(query="flood").total > 0  # searching needs no lock
        assert indexed.index.lag(indexed.archive.appender) == 1
    other.close()
    assert indexed.index.catch_up(indexed.archive.appender) == 1


def test_removal_waits_for_a_running_writer(indexed: Indexed) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    other = indexed.other()
    lock = other._writer_lock()  # type: ignore[attr-defined]
    lock.__enter__()
    timer = threading.Timer(0.3, lock.__exit__, (None, None, None))
    timer.start()
    destroy(indexed, 5)
    assert indexed.index.remove([5], wait=30) == 1
    timer.join()
    other.close()


def test_a_record_disposed_of_during_reindex_does_not_reach_the_new_index(
        indexed: Indexed, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    victim = indexed.seqs(query="druzabnih", sort="newest")[0]
    engine_module = sys.modules[type(indexed.index).__module__]
    real_pending = engine_module._pending

    def pending_then_dispose(*args: Any) -> Any:
        rows = real_pending(*args)
        if rows and any(r.seq == victim for r in rows):
            destroy(indexed, victim)  # the key goes after the record was read
        return rows

    monkeypatch.setattr(engine_module, "_pending", pending_then_dispose)
    assert indexed.index.reindex(indexed.archive.appender) == 54
    monkeypatch.undo()
    indexed.index.close()
    whole = indexed.other()
    assert whole.state().documents == 54
    assert victim not in Indexed(indexed.archive, whole).every_page(sort="oldest", limit=100)
    whole.close()


def test_a_failure_during_a_batch_neither_loses_nor_repeats_records(
        indexed: Indexed, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender, batch=20)
    more = ingest(indexed.archive, [obs(f"f{i}", f"failing batch record {i}")
                                    for i in range(30)])
    engine_module = sys.modules[type(indexed.index).__module__]
    real_read = engine_module._read_documents

    def read_then_fail(*args: Any) -> Any:
        docs = list(real_read(*args))
        yield from docs[:5]
        raise OSError("the store went away mid-batch")

    monkeypatch.setattr(engine_module, "_read_documents", read_then_fail)
    with pytest.raises(OSError):
        indexed.index.catch_up(indexed.archive.appender, batch=20)
    monkeypatch.undo()
    assert indexed.index.state() == type(indexed.index.state())(55, 55)
    assert indexed.index.lag(indexed.archive.appender) == 30
    assert indexed.index.catch_up(indexed.archive.appender, batch=20) == 30
    assert indexed.index.state().documents == 85
    assert sorted(indexed.every_page(query="failing", limit=50)) == sorted(more.seqs)


def test_a_crash_between_commit_and_mark_neither_loses_nor_repeats_records(
        indexed: Indexed) -> None:
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    if indexed.engine == "whoosh":
        index_dir = indexed.archive.settings.index_dir
        state_file = index_dir / (index_dir / "CURRENT").read_text() / "state.json"
        state = json.loads(state_file.read_text())
        state_file.write_text(json.dumps({**state, "generation": 0, "indexed_through": 3}))
    else:  # the mark commits with the documents; set it back by hand instead
        with indexed.archive.catalog.writer() as conn:
            conn.execute(text("UPDATE search_state SET value = 3 "
                              "WHERE name = 'indexed_through'"))
    assert indexed.index.indexed_through() == 55  # from the index
    assert indexed.index.catch_up(indexed.archive.appender) == 0
    assert indexed.index.state().documents == 55


# -- the command line (filesystem + SQLite only) ---------------------------------------

def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, "ARCHIVER_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    assert run(h, "init", "--origin", "search.test/log").returncode == 0
    return h


def test_cli_ingest_indexes_and_search_finds_in_any_language(home: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(DEMO)
    assert run(home, "ingest", str(demo)).returncode == 0
    result = run(home, "search", "druzabnih", "--json", "--collapse")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["total"] == 2 and out["index_lag"] == 0
    assert all("<mark>družabnih</mark>" in h["snippet"] for h in out["hits"])
    text = run(home, "search", "--platform", "x", "--from", "2024-03-14", "--to", "2024-03-14",
               "كمك")
    assert text.returncode == 0 and "[كمك]" in text.stdout and "matching records" in text.stdout
    assert json.loads(run(home, "search", "reindex").stdout)["documents"] == 55
    assert json.loads(run(home, "search", "status").stdout) == {
        "indexed_through": 55, "documents": 55, "lag": 0}


def test_cli_ingest_defers_indexing_when_another_process_writes_the_index(
        home: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(DEMO)
    holder = SearchIndex(home / "index")
    with holder._writer_lock():
        result = run(home, "ingest", str(demo))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["archived"] == 55
    assert "indexing deferred" in result.stderr and "55 records" in result.stderr
    lagging = run(home, "search", "flood", "--json")
    assert json.loads(lagging.stdout)["index_lag"] == 55 and "not yet searchable" in \
        lagging.stderr
    assert json.loads(run(home, "search", "catch-up").stdout) == {"indexed": 55, "lag": 0}


def test_cli_search_counts_facets(home: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(DEMO)
    assert run(home, "ingest", str(demo)).returncode == 0
    result = run(home, "search", "--facets", "platform,year", "--facets", "kind", "--json",
                 "--limit", "1")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out["facets"]) == {"platform", "year", "kind"}
    assert sum(c["count"] for c in out["facets"]["kind"]) == out["total"] == 55
    text = run(home, "search", "flood", "--facets", "all")
    assert text.returncode == 0 and "\nplatform: mastodon (" in text.stdout
    assert "\nyear: 2024 (" in text.stdout and "\naccount: " in text.stdout


def test_cli_bad_query_exits_2_naming_the_problem(home: Path) -> None:
    for args, message in ((["nosuch:field"], "unknown field 'nosuch'"),
                          (["x", "--facets", "colour"], "unknown facet(s): 'colour'"),
                          (["x", "--cursor", "bogus!"], "malformed cursor"),
                          (["x", "--from", "March"], "from must be a date")):
        result = run(home, "search", *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_records_officer_finds_every_version_in_every_language_and_nothing_disposed(
        indexed: Indexed) -> None:
    """Issue 5, "Done when": ingest a multilingual set with edits and deletions, search
    however the query is typed, find every version; a disposed record is gone."""
    ingest(indexed.archive, DEMO)
    indexed.index.catch_up(indexed.archive.appender)
    payloads = indexed.payloads()

    def versions(word: str) -> set[int]:
        from archiver.search.analyzer import tokens

        return {s for s, p in payloads.items() if word in tokens(p.get("text") or "")}

    for typed, term in (("druzabnih", "druzabnih"), ("كمك", "کمک"), ("١٤٠٢", "1402"),
                        ("MAFURIKO", "mafuriko"), ("Flood", "flood")):
        assert versions(term) and set(indexed.every_page(query=typed, limit=4)) == \
            versions(term), typed
    edited = next(s for s, p in payloads.items() if p["event"] == "edited"
                  and "druzabnih" in p["text"].replace("ž", "z"))
    destroy(indexed, edited)
    indexed.index.remove([edited])
    assert edited not in indexed.every_page(query="druzabnih")
    assert edited not in indexed.every_page(sort="oldest", limit=100)
    counted = indexed.find(facets=("event",)).facets
    assert counted is not None and dict(counted["event"])["edited"] == sum(
        p["event"] == "edited" for p in payloads.values()) - 1


def test_catch_up_merges_only_small_segments_and_keeps_every_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh: small segments are merged once SMALL_SEGMENTS gathered; a segment of
    SEGMENT_DOCS or more is never rewritten by a later catch-up."""
    from archiver.config import load_settings
    from archiver.search import whoosh_engine
    from archiver.wiring import init_archive

    monkeypatch.setattr(whoosh_engine, "SEGMENT_DOCS", 20)
    monkeypatch.setattr(whoosh_engine, "SMALL_SEGMENTS", 3)
    archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": str(tmp_path / "home")}),
                              "test.archiver/merge")
    index = SearchIndex(archive.settings.index_dir)
    lines = DEMO.splitlines(keepends=True)
    ingest(archive, b"".join(lines[:25]))
    index.catch_up(archive.appender)  # one large segment (>= 20 documents)

    def segments() -> list[tuple[str, int]]:
        searcher = index._open_searcher()
        return [(whoosh_engine._segment_id(r), r.doc_count_all())
                for r, _ in whoosh_engine._leaves(searcher)]

    large = segments()
    assert len(large) == 1 and large[0][1] >= 20
    sizes = []
    for start in range(25, len(lines), 5):  # small commits of up to 5 documents
        ingest(archive, b"".join(lines[start:start + 5]))
        index.catch_up(archive.appender)
        sizes.append(sorted(n for _, n in segments()))
    assert large[0] in segments()  # never rewritten
    assert max(len(s) for s in sizes) <= 1 + 3  # the large one + at most 3 small ones
    assert any(5 < n < 20 for s in sizes for n in s)  # small ones were merged
    assert index.state().documents == 55
    page = whoosh_engine.SearchIndex(archive.settings.index_dir).run(
        whoosh_engine.QueryPlan(order="oldest", limit=100))
    assert page.total == len({h.seq for h in page.hits}) == 55
    index.close()
    archive.close()
