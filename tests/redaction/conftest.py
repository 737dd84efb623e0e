"""Response sets under test: the exports suite's thread (a Persian post with a PNG, edited;
a Swahili comment; a hidden Slovenian comment; a deleted English reply) on the filesystem
with SQLite and on S3 with PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.log.reader import read_record
from archiver.redaction.exemptions import load_exemptions
from archiver.redaction.store import create_response
from archiver.wiring import Archive
from tests.api.conftest import app, client, tokens  # noqa: F401 - the API suite's fixtures
from tests.exports.conftest import load_thread
from tests.fixtures.backends import backend_env_for

BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]
OFFICER, REVIEWER = "clerk@city", "deputy@city"


@pytest.fixture(params=BACKENDS, ids=[f"{s}-{c}" for s, c in BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture
def thread(archive: Archive) -> Archive:
    return load_thread(archive)


@pytest.fixture
def codes() -> Any:
    return load_exemptions()


@pytest.fixture
def response(thread: Archive) -> dict[str, Any]:
    return create_response(thread, {"name": "Request 2026-117", "request_ref": "PRR-117",
                                    "scope": {"items": [{"platform": "mastodon",
                                                         "item_id": "p1"}]}}, OFFICER)


def seq_of(archive: Archive, item_id: str, event: str) -> int:
    """The seq of an item's capture record with `event` (its first, if several)."""
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.records.c.seq).where(
            t.records.c.item_id == item_id, t.records.c.event == event)
            .order_by(t.records.c.seq).limit(1)).scalar_one()


def text_of(archive: Archive, seq: int) -> str:
    return read_record(archive.appender, seq).payload["text"]


def span(text: str, part: str) -> dict[str, int]:
    start = text.index(part)
    return {"start": start, "end": start + len(part)}


def log_actions(archive: Archive) -> list[str]:
    with archive.catalog.reader() as conn:
        return list(conn.execute(select(t.records.c.action).where(
            t.records.c.type == "system").order_by(t.records.c.seq)).scalars())
