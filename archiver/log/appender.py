"""The appender: the only writer of the log.

Order of writes, so that a crash anywhere loses no acknowledged record and leaves nothing
a verifier rejects (ARCHITECTURE.md, "The log"):

1. under the catalog's writer lock, reconcile: a complete segment on the store beyond the
   catalog's head (a crash after its PUT) is chain-checked and adopted; a key object with
   no segment (a crash before the segment PUT) is deleted;
2. seal each record (and each new media file) with its own data key, chain it, PUT the
   key object, then the segment's new `media/<id>` objects, then the segment (media and
   segment with Object Lock where the store has it); a crash before the segment PUT leaves
   a key object without a segment, which reconciliation deletes with its media objects;
3. commit the catalog (records, keys, tree hashes, items) in one transaction;
4. acknowledge; then sign a checkpoint of the new tree, consistent with the previous one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select

from archiver.capture import CONTENT_EVENTS, ItemState, content_fingerprint, next_state
from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.errors import IntegrityError, ObjectLocked, ObjectNotFound, StoreError
from archiver.log import merkle
from archiver.log.checkpoint import Checkpoint, CheckpointSigner
from archiver.log.crypto import (
    Fingerprinter,
    KeyEncryptionKey,
    new_kid,
    open_sealed,
    seal,
    seal_blob,
)
from archiver.log.envelope import (
    LATEST_CHECKPOINT_KEY,
    ZERO_HASH,
    Envelope,
    canonical,
    checkpoint_key,
    keys_key,
    leaf_hash,
    media_key,
    parse_media_key,
    parse_range_key,
    segment_key,
    sha256_hex,
)
from archiver.log.segments import (
    KeysDoc,
    ParsedRecord,
    decode_keys,
    encode_keys,
    iter_segment,
)
from archiver.records import MediaBlob, PendingRecord, record_content
from archiver.storage import ObjectStore
from archiver.times import format_time

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_RECORD_COLS = ("seq", "time", "type", "kid", "record_hash", "segment_first", "platform",
                "account", "item_id", "kind", "event", "action", "destroyed_at")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record as it goes to the catalog: envelope, its canonical line and hash, plaintext."""

    envelope: Envelope
    line: bytes
    hash: bytes
    payload: dict[str, Any] | None  # None: the data key is destroyed
    fingerprint: str | None = None  # computed by capture already, when it came from there


@dataclass
class AppendResult:
    """The acknowledgement: every record here is durable on the store and in the catalog."""

    seqs: list[int] = field(default_factory=list)
    events: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class LogParts:
    """The collaborators of the log, built by archiver.wiring from Settings."""

    store: ObjectStore
    catalog: db.Catalog
    kek: KeyEncryptionKey
    signer: CheckpointSigner
    fingerprinter: Fingerprinter
    segment_max_records: int = 1000
    segment_max_bytes: int = 4_000_000


