"""GET /api/v1/items/{platform}/{item_id}: an item, every version, its events, its replies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.retention_models import DisposedOut
from archiver.api.routing import Strict, operation
from archiver.items import ItemHistory, ItemRecord, ItemSummary, item_history
from archiver.records import MAX_ID_CHARS
from archiver.retention_store import disposition_of


class ItemPath(Strict):
    platform: str = Field(min_length=1, max_length=64)
    item_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


class ItemOut(BaseModel):
    platform: str
    item_id: str
    account: str
    kind: str
    parent_id: str | None
    state: str = Field(description="live, deleted or hidden")
    versions: int
    first_seq: int
    latest_seq: int
    first_seen: str
    observed_at: str
    last_seen: str


class RecordRef(BaseModel):
    seq: int
    time: str = Field(description="When the record was appended")
    event: str | None


class VersionOut(RecordRef):
    destroyed: bool
    payload: dict[str, Any] | None
    disposition: DisposedOut | None = Field(
        None, description="When destroyed: when, under which run and policy")


class ReplyOut(BaseModel):
    item: ItemOut
    latest: VersionOut | None = Field(description="Its newest content, decrypted")


class ItemHistoryOut(BaseModel):
    item: ItemOut
    versions: list[VersionOut] = Field(description="Each distinct content, oldest first")
    events: list[RecordRef] = Field(description="Every capture record, in log order")
    replies: list[ReplyOut] = Field(description="Items whose parent is this item")
    replies_truncated: bool
    deletion_reason: str | None = Field(
        None, description="Why the item vanished, when the platform said (its newest "
                          "deleted record's `reason`)")


def _item(s: ItemSummary) -> ItemOut:
    return ItemOut.model_validate(s, from_attributes=True)


def _version(r: ItemRecord) -> VersionOut:
    return VersionOut.model_validate(r, from_attributes=True)


def history_out(h: ItemHistory) -> ItemHistoryOut:
    out = _history_out(h)
    deleted = [e.seq for e in out.events if e.event == "deleted"]
    if deleted:
        from archiver.log.reader import read_record

        payload = read_record(api().archive.appender, deleted[-1]).payload or {}
        reason = payload.get("reason")
        out.deletion_reason = reason if isinstance(reason, str) else None
    gone = [v for v in out.versions if v.destroyed]
    gone += [r.latest for r in out.replies if r.latest is not None and r.latest.destroyed]
    if gone:
        found = disposition_of(api().archive.catalog, [v.seq for v in gone])
        for v in gone:
            v.disposition = DisposedOut.model_validate(found[v.seq]) if v.seq in found \
                else None
    return out


def _history_out(h: ItemHistory) -> ItemHistoryOut:
    return ItemHistoryOut(
        item=_item(h.item),
        versions=[_version(v) for v in h.versions],
        events=[RecordRef(seq=e.seq, time=e.time, event=e.event) for e in h.events],
        replies=[ReplyOut(item=_item(r.item), latest=_version(r.latest) if r.latest else None)
                 for r in h.replies],
        replies_truncated=h.replies_truncated,
    )


def blueprint() -> Blueprint:
    bp = Blueprint("items", __name__, url_prefix="/api/v1/items")

    # `path:` so that an item id holding a slash (a URL, a composite id) still resolves.
    @bp.get("/<platform>/<path:item_id>", provide_automatic_options=False)
    @operation(summary="An item with every version, its events and its replies", tag="items",
               path=ItemPath, response=ItemHistoryOut, errors=(404,))
    def get_item(path: ItemPath) -> ItemHistoryOut:
        return history_out(item_history(api().archive.appender, path.platform, path.item_id))

    return bp
