"""Search under test: the demo archive indexed once per module (read-only tests), and
fresh archives on the two ends of the backend matrix for tests that write."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.config import load_settings
from archiver.log.reader import read_record
from archiver.search.query import SearchRequest, SearchResult, search
from archiver.search.whoosh_engine import SearchIndex
from archiver.wiring import Archive, init_archive
from tests.fixtures.backends import settings_env
from tests.test_log_contract import DEMO, ingest

SEARCH_BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]


@pytest.fixture(params=SEARCH_BACKENDS, ids=[f"{s}-{c}" for s, c in SEARCH_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    store, catalog = request.param
    if store == "s3":
        request.applymarker(pytest.mark.s3)
    if catalog == "postgres":
        request.applymarker(pytest.mark.postgres)
    return settings_env(tmp_path, store, catalog, request)


@dataclass
class Indexed:
    """An archive with its index, and every capture record read back as the oracle."""

    archive: Archive
    index: SearchIndex

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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    """The demo data on filesystem + SQLite, indexed. Tests must not change it."""
    home = tmp_path_factory.mktemp("demo") / "home"
    archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": str(home)}),
                              "test.archiver/search")
    ingest(archive, DEMO)
    index = SearchIndex.for_settings(archive.settings)
    index.catch_up(archive.appender)
    yield Indexed(archive, index)
    index.close()
    archive.close()


@pytest.fixture
def indexed(archive: Archive) -> Iterator[Indexed]:
    """A fresh, empty archive (on each backend pair) and its index."""
    index = SearchIndex.for_settings(archive.settings)
    yield Indexed(archive, index)
    index.close()
