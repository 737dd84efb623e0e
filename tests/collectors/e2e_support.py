"""What every collector's end-to-end scenarios share: run the runner once, read back the
capture records it appended, the newest payload of an item, the command line in-process.

Mostly plain functions (a fixture imported into a test module under its own name is
shadowed, for linters, by the test's parameter of that name). The few fixtures every
module repeated are here under other attribute names and registered with `name=`:
`server` and `http` are registered for the whole folder by `tests/collectors/conftest.py`
(with the platforms' fakes); `backend_env` on the filesystem and SQLite only is taken by
the modules that want it, by importing it (`# noqa: F401`, pytest finds it by scanning
the module):

    from tests.collectors.e2e_support import local_backend  # noqa: F401

A module that needs another transport keeps its own `http` fixture, which wins:

    @pytest.fixture
    def http() -> Iterator[Transport]:
        yield from quiet_transport(max_bytes=64 * 1024)
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.cli import main
from archiver.collectors.runner import collect_account
from archiver.collectors.runs import RunResult
from archiver.collectors.transport import Transport, TransportSettings
from archiver.log.reader import read_record
from archiver.wiring import Archive
from tests.fixtures.backends import backend_env_for
from tests.replay.server import ReplayServer, Reply, Request

Captured = list[tuple[str, str, str]]


def quiet_transport(**settings: Any) -> Iterator[Transport]:
    """A Transport that never sleeps (rate-limit waits and backoff are counted, not slept)
    and retries twice, with a fixed jitter seed."""
    options = {"retries": 2, "backoff": 0.01, **settings}
    with Transport(TransportSettings(**options), sleep=lambda s: None,
                   rng=random.Random(3)) as transport:
        yield transport


@pytest.fixture(name="backend_env", params=[("filesystem", "sqlite")],
                ids=["filesystem-sqlite"])
def local_backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """`backend_env` on the filesystem and SQLite only: the runner and capture are the same
    on every backend (their own suites cover S3 and PostgreSQL); these scenarios are about
    what a platform's answers become. A test still asks for S3 + PostgreSQL with
    `@pytest.mark.parametrize("backend_env", [("s3", "postgres")], indirect=True)`."""
    return backend_env_for(request, tmp_path)


@pytest.fixture(name="server")
def replay_server() -> Iterator[ReplayServer]:
    """`server`: a replay server on a free local port, for this test."""
    with ReplayServer() as s:
        yield s


@pytest.fixture(name="http")
def transport() -> Iterator[Transport]:
    """`http`: the quiet transport (never sleeps, two retries)."""
    yield from quiet_transport()


def ago(minutes: float) -> datetime:
    """Shortly before now, to the second (older items would be archived as `observed`)."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def head(archive: Archive) -> int:
    """The log's last sequence number."""
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.records.c.seq).order_by(t.records.c.seq.desc())
                            .limit(1)).scalar_one()


def captures_after(archive: Archive, seq: int) -> Captured:
    """(event, kind, item_id) of every capture record after `seq`, in log order."""
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(t.records.c.event, t.records.c.kind, t.records.c.item_id)
                            .where(t.records.c.seq > seq, t.records.c.type == "capture")
                            .order_by(t.records.c.seq)).all()
    return [(r.event, r.kind, r.item_id) for r in rows]


def run(archive: Archive, account_id: str, http: Transport) -> tuple[RunResult, Captured]:
    """One collection run and the capture records it appended."""
    before = head(archive)
    result = collect_account(archive, account_id, transport=http)
    return result, captures_after(archive, before)


def last_payload(archive: Archive, item_id: str) -> dict[str, Any]:
    """The newest capture payload of the item, decrypted."""
    with archive.catalog.reader() as conn:
        seq = conn.execute(select(t.records.c.seq).where(t.records.c.item_id == item_id)
                           .order_by(t.records.c.seq.desc()).limit(1)).scalar_one()
    return read_record(archive.appender, seq).payload


def assert_second_run_archives_nothing(archive: Archive, account_id: str,
                                       http: Transport) -> None:
    result, captured = run(archive, account_id, http)
    assert result.outcome == "ok", result.error
    assert captured == [] and result.archived == 0


def drop_later_pages(server: ReplayServer, path: str, page_arg: str) -> list[bool]:
    """Wrap the GET route at `path` so that a later page (one asked for with `page_arg`,
    the paging cursor) loses its connection 30 bytes in while the returned flag's [0] is
    true; the test sets it false to let the platform answer again."""
    answer = server.routes[("GET", path)]
    assert callable(answer), f"{path} must be a scripted route, not a list of replies"
    drop = [True]

    def paged(req: Request) -> Reply:
        reply = answer(req)
        if req.arg(page_arg) and drop[0]:
            return Reply(reply.status, reply.body, reply.headers, drop_after=30)
        return reply

    server.route("GET", path, paged)
    return drop


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """`archiver ARGS...` in this process: exit code, its last JSON line ({} if none), and
    everything it wrote (stdout + stderr, to check that no secret leaked)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    last = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return code, last, out + err
