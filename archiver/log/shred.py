"""Crypto-shredding: destroy records by destroying their data keys (NIST SP 800-88 Rev. 1
"cryptographic erase"); the envelopes stay, so the chain and every proof still verify.

Two steps, in this order, each idempotent, so an interrupted disposition is finished by
running it again and nothing is destroyed twice:

1. `destroy_in_catalog`, in one turn of the single writer: delete the wrapped keys from
   `data_keys`, mark the records destroyed, keep a metadata-only tombstone (or a bare one),
   clear the items' keyed fingerprints, and append a `key.destroyed` system record; all
   of it commits together. From here on no code path can read the records.
2. `purge_store_keys`: rewrite each affected `keys/<first>-<last>.json` without the
   destroyed kids and purge every older version of it (`ObjectStore.replace`), so no copy
   of a wrapped key survives on the store (ARCHIVE_FORMAT.md, "Wrapped data keys").

A crash between 1 and 2 leaves key objects that still hold kids the catalog calls
destroyed: `archiver verify` and `archiver-verify` accept that (a key present is never an
error), and step 2, run again, removes them. The reverse order would leave kids missing
for records the catalog calls live, which verification rightly rejects.

Media: a media file's data key sits in the key object of the segment of the record that
first stored it (`media` table). Shredding a record shreds the media files that no record
outside the destroyed set still names (`media_only_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, inspect, select

from archiver.catalog import schema as t
from archiver.errors import IntegrityError, ObjectNotFound
from archiver.log.appender import Appender, WriteSession
from archiver.log.envelope import keys_key
from archiver.log.segments import decode_keys, encode_keys
from archiver.records import PendingRecord

METHOD = "cryptographic erase of the data key (NIST SP 800-88 Rev. 1)"
TOMBSTONES = ("metadata", "bare")
_CHUNK = 500


@dataclass(frozen=True)
class Destruction:
    """Why one record is destroyed: the run, and the policy and schedule that allow it."""

    seq: int
    policy_id: str
    schedule_code: str
    authority: str
    published_at: str | None = None


def _chunks(values: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


def has_table(conn: Connection, name: str) -> bool:
    return inspect(conn).has_table(name)


def media_only_of(conn: Connection, seqs: Sequence[int]) -> list[tuple[str, int]]:
    """Media files named by these records and by no other undestroyed record:
    (media id, seq of the record whose key object holds its key)."""
    if not seqs or getattr(t, "media", None) is None or not has_table(conn, "media"):
        return []
    refs = t.retention_media_refs.c
    named: set[str] = set()
    for chunk in _chunks(list(seqs)):
        named.update(r.media_id for r in conn.execute(
            select(refs.media_id).where(refs.seq.in_(chunk))))
    if not named:
        return []
    doomed = set(seqs)
    out: list[tuple[str, int]] = []
    for chunk in _chunks(sorted(named)):
        others = conn.execute(
            select(refs.media_id, refs.seq)
            .select_from(t.retention_media_refs.join(t.records, t.records.c.seq == refs.seq))
            .where(refs.media_id.in_(chunk), t.records.c.destroyed_at.is_(None))).all()
        still = {r.media_id for r in others if r.seq not in doomed}
        media = t.media.c  # type: ignore[attr-defined]
        for row in conn.execute(select(media.id, media.seq).where(media.id.in_(chunk))):
            if row.id not in still:
                out.append((row.id, row.seq))
    return out


def destroy_in_catalog(ws: WriteSession, reasons: Sequence[Destruction], *, run_id: str,
                       tombstone: str, actor: str, now: str) -> list[dict[str, Any]]:
    """Step 1 (see the module doc) for records not destroyed yet; returns their tombstones.

    Records already destroyed are skipped, so a repeated call changes nothing.
    """
    if tombstone not in TOMBSTONES:
        raise ValueError(f"tombstone must be one of {TOMBSTONES}")
    conn = ws.conn
    r = t.records.c
    by_seq = {d.seq: d for d in reasons}
    rows = []
    for chunk in _chunks(sorted(by_seq)):
        rows.extend(conn.execute(select(r.seq, r.time, r.type, r.kid, r.record_hash,
                                        r.segment_first, r.platform, r.account, r.item_id,
                                        r.kind, r.event)
                                 .where(r.seq.in_(chunk), r.destroyed_at.is_(None))))
    for row in rows:
        if row.type != "capture":
            raise IntegrityError("only capture records are disposed of; system records are "
                                 "the archive's legal history", row.seq)
    if not rows:
        return []
    seqs = [row.seq for row in rows]
    media = media_only_of(conn, seqs)
    tombstones = []
    for row in rows:
        d = by_seq[row.seq]
        stone: dict[str, Any] = {"seq": row.seq, "record_hash": row.record_hash.hex(),
                                 "kid": row.kid, "segment_first": row.segment_first,
                                 "policy_id": d.policy_id, "schedule_code": d.schedule_code,
                                 "authority": d.authority}
        if tombstone == "metadata":
            stone.update(platform=row.platform, account=row.account, item_id=row.item_id,
                         kind=row.kind, event=row.event, captured_at=row.time,
                         published_at=d.published_at)
        tombstones.append(stone)
    seq = ws.append([PendingRecord("system", {
        "schema": "system/1", "action": "key.destroyed", "actor": actor,
        "details": {"run_id": run_id, "method": METHOD, "tombstone": tombstone,
                    "records": tombstones,
                    "media": [{"id": m, "seq": s} for m, s in media]}})])[0]
    apply_destruction(conn, tombstones, media, run_id=run_id, tombstone=tombstone, now=now,
                      log_seq=seq)
    return tombstones


def apply_destruction(conn: Connection, tombstones: Sequence[Mapping[str, Any]],
                      media: Sequence[tuple[str, int]], *, run_id: str, tombstone: str,
                      now: str, log_seq: int) -> None:
    """The catalog side of a `key.destroyed` record (also used by `archiver rebuild`)."""
    r = t.records.c
    seqs = [s["seq"] for s in tombstones]
    kids = [s["kid"] for s in tombstones] + [m for m, _ in media]
    for chunk in _chunks(kids):
        conn.execute(t.data_keys.delete().where(t.data_keys.c.kid.in_(chunk)))
    gone: dict[str, Any] = {"destroyed_at": now}
    if tombstone == "bare":
        gone.update(platform=None, account=None, item_id=None, kind=None, event=None)
    items = {(s["platform"], s["item_id"]) for s in tombstones if s.get("platform")}
    if tombstone == "bare":
        for chunk in _chunks(seqs):
            items.update((x.platform, x.item_id) for x in conn.execute(
                select(r.platform, r.item_id).where(r.seq.in_(chunk), r.platform.is_not(None))))
    for chunk in _chunks(seqs):
        conn.execute(t.records.update().where(r.seq.in_(chunk)).values(**gone))
    if items:
        # The keyed fingerprint is derived from the content: it goes with it.
        conn.execute(t.items.update()
                     .where(and_(t.items.c.platform == bindparam("b_p"),
                                 t.items.c.item_id == bindparam("b_i")))
                     .values(fingerprint=None),
                     [{"b_p": p, "b_i": i} for p, i in items])
    media_table = getattr(t, "media", None)
    if media and media_table is not None and has_table(conn, "media"):
        for chunk in _chunks([m for m, _ in media]):
            # A later capture of the same file must store it afresh, not point at a blob
            # nobody can read any more.
            conn.execute(media_table.delete().where(media_table.c.id.in_(chunk)))
    existing = set()
    for chunk in _chunks(seqs):
        existing.update(x.seq for x in conn.execute(
            select(t.destroyed_records.c.seq).where(t.destroyed_records.c.seq.in_(chunk))))
    rows = [{"seq": s["seq"], "run_id": run_id, "destroyed_at": now,
             "record_hash": bytes.fromhex(s["record_hash"]), "tombstone": tombstone,
             "platform": s.get("platform"), "account": s.get("account"),
             "item_id": s.get("item_id"), "kind": s.get("kind"), "event": s.get("event"),
             "captured_at": s.get("captured_at"), "published_at": s.get("published_at"),
             "policy_id": s["policy_id"], "schedule_code": s["schedule_code"],
             "authority": s["authority"], "log_seq": log_seq}
            for s in tombstones if s["seq"] not in existing]
    if rows:
        conn.execute(t.destroyed_records.insert(), rows)


def purge_store_keys(appender: Appender, segment_firsts: Iterable[int]) -> int:
    """Step 2: rewrite these segments' key objects without every kid the catalog calls
    destroyed, purging older versions; returns how many key objects were rewritten."""
    store = appender.p.store
    rewritten = 0
    with appender.p.catalog.reader() as conn:
        plan: list[tuple[int, int, set[str]]] = []
        for first in sorted(set(segment_firsts)):
            last = conn.execute(select(t.segments.c.last)
                                .where(t.segments.c.first == first)).scalar_one_or_none()
            if last is None:
                raise IntegrityError("no segment starts here", first, "catalog")
            live = {row.kid for row in conn.execute(
                select(t.data_keys.c.kid).where(t.data_keys.c.segment_first == first))}
            plan.append((first, last, live))
    for first, last, live in plan:
        name = keys_key(first, last)
        try:
            doc = decode_keys(store.get(name), where=name)
        except ObjectNotFound:
            raise IntegrityError("segment has no key object", first, name) from None
        with appender.p.catalog.reader() as conn:
            destroyed = _destroyed_kids(conn, first, set(doc.keys) - live)
        if not destroyed:
            continue
        keep = {k: v for k, v in doc.keys.items() if k not in destroyed}
        store.replace(name, encode_keys(doc.kek, doc.alg, keep))
        rewritten += 1
    return rewritten


def _destroyed_kids(conn: Connection, first: int, candidates: set[str]) -> set[str]:
    """Of kids in a key object but not in `data_keys`, those the catalog says are
    destroyed: a record's kid marked destroyed, or a media id shredded by a run. Anything
    else (a key the catalog has not caught up with) is left alone."""
    if not candidates:
        return set()
    r = t.records.c
    out: set[str] = set()
    for chunk in _chunks(sorted(candidates)):
        out.update(x.kid for x in conn.execute(select(r.kid).where(
            r.segment_first == first, r.kid.in_(chunk), r.destroyed_at.is_not(None))))
    media_ids = candidates - out
    if media_ids:
        out.update(destroyed_media(conn, media_ids))
    return out


def destroyed_media(conn: Connection, media_ids: set[str]) -> set[str]:
    """Of these media ids, those shredded: named by a destroyed record and no longer in
    the `media` table (`apply_destruction` deletes the row with the key)."""
    refs = t.retention_media_refs.c
    out: set[str] = set()
    for chunk in _chunks(sorted(media_ids)):
        named = {x.media_id for x in conn.execute(
            select(refs.media_id)
            .select_from(t.retention_media_refs.join(t.records, t.records.c.seq == refs.seq))
            .where(refs.media_id.in_(chunk), t.records.c.destroyed_at.is_not(None)))}
        media_table = getattr(t, "media", None)
        if media_table is not None and has_table(conn, "media"):
            present = {x.id for x in conn.execute(
                select(media_table.c.id).where(media_table.c.id.in_(chunk)))}
            named -= present
        out |= named
    return out


# -- rebuild: the legal history from the log ---------------------------------------------------

LEGAL_ACTIONS = ("policy.created", "policy.changed", "policy.retired", "hold.placed",
                 "hold.changed", "hold.released", "account.retention", "disposition.created",
                 "disposition.approved", "disposition.cancelled", "disposition.decided",
                 "disposition.executed", "key.destroyed")
_LEGAL_TABLES = ("retention_policies", "retention_policy_versions", "legal_holds",
                 "legal_hold_events", "disposition_runs", "disposition_items",
                 "destroyed_records", "retention_facts", "retention_media_refs",
                 "retention_accounts", "object_legal_holds")


def replay_legal_history(appender: Appender, conn: Connection) -> int:
    """Refill the retention tables from the log's system records, in the caller's
    (`archiver rebuild`) transaction: policies and their versions, holds and their
    history, disposition runs and per-record outcomes, tombstones and destroyed state.
    Returns the number of records replayed."""
    import json

    from archiver.catalog import db
    from archiver.log.envelope import parse_line, segment_key

    for name in _LEGAL_TABLES:
        conn.execute(getattr(t, name).delete())
    conn.execute(t.meta.delete().where(t.meta.c.key == "retention_facts_through"))
    r, k, s = t.records.c, t.data_keys.c, t.segments.c
    rows = conn.execute(select(r.seq, r.segment_first, r.action, k.wrapped, k.kek, s.last)
                        .select_from(t.records.join(t.data_keys, k.kid == r.kid)
                                     .join(t.segments, s.first == r.segment_first))
                        .where(r.type == "system", r.action.in_(LEGAL_ACTIONS))
                        .order_by(r.seq)).all()
    cache: tuple[str, list[bytes]] | None = None
    for row in rows:
        where = segment_key(row.segment_first, row.last)
        if cache is None or cache[0] != where:
            cache = (where, appender.p.store.get(where).split(b"\n"))
        env = parse_line(cache[1][row.seq - row.segment_first], where=where,
                         expected_seq=row.seq)
        payload = appender.decrypt(env, row.wrapped, row.kek) or {}
        _replay_one(conn, row.seq, env.time, payload.get("action"),
                    payload.get("actor") or "", payload.get("details") or {}, json, db)
    return len(rows)


def _replay_one(conn: Connection, seq: int, time: str, action: str | None, actor: str,
                d: Mapping[str, Any], json: Any, db: Any) -> None:
    dumps = lambda x: json.dumps(x, ensure_ascii=False, sort_keys=True,  # noqa: E731
                                 separators=(",", ":"))
    if action and action.startswith("policy."):
        p = d["policy"]
        change = action.split(".", 1)[1]
        values = {"version": p["version"], "name": p["name"],
                  "schedule_code": p["schedule_code"], "authority": p["authority"],
                  "doc": dumps(p), "updated_at": time,
                  "retired_at": time if change == "retired" else None}
        if change == "created":
            conn.execute(t.retention_policies.insert().values(
                id=p["id"], created_at=time, created_by=actor, **values))
        else:
            conn.execute(t.retention_policies.update()
                         .where(t.retention_policies.c.id == p["id"]).values(**values))
        conn.execute(t.retention_policy_versions.insert().values(
            policy_id=p["id"], version=p["version"], change=change, doc=dumps(p), time=time,
            actor=actor, log_seq=seq))
    elif action and action.startswith("hold."):
        h = dict(d["hold"])
        change = action.split(".", 1)[1]
        if "release_reason" in d:
            h["release_reason"] = d["release_reason"]
        values = {"version": h["version"], "matter_name": h["matter_name"],
                  "matter_number": h["matter_number"], "doc": dumps(h),
                  "released_at": time if change == "released" else None,
                  "released_by": h.get("released_by")}
        if change == "placed":
            conn.execute(t.legal_holds.insert().values(id=h["id"], placed_at=time,
                                                       placed_by=h["placed_by"], **values))
        else:
            conn.execute(t.legal_holds.update().where(t.legal_holds.c.id == h["id"])
                         .values(**values))
        conn.execute(t.legal_hold_events.insert().values(
            hold_id=h["id"], version=h["version"], change=change, doc=dumps(h), time=time,
            actor=actor, log_seq=seq))
    elif action == "account.retention":
        a = t.retention_accounts.c
        conn.execute(t.retention_accounts.delete().where(
            a.platform == d["platform"], a.account == d["account"]))
        conn.execute(t.retention_accounts.insert().values(
            platform=d["platform"], account=d["account"], tags=dumps(d["tags"]),
            events=dumps(d["events"])))
    elif action == "disposition.created":
        run_id = d["run_id"]
        conn.execute(t.disposition_runs.insert().values(
            id=run_id, state="created", as_of=d["preview"]["as_of"], tombstone=d["tombstone"],
            created_at=time, created_by=actor, creator_id=d["actor_id"],
            preview=json.dumps({**d["preview"], "log_seq": seq}, ensure_ascii=False)))
        db.insert_tuples(conn, t.disposition_items,
                         ("run_id", "seq", "action", "policy_id", "policy_version", "outcome"),
                         [(run_id, x[0], x[1], x[2], x[3], "pending") for x in d["items"]])
    elif action and action.startswith("disposition."):
        run = t.disposition_runs.c
        where = run.id == d["run_id"]
        if action == "disposition.approved":
            conn.execute(t.disposition_runs.update().where(where).values(
                state="approved", approved_at=time, approved_by=actor,
                approver_id=d["actor_id"]))
        elif action == "disposition.cancelled":
            conn.execute(t.disposition_runs.update().where(where).values(
                state="cancelled", cancelled_at=time, cancelled_by=actor))
        elif action == "disposition.decided":
            i = t.disposition_items.c
            conn.execute(t.disposition_items.update().where(
                i.run_id == d["run_id"], i.seq.in_(d["seqs"])).values(decision=d["decision"]))
        elif action == "disposition.executed":
            cert = d["certificate"]
            i = t.disposition_items.c
            # Outcomes other than `destroyed` (held, kept, awaiting review, export
            # required) are counted in the certificate, not logged one by one.
            conn.execute(t.disposition_runs.update().where(where).values(
                state="done", executed_by=cert.get("executed_by"),
                executed_at=cert.get("executed_at"), finished_at=cert.get("issued_at"),
                certificate=json.dumps(cert, ensure_ascii=False)))
            conn.execute(t.disposition_items.update().where(
                i.run_id == d["run_id"], i.outcome == "pending").values(outcome="settled"))
    elif action == "key.destroyed":
        stones = d.get("records") or []
        apply_destruction(conn, stones, [(m["id"], m["seq"]) for m in d.get("media") or []],
                          run_id=d["run_id"], tombstone=d.get("tombstone", "metadata"),
                          now=time, log_seq=seq)
        if d.get("tombstone", "metadata") == "metadata":
            for stone in stones:  # the replayed record has no payload: its tombstone speaks
                conn.execute(t.records.update().where(t.records.c.seq == stone["seq"]).values(
                    platform=stone.get("platform"), account=stone.get("account"),
                    item_id=stone.get("item_id"), kind=stone.get("kind"),
                    event=stone.get("event")))
        i = t.disposition_items.c
        conn.execute(t.disposition_items.update().where(
            i.run_id == d["run_id"], i.seq.in_([x["seq"] for x in stones]))
            .values(outcome="destroyed", done_at=time))
