"""End to end: archive, hold, dispose; held records survive, the rest are unreadable, the
chain and the certificate verify, and an outside verifier still accepts the store."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiver.catalog import schema as t
from archiver.disposal import (
    approve_run,
    create_run,
    execute_run,
    get_run,
    sync_object_holds,
    verify_certificate,
)
from archiver.errors import Conflict, Forbidden, IntegrityError
from archiver.log.envelope import keys_key
from archiver.log.rebuild import rebuild_catalog
from archiver.log.segments import decode_keys
from archiver.log.verify import verify_archive
from archiver.retention_store import release_hold
from archiver.search.engines import open_index
from archiver.search.query import SearchRequest, search
from archiver.wiring import Archive
from tests.retention.conftest import (
    ALICE,
    BOB,
    add_hold,
    add_policy,
    capture_seqs,
    offline_verify,
    readable,
    system_actions,
)


def dispose(archive: Archive) -> dict:
    run = create_run(archive, ALICE)
    approve_run(archive, run["id"], BOB)
    return execute_run(archive, run["id"], BOB)


@pytest.fixture
def disposed(demo: Archive) -> tuple[Archive, dict]:
    """Bluesky and X records due at once; the hold covers X."""
    add_policy(demo, scope={"platforms": ["bluesky", "x"]})
    add_hold(demo, platforms=["x"])
    return demo, dispose(demo)


def test_held_records_survive_and_the_rest_are_unreadable(disposed, tmp_path: Path) -> None:
    archive, run = disposed
    bluesky, x = capture_seqs(archive, platform="bluesky"), capture_seqs(archive, platform="x")
    assert bluesky and x
    assert not any(readable(archive, s) for s in bluesky)
    assert all(readable(archive, s) for s in x)
    assert all(readable(archive, s) for s in capture_seqs(archive, platform="mastodon"))
    assert run["state"] == "done"
    assert run["outcomes"] == {"destroyed": len(bluesky)}
    assert run["preview"]["counts"]["held"] == len(x)


def test_the_chain_and_proofs_verify_after_disposition(disposed, tmp_path: Path) -> None:
    archive, _ = disposed
    report = verify_archive(archive.appender)
    assert report.ok, report.failures
    assert report.destroyed == len(capture_seqs(archive, platform="bluesky"))
    outsider = offline_verify(archive, tmp_path)
    assert outsider.returncode == 0, outsider.stdout[-2000:] + outsider.stderr[-2000:]
    assert '"destroyed": ' in outsider.stdout


def test_the_certificate_lists_every_record_and_verifies(disposed) -> None:
    archive, run = disposed
    cert = run["certificate"]
    vkey = archive.appender.p.signer.vkey()
    assert verify_certificate(cert, vkey)["ok"]
    bluesky = capture_seqs(archive, platform="bluesky")
    assert [r["seq"] for r in cert["records"]] == bluesky
    assert {r["schedule_code"] for r in cert["records"]} == {"GRS 6.4 item 020"}
    assert cert["method"].startswith("cryptographic erase of the data key (NIST SP 800-88")
    assert (cert["created_by"], cert["approved_by"]) == ("alice", "bob")
    assert cert["policies"][0]["authority"] == "DAA-GRS-2016-0005-0002"
    assert cert["date_range"]["captured_from"] <= cert["date_range"]["captured_to"]
    forged = copy.deepcopy(cert)
    forged["records"].pop()
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_certificate(forged, vkey)
    with pytest.raises(IntegrityError, match="another key"):
        verify_certificate(cert, vkey.replace("+", "x+", 1))


def test_the_key_objects_hold_no_destroyed_key_and_no_older_version(disposed) -> None:
    archive, _ = disposed
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(t.records.c.kid, t.records.c.segment_first, t.segments.c.last)
                            .join(t.segments, t.segments.c.first == t.records.c.segment_first)
                            .where(t.records.c.platform == "bluesky")).all()
        assert conn.execute(select(func.count()).select_from(t.data_keys).where(
            t.data_keys.c.kid.in_([r.kid for r in rows]))).scalar_one() == 0
    for r in rows:
        name = keys_key(r.segment_first, r.last)
        assert r.kid not in decode_keys(archive.store.get(name), where=name).keys
        if archive.settings.store.kind == "s3":
            s3 = archive.store
            listing = s3.client().list_object_versions(Bucket=s3.bucket, Prefix=s3.prefix + name)
            assert len(listing.get("Versions", [])) == 1, "an older key object survives"
            assert not listing.get("DeleteMarkers")


def test_destroyed_records_leave_the_search_index(disposed) -> None:
    archive, _ = disposed
    index = open_index(archive.settings)
    try:
        found = search(index, archive, SearchRequest(platforms=("bluesky",), limit=100))
        kept = search(index, archive, SearchRequest(platforms=("x",), limit=100))
    finally:
        index.close()
    assert found.total == 0
    assert kept.total == len(capture_seqs(archive, platform="x"))


def test_each_step_is_a_system_record_in_the_log(disposed) -> None:
    archive, _ = disposed
    actions = system_actions(archive)
    for a in ("policy.created", "hold.placed", "disposition.created", "disposition.approved",
              "key.destroyed", "disposition.executed"):
        assert a in actions
    assert actions.index("disposition.approved") < actions.index("key.destroyed") \
        < actions.index("disposition.executed")


def test_rebuild_gives_back_policies_holds_runs_and_destroyed_state(disposed) -> None:
    archive, run = disposed
    tables = (t.retention_policies, t.retention_policy_versions, t.legal_holds,
              t.legal_hold_events, t.disposition_runs, t.destroyed_records)

    def snapshot() -> dict:
        with archive.catalog.reader() as conn:
            out = {tb.name: conn.execute(select(func.count()).select_from(tb)).scalar_one()
                   for tb in tables}
            out["destroyed"] = sorted(r.seq for r in conn.execute(
                select(t.records.c.seq).where(t.records.c.destroyed_at.is_not(None))))
            out["tomb"] = conn.execute(select(t.destroyed_records.c.platform)).scalars().all()
        return out

    before = snapshot()
    rebuild_catalog(archive.appender)
    assert snapshot() == before
    again = get_run(archive, run["id"])
    assert again["state"] == "done" and again["certificate"] == run["certificate"]
    assert verify_archive(archive.appender).ok


def test_segments_of_held_records_get_an_object_legal_hold_until_released(disposed) -> None:
    archive, _ = disposed
    with archive.catalog.reader() as conn:
        held = {f"log/{r.first:012d}-{r.last:012d}.jsonl" for r in conn.execute(
            select(t.segments.c.first, t.segments.c.last).distinct()
            .join(t.records, t.records.c.segment_first == t.segments.c.first)
            .where(t.records.c.platform == "x"))}
        recorded = set(conn.execute(select(t.object_legal_holds.c.key)).scalars())
    assert held and held <= recorded

    def status(key: str) -> str:
        s3 = archive.store
        answer = s3.client().get_object_legal_hold(Bucket=s3.bucket, Key=s3.prefix + key)
        return answer["LegalHold"]["Status"]

    on_s3 = archive.settings.store.kind == "s3"
    if on_s3:
        assert {status(k) for k in held} == {"ON"}
    with archive.catalog.reader() as conn:
        hold_id = conn.execute(select(t.legal_holds.c.id)).scalar_one()
    release_hold(archive.appender, hold_id, "counsel", "case settled")
    assert sync_object_holds(archive)["released"] == len(recorded)
    with archive.catalog.reader() as conn:
        assert conn.execute(select(func.count()).select_from(t.object_legal_holds)
                            ).scalar_one() == 0
    if on_s3:
        assert {status(k) for k in held} == {"OFF"}


def test_a_hold_placed_after_the_preview_still_wins(demo: Archive) -> None:
    add_policy(demo, scope={"platforms": ["bluesky"]})
    run = create_run(demo, ALICE)
    bluesky = capture_seqs(demo, platform="bluesky")
    assert run["actions"] == {"destroy": len(bluesky)}
    approve_run(demo, run["id"], BOB)
    add_hold(demo, platforms=["bluesky"])
    done = execute_run(demo, run["id"], BOB)
    assert done["outcomes"] == {"held": len(bluesky)}
    assert all(readable(demo, s) for s in bluesky)
    assert done["certificate"]["records"] == []


def test_the_creator_cannot_approve_and_an_unapproved_run_cannot_execute(demo: Archive) -> None:
    add_policy(demo, scope={"platforms": ["bluesky"]})
    run = create_run(demo, ALICE)
    before = system_actions(demo)
    with pytest.raises(Conflict, match="not approved"):
        execute_run(demo, run["id"], BOB)
    with pytest.raises(Forbidden, match="different person"):
        approve_run(demo, run["id"], ALICE)
    assert system_actions(demo) == before
    assert get_run(demo, run["id"])["state"] == "created"
    assert all(readable(demo, s) for s in capture_seqs(demo, platform="bluesky"))


def test_transfer_is_export_then_destroy(demo: Archive, tmp_path: Path) -> None:
    from archiver.disposal import decide_review
    from archiver.errors import ExportRequired
    from archiver.exports.bag import ExportOptions
    from archiver.exports.jobs import create_export, run_export
    from archiver.exports.scope import ExportScope

    add_policy(demo, action="transfer", scope={"platforms": ["bluesky"]})
    bluesky = capture_seqs(demo, platform="bluesky")
    run = create_run(demo, ALICE)
    with pytest.raises(ExportRequired, match="export them first"):
        decide_review(demo, run["id"], bluesky, "destroy", ALICE)
    job = create_export(demo, ExportScope(filters={"platform": ["bluesky"]}),
                        ExportOptions(pdf=False), "alice")
    run_export(demo, job.id, tmp_path / "transfer.zip")
    decide_review(demo, run["id"], bluesky, "destroy", ALICE, export_id=job.id)
    approve_run(demo, run["id"], BOB)
    done = execute_run(demo, run["id"], BOB)
    assert done["outcomes"] == {"destroyed": len(bluesky)}
    assert (tmp_path / "transfer.zip").stat().st_size > 0
    assert not any(readable(demo, s) for s in bluesky)


def test_a_bare_tombstone_keeps_only_the_envelope_even_after_rebuild(demo: Archive) -> None:
    add_policy(demo, scope={"platforms": ["bluesky"]})
    bluesky = capture_seqs(demo, platform="bluesky")
    run = create_run(demo, ALICE, tombstone="bare")
    approve_run(demo, run["id"], BOB)
    execute_run(demo, run["id"], BOB)

    def remains() -> list[tuple]:
        with demo.catalog.reader() as conn:
            return conn.execute(
                select(t.records.c.platform, t.records.c.account, t.records.c.item_id,
                       t.destroyed_records.c.platform, t.destroyed_records.c.tombstone)
                .join(t.destroyed_records, t.destroyed_records.c.seq == t.records.c.seq)
                .where(t.records.c.seq.in_(bluesky))).all()

    assert remains() == [(None, None, None, None, "bare")] * len(bluesky)
    rebuild_catalog(demo.appender)
    assert remains() == [(None, None, None, None, "bare")] * len(bluesky)
    assert verify_archive(demo.appender).ok
