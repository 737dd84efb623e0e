"""The public portal under test: the exports suite's thread (account mastodon:42: a Persian
post edited, a Swahili comment, a Slovenian comment the account hid, an English reply
deleted on the platform) plus a post of an account not chosen, on the filesystem + SQLite
(the portal reads through the catalog and the log like every page; the API and web suites
cover the S3 + PostgreSQL pair)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from archiver.api import create_app
from archiver.records import parse_observation
from archiver.wiring import Archive
from tests.exports.conftest import load_thread
from tests.fixtures.backends import backend_env_for

PORTAL = {"ARCHIVER_PORTAL_ENABLED": "1", "ARCHIVER_PORTAL_ACCOUNTS": "mastodon:42",
          "ARCHIVER_PORTAL_COMMENTS": "1", "ARCHIVER_PORTAL_RATE_PER_MINUTE": "0"}
OTHER_TEXT = "Internal draft of account 99: not for the public"


@pytest.fixture(params=[("filesystem", "sqlite")], ids=["filesystem-sqlite"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


def _with_other_account(archive: Archive) -> Archive:
    load_thread(archive)
    archive.ingestor.ingest([parse_observation(
        {"platform": "mastodon", "account": "99", "item_id": "x1", "kind": "post",
         "text": OTHER_TEXT, "observed_at": "2026-11-20T09:00:00Z"}, max_text_bytes=100_000)])
    return archive


@pytest.fixture
def portal(make_archive: Callable[..., Archive]) -> Callable[..., Any]:
    """portal(**settings) -> a test client of an app over the thread with these settings."""
    made: dict[str, Archive] = {}

    def client(**env: str) -> Any:
        archive = make_archive(**{**PORTAL, **env})
        if not made:
            made["a"] = _with_other_account(archive)
        app: Flask = create_app(archive.settings, archive)
        c = app.test_client()
        c.archive = archive
        return c
    return client
