"""The archive core's promises, on every store x catalog combination."""

from __future__ import annotations

import io
import json
from importlib.resources import files
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import InvalidObservation
from archiver.ingest import read_jsonl
from archiver.log.reader import read_record
from archiver.log.rebuild import rebuild_catalog
from archiver.log.verify import verify_archive
from archiver.wiring import Archive

DEMO = files("archiver.demo").joinpath("observations.jsonl").read_bytes()


def obs(item: str = "1", text: str = "hello", **extra: Any) -> dict[str, Any]:
    base = {"platform": "mastodon", "account": "42", "item_id": item, "kind": "post",
            "text": text, "observed_at": "2026-01-01T00:00:00Z",
            "published_at": "2026-01-01T00:00:00Z"}
    base.update(extra)
    return base


def ingest(archive: Archive, lines: list[dict[str, Any]] | bytes):
    data = lines if isinstance(lines, bytes) else b"".join(
        json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in lines)
    return archive.ingestor.ingest(o for _, o in read_jsonl(io.BytesIO(data),
                                                            max_text_bytes=10_000,
                                                            max_line_bytes=100_000))


def catalog_dump(archive: Archive) -> dict[str, list[tuple]]:
    out = {}
    with archive.catalog.reader() as conn:
        for table in (t.records, t.data_keys, t.tree_hashes, t.checkpoints, t.segments):
            out[table.name] = sorted(tuple(r) for r in conn.execute(select(table)))
        cols = [c for c in t.items.c if c.name != "last_seen"]
        out["items"] = sorted(tuple(r) for r in conn.execute(select(*cols)))
    return out


def test_demo_data_archives_every_kind_of_event_and_verifies(archive: Archive) -> None:
    summary = ingest(archive, DEMO)
    assert summary.rejected == []
    assert dict(summary.events) == {"created": 41, "edited": 6, "deleted": 3, "hidden": 2,
                                    "restored": 1, "observed": 2}
    report = verify_archive(archive.appender)
    assert report.ok, report.failures
    assert report.records == 1 + summary.archived  # + the archive.init system record
    assert report.decrypted == report.records


def test_ingesting_the_same_file_twice_archives_nothing_the_second_time(archive: Archive) -> None:
    ingest(archive, DEMO)
    again = ingest(archive, DEMO)
    assert again.archived == 0 and sum(again.events.values()) == 0


def test_identical_observation_writes_nothing_but_moves_last_seen(archive: Archive) -> None:
    ingest(archive, [obs()])
    with archive.catalog.reader() as conn:
        before = conn.execute(select(t.items.c.last_seen)).scalar_one()
    again = ingest(archive, [obs(observed_at="2026-01-02T00:00:00Z")])
    assert again.archived == 0
    with archive.catalog.reader() as conn:
        assert conn.execute(select(t.items.c.last_seen)).scalar_one() >= before
        assert conn.execute(select(t.records.c.seq)).all()[-1].seq == 1


def test_changed_text_is_an_edit_and_both_versions_stay_readable(archive: Archive) -> None:
    first = ingest(archive, [obs(text="Poplave v občini")])
    second = ingest(archive, [obs(text="Poplave v občini: družabnih",
                                  observed_at="2026-01-03T00:00:00Z")])
    assert second.events["edited"] == 1
    old = read_record(archive.appender, first.seqs[0]).payload
    new = read_record(archive.appender, second.seqs[0]).payload
    assert (old["text"], old["event"]) == ("Poplave v občini", "created")
    assert (new["text"], new["event"]) == ("Poplave v občini: družabnih", "edited")


def test_deletion_then_reappearance_is_recorded_as_restored(archive: Archive) -> None:
    ingest(archive, [obs()])
    gone = ingest(archive, [obs(event="deleted", observed_at="2026-01-02T00:00:00Z",
                                raw={"error": "Record not found"})])
    back = ingest(archive, [obs(observed_at="2026-01-03T00:00:00Z")])
    assert gone.events["deleted"] == 1 and back.events["restored"] == 1
    with archive.catalog.reader() as conn:
        item = conn.execute(select(t.items)).one()
    assert item.state == "live" and item.versions == 1


def test_first_sight_long_after_publication_is_observed_not_created(archive: Archive) -> None:
    s = ingest(archive, [obs(published_at="2023-06-14T10:00:00Z")])
    assert s.events["observed"] == 1 and s.events["created"] == 0


def test_bad_lines_are_rejected_with_their_line_number_and_good_lines_archived(
        archive: Archive) -> None:
    data = (json.dumps(obs("1")) + "\n" + "{not json\n" + json.dumps({"platform": "x"}) + "\n"
            + json.dumps(obs("2", text="x" * 20_000)) + "\n" + json.dumps(obs("3")) + "\n")
    summary = ingest(archive, data.encode())
    assert summary.archived == 2
    assert [(e.line, type(e)) for e in summary.rejected] == [
        (2, InvalidObservation), (3, InvalidObservation), (4, InvalidObservation)]
    assert "missing required field 'account'" in summary.rejected[1].reason
    assert "longer than 10000 bytes" in summary.rejected[2].reason
    assert verify_archive(archive.appender).ok


def test_records_are_batched_into_segments_of_the_configured_size(make_archive) -> None:
    archive = make_archive(ARCHIVER_LOG_SEGMENT_MAX_RECORDS="10")
    ingest(archive, [obs(str(i)) for i in range(25)])
    names = archive.store.list("log/")
    assert names == ["log/000000000000-000000000000.jsonl", "log/000000000001-000000000010.jsonl",
                     "log/000000000011-000000000020.jsonl", "log/000000000021-000000000025.jsonl"]
    assert [k.replace("keys/", "log/").replace(".json", ".jsonl")
            for k in archive.store.list("keys/")] == names


def test_rebuild_gives_back_the_same_catalog(archive: Archive) -> None:
    ingest(archive, DEMO)
    before = catalog_dump(archive)
    assert rebuild_catalog(archive.appender) == len(before["records"])
    assert catalog_dump(archive) == before
    assert verify_archive(archive.appender).ok


def test_every_checkpoint_is_kept_and_the_newest_covers_the_log(archive: Archive) -> None:
    ingest(archive, [obs("1")])
    ingest(archive, [obs("2")])
    assert archive.store.list("checkpoints/") == [
        "checkpoints/000000000001", "checkpoints/000000000002", "checkpoints/000000000003"]
    assert archive.store.get("checkpoint") == archive.store.get("checkpoints/000000000003")


def test_payload_keeps_non_ascii_and_the_platform_raw_json_whole(archive: Archive) -> None:
    raw = {"id": "1", "content": "<p>می‌خواهیم</p>", "nested": {"a": [1, 2, {"b": None}]}}
    s = ingest(archive, [obs(text="می‌خواهیم", raw=raw, lang="fa")])
    payload = read_record(archive.appender, s.seqs[0]).payload
    assert payload["raw"] == raw and payload["text"] == "می‌خواهیم"
    assert "\u200c" in payload["text"]
