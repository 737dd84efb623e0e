"""The redaction layer over one capture record: validating a mark against the record it
names, and the record's content with every mark applied. Pure: no I/O, no catalog.

Offsets are Unicode code points into the record's `text` (what Python indexes), so a span
in Persian with ZWNJ or an emoji counts each character once. A redacted version keeps no
withheld character: the text is rebuilt from the pieces outside the spans, the author's
redacted fields are gone, and so is the item's URL once the author is redacted (it usually
holds the handle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.errors import InvalidRequest

TARGETS = ("text", "author", "media")
AUTHOR_FIELDS = ("name", "handle", "id")
MAX_REGIONS = 100


@dataclass(frozen=True)
class Mark:
    """One redaction as the layer applies it."""

    id: str
    target: str
    spec: Mapping[str, Any]
    code: str


@dataclass(frozen=True)
class Piece:
    """A run of text shown as it is (`code` None) or a box citing `code`."""

    text: str
    code: str | None = None


@dataclass(frozen=True)
class MediaOut:
    index: int
    entry: Mapping[str, Any]  # the record's media entry (object, mime, sha256)
    code: str | None  # the whole file withheld under this code
    regions: list[tuple[int, int, int, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RedactedVersion:
    seq: int
    platform: str
    item_id: str
    kind: str
    event: str
    account: str
    parent_id: str | None
    captured: str
    published_at: str
    reason: str | None
    author: dict[str, Piece]  # name/handle/id -> shown or boxed
    pieces: list[Piece]  # the text; [] when the record has none
    media: list[MediaOut]
    url: str
    codes: list[str]  # every code cited on this record, in mark order

    def plain_text(self, box: str = "[REDACTED {code}]") -> str:
        """The text with each withheld span written as `box` (CSV, search of the output)."""
        return "".join(p.text if p.code is None else box.format(code=p.code)
                       for p in self.pieces)


def _int(spec: Mapping[str, Any], name: str) -> int:
    value = spec.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"{name} must be an integer")
    return value


def check_mark(target: str, spec: Mapping[str, Any], payload: Mapping[str, Any],
               existing: Iterable[Mark], image_size: Any = None) -> dict[str, Any]:
    """The normalised spec of a new mark on `payload`, or InvalidRequest saying why not.

    `existing` are the record's live marks (a text span may not overlap one of them);
    `image_size(index)` gives (width, height) of an image for region checks.
    """
    if target not in TARGETS:
        raise InvalidRequest(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if target == "text":
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise InvalidRequest("this record has no text to redact")
        start, end = _int(spec, "start"), _int(spec, "end")
        if start < 0 or end > len(text):
            raise InvalidRequest(f"the span {start}..{end} is outside the text "
                                 f"(0..{len(text)} characters)")
        if end <= start:
            raise InvalidRequest("a span is not empty: end must be greater than start")
        for m in existing:
            if m.target == "text" and start < m.spec["end"] and m.spec["start"] < end:
                raise InvalidRequest(f"the span {start}..{end} overlaps redaction {m.id} "
                                     f"({m.spec['start']}..{m.spec['end']})")
        return {"start": start, "end": end}
    if target == "author":
        name = spec.get("field")
        if name not in (*AUTHOR_FIELDS, "all"):
            raise InvalidRequest(f"field must be one of {', '.join(AUTHOR_FIELDS)} or all")
        if not isinstance(payload.get("author"), Mapping):
            raise InvalidRequest("this record names no author")
        for m in existing:
            if m.target == "author" and m.spec["field"] in (name, "all"):
                raise InvalidRequest(f"the author's {name} is redacted already ({m.id})")
        return {"field": name}
    media = payload.get("media") or []
    index = _int(spec, "index")
    if not 0 <= index < len(media):
        raise InvalidRequest(f"media index {index} is outside the record's {len(media)} "
                             "media")
    regions = spec.get("regions") or []
    if not isinstance(regions, list) or len(regions) > MAX_REGIONS:
        raise InvalidRequest(f"regions is a list of at most {MAX_REGIONS} [x, y, width, "
                             "height] rectangles")
    for m in existing:
        if m.target == "media" and m.spec["index"] == index and not m.spec["regions"]:
            raise InvalidRequest(f"media {index} is withheld whole already ({m.id})")
    out: list[list[int]] = []
    if regions:
        size = image_size(index) if image_size else None
        if size is None:
            raise InvalidRequest(f"media {index} is not an image the archive holds: only "
                                 "the whole file can be withheld")
        width, height = size
        for r in regions:
            if (not isinstance(r, list) or len(r) != 4
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in r)):
                raise InvalidRequest("a region is [x, y, width, height] in whole pixels")
            x, y, w, h = r
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
                raise InvalidRequest(f"region {r} is empty or outside the image "
                                     f"({width}x{height} pixels)")
            out.append([x, y, w, h])
    return {"index": index, "regions": out}


def apply_marks(seq: int, captured: str, payload: Mapping[str, Any],
                marks: Iterable[Mark]) -> RedactedVersion:
    """The record's content as a response shows it: every mark applied."""
    marks = list(marks)
    text = payload.get("text")
    pieces: list[Piece] = []
    if isinstance(text, str) and text:
        spans = sorted((m.spec["start"], m.spec["end"], m.code) for m in marks
                       if m.target == "text")
        at = 0
        for start, end, code in spans:
            if start > at:
                pieces.append(Piece(text[at:start]))
            pieces.append(Piece("", code))
            at = end
        if at < len(text):
            pieces.append(Piece(text[at:]))
    author_doc = payload.get("author") if isinstance(payload.get("author"), Mapping) else {}
    author: dict[str, Piece] = {}
    withheld: dict[str, str] = {}
    for m in marks:
        if m.target == "author":
            for f in AUTHOR_FIELDS if m.spec["field"] == "all" else (m.spec["field"],):
                withheld[f] = m.code
    for f in AUTHOR_FIELDS:
        if f in withheld:
            author[f] = Piece("", withheld[f])
        elif author_doc.get(f):
            author[f] = Piece(str(author_doc[f]))
    media: list[MediaOut] = []
    for i, entry in enumerate(payload.get("media") or []):
        whole = next((m.code for m in marks if m.target == "media"
                      and m.spec["index"] == i and not m.spec["regions"]), None)
        regions = [(x, y, w, h, m.code) for m in marks if m.target == "media"
                   and m.spec["index"] == i for x, y, w, h in m.spec["regions"]]
        media.append(MediaOut(i, entry, whole, [] if whole else regions))
    reason = payload.get("reason")
    return RedactedVersion(
        seq=seq, platform=str(payload.get("platform") or ""),
        item_id=str(payload.get("item_id") or ""), kind=str(payload.get("kind") or ""),
        event=str(payload.get("event") or ""), account=str(payload.get("account") or ""),
        parent_id=payload.get("parent_id"), captured=captured,
        published_at=str(payload.get("published_at") or ""),
        reason=reason if isinstance(reason, str) else None, author=author, pieces=pieces,
        media=media, url="" if withheld else str(payload.get("url") or ""),
        codes=list(dict.fromkeys(m.code for m in marks)))
