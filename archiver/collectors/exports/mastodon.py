"""The Mastodon account export (Settings -> Import and export -> Request your archive).

The export is a zip (a tar.gz from older servers) holding `outbox.json`, `actor.json`,
`likes.json`, `bookmarks.json` and the media files. `outbox.json` is an ActivityStreams
`OrderedCollection` whose `orderedItems` are the account's activities:

- `Create` with an `object` of type `Note` (a status): `id` (the status URI, ending in
  `/statuses/<id>`, the same id the REST API uses), `published`, `url`, `summary` (the
  content warning), `content` (HTML), `contentMap` (one language -> the same HTML),
  `inReplyTo` (the answered status' URI, or null), `attachment` (`Document`s with
  `mediaType`, `url` — a path inside the export — and `name`, the alt text);
- `Announce` (a boost) whose `object` is only the boosted status' URI.

Each becomes one observation with the activity, whole, in `raw`; the text, kinds and
content-warning rule are the REST collector's (archiver/collectors/mastodon.py), so an
item imported and later collected is the same item with the same text. The export does
not carry the account's numeric id: `account` is the actor's URI unless the import names
the account (`archiver import mastodon FILE --account ID`). A reply to a status of
another server keeps that status' URI as `parent_id` (its local id is not in the export).

`read_export` accepts the export archive or a bare `outbox.json`, reads the whole outbox
before yielding anything, and raises `InvalidRequest` naming the item and the member when
the file is not an export.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from archiver.collectors.mastodon import MAX_TEXT_BYTES, PLATFORM, JsonObject, status_text
from archiver.errors import InvalidObservation, InvalidRequest
from archiver.records import Observation, parse_observation

MAX_OUTBOX_BYTES = 2 * 1024 ** 3     # a decompressed outbox larger than this is refused
_STATUS_ID = re.compile(r"/statuses/([^/?#]+)(?:/activity)?/?$")


def read_export(path: Path, *, account: str | None = None) -> Iterator[Observation]:
    """The export's statuses and boosts as observations (`account`: the archive's id
    for the account, when known)."""
    outbox, actor = _load(Path(path))
    doc = _doc(outbox, "outbox.json")
    items = doc.list("orderedItems")
    if doc.id("type") not in ("OrderedCollection", "Collection"):
        raise InvalidRequest("outbox.json: 'type' is not an OrderedCollection")
    author = _author(actor)
    observations = [_observation(item, i, account, author) for i, item in enumerate(items)]
    yield from (o for o in observations if o is not None)


# -- reading the file -----------------------------------------------------------------


def _load(path: Path) -> tuple[Any, Any]:
    """(outbox, actor or None) from an export archive or a bare outbox.json."""
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = {n.rsplit("/", 1)[-1]: n for n in zf.namelist() if not n.endswith("/")}
            return (_json(_member(path, names, "outbox.json", zf.open), "outbox.json"),
                    _optional(path, names, "actor.json", zf.open))
    if tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as tf:
            names = {m.name.rsplit("/", 1)[-1]: m.name for m in tf.getmembers() if m.isfile()}

            def opener(name: str) -> BinaryIO:
                extracted = tf.extractfile(name)
                assert extracted is not None
                return extracted
            return (_json(_member(path, names, "outbox.json", opener), "outbox.json"),
                    _optional(path, names, "actor.json", opener))
    with path.open("rb") as fh:
        return _json(_bounded(fh, path.name), path.name), None


def _member(path: Path, names: dict[str, str], name: str, opener: Any) -> bytes:
    if name not in names:
        raise InvalidRequest(f"{path}: the archive holds no {name}; is it a Mastodon "
                             f"account export?")
    with opener(names[name]) as fh:
        return _bounded(fh, name)


def _optional(path: Path, names: dict[str, str], name: str, opener: Any) -> Any:
    return _json(_member(path, names, name, opener), name) if name in names else None


def _bounded(fh: BinaryIO | io.BufferedReader, name: str) -> bytes:
    data = fh.read(MAX_OUTBOX_BYTES + 1)
    if len(data) > MAX_OUTBOX_BYTES:
        raise InvalidRequest(f"{name}: larger than {MAX_OUTBOX_BYTES} bytes")
    return data


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{name}: not JSON ({exc.__class__.__name__}: "
                             f"{str(exc)[:120]})") from None


# -- activities to observations -------------------------------------------------------


def _doc(obj: Any, where: str) -> JsonObject:
    return JsonObject(obj, where, InvalidRequest)


def _attachments(note: JsonObject) -> list[Any]:
    """`attachment`: a list, or (JSON-LD) one object on its own, or absent."""
    value = note.obj.get("attachment")
    if value is None:
        return []
    return [value] if isinstance(value, dict) else note.list("attachment")


def _status_id(uri: str, actor: str) -> str:
    """The REST id of one of the account's own status URIs (`<actor>/statuses/<id>`);
    any other URI (another server's status) is kept whole."""
    match = _STATUS_ID.search(uri)
    return match.group(1) if match and uri.startswith(actor + "/") else uri


def _author(actor: Any) -> dict[str, str | None] | None:
    if actor is None:
        return None
    d = _doc(actor, "actor.json")
    return {"id": d.id("id"), "handle": d.opt_str("preferredUsername"),
            "name": d.opt_str("name")}


def _observation(item: Any, index: int, account: str | None,
                 author: dict[str, str | None] | None) -> Observation | None:
    where = f"outbox.json orderedItems[{index}]"
    activity = _doc(item, where)
    kind = activity.id("type")
    if kind not in ("Create", "Announce"):
        return None                        # nothing else is a status of the account
    actor = activity.id("actor")
    owner = account or (author or {}).get("id") or actor
    if kind == "Announce":
        boosted = activity.obj.get("object")
        boosted_uri = boosted if isinstance(boosted, str) else \
            _doc(boosted, f"{where}.object").id("id")
        fields: dict[str, Any] = {
            "item_id": _status_id(activity.id("id"), actor), "kind": "boost",
            "published_at": activity.time("published"), "url": boosted_uri}
    else:
        note = _doc(activity.obj.get("object"), f"{where}.object")
        if note.id("type") not in ("Note", "Question", "Article"):
            return None                    # not a status (nothing else is exported)
        reply_to = note.opt_str("inReplyTo")
        content_map = note.obj.get("contentMap")
        lang = next(iter(content_map)) if isinstance(content_map, dict) \
            and len(content_map) == 1 else None
        media = []
        for j, att in enumerate(_attachments(note)):
            a = _doc(att, f"{where}.object.attachment[{j}]")
            media.append({"id": None, "url": a.id("url"), "mime": a.opt_str("mediaType"),
                          "alt": a.opt_str("name")})
        fields = {
            "item_id": _status_id(note.id("id"), actor),
            "kind": "reply" if reply_to else "post",
            "text": status_text(note.opt_str("summary") or "", note.opt_str("content") or ""),
            "parent_id": _status_id(reply_to, actor) if reply_to else None,
            "published_at": note.time("published"),
            "url": note.opt_str("url") or note.id("id"), "lang": lang, "media": media}
    try:
        return parse_observation({"platform": PLATFORM, "account": owner, "author": author,
                                  "raw": item, **fields}, max_text_bytes=MAX_TEXT_BYTES)
    except InvalidObservation as exc:
        raise InvalidRequest(f"{where}: {exc.reason}") from None
