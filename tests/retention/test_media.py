"""Shredding a record shreds the media files only it names; a file another live record
names stays readable; both verifiers accept the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.errors import NotFound
from archiver.log.reader import read_media, read_record
from archiver.log.verify import verify_archive
from archiver.records import parse_observation
from archiver.wiring import Archive
from tests.media.conftest import blob, jpeg, png, sha
from tests.retention.conftest import ALICE, BOB, add_policy, offline_verify
from tests.retention.test_disposition import dispose


def obs(account: str, item: str, files: list[bytes]):  # noqa: ANN201
    return parse_observation({"platform": "mastodon", "account": account, "item_id": item,
                              "kind": "post", "text": "Picha ya mafuriko — عکس\u200cها",
                              "media": [{"url": f"https://m/{sha(f)[:6]}", "sha256": sha(f)}
                                        for f in files],
                              "observed_at": "2026-11-21T10:00:00Z"}, max_text_bytes=100_000)


@pytest.fixture
def with_media(archive: Archive) -> tuple[Archive, bytes, bytes, list[int]]:
    only, shared = png((1, 2, 3)), jpeg(b"shared")
    summary = archive.ingestor.ingest(
        [obs("gone", "1", [only, shared]), obs("kept", "2", [shared])],
        media={sha(only): blob(only), sha(shared): blob(shared, "image/jpeg")})
    return archive, only, shared, summary.seqs


def media_id(archive: Archive, seq: int, data: bytes) -> str:
    payload = read_record(archive.appender, seq).payload
    assert payload is not None
    [entry] = [m for m in payload["media"] if m["sha256"] == sha(data)]
    return entry["object"].removeprefix("media/")


def test_media_only_a_destroyed_record_names_is_shredded(with_media, tmp_path: Path) -> None:
    archive, only, shared, seqs = with_media
    only_id, shared_id = media_id(archive, seqs[0], only), media_id(archive, seqs[0], shared)
    add_policy(archive, scope={"accounts": ["gone"]})
    run = dispose(archive)
    assert run["outcomes"] == {"destroyed": 1}
    with pytest.raises(NotFound):  # the row goes too: a new capture stores the file afresh
        read_media(archive.appender, only_id)
    assert read_media(archive.appender, shared_id).data == shared
    key_objects = [archive.store.get(k) for k in archive.store.list("keys/")]
    assert not any(only_id.encode() in k for k in key_objects)
    assert any(shared_id.encode() in k for k in key_objects)
    report = verify_archive(archive.appender)
    assert report.ok, report.failures
    outsider = offline_verify(archive, tmp_path)
    assert outsider.returncode == 0, outsider.stdout[-2000:]
    assert (ALICE.name, BOB.name) == ("alice", "bob")
