"""`archiver verify`: the whole archive against ARCHIVE_FORMAT.md, the catalog and the keys.

Checks every segment line (canonical, well-formed, dense seq, chained `prev`), that every
segment has its key object and every live record's data key unwraps and decrypts it,
every checkpoint's signature and root (consecutive checkpoints are then consistent, being
roots of prefixes of the same leaves), that `checkpoint` is the newest one, that nothing
else is on the store, and that the catalog agrees with the store record for record.
Every `media/<id>` object must have its key in a key object (as a key of no record of that
segment), every such key its object, and (decrypting) each blob must open under its key
and hash to the `sha256` of every record that names it (docs/format.md, "Media objects").
The raising form names the first bad seq and why; `ok` is the boolean form.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.errors import ArchiveError, IntegrityError
from archiver.log import merkle
from archiver.log.appender import Appender
from archiver.log.crypto import open_blob
from archiver.log.envelope import (
    LATEST_CHECKPOINT_KEY,
    MEDIA_PREFIX,
    associated_data_of_line,
    checkpoint_key,
    keys_key,
    parse_range_key,
)
from archiver.log.segments import decode_keys, iter_segment


@dataclass
class VerifyReport:
    records: int = 0
    segments: int = 0
    checkpoints: int = 0
    destroyed: int = 0
    decrypted: int = 0
    media: int = 0
    failures: list[IntegrityError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        first = self.failures[0] if self.failures else None
        return {
            "ok": self.ok,
            "records": self.records,
            "segments": self.segments,
            "checkpoints": self.checkpoints,
            "destroyed": self.destroyed,
            "decrypted": self.decrypted,
            "media": self.media,
            "first_bad_seq": first.seq if first else None,
            "failures": [{"seq": f.seq, "where": f.where, "reason": f.reason}
                         for f in self.failures],
            "warnings": self.warnings,
        }

    def raise_for_failure(self) -> None:
        if self.failures:
            raise self.failures[0]


_CHECKPOINT_NAME = re.compile(r"checkpoints/[0-9]{12}")
_MEDIA_NAME = re.compile(r"media/[^/]+")


class _Roots:
    """Roots of every prefix asked for, from one pass over the leaves (stack of subtrees)."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        size, h = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            h = merkle.node_hash(self.stack.pop()[1], h)
            size *= 2
        self.stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = merkle.node_hash(left, h)
        return h


