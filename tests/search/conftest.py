"""Search under test, on both engines: the demo archive indexed once per module and
engine (read-only tests), and fresh archives for tests that write: Whoosh on the two ends
of the backend matrix, and the PostgreSQL engine (which needs a PostgreSQL catalog)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from archiver.config import load_settings
from archiver.log.reader import read_record
from archiver.search.engine import SearchEngine
from archiver.search.engines import open_index
from archiver.search.query import SearchRequest, SearchResult, search
from archiver.wiring import Archive, init_archive
from tests.fixtures.backends import settings_env
from tests.test_log_contract import DEMO, ingest

# (store, catalog, search engine)
SEARCH_BACKENDS = [("filesystem", "sqlite", "whoosh"), ("s3", "postgres", "whoosh"),
                   ("s3", "postgres", "postgres")]
ENGINES = [pytest.param("whoosh", id="whoosh"),
           pytest.param("postgres", id="pg-engine", marks=pytest.mark.postgres)]


@pytest.fixture(params=SEARCH_BACKENDS, ids=[f"{s}-{c}" + ("-pg-engine" if e == "postgres" else "")
                                             for s, c, e in SEARCH_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    store, catalog, engine = request.param
    if store == "s3":
        request.applymarker(pytest.mark.s3)
    if catalog == "postgres":
        request.applymarker(pytest.mark.postgres)
    env = settings_env(tmp_path, store, catalog, request)
    env["ARCHIVER_SEARCH_ENGINE"] = engine
    return env


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test module, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_server)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@dataclass
class Indexed:
    """An archive with its index, and every capture record read back as the oracle."""

    archive: Archive
    index: Any  # a SearchEngine: whoosh_engine.SearchIndex or postgres_engine.PostgresIndex

    @property
    def engine(self) -> str:
        return self.archive.settings.search.engine

    def other(self) -> SearchEngine:
        """Another handle on the same index, as another process would open it."""
        return open_index(self.archive.settings)

    def find(self, **kwargs: Any) -> SearchResult:
        return search(self.index, self.archive, SearchRequest(**kwargs))

    def seqs(self, **kwargs: Any) -> list[int]:
        return [h.seq for h in self.find(**kwargs).hits]

    def every_page(self, **kwargs: Any) -> list[int]:
        """Follow the cursors to the end; the seqs of every page, in order."""
        out, cursor = [], None
        for _ in range(1000):
            result = self.find(cursor=cursor, **kwargs)
            out.extend(h.seq for h in result.hits)
            cursor = result.next_cursor
            if cursor is None:
                return out
        raise AssertionError("pagination did not end")

    def payloads(self) -> dict[int, dict[str, Any]]:
        """seq -> payload of every readable capture record, read from the log."""
        from sqlalchemy import select

        from archiver.catalog import schema as t

        with self.archive.catalog.reader() as conn:
            seqs = [r.seq for r in conn.execute(
                select(t.records.c.seq).where(t.records.c.type == "capture",
                                              t.records.c.destroyed_at.is_(None)))]
        out = {}
        for seq in seqs:
            payload = read_record(self.archive.appender, seq).payload
            if payload is not None:
                out[seq] = payload
        return out


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Indexed]:
    """The demo data indexed by each engine: Whoosh on filesystem + SQLite, PostgreSQL on
    filesystem + PostgreSQL. Tests must not change it."""
    home = tmp_path_factory.mktemp("demo") / "home"
    env = {"ARCHIVER_HOME": str(home), "ARCHIVER_SEARCH_ENGINE": request.param}
    if request.param == "postgres":
        env["ARCHIVER_CATALOG_URL"] = request.getfixturevalue("module_postgres_url")
    archive, _ = init_archive(load_settings(env=env), "test.archiver/search")
    ingest(archive, DEMO)
    index = open_index(archive.settings)
    index.catch_up(archive.appender)
    yield Indexed(archive, index)
    index.close()
    archive.close()


@pytest.fixture
def indexed(archive: Archive) -> Iterator[Indexed]:
    """A fresh, empty archive (on each backend pair and engine) and its index."""
    index = open_index(archive.settings)
    yield Indexed(archive, index)
    index.close()
