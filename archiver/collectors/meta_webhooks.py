"""Meta webhooks (Facebook Page `feed`, Instagram `comments` / `mentions`): a delivery's
signature, and its changes as observations. The HTTP side is `archiver/api/webhooks.py`;
nothing here stores anything (collectors never touch the log).

Authentication: Meta signs every POST with the app secret, `X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the raw body>`; the subscription check (`GET`) presents the
verify token chosen when subscribing. Both are compared in constant time.

Page `feed` changes (`entry[].id` is the Page id; `changes[].value` has `item`, `verb`,
`post_id`, `comment_id`, `parent_id`, `from`, `message`, `created_time`):

- item post, status, photo, video, share; verb add or edited: the post (`post`, or
  `visitor_post` when `from` is not the Page), `message` its text;
- item comment; verb add or edited: the comment (`comment`, or `reply` when `from` is the
  Page), `parent_id` as Meta gives it (the post, or the comment answered);
- verb remove: `deleted`; hide: `hidden`; unhide: the item with its `message` (capture:
  `restored`), or, without a message, nothing: the next poll restores it.

Other items (reactions, likes, events...) are ignored and said so in the answer.

Instagram (`entry[].id` is the Instagram account id; `entry[].time`): `comments` ->
the comment (`id`, `text`, `from`, `media.id`, `parent_id` for replies); `mentions` ->
an item `mention:<comment or media id>` of kind `mention` with the ids Meta sent (the
webhook carries no text). Instagram sends no edit or delete webhooks: polling finds those.

`observed_at` is the change's `created_time`, or the entry's `time` when later (Meta's
edit notices may carry the item's original creation time), so capture's stale-observation
rule drops duplicates and out-of-order deliveries: an older notice never overrides what
the archive saw later. Edit notices carry only the new text: the old version must already
be in the archive (polling backs webhooks up); an `edited` notice for an item the archive
does not hold archives it as `created`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archiver import times
from archiver.collectors.facebook import GRAPH_ID
from archiver.errors import InvalidRequest
from archiver.records import Observation

SIGNATURE_HEADER = "X-Hub-Signature-256"
POST_ITEMS = frozenset({"post", "status", "photo", "video", "share"})
VERBS = frozenset({"add", "edited", "remove", "hide", "unhide"})


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """`sha256=` + HMAC-SHA256(body, app secret), compared in constant time. No secret
    configured, or no header: never valid."""
    if not app_secret or not header:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def verify_token_matches(configured: str, given: str) -> bool:
    """The subscription check's `hub.verify_token`, compared in constant time."""
    if not configured:
        return False
    return hmac.compare_digest(configured.encode(), given.encode("utf-8", "replace"))


@dataclass
class Delivery:
    """What one delivery holds for the archive."""

    observations: list[Observation] = field(default_factory=list)
    changes: int = 0
    unregistered: list[str] = field(default_factory=list)   # "facebook 1046..." entries
    ignored: list[str] = field(default_factory=list)        # changes not archived, and why


