"""A capture record as a search document: the fields every engine indexes. Pure code.

One document per readable capture record, so every version of an item is found, and
the `deleted` and `hidden` notices are documents too (with the text they carried, if
any). Times are the fixed UTC form (`archiver.times`) and, for columns, microseconds
since the Unix epoch; days are UTC calendar days (`YYYY-MM-DD`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archiver.search import analyzer
from archiver.times import TimeFormatError, format_time, parse_time

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_us(value: datetime) -> int:
    """Microseconds since the Unix epoch (exact; negative before 1970)."""
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def item_key(platform: str, item_id: str) -> str:
    """One string naming an item, unambiguous whatever characters the two parts hold."""
    return f"{len(platform)}:{platform}{item_id}"


@dataclass(frozen=True, slots=True)
class SearchDocument:
    seq: int
    platform: str
    account: str
    kind: str
    event: str
    item_id: str
    parent_id: str | None
    author_id: str | None
    author_handle: str | None
    author_name: str | None
    published_at: str | None  # fixed UTC form, or None (deletion notices carry none)
    captured_at: str  # when the collector observed this state (the record's time if unset)
    lang: str | None
    url: str | None
    text: str
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    urls: tuple[str, ...]

    @property
    def item_key(self) -> str:
        return item_key(self.platform, self.item_id)

    @property
    def published_us(self) -> int | None:
        return _us(self.published_at)

    @property
    def captured_us(self) -> int:
        us = _us(self.captured_at)
        assert us is not None
        return us

    @property
    def time_us(self) -> int:
        """The time a result list is sorted by: publication, else capture."""
        published = self.published_us
        return self.captured_us if published is None else published


def _us(value: str | None) -> int | None:
    return None if value is None else time_us(parse_time(value))


def _fixed(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return format_time(parse_time(value))
    except TimeFormatError:
        return None


def document_for(seq: int, record_time: str, payload: dict[str, Any]) -> SearchDocument:
    """The search document of capture record `seq` (its envelope time and its payload)."""
    text = payload.get("text") or ""
    author = payload.get("author") or {}
    found_urls = analyzer.urls(text)
    if payload.get("url"):
        found_urls = list(dict.fromkeys([*found_urls, str(payload["url"])]))
    return SearchDocument(
        seq=seq,
        platform=str(payload["platform"]),
        account=str(payload["account"]),
        kind=str(payload["kind"]),
        event=str(payload["event"]),
        item_id=str(payload["item_id"]),
        parent_id=payload.get("parent_id"),
        author_id=author.get("id"),
        author_handle=author.get("handle"),
        author_name=author.get("name"),
        published_at=_fixed(payload.get("published_at")),
        captured_at=_fixed(payload.get("observed_at")) or record_time,
        lang=payload.get("lang"),
        url=payload.get("url"),
        text=text,
        hashtags=tuple(analyzer.hashtags(text)),
        mentions=tuple(analyzer.mentions(text)),
        urls=tuple(found_urls),
    )
