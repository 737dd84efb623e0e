"""The API under test: a fresh app per test over a real archive, on two backend pairs.

`backend_env` narrows tests/fixtures/backends.py's four combinations to the two ends,
filesystem + SQLite (the embedded default) and SeaweedFS S3 + PostgreSQL (production).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archiver.api import create_app
from archiver.catalog import schema as t
from archiver.ingest import read_jsonl
from archiver.tokens import ROLES, create_token
from archiver.wiring import Archive
from tests.fixtures.backends import backend_env_for

API_BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]
DEMO = files("archiver.demo").joinpath("observations.jsonl").read_bytes()


@pytest.fixture(params=API_BACKENDS, ids=[f"{s}-{c}" for s, c in API_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture
def app(archive: Archive) -> Flask:
    return create_app(archive.settings, archive)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(archive: Archive) -> dict[str, str]:
    """One token per role, keyed by role."""
    return {role: create_token(archive.catalog, f"test-{role}", [role])[1] for role in ROLES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def demo(archive: Archive) -> Archive:
    """The archive with the demo data set loaded."""
    summary = archive.ingestor.ingest(o for _, o in read_jsonl(
        io.BytesIO(DEMO), max_text_bytes=100_000, max_line_bytes=1_000_000))
    assert not summary.rejected
    return archive


def record_count(archive: Archive) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.records)).scalar_one()


def audit_rows(archive: Archive) -> list[Any]:
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.audit_events).order_by(t.audit_events.c.id)).all()


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `status` with the one error shape; returns its `error` member."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


@pytest.fixture
def make_app(make_archive: Callable[..., Archive]) -> Callable[..., Flask]:
    """An app over this test's archive with settings overridden (ARCHIVER_* names)."""
    def make(**overrides: str) -> Flask:
        archive = make_archive(**overrides)
        return create_app(archive.settings, archive)

    return make
