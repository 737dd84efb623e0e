"""Crash windows of a write with media: a child process dies (os._exit) right after the key
object PUT, after a media PUT, after the segment PUT, or after the catalog commit; a fresh
process opens the archive, and `archiver verify` passes with every media object accounted
for: adopted with its segment, or gone with the orphan key object (on an Object Lock
store the locked orphan is hidden behind a delete marker, its key destroyed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from archiver.catalog import schema as t
from archiver.config import load_settings
from archiver.log.reader import read_media, read_record
from archiver.log.verify import verify_archive
from archiver.wiring import Archive, open_archive
from tests.media.conftest import blob, observation, png, sha

CHILD = textwrap.dedent("""
    import hashlib, os, struct, sys, zlib
    from archiver.config import load_settings
    from archiver.log.appender import Appender
    from archiver.records import MediaBlob, parse_observation
    from archiver.wiring import open_archive
    from tests.media.conftest import png

    crash_at = sys.argv[1]
    archive = open_archive(load_settings())
    store = archive.store
    real_put = store.put

    def put(key, data, *, lock=False):
        real_put(key, data, lock=lock)
        if key.startswith(crash_at):
            os._exit(137)

    if crash_at == "commit":
        Appender.checkpoint = lambda self: os._exit(137)
    else:
        store.put = put
    files = [png((i, 2 * i, 3 * i)) for i in range(1, 4)]
    blobs = {hashlib.sha256(f).hexdigest(): MediaBlob(hashlib.sha256(f).hexdigest(),
             "image/png", f, "https://media.example/f") for f in files}
    observations = [parse_observation({
        "platform": "mastodon", "account": "42", "item_id": f"c{i}", "kind": "post",
        "text": f"post {i} — صبح بخیر", "observed_at": "2026-11-21T10:00:00Z",
        "media": [{"url": f"https://media.example/{i}", "sha256": s}]},
        max_text_bytes=10000) for i, s in enumerate(blobs)]
    archive.ingestor.ingest(observations, media=blobs)
    print("finished without crashing")
""")


def crash(backend_env: dict[str, str], crash_at: str) -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.run([sys.executable, "-c", CHILD, crash_at],
                           env={**os.environ, **backend_env, "PYTHONPATH": root},
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 137, child.stdout + child.stderr


def media_count(archive: Archive) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.media)).scalar_one()


@pytest.mark.parametrize("crash_at", ["keys/", "media/", "log/", "commit"])
def test_a_crash_anywhere_in_a_write_with_media_leaves_an_archive_that_verifies(
        make_archive: Callable[..., Archive], backend_env: dict[str, str], crash_at: str
) -> None:
    archive = make_archive()
    held = png((9, 9, 9))
    archive.ingestor.ingest([observation("held", media=[{"url": "h", "sha256": sha(held)}])],
                            media={sha(held): blob(held)})
    archive.close()

    crash(backend_env, crash_at)

    reopened = open_archive(load_settings(env=backend_env))  # start-up reconciliation
    try:
        report = verify_archive(reopened.appender)
        assert report.ok, report.failures
        adopted = crash_at in ("log/", "commit")
        assert media_count(reopened) == (4 if adopted else 1)
        names = reopened.store.list("media/")
        assert len(names) == media_count(reopened)
        assert report.media == len(names)
        for name in names:  # every blob left is readable and is what its record says
            got = read_media(reopened.appender, name.removeprefix("media/"))
            assert got.mime == "image/png" and got.sha256 == sha(got.data)
        # the write goes on: the same observations again store what the crash lost
        retry = reopened.ingestor.ingest(
            [observation(f"c{i}", text=f"post {i} — صبح بخیر",
                         media=[{"url": f"https://media.example/{i}",
                                 "sha256": sha(png((i + 1, 2 * i + 2, 3 * i + 3)))}])
             for i in range(3)],
            media={sha(f): blob(f) for f in (png((i, 2 * i, 3 * i)) for i in range(1, 4))})
        assert retry.archived == (0 if adopted else 3)
        assert media_count(reopened) == 4
        assert len(reopened.store.list("media/")) == 4
        payload = read_record(reopened.appender, max(retry.seqs or [4])).payload
        assert payload is not None and payload["media"][0]["object"].startswith("media/")
        assert verify_archive(reopened.appender).ok
    finally:
        reopened.close()


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], ids=["s3-postgres"],
                         indirect=True)
def test_a_locked_orphan_blob_is_hidden_and_its_only_key_purged(
        make_archive: Callable[..., Archive], backend_env: dict[str, str]) -> None:
    archive = make_archive()
    assert archive.store.supports_object_lock
    archive.close()
    crash(backend_env, "media/")
    reopened = open_archive(load_settings(env=backend_env))
    try:
        store = reopened.store
        client, bucket, prefix = store.client(), store.bucket, store.prefix  # type: ignore[attr-defined]
        media = client.list_object_versions(Bucket=bucket, Prefix=prefix + "media/")
        [version] = media["Versions"]  # the orphan's locked bytes: retention forbids purging
        [marker] = media["DeleteMarkers"]  # ... so a delete marker hides them
        assert marker["Key"] == version["Key"] and marker["IsLatest"]
        assert store.list("media/") == []
        keys = client.list_object_versions(Bucket=bucket, Prefix=prefix + "keys/")
        names = {v["Key"] for v in keys.get("Versions", []) + keys.get("DeleteMarkers", [])}
        # the orphan key object is gone with every version: the hidden blob has no key left
        assert names == {prefix + "keys/000000000000-000000000000.json"}
        assert verify_archive(reopened.appender).ok
    finally:
        reopened.close()
