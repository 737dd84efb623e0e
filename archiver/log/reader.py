"""Reading records back: the envelope from its segment, the payload through its data key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import IntegrityError, NotFound
from archiver.log.appender import Appender
from archiver.log.crypto import open_blob
from archiver.log.envelope import Envelope, media_key, parse_line, segment_key


@dataclass(frozen=True)
class ReadRecord:
    envelope: Envelope
    record_hash: str
    payload: dict[str, Any] | None  # None: destroyed by disposition

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.envelope.seq, "envelope": self.envelope.as_dict(),
                "record_hash": self.record_hash, "destroyed": self.payload is None,
                "payload": self.payload}


def read_record(appender: Appender, seq: int) -> ReadRecord:
    """Fetch, check against the catalog's hash, and decrypt record `seq`."""
    with appender.p.catalog.reader() as conn:
        row = conn.execute(select(t.records.c.segment_first, t.records.c.record_hash,
                                  t.records.c.kid).where(t.records.c.seq == seq)).first()
        if row is None:
            raise NotFound(f"no record with seq {seq}")
        seg = conn.execute(select(t.segments.c.last)
                           .where(t.segments.c.first == row.segment_first)).scalar_one()
        data_key = conn.execute(select(t.data_keys.c.wrapped, t.data_keys.c.kek)
                           .where(t.data_keys.c.kid == row.kid)).first()
    key = segment_key(row.segment_first, seg)
    lines = appender.p.store.get(key).split(b"\n")
    index = seq - row.segment_first
    if index >= len(lines) - 1:
        raise IntegrityError("record missing from its segment", seq, key)
    env = parse_line(lines[index], where=key, expected_seq=seq)
    if env.record_hash() != row.record_hash:
        raise IntegrityError("record hash differs from the catalog's", seq, key)
    payload = (None if data_key is None
               else appender.decrypt(env, data_key.wrapped, data_key.kek))
    return ReadRecord(env, row.record_hash.hex(), payload)


def system_records(appender: Appender, *, since: str | None = None) -> Iterator[ReadRecord]:
    """Every `system` record in seq order (optionally from a capture time on), decrypted."""
    q = select(t.records.c.seq).where(t.records.c.type == "system").order_by(t.records.c.seq)
    if since is not None:
        q = q.where(t.records.c.time >= since)
    with appender.p.catalog.reader() as conn:
        seqs = [row.seq for row in conn.execute(q)]
    for seq in seqs:
        yield read_record(appender, seq)


@dataclass(frozen=True)
class MediaFile:
    """A stored media file, decrypted: its bytes, type and SHA-256 (hex)."""

    id: str
    mime: str
    sha256: str
    data: bytes


def read_media(appender: Appender, media_id: str) -> MediaFile:
    """Fetch and decrypt `media/<id>`; NotFound when the catalog knows no such file or its
    data key is destroyed (disposition)."""
    with appender.p.catalog.reader() as conn:
        row = conn.execute(select(t.media.c.mime).where(t.media.c.id == media_id)).first()
        data_key = conn.execute(select(t.data_keys.c.wrapped, t.data_keys.c.kek)
                                .where(t.data_keys.c.kid == media_id)).first()
    if row is None:
        raise NotFound(f"no media file {media_id}")
    if data_key is None:
        raise NotFound(f"media file {media_id} was destroyed (its data key is deleted)")
    key = appender.p.kek.unwrap(media_id, data_key.wrapped, data_key.kek)
    data = open_blob(key, media_id, appender.p.store.get(media_key(media_id)))
    return MediaFile(media_id, row.mime, hashlib.sha256(data).hexdigest(), data)
