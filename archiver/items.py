"""An item's whole history for a reader: every version, every event in order, and the
replies under it (items whose parent is this item) with their own latest version.

A *version* is a record that carries content differing from the version before it, by the
same rule capture uses (`records.record_content`: normalised text and media references),
so a `restored` notice that brings back unchanged text is an event, not a new version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select

from archiver.capture import CONTENT_EVENTS
from archiver.catalog import schema as t
from archiver.errors import NotFound
from archiver.log.appender import Appender
from archiver.log.reader import read_record
from archiver.records import record_content
from archiver.storage import ObjectStore

MAX_REPLIES = 500


@dataclass(frozen=True)
class ItemSummary:
    """The catalog's row for an item."""

    platform: str
    item_id: str
    account: str
    kind: str
    parent_id: str | None
    state: str  # live | deleted | hidden
    versions: int
    first_seq: int
    latest_seq: int
    first_seen: str
    observed_at: str
    last_seen: str


@dataclass(frozen=True)
class ItemRecord:
    """One capture record of an item; `payload` is None when it was destroyed."""

    seq: int
    time: str
    event: str | None
    destroyed: bool = False
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    item: ItemSummary
    latest: ItemRecord | None  # its newest content-carrying record, decrypted


@dataclass(frozen=True)
class ItemHistory:
    item: ItemSummary
    versions: list[ItemRecord]
    events: list[ItemRecord]  # every capture record, in log order, without payloads
    replies: list[Reply]
    replies_truncated: bool


class _MemoStore:
    """Remembers each object fetched during one query: an item's versions usually share a
    segment, and a segment is fetched whole."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._got: dict[str, bytes] = {}

    def get(self, key: str) -> bytes:
        if key not in self._got:
            self._got[key] = self._store.get(key)
        return self._got[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _summary(row: Any) -> ItemSummary:
    return ItemSummary(row.platform, row.item_id, row.account, row.kind, row.parent_id,
                       row.state, row.versions, row.first_seq, row.latest_seq, row.first_seen,
                       row.observed_at, row.last_seen)


def _read(appender: Appender, seq: int, time: str, event: str | None) -> ItemRecord:
    rec = read_record(appender, seq)
    return ItemRecord(seq, time, event, rec.payload is None, rec.payload)


def item_history(appender: Appender, platform: str, item_id: str,
                 *, max_replies: int = MAX_REPLIES) -> ItemHistory:
    """Everything the archive holds about one item; NotFound when it was never captured."""
    reading = Appender(replace(appender.p, store=_MemoStore(appender.p.store)), appender.clock)
    r, it = t.records.c, t.items.c
    with appender.p.catalog.reader() as conn:
        row = conn.execute(select(t.items).where(it.platform == platform,
                                                 it.item_id == item_id)).first()
        if row is None:
            raise NotFound(f"no item {item_id!r} on {platform!r}")
        events = [ItemRecord(e.seq, e.time, e.event) for e in conn.execute(
            select(r.seq, r.time, r.event)
            .where(r.platform == platform, r.item_id == item_id, r.type == "capture")
            .order_by(r.seq))]
        children = conn.execute(select(t.items)
                                .where(it.platform == platform, it.parent_id == item_id)
                                .order_by(it.first_seq).limit(max_replies + 1)).all()
        shown = children[:max_replies]
        latest: dict[str, tuple[int, str, str]] = {}
        ids = [c.item_id for c in shown]
        for i in range(0, len(ids), 500):
            newest = (select(r.item_id, func.max(r.seq).label("seq"))
                      .where(r.platform == platform, r.item_id.in_(ids[i:i + 500]),
                             r.event.in_(sorted(CONTENT_EVENTS)))
                      .group_by(r.item_id).subquery())
            for x in conn.execute(select(newest.c.item_id, r.seq, r.time, r.event)
                                  .join(t.records, r.seq == newest.c.seq)):
                latest[x.item_id] = (x.seq, x.time, x.event)
    versions: list[ItemRecord] = []
    previous: dict[str, Any] | None = None
    for e in events:
        if e.event not in CONTENT_EVENTS:
            continue
        rec = _read(reading, e.seq, e.time, e.event)
        content = (record_content(rec.payload.get("text"), rec.payload.get("media") or [])
                   if rec.payload is not None else None)
        if content is None or content != previous:
            versions.append(rec)
        previous = content
    replies = [Reply(_summary(c), _read(reading, *latest[c.item_id]) if c.item_id in latest
                     else None) for c in shown]
    return ItemHistory(_summary(row), versions, events, replies, len(children) > max_replies)
