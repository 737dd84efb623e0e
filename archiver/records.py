"""Plain values shared by every stage: observations in, events and payloads out.

An observation is what a collector saw of one item at one moment (docs/observation.md).
It is parsed and validated once, here; the rest of the code takes `Observation`.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archiver import times
from archiver.errors import InvalidObservation

EVENTS = ("created", "edited", "deleted", "hidden", "restored", "observed")
SOURCE_EVENTS = frozenset({"deleted", "hidden"})
_REQUIRED = ("platform", "account", "item_id", "kind")
_STRINGS = ("text", "parent_id", "url", "lang", "published_at", "observed_at")
_KNOWN = frozenset(_REQUIRED + _STRINGS + ("author", "media", "raw", "event", "reason"))
# Why an item vanished, where the platform says (docs/observation.md, "reason"): only on
# `deleted` observations, and only in the payload when given (older records have none).
DELETION_REASONS = frozenset({"removed_by_account", "removed_by_platform", "account_suspended",
                              "account_deactivated", "made_private"})
_AUTHOR_KEYS = frozenset({"id", "handle", "name"})
MAX_ID_CHARS = 512
_SHORT = frozenset({"platform", "kind"})  # catalog columns of 64 characters
_SHORT_CHARS = 64
# Deeper JSON cannot be written, read back and served without hitting recursion limits
# (the interpreter's ~1000 frames, pydantic-core's serializer); platform JSON stays < 20.
MAX_NESTING = 100


@dataclass(frozen=True, slots=True)
class Observation:
    platform: str
    account: str
    item_id: str
    kind: str
    text: str | None = None
    author: dict[str, str] | None = None
    parent_id: str | None = None
    published_at: str | None = None
    observed_at: str | None = None
    url: str | None = None
    lang: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    raw: Any = None
    event: str | None = None
    reason: str | None = None

    def content(self) -> dict[str, Any]:
        return record_content(self.text, self.media)

    def payload(self, event: str, captured_at: str) -> dict[str, Any]:
        """The plaintext of a `capture` record (docs/observation.md, "Payload")."""
        payload = {
            "schema": "observation/1",
            "event": event,
            "platform": self.platform,
            "account": self.account,
            "item_id": self.item_id,
            "kind": self.kind,
            "parent_id": self.parent_id,
            "text": self.text,
            "author": self.author,
            "published_at": self.published_at,
            "observed_at": self.observed_at or captured_at,
            "url": self.url,
            "lang": self.lang,
            "media": self.media,
            "raw": self.raw,
        }
        if self.reason is not None and event == "deleted":
            payload["reason"] = self.reason
        return payload


def record_content(text: str | None, media: list[dict[str, Any]]) -> dict[str, Any]:
    """What an edit changes: text (NFC, whitespace-normalised) and media references.

    The fingerprint covers this and nothing else, so a re-fetch that only moves counters
    or timestamps in `raw` is not an edit. Capture and replay must agree, hence one rule.
    A medium is named by the platform's id first: the id is what every path (polling
    with a download, a stream or an account export without one, a failed download) has
    in common, so the same attachment seen two ways is not an edit; a new attachment
    gets a new id on every platform. `sha256` serves where there is no id, the URL
    (which CDNs re-sign) only as the last resort.
    """
    normalized = " ".join(unicodedata.normalize("NFC", text or "").split())
    refs = sorted(str(m.get("id") or m.get("sha256") or m.get("url") or "") for m in media)
    return {"text": normalized, "media": refs}


def parse_time(value: str, name: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset; naive times are refused."""
    try:
        return times.parse_time(value)
    except times.TimeFormatError as exc:
        raise InvalidObservation(f"{name} {exc}") from None