class WriteSession:
    """One turn of the single writer: item states for capture, then `append`."""

    def __init__(self, appender: Appender, conn: Connection) -> None:
        self._a = appender
        self.conn = conn
        self.size, last = db.head(conn)
        self.last_hash = last
        self.items: dict[tuple[str, str], ItemState] = {}
        self.looked_up: set[tuple[str, str]] = set()  # asked the catalog already
        self.in_catalog: set[tuple[str, str]] = set()  # has a row in the items table
        self.touched: dict[tuple[str, str], str] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.media: dict[str, tuple[str, str]] = {}  # sha256 -> (media id, mime), held
        self.media_fps: dict[str, str] = {}  # sha256 -> keyed fingerprint, asked already
        self.result = AppendResult()
        self._puts: list[Future[None]] = []
        self._uploader: ThreadPoolExecutor | None = None

    def put_in_order(self, writes: list[tuple[str, bytes, bool]]) -> None:
        """Queue object writes on one worker thread: they happen in the order given, while
        the caller seals the next segment; `wait_for_puts` must succeed before the commit."""
        if self._uploader is None:
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-put")
        store = self._a.p.store

        def run() -> None:
            for key, data, lock in writes:
                store.put(key, data, lock=lock)

        previous = self._puts[-1] if self._puts else None

        def after_previous() -> None:
            if previous is not None:
                previous.result()  # a failed earlier segment stops every later one
            run()

        self._puts.append(self._uploader.submit(after_previous))

    def wait_for_puts(self) -> None:
        """Every queued object is durable on the store, or the first failure is raised."""
        try:
            for f in self._puts:
                f.result()
        finally:
            self._puts.clear()
            if self._uploader is not None:
                self._uploader.shutdown(wait=True)
                self._uploader = None

    def load_items(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ItemState]:
        """Load the catalog state of these items (one query per 500, cached for the session)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.looked_up]
        found = load_item_states(self.conn, wanted)
        self.items.update(found)
        self.in_catalog.update(found)
        self.looked_up.update(wanted)
        return self.items

    def load_media(self, sha256s: Sequence[str]) -> None:
        """Which of these files the archive holds already (by keyed fingerprint)."""
        fp = self._a.p.fingerprinter
        wanted = {s: fp.media(s) for s in dict.fromkeys(sha256s)
                  if s not in self.media_fps and _is_sha256(s)}
        self.media_fps.update(wanted)
        by_fp = {f: s for s, f in wanted.items()}
        fps = list(by_fp)
        for i in range(0, len(fps), 500):
            q = (select(t.media.c.id, t.media.c.fingerprint, t.media.c.mime)
                 .where(t.media.c.fingerprint.in_(fps[i:i + 500])).order_by(t.media.c.seq))
            for row in self.conn.execute(q):
                self.media.setdefault(by_fp[row.fingerprint], (row.id, row.mime))

    def attach_media(self, entries: Sequence[dict[str, Any]], blobs: Mapping[str, MediaBlob]
                     ) -> tuple[list[dict[str, Any]], tuple[tuple[str, MediaBlob], ...]]:
        """Name the stored object of each media entry whose file the archive holds or is
        given (`object`, `mime`); return the entries and the files to store with them.

        An `object` member that came with the observation is dropped: only the archive
        says which object holds a file. A file given twice in one turn is stored once.
        """
        self.load_media([e["sha256"] for e in entries if isinstance(e.get("sha256"), str)])
        out: list[dict[str, Any]] = []
        new: list[tuple[str, MediaBlob]] = []
        for entry in entries:
            kept = {k: v for k, v in entry.items() if k != "object"}
            sha = entry.get("sha256")
            if isinstance(sha, str) and sha not in self.media and sha in blobs:
                media_id = new_kid()
                self.media[sha] = (media_id, blobs[sha].mime)
                new.append((media_id, blobs[sha]))
            if isinstance(sha, str) and sha in self.media:
                media_id, mime = self.media[sha]
                kept.update(object=media_key(media_id), mime=mime)
            out.append(kept)
        return out, tuple(new)

    def touch(self, key: tuple[str, str], seen: str) -> None:
        """An identical observation: only the item's last-seen time moves."""
        self.touched[key] = seen

    def append(self, pending: Sequence[PendingRecord]) -> list[int]:
        seqs = self._a._write(self, pending)
        self.result.seqs.extend(seqs)
        self.result.events.extend(p.event for p in pending)
        return seqs