def verify_archive(appender: Appender, *, decrypt: bool = True,
                   progress: Callable[[int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    store = appender.p.store
    fail = report.failures.append
    try:
        names = store.list("")
    except ArchiveError as exc:
        fail(IntegrityError(f"cannot list the store: {exc}", where=store.description))
        return report
    segments: dict[int, tuple[int, str]] = {}
    key_objects: set[str] = set()
    media_objects: set[str] = set()  # ids
    media_keys: dict[str, tuple[str, str, str]] = {}  # id -> (key object, wrapped, kek)
    media_refs: dict[str, list[tuple[int, str]]] = {}  # id -> (seq, sha256) naming it
    checkpoints: dict[int, str] = {}
    for name in names:
        rng = parse_range_key(name)
        if rng and rng[0] == "log":
            if rng[1] in segments or rng[2] < rng[1]:
                fail(IntegrityError("overlapping or inverted segment", rng[1], name))
            segments[rng[1]] = (rng[2], name)
        elif rng and rng[0] == "keys":
            key_objects.add(name)
        elif _CHECKPOINT_NAME.fullmatch(name):
            checkpoints[int(name[12:])] = name
        elif name == LATEST_CHECKPOINT_KEY:
            pass
        elif _MEDIA_NAME.fullmatch(name):
            media_objects.add(name[len(MEDIA_PREFIX):])
        else:
            fail(IntegrityError("object not described by the archive format", where=name))

    with appender.p.catalog.reader() as conn:
        catalog_hashes = {r.seq: (r.record_hash, r.destroyed_at)
                          for r in conn.execute(select(t.records.c.seq, t.records.c.record_hash,
                                                       t.records.c.destroyed_at))}
        catalog_cps = {r.size for r in conn.execute(select(t.checkpoints.c.size))}

    roots = _Roots()
    wanted_roots: dict[int, bytes] = {}
    cp_sizes = set(checkpoints)
    prev_hash: bytes | None = None
    expected = 0
    for first in sorted(segments):
        last, name = segments[first]
        if first != expected:
            fail(IntegrityError(f"segment starts at {first}, expected {expected} "
                                f"(missing or extra segment)", expected, name))
            break
        kname = keys_key(first, last)
        try:
            data = store.get(name)
            kdoc = decode_keys(store.get(kname), where=kname) if kname in key_objects else None
            if kdoc is None:
                raise IntegrityError("segment has no key object", first, kname)
            key_objects.discard(kname)
            seen_kids = set()
            for rec in iter_segment(data, first, last, prev_hash, where=name):
                env = rec.envelope
                seen_kids.add(env.kid)
                stored = catalog_hashes.get(env.seq)
                if stored is None:
                    report.warnings.append(f"seq {env.seq}: on the store, not yet in the catalog")
                elif stored[0] != rec.hash:
                    raise IntegrityError("record hash differs from the catalog's", env.seq, name)
                wrapped = kdoc.keys.get(env.kid)
                if wrapped is None:
                    if stored is None or stored[1] is None:
                        raise IntegrityError("data key missing for a record not destroyed",
                                             env.seq, kname)
                    report.destroyed += 1
                elif decrypt:
                    plain = appender.decrypt_bytes(
                        env, wrapped, kdoc.kek, associated_data_of_line(rec.line, env.ct))
                    if not plain.startswith(b"{"):
                        raise IntegrityError("payload is not a JSON object", env.seq, name)
                    report.decrypted += 1
                    if b'"object":"media/' in plain:  # parse only payloads naming media
                        _note_media_refs(json.loads(plain), env.seq, media_refs)
                roots.add(rec.hash)
                if roots.size in cp_sizes:
                    wanted_roots[roots.size] = roots.root()
                prev_hash = rec.hash
                report.records += 1
            for media_id in set(kdoc.keys) - seen_kids:  # keys of no record: media blobs'
                if media_id in media_keys:
                    raise IntegrityError(f"media key {media_id} is also in "
                                         f"{media_keys[media_id][0]}", where=kname)
                media_keys[media_id] = (kname, kdoc.keys[media_id], kdoc.kek)
        except IntegrityError as exc:
            fail(exc)
            break
        except ArchiveError as exc:
            fail(IntegrityError(str(exc), first, name))
            break
        except (ValueError, json.JSONDecodeError) as exc:
            fail(IntegrityError(f"payload does not parse: {exc}", first, name))
            break
        report.segments += 1
        expected = last + 1
        if progress:
            progress(report.records)

    if not report.failures:
        for kname in sorted(key_objects):
            fail(IntegrityError("key object without a segment", where=kname))
        missing_in_store = [s for s in catalog_hashes if s >= report.records]
        if missing_in_store:
            fail(IntegrityError("record in the catalog is missing from the store",
                                min(missing_in_store), "catalog"))

    if not report.failures:
        _verify_media(appender, report, media_objects, media_keys, media_refs, decrypt=decrypt)
    _verify_checkpoints(appender, report, checkpoints, wanted_roots, catalog_cps)
    return report


def _note_media_refs(payload: Any, seq: int, refs: dict[str, list[tuple[int, str]]]) -> None:
    media = payload.get("media") if isinstance(payload, dict) else None
    for entry in media if isinstance(media, list) else ():
        obj = entry.get("object") if isinstance(entry, dict) else None
        if isinstance(obj, str) and obj.startswith(MEDIA_PREFIX):
            refs.setdefault(obj[len(MEDIA_PREFIX):], []).append((seq, str(entry.get("sha256"))))


def _verify_media(appender: Appender, report: VerifyReport, objects: set[str],
                  keys: dict[str, tuple[str, str, str]],
                  refs: dict[str, list[tuple[int, str]]], *, decrypt: bool) -> None:
    """Every media object has its key, every media key its object, and each blob opens
    and hashes to what every record naming it says."""
    fail = report.failures.append
    keyless = objects - set(keys)
    shredded: set[str] = set()
    if keyless:  # a disposition destroys a blob's key; the catalog says which it shredded
        from archiver.log.shred import destroyed_media

        with appender.p.catalog.reader() as conn:
            shredded = destroyed_media(conn, keyless)
    for media_id in sorted(keyless):
        if media_id in shredded:
            report.warnings.append(f"{MEDIA_PREFIX}{media_id}: data key destroyed by "
                                   f"disposition; the object is unreadable and can go")
            continue
        fail(IntegrityError("media object whose key is in no key object (extra or orphan)",
                            where=MEDIA_PREFIX + media_id))
    for media_id in sorted(set(keys) - objects):
        fail(IntegrityError(f"media object missing; its key is in {keys[media_id][0]}",
                            where=MEDIA_PREFIX + media_id))
    for media_id in sorted(set(refs) - objects):
        fail(IntegrityError("named by a record, but there is no such media object",
                            refs[media_id][0][0], MEDIA_PREFIX + media_id))
    store = appender.p.store
    for media_id in sorted(objects & set(keys)):
        name = MEDIA_PREFIX + media_id
        report.media += 1
        if not decrypt:
            continue
        if media_id not in refs:
            report.warnings.append(f"{name}: named by no readable record")
            continue
        try:
            _, wrapped, kek = keys[media_id]
            data_key = appender.p.kek.unwrap(media_id, wrapped, kek)
            digest = hashlib.sha256(open_blob(data_key, media_id, store.get(name))).hexdigest()
        except IntegrityError as exc:
            fail(exc)
            continue
        except ArchiveError as exc:
            fail(IntegrityError(str(exc), where=name))
            continue
        for seq, sha in refs[media_id]:
            if sha != digest:
                fail(IntegrityError(f"SHA-256 of the decrypted blob is {digest}, the record "
                                    f"says {sha}", seq, name))
                break


def _verify_consistency_chain(appender: Appender, report: VerifyReport,
                              signed: list[tuple[int, bytes, str]]) -> None:
    """Each checkpoint is provably consistent with the one before (RFC 6962 2.1.2 proofs
    served from the catalog's stored hashes, checked against the two signed roots)."""
    with appender.p.catalog.reader() as conn:
        read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
        for (old, old_root, _), (new, new_root, name) in zip(signed, signed[1:], strict=False):
            try:
                proof = merkle.prove_consistency(old, new, read)
            except LookupError:
                report.failures.append(IntegrityError(
                    f"the catalog lacks the tree hashes to prove {old} -> {new}", where=name))
                return
            if not merkle.verify_consistency(old, new, old_root, new_root, proof):
                report.failures.append(IntegrityError(
                    f"checkpoint is not consistent with the checkpoint of {old}", where=name))


def _verify_checkpoints(appender: Appender, report: VerifyReport, checkpoints: dict[int, str],
                        roots: dict[int, bytes], catalog_cps: set[int]) -> None:
    store = appender.p.store
    fail = report.failures.append
    verifier = appender.p.signer.verifier()
    newest: bytes | None = None
    signed: list[tuple[int, bytes, str]] = []
    for size in sorted(checkpoints):
        name = checkpoints[size]
        try:
            note = store.get(name)
            cp = verifier.verify(note, where=name)
            if cp.size != size:
                raise IntegrityError(f"checkpoint says size {cp.size}, its name {size}",
                                     where=name)
            if cp.origin != appender.p.signer.name:
                raise IntegrityError(f"origin {cp.origin!r} is not this log's", where=name)
            if size not in roots:
                raise IntegrityError(f"checkpoint covers {size} records, the log holds "
                                     f"{report.records} verified", where=name)
            if cp.root != roots[size]:
                raise IntegrityError("checkpoint root does not match the records it covers",
                                     size - 1, name)
        except IntegrityError as exc:
            fail(exc)
            continue
        except ArchiveError as exc:
            fail(IntegrityError(str(exc), where=name))
            continue
        report.checkpoints += 1
        newest = note
        signed.append((size, cp.root, name))
    _verify_consistency_chain(appender, report, signed)
    for size in sorted(catalog_cps - set(checkpoints)):
        fail(IntegrityError("checkpoint in the catalog is missing from the store",
                            where=checkpoint_key(size)))
    if checkpoints:
        try:
            latest = store.get(LATEST_CHECKPOINT_KEY)
        except ArchiveError:
            fail(IntegrityError("the newest-checkpoint copy is missing",
                                where=LATEST_CHECKPOINT_KEY))
            return
        if newest is not None and latest != store.get(checkpoints[max(checkpoints)]):
            fail(IntegrityError("is not the newest checkpoint", where=LATEST_CHECKPOINT_KEY))
        if max(checkpoints) < report.records:
            report.warnings.append(f"records {max(checkpoints)}..{report.records - 1} are not "
                                   f"covered by a checkpoint yet")
    elif report.records:
        fail(IntegrityError("the log has records but no checkpoint", where="checkpoints/"))
