"""The disposition pipeline: retention decisions -> shred -> de-index -> certify.

A run moves through created -> approved -> executing -> done (or cancelled):

- create computes the due set (`retention.disposition.due`) over the catalog's capture
  records and keeps one row per record to act on, with a preview (counts per policy and
  account, a sample); nothing is destroyed;
- approve must come from a different person (token and name) than the creator;
- execute re-checks policies and holds at that moment (a hold placed after the preview
  wins), destroys each record's data key (`archiver.log.shred`), removes it from the
  search index and issues a signed certificate of destruction. Each record's outcome is
  written as it is reached, so a run interrupted half-way resumes where it stopped.

Every step is also a `system` record (disposition.created / approved / cancelled /
decided / executed, key.destroyed), written in the same writer turn as the catalog rows.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import html
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import Connection, func, select

from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.errors import (
    ArchiveError,
    ConfigError,
    Conflict,
    ExportRequired,
    Forbidden,
    IntegrityError,
    InvalidRequest,
    NotFound,
    ObjectLocked,
)
from archiver.log.appender import Appender
from archiver.log.checkpoint import CheckpointSigner, CheckpointVerifier
from archiver.log.envelope import canonical, parse_line, segment_key
from archiver.log.shred import (
    METHOD,
    TOMBSTONES,
    Destruction,
    apply_destruction,
    destroy_in_catalog,
    purge_store_keys,
)
from archiver.retention_store import (
    Clock,
    checked_actor,
    load_holds,
    load_policies,
    log_system,
    utcnow,
)
from archiver.times import TimeFormatError, format_time, parse_time
from archiver.wiring import Archive
from retention.disposition import Decision, due
from retention.holds import Hold
from retention.policies import Policy, RecordFacts

STATES = ("created", "approved", "executing", "done", "cancelled")
CERTIFICATE_SCHEMA = "certificate-of-destruction/1"
_SIGNING_CONTEXT = b"archiver certificate of destruction v1\n"
_FACTS_MARK = "retention_facts_through"
SAMPLE = 20


def media_key(media_id: str) -> str:
    """The object of a media file (ARCHIVE_FORMAT.md "Objects": `media/<id>`)."""
    return f"media/{media_id}"


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause the cyclic garbage collector while a million small objects are made and
    dropped (facts, decisions): none of them form cycles, and its passes over the growing
    heap would otherwise cost as much as the rules themselves."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- facts: what the rules need of each record -------------------------------------------------


def refresh_facts(appender: Appender, *, batch: int = 5000) -> int:
    """Read the publication time and media references of every capture record beyond the
    high-water mark (they live only in the encrypted payloads); returns how many."""
    r, k, s = t.records.c, t.data_keys.c, t.segments.c
    done = 0
    while True:
        with appender.p.catalog.reader() as conn:
            mark = int(db.get_meta(conn, _FACTS_MARK) or -1)
            head, _ = db.head(conn)
            rows = conn.execute(
                select(r.seq, r.segment_first, r.destroyed_at, k.wrapped, k.kek, s.last)
                .select_from(t.records.outerjoin(t.data_keys, k.kid == r.kid)
                             .join(t.segments, s.first == r.segment_first))
                .where(r.seq > mark, r.type == "capture").order_by(r.seq).limit(batch)).all()
        if not rows:
            if head - 1 > mark:
                with appender.p.catalog.writer() as conn:
                    db.set_meta(conn, _FACTS_MARK, str(head - 1))
            return done
        facts, refs = [], []
        key, lines = None, [b""]
        for row in rows:
            if row.wrapped is None:
                facts.append((row.seq, None))
                continue
            where = segment_key(row.segment_first, row.last)
            if where != key:
                key, lines = where, appender.p.store.get(where).split(b"\n")
            env = parse_line(lines[row.seq - row.segment_first], where=where,
                             expected_seq=row.seq)
            payload = appender.decrypt(env, row.wrapped, row.kek) or {}
            facts.append((row.seq, fixed_time(payload.get("published_at"))))
            for m in payload.get("media") or []:
                obj = m.get("object") if isinstance(m, dict) else None
                if isinstance(obj, str) and obj.startswith("media/"):
                    refs.append((obj[len("media/"):], row.seq))
        with appender.p.catalog.writer() as conn:
            seqs = [f[0] for f in facts]
            conn.execute(t.retention_facts.delete().where(t.retention_facts.c.seq.in_(seqs)))
            db.insert_tuples(conn, t.retention_facts, ("seq", "published_at"), facts)
            conn.execute(t.retention_media_refs.delete()
                         .where(t.retention_media_refs.c.seq.in_(seqs)))
            db.insert_tuples(conn, t.retention_media_refs, ("media_id", "seq"),
                             sorted(set(refs)))
            db.set_meta(conn, _FACTS_MARK, str(rows[-1].seq))
        done += len(rows)


def load_facts(conn: Connection, seqs: Sequence[int] | None = None) -> Iterator[RecordFacts]:
    """The undestroyed capture records (or just `seqs`), as the rules see them."""
    r, f = t.records.c, t.retention_facts.c
    deleted = (select(r.platform, r.item_id, func.min(r.time).label("at"))
               .where(r.event == "deleted").group_by(r.platform, r.item_id).subquery())
    accounts = {(a.platform, a.account): (frozenset(json.loads(a.tags)),
                                          {k: _ts(v) for k, v in json.loads(a.events).items()})
                for a in conn.execute(select(t.retention_accounts))}
    q = (select(r.seq, r.platform, r.account, r.item_id, r.kind, r.event, r.time,
                f.published_at, deleted.c.at)
         .select_from(t.records.outerjoin(t.retention_facts, f.seq == r.seq)
                      .outerjoin(deleted, (deleted.c.platform == r.platform)
                                 & (deleted.c.item_id == r.item_id)))
         .where(r.type == "capture", r.destroyed_at.is_(None)).order_by(r.seq))
    chunks = [None] if seqs is None else [seqs[i:i + 500] for i in range(0, len(seqs), 500)]
    none: tuple[frozenset[str], dict[str, datetime]] = (frozenset(), {})
    for chunk in chunks:
        query = q if chunk is None else q.where(r.seq.in_(chunk))
        for row in conn.execute(query):
            tags, events = accounts.get((row.platform, row.account), none)
            yield RecordFacts(seq=row.seq, platform=row.platform or "",
                              account=row.account or "", kind=row.kind or "",
                              event=row.event or "", item_id=row.item_id or "",
                              captured=datetime.fromisoformat(row.time),
                              published=_ts(row.published_at),
                              deleted_on_platform=_ts(row.at), account_events=events,
                              account_tags=tags)


def fixed_time(value: Any) -> str | None:
    """A payload's RFC 3339 time in the archive's one fixed form; None when absent or bad
    (a platform's malformed date must not stop a run: the rules fall back to capture)."""
    try:
        return format_time(parse_time(value)) if isinstance(value, str) else None
    except TimeFormatError:
        return None


def query_matches(archive: Archive, holds: Iterable[Hold], facts: Sequence[RecordFacts]
                  ) -> dict[str, frozenset[int]]:
    """Evaluate each query hold with the search index. Records the index has not reached
    yet count as matching, so a lagging index can only keep more."""
    wanted = [h for h in holds if h.scope.query]
    if not wanted:
        return {}
    from archiver.search.engines import open_index
    from archiver.search.query import SearchRequest, search

    out: dict[str, frozenset[int]] = {}
    index = open_index(archive.settings)
    try:
        through = index.indexed_through()
        unindexed = {f.seq for f in facts if f.seq > through}
        for h in wanted:
            found: set[int] = set()
            cursor = None
            while True:
                res = search(index, archive, SearchRequest(query=h.scope.query or "",
                                                           sort="oldest", limit=1000,
                                                           cursor=cursor))
                found.update(hit.seq for hit in res.hits)
                cursor = res.next_cursor
                if not cursor:
                    break
            out[h.id] = frozenset(found | unindexed)
    except ArchiveError:
        return {}  # the index cannot answer: every query hold covers its whole scope
    finally:
        index.close()
    return out


# -- runs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: a display name and a stable id (API token id, or `cli:<name>`)."""

    name: str
    id: str

    @classmethod
    def cli(cls, name: str) -> Actor:
        name = checked_actor(name)
        return cls(name, f"cli:{name}")


def run_row(conn: Connection, run_id: str) -> Any:
    row = conn.execute(select(t.disposition_runs)
                       .where(t.disposition_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no disposition run {run_id!r}")
    return row


def _policy_by_id(policies: Iterable[Policy]) -> dict[str, Policy]:
    return {p.id: p for p in policies}


def create_run(archive: Archive, actor: Actor, *, tombstone: str = "metadata",
               clock: Clock = utcnow, sample: int = SAMPLE) -> dict[str, Any]:
    """Compute the due set now and store it as a run awaiting approval; destroys nothing."""
    if tombstone not in TOMBSTONES:
        raise InvalidRequest(f"tombstone must be one of {', '.join(TOMBSTONES)}")
    appender = archive.appender
    refresh_facts(appender)
    now = clock()
    with bulk_work():
        with appender.p.catalog.reader() as conn:
            facts = list(load_facts(conn))
            policies = load_policies(conn)
            holds = load_holds(conn)
        result = due(facts, policies, holds, now, query_matches(archive, holds, facts))
    by_seq = {f.seq: f for f in facts}
    pmap = _policy_by_id(policies)
    acted = sorted(result.destroy + result.review + result.transfer, key=lambda d: d.seq)
    per_policy: Counter[str] = Counter(d.policy_id for d in acted)  # type: ignore[misc]
    per_account: Counter[tuple[str, str]] = Counter(
        (by_seq[d.seq].platform, by_seq[d.seq].account) for d in acted)
    run_id = f"run_{secrets.token_hex(8)}"
    preview = {
        "as_of": format_time(now),
        "counts": {**result.counts(), "uncovered": result.uncovered},
        "by_policy": [{"policy_id": pid, "name": pmap[pid].name,
                       "schedule_code": pmap[pid].schedule_code,
                       "authority": pmap[pid].authority, "action": pmap[pid].action,
                       "records": n} for pid, n in sorted(per_policy.items())],
        "by_account": [{"platform": p, "account": a, "records": n}
                       for (p, a), n in sorted(per_account.items())],
        "overlaps": [{"policies": list(pair), "records": n}
                     for pair, n in sorted(result.overlaps.items())],
        "held": [{"seq": d.seq, "holds": list(d.hold_ids)} for d in result.held[:sample]],
        "sample": [{"seq": d.seq, "action": d.outcome, "policy_id": d.policy_id,
                    "platform": by_seq[d.seq].platform, "account": by_seq[d.seq].account,
                    "item_id": by_seq[d.seq].item_id, "kind": by_seq[d.seq].kind}
                   for d in acted[:sample]],
    }
    items = [(run_id, d.seq, d.outcome, d.policy_id, pmap[d.policy_id or ""].version,
              "pending", None, None, None) for d in acted]
    created = format_time(now)
    with appender.session() as ws:
        seq = log_system(ws, "disposition.created", actor.name, {
            "run_id": run_id, "actor_id": actor.id, "tombstone": tombstone,
            "preview": preview,
            "items": [[d.seq, d.outcome, d.policy_id, pmap[d.policy_id or ""].version]
                      for d in acted]})
        ws.conn.execute(t.disposition_runs.insert().values(
            id=run_id, state="created", as_of=created, tombstone=tombstone,
            created_at=created, created_by=actor.name, creator_id=actor.id,
            preview=json.dumps({**preview, "log_seq": seq}, ensure_ascii=False)))
        db.insert_tuples(ws.conn, t.disposition_items,
                         ("run_id", "seq", "action", "policy_id", "policy_version", "outcome",
                          "decision", "hold_ids", "done_at"), items)
    return get_run(archive, run_id)


def approve_run(archive: Archive, run_id: str, actor: Actor, clock: Clock = utcnow
                ) -> dict[str, Any]:
    """Approve a created run; refused to its creator (two people for every destruction)."""
    with archive.appender.session() as ws:
        row = run_row(ws.conn, run_id)
        if row.state != "created":
            raise Conflict(f"run {run_id} is {row.state}; only a created run can be approved")
        if actor.id == row.creator_id or actor.name.casefold() == row.created_by.casefold():
            raise Forbidden(f"run {run_id} was created by {row.created_by}; a different "
                            f"person must approve it")
        now = format_time(clock())
        log_system(ws, "disposition.approved", actor.name,
                   {"run_id": run_id, "actor_id": actor.id})
        ws.conn.execute(t.disposition_runs.update().where(t.disposition_runs.c.id == run_id)
                        .values(state="approved", approved_at=now, approved_by=actor.name,
                                approver_id=actor.id))
    return get_run(archive, run_id)


def cancel_run(archive: Archive, run_id: str, actor: Actor, clock: Clock = utcnow
               ) -> dict[str, Any]:
    with archive.appender.session() as ws:
        row = run_row(ws.conn, run_id)
        if row.state not in ("created", "approved"):
            raise Conflict(f"run {run_id} is {row.state}; only a created or approved run "
                           f"can be cancelled")
        now = format_time(clock())
        log_system(ws, "disposition.cancelled", actor.name,
                   {"run_id": run_id, "actor_id": actor.id})
        ws.conn.execute(t.disposition_runs.update().where(t.disposition_runs.c.id == run_id)
                        .values(state="cancelled", cancelled_at=now, cancelled_by=actor.name))
    return get_run(archive, run_id)


def decide_review(archive: Archive, run_id: str, seqs: Sequence[int], decision: str,
                  actor: Actor, export_id: str | None = None) -> dict[str, Any]:
    """Record a person's decision (destroy or keep) for records due for review or transfer.

    Transfer is export, then destroy: destroying a record due for transfer needs the
    finished export (`export_id`) whose package held it; otherwise ExportRequired.
    """
    if decision not in ("destroy", "keep"):
        raise InvalidRequest("decision must be destroy or keep")
    if not seqs:
        raise InvalidRequest("name at least one record (seq)")
    wanted = sorted(set(seqs))
    i = t.disposition_items.c
    with archive.catalog.reader() as conn:
        row = run_row(conn, run_id)
        found = {x.seq: x for x in conn.execute(select(i.seq, i.action).where(
            i.run_id == run_id, i.seq.in_(wanted)))}
    if row.state not in ("created", "approved"):
        raise Conflict(f"run {run_id} is {row.state}; decisions are taken before it runs")
    missing = [s for s in wanted if s not in found]
    if missing:
        raise InvalidRequest(f"record(s) {missing[:10]} are not in run {run_id}")
    not_review = [s for s in wanted if found[s].action not in ("review", "transfer")]
    if not_review:
        raise InvalidRequest(f"record(s) {not_review[:10]} are due for destruction, not "
                             f"review or transfer")
    transfer = [s for s in wanted if found[s].action == "transfer"]
    if transfer and decision == "destroy":
        _check_exported(archive, transfer, export_id)
    with archive.appender.session() as ws:
        if run_row(ws.conn, run_id).state not in ("created", "approved"):
            raise Conflict(f"run {run_id} changed state; decide again")
        log_system(ws, "disposition.decided", actor.name,
                   {"run_id": run_id, "actor_id": actor.id, "decision": decision,
                    "seqs": wanted, "export_id": export_id})
        ws.conn.execute(t.disposition_items.update()
                        .where(i.run_id == run_id, i.seq.in_(wanted))
                        .values(decision=decision))
    return get_run(archive, run_id)


def _check_exported(archive: Archive, seqs: Sequence[int], export_id: str | None) -> None:
    """Every record was in the package of a finished export (issue 8): its scope holds it
    and the record was in the log when the export was asked for."""
    if not export_id:
        raise ExportRequired(f"record(s) {list(seqs)[:10]} are due for transfer: export them "
                             f"first (archiver export) and name the finished export")
    from archiver.exports.jobs import get_export
    from archiver.exports.scope import ExportScope, resolve

    job = get_export(archive, export_id)
    if job.state not in ("done", "expired"):
        raise ExportRequired(f"export {export_id} is {job.state}; a transfer needs a "
                             f"finished export")
    exported = {s for s in resolve(archive, ExportScope.from_dict(job.scope)).seqs
                if s < job.created_seq}
    left = [s for s in seqs if s not in exported]
    if left:
        raise ExportRequired(f"record(s) {left[:10]} are not in export {export_id}; export "
                             f"them first")


def execute_run(archive: Archive, run_id: str, actor: Actor, *, clock: Clock = utcnow,
                batch: int = 2000, after_batch: Callable[[int], None] | None = None
                ) -> dict[str, Any]:
    """Carry out an approved run (or finish an interrupted one); returns the run with its
    certificate. Holds and policies are checked again now: held records survive.

    Each batch of `batch` records is one writer turn (catalog, `key.destroyed` record and
    a checkpoint), one rewrite of its key objects and one index commit: fewer, larger
    batches are faster; an interruption loses at most the batch under way, which the
    next execution redoes."""
    appender = archive.appender
    with appender.p.catalog.writer() as conn:
        row = run_row(conn, run_id)
        if row.state in ("created",):
            raise Conflict(f"run {run_id} is not approved; a different person than its "
                           f"creator must approve it first")
        if row.state in ("done", "cancelled"):
            raise Conflict(f"run {run_id} is {row.state}")
        if row.state == "approved":
            conn.execute(t.disposition_runs.update().where(t.disposition_runs.c.id == run_id)
                         .values(state="executing", executed_at=format_time(clock()),
                                 executed_by=actor.name))
        tombstone = row.tombstone
    refresh_facts(appender)
    sync_object_holds(archive, clock)  # WORM legal holds in line before anything goes
    _finish_logged(archive, run_id)  # what an interrupted attempt left half-done
    now = clock()
    i = t.disposition_items.c
    with appender.p.catalog.reader() as conn:
        pending = conn.execute(select(i.seq, i.action, i.decision).where(
            i.run_id == run_id, i.outcome == "pending").order_by(i.seq)).all()
        with bulk_work():
            facts = list(load_facts(conn, [p.seq for p in pending]))
        policies = load_policies(conn)
        holds = load_holds(conn)
    with bulk_work():
        decisions = {d.seq: d for o in ("destroy", "review", "transfer", "held", "kept")
                     for d in due(facts, policies, holds, now,
                                  query_matches(archive, holds, facts)).by_outcome(o)}
    pmap = _policy_by_id(policies)
    published = {f.seq: f.published for f in facts}
    settled: list[dict[str, Any]] = []
    shred: list[tuple[Destruction, Decision]] = []
    for p in pending:
        d = decisions.get(p.seq)
        outcome = _outcome(p.action, p.decision, d)
        if outcome == "destroy" and d is not None:
            pol = pmap[d.policy_id or ""]
            pub = published.get(p.seq)
            shred.append((Destruction(p.seq, pol.id, pol.schedule_code, pol.authority,
                                      format_time(pub) if pub else None), d))
        else:
            settled.append({"b_seq": p.seq, "outcome": outcome,
                            "hold_ids": json.dumps(list(d.hold_ids)) if d and d.hold_ids
                            else None, "done_at": format_time(now)})
    if settled:
        with appender.p.catalog.writer() as conn:
            _update_items(conn, run_id, settled)
    index = _open_index(archive)
    removed: set[int] = set()  # de-indexed by this execution already
    try:
        for k in range(0, len(shred), batch):
            part = shred[k:k + batch]
            with appender.session() as ws:
                stones = destroy_in_catalog(ws, [x[0] for x in part], run_id=run_id,
                                            tombstone=tombstone, actor=actor.name,
                                            now=format_time(clock()))
                _update_items(ws.conn, run_id, [
                    {"b_seq": x[0].seq, "outcome": "destroyed", "hold_ids": None,
                     "done_at": format_time(now), "policy_id": x[0].policy_id,
                     "policy_version": pmap[x[0].policy_id].version} for x in part])
            purge_store_keys(appender, {s["segment_first"] for s in stones})
            if index is not None:
                index.remove([x[0].seq for x in part])
                removed.update(x[0].seq for x in part)
            if after_batch is not None:
                after_batch(k + len(part))
        _finish_logged(archive, run_id, index, removed)
    finally:
        if index is not None:
            index.close()
    return _certify(archive, run_id, actor, clock)


def _outcome(action: str, decision: str | None, d: Decision | None) -> str:
    if d is None:
        return "already_destroyed"
    if d.outcome == "held":
        return "held"
    if d.outcome == "kept":
        return "kept"
    if d.outcome == "transfer" or action == "transfer":
        return "destroy" if decision == "destroy" else "export_required"
    if d.outcome == "review" or action == "review":
        return {"destroy": "destroy", "keep": "kept"}.get(decision or "", "awaiting_review")
    return "destroy"


def _update_items(conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import bindparam

    i = t.disposition_items.c
    cols = [c for c in rows[0] if not c.startswith("b_")]
    conn.execute(t.disposition_items.update()
                 .where(i.run_id == run_id, i.seq == bindparam("b_seq"))
                 .values({c: bindparam(c) for c in cols}), rows)


def _open_index(archive: Archive) -> Any:
    from archiver.search.engines import open_index

    try:
        return open_index(archive.settings)
    except ConfigError:
        return None


def _logged(appender: Appender, action: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(seq, time, details) of every system record of this action, in log order."""
    from archiver.log.reader import read_record

    with appender.p.catalog.reader() as conn:
        seqs = [r.seq for r in conn.execute(select(t.records.c.seq).where(
            t.records.c.type == "system", t.records.c.action == action)
            .order_by(t.records.c.seq))]
    for seq in seqs:
        rec = read_record(appender, seq)
        if rec.payload is not None:
            yield seq, rec.envelope.time, rec.payload.get("details") or {}


def _finish_logged(archive: Archive, run_id: str, index: Any = None,
                   removed: set[int] | None = None) -> None:
    """Finish what every logged `key.destroyed` of this run asked: key objects purged and
    documents out of the index. Idempotent; this is how an interrupted run resumes."""
    appender = archive.appender
    segments: set[int] = set()
    seqs: list[int] = []
    shredded_media: set[str] = set()
    with appender.p.catalog.reader() as conn:
        for row in conn.execute(select(t.destroyed_records.c.seq, t.records.c.segment_first)
                                .join(t.records, t.records.c.seq == t.destroyed_records.c.seq)
                                .where(t.destroyed_records.c.run_id == run_id)):
            segments.add(row.segment_first)
            seqs.append(row.seq)
    for log_seq, time, details in _logged(appender, "key.destroyed"):
        if details.get("run_id") != run_id:
            continue
        stones = details.get("records") or []
        media = [(m["id"], m["seq"]) for m in details.get("media") or []]
        # A crash after the record reached the store but before the catalog committed:
        # start-up adopted the record; apply it instead of destroying (and logging) again.
        with appender.p.catalog.writer() as conn:
            known = {x.seq for x in conn.execute(select(t.destroyed_records.c.seq).where(
                t.destroyed_records.c.seq.in_([s["seq"] for s in stones])))}
            todo = [s for s in stones if s["seq"] not in known]
            if todo:
                apply_destruction(conn, todo, media, run_id=run_id,
                                  tombstone=details.get("tombstone", "metadata"), now=time,
                                  log_seq=log_seq)
                _update_items(conn, run_id, [
                    {"b_seq": s["seq"], "outcome": "destroyed", "hold_ids": None,
                     "done_at": time} for s in todo])
        segments.update(s["segment_first"] for s in stones)
        shredded_media.update(m for m, _ in media)
        seqs.extend(s["seq"] for s in todo)
        media_seqs = [m for _, m in media]
        if media_seqs:
            with appender.p.catalog.reader() as conn:
                segments.update(x.segment_first for x in conn.execute(
                    select(t.records.c.segment_first).where(t.records.c.seq.in_(media_seqs))))
    if segments:
        purge_store_keys(appender, segments)
    for media_id in sorted(shredded_media):  # after the keys: never a key without its blob
        # A WORM store refuses until the blob's retention date; its key is gone already.
        with suppress(ObjectLocked):
            appender.p.store.delete(media_key(media_id))
    seqs = [s for s in seqs if s not in (removed or set())]
    if seqs:
        own = index is None
        index = index or _open_index(archive)
        if index is not None:
            try:
                index.remove(seqs)
            finally:
                if own:
                    index.close()


def _certify(archive: Archive, run_id: str, actor: Actor, clock: Clock) -> dict[str, Any]:
    appender = archive.appender
    i, d = t.disposition_items.c, t.destroyed_records.c
    with appender.p.catalog.reader() as conn:
        run = run_row(conn, run_id)
        if run.state == "done":
            return get_run(archive, run_id)
        outcomes = dict(conn.execute(select(i.outcome, func.count()).where(i.run_id == run_id)
                                     .group_by(i.outcome)).all())
        stones = conn.execute(select(t.destroyed_records).where(d.run_id == run_id)
                              .order_by(d.seq)).all()
        policies = {p.id: p for p in load_policies(conn, include_retired=True)}
    finished = format_time(clock())
    cert = build_certificate(run, stones, policies, outcomes, archive.appender.p.signer.name,
                             finished)
    signed = sign_certificate(cert, appender.p.signer)
    digest = hashlib.sha256(canonical(signed)).hexdigest()
    with appender.session() as ws:
        if run_row(ws.conn, run_id).state == "done":
            return get_run(archive, run_id)
        log_system(ws, "disposition.executed", actor.name, {
            "run_id": run_id, "actor_id": actor.id, "counts": signed["counts"],
            "certificate_sha256": digest, "certificate": signed})
        ws.conn.execute(t.disposition_runs.update().where(t.disposition_runs.c.id == run_id)
                        .values(state="done", finished_at=finished,
                                certificate=json.dumps(signed, ensure_ascii=False)))
    return get_run(archive, run_id)


def get_run(archive: Archive, run_id: str, *, items: bool = False) -> dict[str, Any]:
    i = t.disposition_items.c
    with archive.catalog.reader() as conn:
        row = run_row(conn, run_id)
        outcomes = dict(conn.execute(select(i.outcome, func.count()).where(i.run_id == run_id)
                                     .group_by(i.outcome)).all())
        actions = dict(conn.execute(select(i.action, func.count()).where(i.run_id == run_id)
                                    .group_by(i.action)).all())
        out = run_out(row, outcomes, actions)
        if items:
            out["items"] = [{"seq": x.seq, "action": x.action, "policy_id": x.policy_id,
                             "outcome": x.outcome, "decision": x.decision,
                             "hold_ids": json.loads(x.hold_ids) if x.hold_ids else []}
                            for x in conn.execute(select(t.disposition_items)
                                                  .where(i.run_id == run_id).order_by(i.seq))]
    return out


def run_out(row: Any, outcomes: Mapping[str, int], actions: Mapping[str, int]
            ) -> dict[str, Any]:
    return {"id": row.id, "state": row.state, "as_of": row.as_of, "tombstone": row.tombstone,
            "created_at": row.created_at, "created_by": row.created_by,
            "approved_at": row.approved_at, "approved_by": row.approved_by,
            "executed_at": row.executed_at, "executed_by": row.executed_by,
            "finished_at": row.finished_at, "cancelled_at": row.cancelled_at,
            "cancelled_by": row.cancelled_by, "preview": json.loads(row.preview),
            "actions": dict(actions), "outcomes": dict(outcomes),
            "certificate": json.loads(row.certificate) if row.certificate else None}


def list_runs(archive: Archive) -> list[dict[str, Any]]:
    with archive.catalog.reader() as conn:
        ids = [r.id for r in conn.execute(select(t.disposition_runs.c.id)
                                          .order_by(t.disposition_runs.c.created_at))]
    return [get_run(archive, x) for x in ids]


# -- object legal holds ------------------------------------------------------------------------


def sync_object_holds(archive: Archive, clock: Clock = utcnow) -> dict[str, int]:
    """Put an S3 object legal hold on every segment (and media object) holding a record
    under an active hold, and lift it where no hold covers any of its records any more.
    The catalog keeps the set (`object_legal_holds`); a no-op hold on a filesystem store."""
    appender = archive.appender
    now = clock()
    with appender.p.catalog.reader() as conn:
        holds = [h for h in load_holds(conn) if h.active(now)]
        facts = list(load_facts(conn)) if holds else []
        matches = query_matches(archive, holds, facts) if holds else {}
        covered = [f.seq for f in facts
                   if any(h.covers(f, matches.get(h.id)) for h in holds)]
        wanted: set[str] = set()
        for k in range(0, len(covered), 500):
            chunk = covered[k:k + 500]
            seg = t.segments.c
            for row in conn.execute(select(seg.first, seg.last)
                                    .join(t.records, t.records.c.segment_first == seg.first)
                                    .where(t.records.c.seq.in_(chunk)).distinct()):
                wanted.add(segment_key(row.first, row.last))
            for row in conn.execute(select(t.retention_media_refs.c.media_id)
                                    .where(t.retention_media_refs.c.seq.in_(chunk))):
                wanted.add(media_key(row.media_id))
        present = {r.key for r in conn.execute(select(t.object_legal_holds.c.key))}
    store = appender.p.store
    placed = released = 0
    for key in sorted(wanted - present):
        store.set_legal_hold(key, True)
        placed += 1
    for key in sorted(present - wanted):
        store.set_legal_hold(key, False)
        released += 1
    if placed or released:
        with appender.p.catalog.writer() as conn:
            if present - wanted:
                conn.execute(t.object_legal_holds.delete()
                             .where(t.object_legal_holds.c.key.in_(sorted(present - wanted))))
            db.insert_tuples(conn, t.object_legal_holds, ("key", "since"),
                             [(k, format_time(now)) for k in sorted(wanted - present)])
    return {"objects_held": len(wanted), "placed": placed, "released": released}


# -- certificates of destruction -------------------------------------------------------------


def build_certificate(run: Any, stones: Sequence[Any], policies: Mapping[str, Policy],
                      outcomes: Mapping[str, int], origin: str, issued_at: str
                      ) -> dict[str, Any]:
    """The fields public bodies' destruction certificates carry: what (each record's seq
    and hash), under which authority, how, the date range and counts, who, when."""
    used = sorted({s.policy_id for s in stones})
    captured = [s.captured_at for s in stones if s.captured_at]
    published = [s.published_at for s in stones if s.published_at]
    return {
        "schema": CERTIFICATE_SCHEMA,
        "title": "Certificate of destruction",
        "archive": origin,
        "run_id": run.id,
        "method": METHOD,
        "method_note": "Each record was encrypted with its own AES-256-GCM data key; every "
                       "copy of that key (catalog and store, older object versions "
                       "included) was deleted. The encrypted envelope remains in the "
                       "hash-chained log, so the log still verifies; its content cannot "
                       "be recovered.",
        "tombstone": run.tombstone,
        "created_by": run.created_by, "created_at": run.created_at,
        "approved_by": run.approved_by, "approved_at": run.approved_at,
        "executed_by": run.executed_by, "executed_at": run.executed_at,
        "issued_at": issued_at,
        "date_range": {"captured_from": min(captured, default=None),
                       "captured_to": max(captured, default=None),
                       "published_from": min(published, default=None),
                       "published_to": max(published, default=None)},
        "counts": {"destroyed": len(stones), "outcomes": dict(sorted(outcomes.items())),
                   "by_policy": dict(Counter(s.policy_id for s in stones))},
        "policies": [{"id": pid, "name": policies[pid].name if pid in policies else None,
                      "schedule_code": policies[pid].schedule_code if pid in policies
                      else None,
                      "authority": policies[pid].authority if pid in policies else None,
                      "version": policies[pid].version if pid in policies else None}
                     for pid in used],
        "records": [{"seq": s.seq, "record_hash": s.record_hash.hex(),
                     "policy_id": s.policy_id, "schedule_code": s.schedule_code,
                     "authority": s.authority, "destroyed_at": s.destroyed_at,
                     "log_seq": s.log_seq}
                    for s in stones],
    }


def _signed_message(doc: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    # A fixed context line keeps these signatures from ever reading as checkpoints.
    return _SIGNING_CONTEXT + hashlib.sha256(canonical(body)).hexdigest().encode() + b"\n"


def sign_certificate(doc: Mapping[str, Any], signer: CheckpointSigner) -> dict[str, Any]:
    """Sign with the archive's Ed25519 key (the checkpoint key; its verifier key is
    published as `archiver log vkey`)."""
    sig = signer._private.sign(_signed_message(doc))  # noqa: SLF001 - the same key, new context
    return {**doc, "signature": {"alg": "Ed25519", "vkey": signer.vkey(),
                                 "context": _SIGNING_CONTEXT.decode().strip(),
                                 "value": base64.b64encode(sig).decode()}}


def verify_certificate(doc: Any, vkey: str | None = None) -> dict[str, Any]:
    """Check a certificate's signature offline; IntegrityError says what is wrong. With
    `vkey` (the archive's published verifier key) the signer must be that key."""
    if not isinstance(doc, dict) or doc.get("schema") != CERTIFICATE_SCHEMA:
        raise IntegrityError(f"not a {CERTIFICATE_SCHEMA} document", where="certificate")
    sig = doc.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != "Ed25519" \
            or not isinstance(sig.get("vkey"), str) or not isinstance(sig.get("value"), str):
        raise IntegrityError("certificate has no Ed25519 signature", where="certificate")
    if vkey is not None and vkey.strip() != sig["vkey"]:
        raise IntegrityError("certificate is signed by another key than the one given",
                             where="certificate")
    try:
        verifier = CheckpointVerifier.from_vkey(sig["vkey"])
        raw = base64.b64decode(sig["value"], validate=True)
        verifier.public.verify(raw, _signed_message(doc))
    except (ConfigError, ValueError, InvalidSignature):
        raise IntegrityError("certificate signature does not verify (altered or forged)",
                             where="certificate") from None
    return {"ok": True, "run_id": doc.get("run_id"), "archive": doc.get("archive"),
            "records": len(doc.get("records") or []), "signed_by": sig["vkey"],
            "key_given": vkey is not None}


_CSS = ("body{font-family:serif;max-width:60em;margin:2em auto}"
        "td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}"
        "table{border-collapse:collapse}code{font-size:.8em}")


def render_certificate_html(doc: Mapping[str, Any]) -> str:
    """A human-readable rendering of a signed certificate (the JSON is authoritative)."""
    e = html.escape
    rng = doc.get("date_range") or {}
    rows = "\n".join(
        f"<tr><td>{r['seq']}</td><td><code>{e(r['record_hash'])}</code></td>"
        f"<td>{e(str(r['schedule_code']))}</td><td>{e(str(r['authority']))}</td>"
        f"<td>{e(str(r['destroyed_at']))}</td></tr>" for r in doc.get("records") or [])
    pols = "\n".join(f"<li>{e(str(p['name']))} — {e(str(p['schedule_code']))} "
                     f"({e(str(p['authority']))}), version {p['version']}</li>"
                     for p in doc.get("policies") or [])
    sig = doc.get("signature") or {}
    fields = [("Archive", doc.get("archive")), ("Run", doc.get("run_id")),
              ("Method", doc.get("method")), ("Records destroyed",
                                                (doc.get("counts") or {}).get("destroyed")),
              ("Captured between", f"{rng.get('captured_from')} and {rng.get('captured_to')}"),
              ("Published between",
               f"{rng.get('published_from')} and {rng.get('published_to')}"),
              ("Created by", f"{doc.get('created_by')} at {doc.get('created_at')}"),
              ("Approved by", f"{doc.get('approved_by')} at {doc.get('approved_at')}"),
              ("Executed by", f"{doc.get('executed_by')} at {doc.get('executed_at')}"),
              ("Issued", doc.get("issued_at")), ("Tombstone kept", doc.get("tombstone")),
              ("Signed by (Ed25519 verifier key)", sig.get("vkey"))]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in fields)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Certificate of destruction {e(str(doc.get('run_id')))}</title>
<style>{_CSS}</style>
</head><body>
<h1>Certificate of destruction</h1>
<table>{table}</table>
<h2>Authorities</h2><ul>{pols}</ul>
<p>{e(str(doc.get('method_note')))}</p>
<h2>Records</h2>
<table><tr><th>seq</th><th>record hash (SHA-256 leaf hash of the envelope)</th>
<th>schedule</th><th>authority</th><th>destroyed</th></tr>
{rows}</table>
<p>The signed JSON certificate is authoritative; check it with
<code>archiver retention certificate verify FILE --vkey VKEY</code>.</p>
</body></html>
"""