def parse_body(body: bytes) -> dict[str, Any]:
    """The delivery's JSON: an object with `object` and a list `entry`; else 400."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("the delivery is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("object"), str) \
            or not isinstance(doc.get("entry"), list):
        raise InvalidRequest("a Meta delivery is an object with `object` and an `entry` list")
    return doc


def observations(doc: Mapping[str, Any], registered: Callable[[str, str], bool]) -> Delivery:
    """The delivery's changes as observations, for accounts the archive has registered."""
    out = Delivery()
    platform = {"page": "facebook", "instagram": "instagram"}.get(doc["object"])
    for i, entry in enumerate(doc["entry"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            out.ignored.append(f"entry[{i}]: no `changes` list")
            continue
        out.changes += len(entry["changes"])
        owner = entry.get("id")
        if platform is None:
            out.ignored.append(f"entry[{i}]: object {str(doc['object'])[:40]!r} is not "
                               f"archived")
            continue
        if not isinstance(owner, str) or not GRAPH_ID.fullmatch(owner):
            out.ignored.append(f"entry[{i}]: `id` is not a Graph id")
            continue
        if not registered(platform, owner):
            out.unregistered.append(f"{platform} {owner}")
            continue
        for j, change in enumerate(entry["changes"]):
            where = f"entry[{i}].changes[{j}]"
            try:
                obs = _change(platform, owner, entry.get("time"), change)
            except _Skip as why:
                out.ignored.append(f"{where}: {why}")
                continue
            out.observations.append(obs)
    return out


class _Skip(Exception):
    """A change that is not archived (says why)."""


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = value / 1000 if value > 10**11 else value   # some objects send milliseconds
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _when(value: Any) -> datetime | None:
    """`created_time`: epoch seconds (feed webhooks) or an ISO time."""
    if isinstance(value, str):
        try:
            return times.parse_time(value)
        except (times.TimeFormatError, ValueError):
            return None
    return _epoch(value)


def _id(value: Mapping[str, Any], key: str) -> str:
    found = value.get(key)
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    if not isinstance(found, str) or not GRAPH_ID.fullmatch(found):
        raise _Skip(f"`{key}` is missing or not a Graph id")
    return found


def _text(value: Mapping[str, Any], key: str) -> str | None:
    found = value.get(key)
    if found is not None and not isinstance(found, str):
        raise _Skip(f"`{key}` must be a string")
    return found


def _author(value: Mapping[str, Any]) -> dict[str, str | None] | None:
    who = value.get("from")
    if not isinstance(who, dict):
        return None
    ident = who.get("id")
    return {"id": str(ident) if isinstance(ident, (str, int)) else None,
            "handle": who.get("username") if isinstance(who.get("username"), str) else None,
            "name": who.get("name") if isinstance(who.get("name"), str) else None}


def _change(platform: str, owner: str, entry_time: Any, change: Any) -> Observation:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        raise _Skip("not a change object with a `value`")
    name, value = change.get("field"), change["value"]
    created, entry_at = _when(value.get("created_time")), _epoch(entry_time)
    moments = [m for m in (created, entry_at) if m is not None]
    if not moments:
        raise _Skip("no `created_time` and no entry `time`: cannot order it")
    observed_at = times.format_time(max(moments))
    author = _author(value)
    if platform == "facebook" and name == "feed":
        return _feed(owner, value, author, created, observed_at)
    if platform == "instagram" and name == "comments":
        comment_id = _id(value, "id")
        media = value.get("media")
        parent = value.get("parent_id") or (media.get("id") if isinstance(media, dict)
                                            else None)
        own = author is not None and author["id"] == owner
        return Observation(
            platform="instagram", account=owner, item_id=comment_id,
            kind="reply" if own else "comment", text=_text(value, "text"), author=author,
            parent_id=str(parent) if parent is not None else None,
            published_at=observed_at, observed_at=observed_at, raw=dict(value))
    if platform == "instagram" and name == "mentions":
        target = value.get("comment_id") or value.get("media_id")
        if not isinstance(target, (str, int)) or not GRAPH_ID.fullmatch(str(target)):
            raise _Skip("a mention without `comment_id` or `media_id`")
        # No published_at: a mention is not the account's own item, so no listing window
        # covers it and no lookup can decide it (the collector never presumes it gone).
        return Observation(
            platform="instagram", account=owner, item_id=f"mention:{target}",
            kind="mention", observed_at=observed_at, raw=dict(value))
    raise _Skip(f"field {str(name)[:40]!r} is not archived")


def _feed(page: str, value: Mapping[str, Any], author: dict[str, str | None] | None,
          created: datetime | None, observed_at: str) -> Observation:
    item, verb = value.get("item"), value.get("verb")
    if verb not in VERBS:
        raise _Skip(f"verb {str(verb)[:40]!r} is not archived")
    own = author is not None and author["id"] == page
    if item == "comment":
        item_id = _id(value, "comment_id")
        parent: str | None = _id(value, "parent_id") if value.get("parent_id") else \
            _id(value, "post_id")
        kind = "reply" if own else "comment"
    elif item in POST_ITEMS:
        item_id, parent = _id(value, "post_id"), None
        kind = "post" if own or author is None else "visitor_post"
    else:
        raise _Skip(f"item {str(item)[:40]!r} is not archived")
    message = _text(value, "message")
    base = {"platform": "facebook", "account": page, "item_id": item_id, "kind": kind,
            "parent_id": parent, "observed_at": observed_at, "raw": dict(value),
            "author": author}
    if verb == "remove":
        return Observation(**base, event="deleted")
    if verb == "hide":
        return Observation(**base, text=message, event="hidden")
    if message is None and verb in ("unhide", "edited"):
        raise _Skip(f"a {verb} notice without the text: the next poll archives it")
    published = times.format_time(created) if verb == "add" and created else None
    return Observation(**base, text=message, published_at=published)
