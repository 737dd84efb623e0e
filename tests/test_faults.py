"""Crashes, refusals and concurrent writers: nothing acknowledged is lost, nothing half-written.

Crashes are real: a child process dies with os._exit at the chosen point of the write
order (after the key object PUT, after the segment PUT, after the catalog commit), and a
fresh process opens the archive afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from archiver.catalog import schema as t
from archiver.config import load_settings
from archiver.errors import StoreUnavailable
from archiver.log.verify import verify_archive
from archiver.wiring import Archive, open_archive
from tests.test_log_contract import ingest, obs

CHILD = textwrap.dedent("""
    import json, os, sys
    from archiver.config import load_settings
    from archiver.ingest import read_jsonl
    from archiver.log.appender import Appender
    from archiver.wiring import open_archive

    crash_at, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    archive = open_archive(load_settings())
    store = archive.store
    real_put = store.put

    def put(key, data, *, lock=False):
        real_put(key, data, lock=lock)
        if key.startswith(crash_at):
            os._exit(137)

    if crash_at in ("keys/", "log/"):
        store.put = put
    elif crash_at == "commit":
        Appender.checkpoint = lambda self: os._exit(137)
    observations = [{"platform": "mastodon", "account": "42", "item_id": str(i),
                     "kind": "post", "text": f"post {i}", "observed_at": "2026-01-01T00:00:00Z"}
                    for i in range(first, first + count)]
    summary = archive.ingestor.ingest(
        o for _, o in read_jsonl(iter([json.dumps(o).encode() for o in observations]),
                                 max_text_bytes=10000, max_line_bytes=100000))
    print(json.dumps({"seqs": summary.seqs}))
""")


def run_child(env: dict[str, str], crash_at: str, first: int, count: int
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, crash_at, str(first), str(count)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def record_count(archive: Archive) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.records)).scalar_one()


@pytest.mark.parametrize("crash_at", ["keys/", "log/", "commit"])
def test_a_crash_at_any_point_loses_no_acknowledged_record_and_verifies(
        make_archive: Callable[..., Archive], backend_env: dict[str, str], crash_at: str) -> None:
    archive = make_archive()
    acked = ingest(archive, [obs(str(i)) for i in range(20)]).seqs
    archive.close()

    child = run_child(backend_env, crash_at, 100, 30)
    assert child.returncode == 137, child.stderr

    reopened = open_archive(load_settings(env=backend_env))  # start-up reconciliation
    try:
        report = verify_archive(reopened.appender)
        assert report.ok, report.failures
        n = record_count(reopened)
        # Acknowledged records are all there; the crashed batch is whole or absent.
        assert set(acked) <= set(range(n))
        assert n in (21, 51)
        assert n == (21 if crash_at == "keys/" else 51)
        assert reopened.store.list("keys/000000000021-") == (
            [] if crash_at == "keys/" else ["keys/000000000021-000000000050.json"])
        # and the archive goes on: the next batch lands after the adopted one
        more = ingest(reopened, [obs(str(i)) for i in range(200, 205)])
        assert more.seqs == list(range(n, n + 5))
        assert verify_archive(reopened.appender).ok
    finally:
        reopened.close()


def test_a_store_refusing_a_put_acknowledges_nothing_and_a_retry_succeeds(
        make_archive: Callable[..., Archive], backend_env: dict[str, str]) -> None:
    archive = make_archive()
    before = record_count(archive)
    if backend_env.get("ARCHIVER_STORE_KIND") == "s3":
        broken = open_archive(load_settings(env={**backend_env,
                                                 "ARCHIVER_STORE_SECRET_KEY": "not-the-secret"}),
                              recover=False)
    else:
        log_dir = archive.settings.objects_dir / "log"
        log_dir.rename(log_dir.with_name("log.moved"))
        log_dir.write_text("a file where the log directory should be")
        broken = archive
    with pytest.raises(StoreUnavailable) as exc:
        ingest(broken, [obs("1")])
    assert broken.store.description in str(exc.value)
    assert "not-the-secret" not in str(exc.value)
    assert record_count(archive) == before
    if backend_env.get("ARCHIVER_STORE_KIND") != "s3":
        log_dir.unlink()
        log_dir.with_name("log.moved").rename(log_dir)
    retry = ingest(archive, [obs("1")])
    assert retry.seqs == [before]
    assert verify_archive(archive.appender).ok


CONCURRENT = textwrap.dedent("""
    import json, sys
    from archiver.config import load_settings
    from archiver.ingest import read_jsonl
    from archiver.wiring import open_archive
    archive = open_archive(load_settings())
    archive.ingestor.chunk_size = 7
    lines = [json.dumps({"platform": "x", "account": "1", "item_id": f"{sys.argv[1]}-{i}",
                         "kind": "post", "text": "t"}).encode() for i in range(60)]
    s = archive.ingestor.ingest(o for _, o in read_jsonl(iter(lines), max_text_bytes=99,
                                                         max_line_bytes=999))
    print(json.dumps(s.seqs))
""")


def test_concurrent_writers_get_dense_distinct_seqs_and_the_log_verifies(
        make_archive: Callable[..., Archive], backend_env: dict[str, str]) -> None:
    archive = make_archive()
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, name], env={**os.environ,
                              **backend_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for name in ("a", "b", "c")]
    seqs: list[int] = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        seqs.extend(json.loads(out))
    assert sorted(seqs) == list(range(1, 181))
    report = verify_archive(archive.appender)
    assert report.ok, report.failures
    assert report.records == 181