def _json_problem(value: Any) -> str | None:
    """What would stop a decoded JSON value from being archived and served back, if anything:
    nesting deeper than MAX_NESTING, an unpaired surrogate (not encodable as UTF-8, so
    neither storable nor printable), NaN or Infinity (not JSON).

    One serialisation in C answers the common case; the walk runs only when the text has
    enough brackets to be nested too deep, or the serialisation found a problem.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, check_circular=False)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError, RecursionError):
        return _walk_problem(value) or "is not serialisable as JSON"
    if text.count("{") + text.count("[") <= MAX_NESTING:
        return None  # fewer brackets than levels: cannot be nested too deep
    return _walk_problem(value)


def _walk_problem(value: Any) -> str | None:
    """The thorough check, iterative (no recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if not v.isascii() and not _utf8(v):
                return "contains an unpaired surrogate"
        elif isinstance(v, float):
            if not math.isfinite(v):
                return "holds NaN or Infinity, which JSON does not allow"
        elif isinstance(v, dict):
            if depth > MAX_NESTING:
                return f"is nested deeper than {MAX_NESTING} levels"
            for k, child in v.items():
                if isinstance(k, str) and not k.isascii() and not _utf8(k):
                    return "contains an unpaired surrogate"
                stack.append((child, depth + 1))
        elif isinstance(v, list):
            if depth > MAX_NESTING:
                return f"is nested deeper than {MAX_NESTING} levels"
            stack.extend((child, depth + 1) for child in v)
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_observation(obj: Any, *, max_text_bytes: int, line: int | None = None) -> Observation:
    """Validate one decoded JSON value as an observation, or raise InvalidObservation."""

    def bad(reason: str) -> InvalidObservation:
        return InvalidObservation(reason, line)

    if not isinstance(obj, dict):
        raise bad("an observation must be a JSON object")
    unknown = set(obj) - _KNOWN
    if unknown:
        raise bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    if _json_problem(obj):  # one pass over the whole object; name the field only on failure
        for name, value in obj.items():
            problem = _json_problem(value)
            if problem:
                raise bad(f"'{name}' {problem}")
    for name in _REQUIRED:
        value = obj.get(name)
        if value is None:
            raise bad(f"missing required field '{name}'")
        if not isinstance(value, str):
            raise bad(f"'{name}' must be a string")
        if not value.strip():
            raise bad(f"'{name}' must not be empty")
        limit = _SHORT_CHARS if name in _SHORT else MAX_ID_CHARS
        if len(value) > limit:
            raise bad(f"'{name}' is longer than {limit} characters")
        if "\x00" in value:
            raise bad(f"'{name}' must not contain NUL characters")
    for name in _STRINGS:
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise bad(f"'{name}' must be a string")
    parent = obj.get("parent_id")
    if parent is not None and (len(parent) > MAX_ID_CHARS or "\x00" in parent):
        raise bad(f"'parent_id' must be at most {MAX_ID_CHARS} characters, without NUL")
    text = obj.get("text")
    if text is not None and len(text.encode("utf-8", "surrogatepass")) > max_text_bytes:
        raise bad(f"'text' is longer than {max_text_bytes} bytes")
    if text is not None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise bad("'text' contains an unpaired surrogate") from None
    stamps: dict[str, str | None] = {}
    for name in ("published_at", "observed_at"):
        stamps[name] = None
        if obj.get(name) is not None:
            try:
                # One fixed UTC form, so that times compare as strings everywhere after.
                stamps[name] = times.format_time(parse_time(obj[name], name))
            except InvalidObservation as exc:
                raise bad(exc.reason) from None
    author = obj.get("author")
    if author is not None:
        if not isinstance(author, dict):
            raise bad("'author' must be an object with id, handle, name")
        if set(author) - _AUTHOR_KEYS:
            raise bad(f"'author' has unknown field(s): {sorted(set(author) - _AUTHOR_KEYS)}")
        if any(v is not None and not isinstance(v, str) for v in author.values()):
            raise bad("'author' fields must be strings")
    media = obj.get("media")
    media = [] if media is None else media
    if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
        raise bad("'media' must be a list of objects")
    event = obj.get("event")
    if event is not None and event not in SOURCE_EVENTS:
        raise bad(f"'event' must be one of {sorted(SOURCE_EVENTS)}, not {event!r}")
    reason = obj.get("reason")
    if reason is not None and (event != "deleted" or reason not in DELETION_REASONS):
        raise bad(f"'reason' is one of {sorted(DELETION_REASONS)}, on a deleted observation")
    return Observation(
        platform=obj["platform"],
        account=obj["account"],
        item_id=obj["item_id"],
        kind=obj["kind"],
        text=text,
        author=author,
        parent_id=obj.get("parent_id"),
        published_at=stamps["published_at"],
        observed_at=stamps["observed_at"],
        url=obj.get("url"),
        lang=obj.get("lang"),
        media=media,
        raw=obj.get("raw"),
        event=event,
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class MediaBlob:
    """A downloaded media file: its plaintext bytes, checked type and SHA-256 (hex).

    Collectors' media download makes these; the log encrypts each under its own data key
    and stores it as `media/<id>` (docs/format.md, "Media objects").
    """

    sha256: str
    mime: str
    data: bytes = field(repr=False)
    source_url: str


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A payload waiting for the appender; `item` links a capture to its catalog item."""

    type: str  # capture | system
    payload: dict[str, Any]
    item: tuple[str, str] | None = None  # (platform, item_id)
    event: str | None = None
    fingerprint: str | None = None  # the content fingerprint capture computed
    # Media files first stored with this record: (media id, blob). The payload's media
    # entries name them as "object": "media/<id>"; their keys join the segment's keys.
    media: tuple[tuple[str, MediaBlob], ...] = ()
