"""Ingest with media: each new file encrypted under its own data key as `media/<id>`, its
key in the segment's key object, PUT before the segment; records name it; dedupe by file;
rebuild gives the media table back. On filesystem + SQLite and S3 (Object Lock) +
PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import InvalidObservation, ObjectLocked
from archiver.log.envelope import keys_key
from archiver.log.reader import read_media, read_record
from archiver.log.rebuild import rebuild_catalog
from archiver.log.verify import verify_archive
from archiver.wiring import Archive
from tests.media.conftest import blob, jpeg, observation, png, sha


def media_rows(archive: Archive) -> list[tuple]:
    with archive.catalog.reader() as conn:
        return sorted(tuple(r) for r in conn.execute(select(t.media)))


def payload_media(archive: Archive, seq: int) -> list[dict]:
    payload = read_record(archive.appender, seq).payload
    assert payload is not None
    return payload["media"]


def test_a_new_file_is_stored_encrypted_and_named_by_its_record(archive: Archive) -> None:
    data = png()
    summary = archive.ingestor.ingest(
        [observation("1", media=[{"id": "m", "url": "https://x/a.png", "alt": "ramani",
                                  "sha256": sha(data)}])],
        media={sha(data): blob(data)})
    [name] = archive.store.list("media/")
    media_id = name.removeprefix("media/")
    assert re.fullmatch(r"[0-9a-f]{32}", media_id) and media_id not in sha(data)
    stored = archive.store.get(name)
    assert data not in stored and len(stored) == 12 + len(data) + 16
    [entry] = payload_media(archive, summary.seqs[0])
    assert entry == {"id": "m", "url": "https://x/a.png", "alt": "ramani",
                     "sha256": sha(data), "mime": "image/png", "object": name}
    seq = summary.seqs[0]
    keys = json.loads(archive.store.get(keys_key(seq, seq)))["keys"]
    assert media_id in keys  # the blob's key is in its segment's key object
    got = read_media(archive.appender, media_id)
    assert (got.data, got.mime, got.sha256) == (data, "image/png", sha(data))
    assert verify_archive(archive.appender).as_dict()["media"] == 1
    assert verify_archive(archive.appender).ok


def test_text_in_many_languages_survives_beside_media(archive: Archive) -> None:
    text = "Karibu Tanzania — می\u200cخواهم — Dobrodošli v Ljubljani"
    data = jpeg(b"exif-ish")
    summary = archive.ingestor.ingest(
        [observation("1", text=text, media=[{"url": "u", "sha256": sha(data)}])],
        media={sha(data): blob(data, "image/jpeg")})
    payload = read_record(archive.appender, summary.seqs[0]).payload
    assert payload is not None and payload["text"] == text


def test_one_file_in_many_records_and_runs_is_stored_once(archive: Archive) -> None:
    data = png()
    ref = [{"url": "https://x/a.png", "sha256": sha(data)}]
    first = archive.ingestor.ingest([observation("1", media=ref), observation("2", media=ref)],
                                    media={sha(data): blob(data)})
    later = archive.ingestor.ingest([observation("3", media=ref)],
                                    media={sha(data): blob(data)})
    [name] = archive.store.list("media/")
    objects = {payload_media(archive, s)[0]["object"] for s in first.seqs + later.seqs}
    assert objects == {name}
    assert len(media_rows(archive)) == 1
    assert verify_archive(archive.appender).ok


def test_a_file_already_held_is_named_even_when_not_downloaded_again(
        archive: Archive) -> None:
    data = png()
    archive.ingestor.ingest([observation("1", media=[{"url": "a", "sha256": sha(data)}])],
                            media={sha(data): blob(data)})
    again = archive.ingestor.ingest([observation("2", media=[{"url": "b",
                                                              "sha256": sha(data)}])])
    [name] = archive.store.list("media/")
    assert payload_media(archive, again.seqs[0])[0]["object"] == name


def test_an_unchanged_observation_stores_no_file(archive: Archive) -> None:
    data = png()
    obs = observation("1", media=[{"url": "a", "sha256": sha(data)}])
    archive.ingestor.ingest([obs], media={sha(data): blob(data)})
    before = archive.store.list("")
    again = archive.ingestor.ingest([obs], media={sha(data): blob(data)})
    assert again.archived == 0
    assert [k for k in archive.store.list("") if k.startswith("media/")] == \
        [k for k in before if k.startswith("media/")]


def test_a_claimed_object_without_the_file_is_not_kept(archive: Archive) -> None:
    obs = observation("1", media=[{"url": "a", "sha256": "ab" * 32,
                                   "object": "media/" + "cd" * 16}])
    summary = archive.ingestor.ingest([obs])
    assert payload_media(archive, summary.seqs[0]) == [{"url": "a", "sha256": "ab" * 32}]
    assert archive.store.list("media/") == []
    assert verify_archive(archive.appender).ok


def test_a_file_that_does_not_hash_to_its_sha256_is_refused_and_nothing_written(
        archive: Archive) -> None:
    before = archive.store.list("")
    wrong = blob(png())
    with pytest.raises(InvalidObservation, match="does not hash to its sha256"):
        archive.ingestor.ingest([observation("1", media=[{"url": "a", "sha256": "ab" * 32}])],
                                media={"ab" * 32: wrong})
    assert archive.store.list("") == before


def test_the_catalog_keeps_no_plain_hash_of_a_file(archive: Archive) -> None:
    data = png()
    archive.ingestor.ingest([observation("1", media=[{"url": "a", "sha256": sha(data)}])],
                            media={sha(data): blob(data)})
    [row] = media_rows(archive)
    assert sha(data) not in [str(v) for v in row]


def test_the_key_object_goes_first_then_media_then_the_segment(archive: Archive) -> None:
    store = archive.store
    order: list[str] = []
    real_put = store.put

    def put(key: str, data: bytes, *, lock: bool = False) -> None:
        order.append(f"{key.split('/')[0]}:{lock}")
        real_put(key, data, lock=lock)

    store.put = put  # type: ignore[method-assign]
    try:
        a, b = png(), jpeg()
        archive.ingestor.ingest(
            [observation("1", media=[{"url": "a", "sha256": sha(a)},
                                     {"url": "b", "sha256": sha(b)}])],
            media={sha(a): blob(a), sha(b): blob(b, "image/jpeg")})
    finally:
        del store.put
    # media and segment ask for WORM retention; key objects never (they must be deletable)
    assert order[:4] == ["keys:False", "media:True", "media:True", "log:True"]


@pytest.mark.parametrize("backend_env", [("s3", "postgres")], ids=["s3-postgres"],
                         indirect=True)
def test_media_objects_are_under_compliance_retention_on_an_object_lock_store(
        archive: Archive) -> None:
    assert archive.store.supports_object_lock
    data = png()
    archive.ingestor.ingest([observation("1", media=[{"url": "a", "sha256": sha(data)}])],
                            media={sha(data): blob(data)})
    [name] = archive.store.list("media/")
    with pytest.raises(ObjectLocked):
        archive.store.delete(name)
    assert archive.store.exists(name)


def test_rebuild_gives_back_the_media_table(archive: Archive) -> None:
    a, b = png(), jpeg()
    archive.ingestor.ingest(
        [observation("1", media=[{"url": "a", "sha256": sha(a)}]),
         observation("2", media=[{"url": "a", "sha256": sha(a)}, {"url": "b",
                                                                  "sha256": sha(b)}])],
        media={sha(a): blob(a), sha(b): blob(b, "image/jpeg")})
    before = media_rows(archive)
    assert len(before) == 2
    rebuild_catalog(archive.appender)
    assert media_rows(archive) == before
    # and dedupe still works from the rebuilt table
    archive.ingestor.ingest([observation("3", media=[{"url": "c", "sha256": sha(b)}])],
                            media={sha(b): blob(b, "image/jpeg")})
    assert len(archive.store.list("media/")) == 2
    assert verify_archive(archive.appender).ok


def test_a_file_shared_across_segments_has_its_key_in_the_first_ones_key_object(
        make_archive) -> None:
    archive = make_archive(ARCHIVER_LOG_SEGMENT_MAX_RECORDS="1")
    data = png()
    ref = [{"url": "a", "sha256": sha(data)}]
    summary = archive.ingestor.ingest([observation("1", media=ref), observation("2", media=ref)],
                                      media={sha(data): blob(data)})
    first, second = summary.seqs
    [name] = archive.store.list("media/")
    media_id = name.removeprefix("media/")
    assert media_id in json.loads(archive.store.get(keys_key(first, first)))["keys"]
    assert media_id not in json.loads(archive.store.get(keys_key(second, second)))["keys"]
    assert payload_media(archive, second)[0]["object"] == name
    assert verify_archive(archive.appender).ok


def test_kek_rotation_rewraps_media_keys_and_files_stay_readable(archive: Archive) -> None:
    from archiver.log.rotation import rotate_kek

    data = jpeg()
    archive.ingestor.ingest([observation("1", media=[{"url": "a", "sha256": sha(data)}])],
                            media={sha(data): blob(data, "image/jpeg")})
    [name] = archive.store.list("media/")
    result = rotate_kek(archive.appender, archive.settings.kek_path, "test")
    assert result.old_kek != result.new_kek
    assert read_media(archive.appender, name.removeprefix("media/")).data == data
    report = verify_archive(archive.appender)
    assert report.ok and report.media == 1, report.failures