class Appender:
    def __init__(self, parts: LogParts, clock: Clock = _utcnow) -> None:
        self.p = parts
        self.clock = clock

    # -- writing ------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[WriteSession]:
        """Hold the writer lock; records appended in the session commit together at its end."""
        with self.p.catalog.writer() as conn:
            self._reconcile(conn)
            ws = WriteSession(self, conn)
            try:
                yield ws
            finally:
                ws.wait_for_puts()  # objects durable before the catalog may commit
            self._flush_touches(ws)
        if ws.result.seqs:
            try:
                self.checkpoint()
            except StoreError as exc:
                # The records are committed and acknowledged; the next writer turn or the
                # start-up recovery signs the checkpoint that covers them.
                log.warning("records %d..%d committed; checkpoint deferred: %s",
                            ws.result.seqs[0], ws.result.seqs[-1], exc)

    def append(self, pending: Sequence[PendingRecord]) -> AppendResult:
        with self.session() as ws:
            ws.append(pending)
        return ws.result

    def append_system(self, action: str, actor: str, details: dict[str, Any]) -> int:
        """Append a `system` record: a change of the archive's legal state."""
        payload = {"schema": "system/1", "action": action, "actor": actor, "details": details}
        return self.append([PendingRecord("system", payload)]).seqs[0]

    def _write(self, ws: WriteSession, pending: Sequence[PendingRecord]) -> list[int]:
        if not pending:
            return []
        seqs: list[int] = []
        batch: list[tuple[PendingRecord, bytes]] = []
        batch_bytes = 0
        for rec in pending:
            plain = canonical(rec.payload)
            if batch and (len(batch) >= self.p.segment_max_records
                          or batch_bytes + len(plain) > self.p.segment_max_bytes):
                seqs.extend(self._write_segment(ws, batch))
                batch, batch_bytes = [], 0
            batch.append((rec, plain))
            batch_bytes += len(plain) * 4 // 3 + 300  # base64 growth + envelope members
        seqs.extend(self._write_segment(ws, batch))
        return seqs

    def _write_segment(self, ws: WriteSession, batch: list[tuple[PendingRecord, bytes]]
                       ) -> list[int]:
        first = ws.size
        last = first + len(batch) - 1
        prev = ws.last_hash.hex() if ws.last_hash is not None else ZERO_HASH
        now = format_time(self.clock())
        sealed: list[SealedRecord] = []
        wrapped: dict[str, str] = {}
        media_puts: list[tuple[str, bytes, bool]] = []
        for i, (rec, plain) in enumerate(batch):
            for media_id, blob in rec.media:
                blob_key = os.urandom(32)
                media_puts.append((media_key(media_id), seal_blob(blob_key, media_id, blob.data),
                                   True))
                wrapped[media_id] = self.p.kek.wrap(media_id, blob_key)
            kid = new_kid()
            data_key = os.urandom(32)
            nonce = os.urandom(12)
            head = Envelope(seq=first + i, prev=prev, time=now, type=rec.type, kid=kid,
                            nonce=base64.b64encode(nonce).decode(), ct="")
            ct = seal(data_key, plain, head.associated_data(), nonce)
            env = Envelope(seq=head.seq, prev=prev, time=now, type=rec.type, kid=kid,
                           nonce=head.nonce, ct=ct)
            line = env.canonical()
            h = leaf_hash(line)
            prev = h.hex()
            sealed.append(SealedRecord(env, line, h, rec.payload, rec.fingerprint))
            wrapped[kid] = self.p.kek.wrap(kid, data_key)
        segment = b"".join(s.line + b"\n" for s in sealed)
        # Key object first: a segment or media object must never exist without the keys to
        # read it; media before the segment that references them. The catalog rows go into
        # the open transaction meanwhile; it commits after the PUTs.
        ws.put_in_order([
            (keys_key(first, last), encode_keys(self.p.kek.kek_id, self.p.kek.alg, wrapped),
             False),
            *media_puts,
            (segment_key(first, last), segment, True),
        ])
        self._commit_segment(ws, first, last, segment, sealed, wrapped, self.p.kek.kek_id)
        return list(range(first, last + 1))

    def _commit_segment(self, ws: WriteSession, first: int, last: int, segment: bytes,
                        records: Sequence[SealedRecord], wrapped: dict[str, str],
                        kek_id: str) -> None:
        """Insert what the segment's records mean into the catalog (caller's transaction)."""
        conn = ws.conn
        hasher = merkle.BatchHasher(first, lambda ix: db.read_tree_hashes(conn, ix))
        record_rows: list[tuple[Any, ...]] = []
        key_rows: list[tuple[Any, ...]] = []
        record_kids = {rec.envelope.kid for rec in records}
        media_rows: list[tuple[Any, ...]] = []
        ws.load_items([(r.payload["platform"], r.payload["item_id"]) for r in records
                       if r.payload is not None and r.envelope.type == "capture"])
        for rec in records:
            env, payload, h = rec.envelope, rec.payload, rec.hash
            hasher.add(h)
            destroyed = None if env.kid in wrapped else env.time
            platform = account = item_id = kind = event = action = None
            if payload is not None and env.type == "capture":
                platform, account, item_id = (payload["platform"], payload["account"],
                                              payload["item_id"])
                kind, event = payload["kind"], payload["event"]
                key = (platform, item_id)
                fp = None
                if event in CONTENT_EVENTS:
                    fp = rec.fingerprint or content_fingerprint(
                        self.p.fingerprinter,
                        record_content(payload.get("text"), payload.get("media") or []))
                ws.items[key] = next_state(ws.items.get(key), seq=env.seq, payload=payload,
                                           fingerprint=fp, time=env.time)
                ws.touched.pop(key, None)
                ws.dirty.add(key)
            elif payload is not None:
                action = str(payload.get("action"))[:64]
            record_rows.append((env.seq, env.time, env.type, env.kid, h, first, platform,
                                account, item_id, kind, event, action, destroyed))
            if env.kid in wrapped:
                key_rows.append((env.kid, env.seq, first, kek_id, wrapped[env.kid]))
            if payload is not None and env.type == "capture":
                for media_id, sha, mime in _media_stored_here(payload, wrapped, record_kids):
                    record_kids.add(media_id)  # once, with the first record naming it
                    key_rows.append((media_id, env.seq, first, kek_id, wrapped[media_id]))
                    media_rows.append((media_id, self.p.fingerprinter.media(sha), mime,
                                       env.seq))
                    ws.media[sha] = (media_id, mime)
        db.insert_tuples(conn, t.records, _RECORD_COLS, record_rows)
        db.insert_tuples(conn, t.media, ("id", "fingerprint", "mime", "seq"), media_rows)
        db.insert_tuples(conn, t.data_keys, ("kid", "seq", "segment_first", "kek", "wrapped"),
                         key_rows)
        db.insert_tuples(conn, t.tree_hashes, ("idx", "hash"), sorted(hasher.new.items()))
        conn.execute(t.segments.insert().values(first=first, last=last,
                                                sha256=sha256_hex(segment), bytes=len(segment)))
        _save_items(ws)
        ws.size = last + 1
        ws.last_hash = records[-1].hash

    def _flush_touches(self, ws: WriteSession) -> None:
        rows = [{"b_platform": p, "b_item_id": i, "last_seen": seen}
                for (p, i), seen in ws.touched.items()]
        if rows:
            ws.conn.execute(
                t.items.update()
                .where(and_(t.items.c.platform == bindparam("b_platform"),
                            t.items.c.item_id == bindparam("b_item_id")))
                .values(last_seen=bindparam("last_seen")), rows)

    # -- reconciliation -----------------------------------------------------------------

    def _reconcile(self, conn: Connection) -> None:
        """Adopt complete segments beyond the catalog's head; drop key objects without one."""
        while True:
            size, last_hash = db.head(conn)
            prefix = f"{size:012d}-"
            segs = [k for k in self.p.store.list("log/" + prefix) if parse_range_key(k)]
            orphan_keys = [k for k in self.p.store.list("keys/" + prefix) if parse_range_key(k)]
            if not segs:
                for k in orphan_keys:
                    self._drop_orphan_keys(k)
                return
            if len(segs) > 1:
                raise IntegrityError(f"two segments start at {size}: {segs}", size, segs[0])
            self._adopt(conn, segs[0], last_hash)

    def _drop_orphan_keys(self, key: str) -> None:
        """A key object whose segment never came (a crash before its PUT): its media
        objects are deleted first, then the key object, so that no media object is ever
        without a key object naming it, even if this is interrupted and run again.

        A media object under Object Lock retention cannot be deleted: it is hidden (a
        delete marker); the locked version is unreadable once the key object is gone.
        """
        store = self.p.store
        for kid in decode_keys(store.get(key), where=key).keys:
            name = media_key(kid)
            if parse_media_key(name) is None or not store.exists(name):
                continue  # a record's key (or not an id this archive gives media)
            try:
                store.delete(name)
            except ObjectLocked:
                store.hide(name)
        store.delete(key)

    def _adopt(self, conn: Connection, key: str, last_hash: bytes | None) -> None:
        _, first, last = parse_range_key(key)  # type: ignore[misc]
        data = self.p.store.get(key)
        parsed = list(iter_segment(data, first, last, last_hash, where=key))
        try:
            kdoc = decode_keys(self.p.store.get(keys_key(first, last)),
                               where=keys_key(first, last))
        except ObjectNotFound:
            raise IntegrityError("segment beyond the catalog's head has no key object",
                                 first, keys_key(first, last)) from None
        ws = WriteSession(self, conn)
        self.replay(ws, first, last, data, parsed, kdoc)

    def replay(self, ws: WriteSession, first: int, last: int, data: bytes,
               parsed: Sequence[ParsedRecord], kdoc: KeysDoc) -> None:
        """Put a verified segment into the catalog: used by adoption and `archiver rebuild`."""
        records = [SealedRecord(r.envelope, r.line, r.hash,
                                self.decrypt(r.envelope, kdoc.keys.get(r.envelope.kid),
                                             kdoc.kek))
                   for r in parsed]
        self._commit_segment(ws, first, last, data, records, kdoc.keys, kdoc.kek)

    def decrypt(self, env: Envelope, wrapped: str | None,
                kek_id: str | None = None) -> dict[str, Any] | None:
        """The payload of a record, or None when its data key has been destroyed."""
        plain = self.decrypt_bytes(env, wrapped, kek_id)
        return None if plain is None else json.loads(plain)

    def decrypt_bytes(self, env: Envelope, wrapped: str | None, kek_id: str | None = None,
                      associated_data: bytes | None = None) -> bytes | None:
        """The canonical payload bytes; AES-GCM's tag proves them intact and in place."""
        if wrapped is None:
            return None
        data_key = self.p.kek.unwrap(env.kid, wrapped, kek_id)
        ad = env.associated_data() if associated_data is None else associated_data
        return open_sealed(data_key, env.nonce, env.ct, ad, seq=env.seq)

    # -- checkpoints --------------------------------------------------------------------

    def checkpoint(self) -> int | None:
        """Sign the current tree if it grew; never one inconsistent with the last checkpoint."""
        with self.p.catalog.writer() as conn:
            size, _ = db.head(conn)
            latest = db.latest_checkpoint(conn)
            if size == 0 or (latest is not None and latest[0] >= size):
                return None
            read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
            root = merkle.tree_hash(size, read)
            if latest is not None:
                old_size, old_root, _ = latest
                proof = merkle.prove_consistency(old_size, size, read)
                if not merkle.verify_consistency(old_size, size, old_root, root, proof):
                    raise IntegrityError(f"refusing to sign: tree of {size} is not consistent "
                                         f"with the checkpoint of {old_size}", where="checkpoint")
            note = self.p.signer.sign(Checkpoint(self.p.signer.name, size, root))
            key = checkpoint_key(size)
            # Ed25519 is deterministic: an earlier crashed attempt left the same bytes.
            if not self.p.store.exists(key) or self.p.store.get(key) != note:
                self.p.store.put(key, note, lock=True)
            self.p.store.put(LATEST_CHECKPOINT_KEY, note)
            conn.execute(t.checkpoints.insert().values(size=size, root=root, note=note))
            return size

    def recover(self) -> None:
        """Start-up: adopt what a crash left on the store, then checkpoint the head."""
        with self.p.catalog.writer() as conn:
            self._reconcile(conn)
            self._adopt_checkpoints(conn)
        self.checkpoint()

    def _adopt_checkpoints(self, conn: Connection) -> None:
        known = {row.size for row in conn.execute(select(t.checkpoints.c.size))}
        size, _ = db.head(conn)
        verifier = self.p.signer.verifier()
        read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
        for key in self.p.store.list("checkpoints/"):
            n = int(key.rsplit("/", 1)[1])
            if n in known or n > size:
                continue
            note = self.p.store.get(key)
            cp = verifier.verify(note, where=key)
            if cp.size != n or cp.root != merkle.tree_hash(n, read):
                raise IntegrityError("stored checkpoint does not match the log", where=key)
            conn.execute(t.checkpoints.insert().values(size=n, root=cp.root, note=note))


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _media_stored_here(payload: dict[str, Any], wrapped: dict[str, str], record_kids: set[str]
                       ) -> Iterator[tuple[str, str, str]]:
    """(media id, sha256, mime) of each media file a capture payload names whose key is in
    this segment's key object: the files first stored with this segment."""
    media = payload.get("media")
    for entry in media if isinstance(media, list) else ():
        if not isinstance(entry, dict):
            continue
        obj, sha, mime = entry.get("object"), entry.get("sha256"), entry.get("mime")
        media_id = parse_media_key(obj) if isinstance(obj, str) else None
        if (media_id is not None and media_id in wrapped and media_id not in record_kids
                and isinstance(sha, str) and _is_sha256(sha)):
            yield media_id, sha, mime if isinstance(mime, str) else "application/octet-stream"


