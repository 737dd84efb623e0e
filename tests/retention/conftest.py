"""Retention under test on the two ends of the backend matrix: filesystem + SQLite and
SeaweedFS S3 (Object Lock) + PostgreSQL, with the demo data archived and indexed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archiver.disposal import Actor
from archiver.ingest import read_jsonl
from archiver.log.reader import read_record
from archiver.retention_store import create_policy, place_hold
from archiver.search.engines import open_index
from archiver.tokens import ROLES, create_token
from archiver.wiring import Archive
from tests.api.conftest import app, client  # noqa: F401 - the API suite's fixtures
from tests.fixtures.backends import backend_env_for

RETENTION_BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]
DEMO = (Path(__file__).parents[2] / "archiver" / "demo" / "observations.jsonl").read_bytes()
ALICE, BOB = Actor.cli("alice"), Actor.cli("bob")
ZERO_DAYS = {"amount": 0, "unit": "days"}


@pytest.fixture(params=RETENTION_BACKENDS, ids=[f"{s}-{c}" for s, c in RETENTION_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture
def demo(archive: Archive) -> Archive:
    """The demo data archived and indexed."""
    summary = archive.ingestor.ingest(o for _, o in read_jsonl(
        io.BytesIO(DEMO), max_text_bytes=100_000, max_line_bytes=1_000_000))
    assert not summary.rejected
    index = open_index(archive.settings)
    try:
        index.catch_up(archive.appender)
    finally:
        index.close()
    return archive


@pytest.fixture
def tokens(archive: Archive) -> dict[str, str]:
    """Two tokens per role (`role` and `role2`: two people), keyed by name."""
    out = {}
    for role in ROLES:
        out[role] = create_token(archive.catalog, f"{role}-one", [role])[1]
        out[f"{role}2"] = create_token(archive.catalog, f"{role}-two", [role])[1]
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def policy_doc(**over: Any) -> dict[str, Any]:
    doc = {"name": "Comments not requiring action", "schedule_code": "GRS 6.4 item 020",
           "authority": "DAA-GRS-2016-0005-0002", "period": ZERO_DAYS, "trigger": "captured",
           "action": "destroy"}
    doc.update(over)
    return doc


def add_policy(archive: Archive, **over: Any) -> dict[str, Any]:
    return create_policy(archive.appender, policy_doc(**over), "alice")[0]


def add_hold(archive: Archive, **scope: Any) -> dict[str, Any]:
    return place_hold(archive.appender, {"matter_name": "Doe v. City of Wrenfield",
                                         "matter_number": "2026-CV-0042",
                                         "reason": "litigation", "scope": scope}, "counsel")


def capture_seqs(archive: Archive, **where: str) -> list[int]:
    from sqlalchemy import select

    from archiver.catalog import schema as t

    q = select(t.records.c.seq).where(t.records.c.type == "capture")
    for k, v in where.items():
        q = q.where(getattr(t.records.c, k) == v)
    with archive.catalog.reader() as conn:
        return [r.seq for r in conn.execute(q.order_by(t.records.c.seq))]


def readable(archive: Archive, seq: int) -> bool:
    return read_record(archive.appender, seq).payload is not None


def system_actions(archive: Archive) -> list[str]:
    from sqlalchemy import select

    from archiver.catalog import schema as t

    with archive.catalog.reader() as conn:
        return [r.action for r in conn.execute(
            select(t.records.c.action).where(t.records.c.type == "system")
            .order_by(t.records.c.seq))]


def offline_verify(archive: Archive, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`archiver-verify store` as an auditor runs it: standard library + cryptography."""
    vkey = tmp_path / "vkey.txt"
    vkey.write_text(archive.appender.p.signer.vkey() + "\n")
    s = archive.settings.store
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if s.kind == "s3":
        target = f"s3://{s.bucket}/{s.prefix}".rstrip("/")
        extra = ["--endpoint-url", s.endpoint_url]
        env.update(AWS_ACCESS_KEY_ID=s.access_key, AWS_SECRET_ACCESS_KEY=s.secret_key)
    else:
        target, extra = str(archive.settings.objects_dir), []
    script = Path(sys.executable).parent / "archiver-verify"
    return subprocess.run([str(script), "store", target, "--vkey", str(vkey), *extra],
                          capture_output=True, text=True, env=env, timeout=300)


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)