def load_item_states(conn: Connection, keys: Sequence[tuple[str, str]]
                     ) -> dict[tuple[str, str], ItemState]:
    out: dict[tuple[str, str], ItemState] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, item_id in keys:
        by_platform.setdefault(platform, []).append(item_id)
    for platform, ids in by_platform.items():
        for i in range(0, len(ids), 500):
            q = select(t.items).where(t.items.c.platform == platform,
                                      t.items.c.item_id.in_(ids[i:i + 500]))
            for row in conn.execute(q):
                out[(row.platform, row.item_id)] = ItemState(**row._asdict())
    return out


def _save_items(ws: WriteSession) -> None:
    dirty, ws.dirty = ws.dirty, set()
    if not dirty:
        return
    existing = dirty & ws.in_catalog
    inserts = [_item_row(ws.items[k]) for k in dirty - existing]
    updates = []
    for k in existing:
        row = _item_row(ws.items[k])
        del row["platform"], row["item_id"]
        updates.append({**row, "b_platform": k[0], "b_item_id": k[1]})
    db.insert_many(ws.conn, t.items, inserts)
    ws.in_catalog.update(dirty)
    if updates:
        cols = [c for c in updates[0] if not c.startswith("b_")]
        ws.conn.execute(
            t.items.update()
            .where(and_(t.items.c.platform == bindparam("b_platform"),
                        t.items.c.item_id == bindparam("b_item_id")))
            .values({c: bindparam(c) for c in cols}), updates)


def _item_row(s: ItemState) -> dict[str, Any]:
    return {f: getattr(s, f) for f in ItemState.__slots__}  # type: ignore[attr-defined]
