"""The X account archive ("Download an archive of your data"): a zip of JavaScript files.

What is read (help.x.com, "How to download your X archive"; the files' own shapes):

- `data/account.js`: `window.YTD.account.part0 = [{"account": {"accountId", "username",
  "accountDisplayName", ...}}]`, whose account the posts are;
- `data/tweets.js` (older archives: `data/tweet.js`), possibly continued in
  `data/tweets-part1.js`, `-part2`...: `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`,
  v1.1-shaped posts: `id_str`, `full_text`, `created_at` ("Wed Oct 10 20:19:24 +0000
  2018"), `lang`, `in_reply_to_status_id_str`, `entities`, `extended_entities.media`, and
  `edit_info` (`initial.editTweetIds`, or `edit.initialTweetId` for a later version);
- `data/deleted-tweets.js` (`window.YTD.deleted_tweets.part0`): posts the account deleted,
  each with `deleted_at`;
- `data/manifest.js` (`window.__THAR_CONFIG = {...}`): `archiveInfo.generationDate`.

Each post becomes one observation with its entry (`{"tweet": {...}}`) whole in `raw`, with
the same item identity, kind and text rules as the API collector (archiver/collectors/x.py):
an edit chain is one item whose id is the chain's first id; its versions are given oldest
first, each observed when it was written (the newest when the archive was generated), so
an import archives `observed` then `edited`, and importing again, or after the collector
saw the item, archives nothing. A deleted post gives its content, then a `deleted`
observation at `deleted_at`. The user timeline of the API reaches only the newest 3,200
posts: this import is how an account's older history enters the archive.

Not read: long posts' full text in `note-tweet.js` (their `full_text` is the first 280
characters), media files in `tweets_media/` (media are referenced by their URLs).

Half of a UTF-16 pair escaped alone (a post cut inside an emoji) is not Unicode: it
becomes U+FFFD, as in the collector.

Zip bombs: members are read with a size cap (declared size checked first, bytes counted
while reading), the number of members is capped, and nothing is yielded before every
post has been read and checked.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver import times
from archiver.collectors.x import (
    PLATFORM,
    POST_ID,
    image_type,
    plain_text,
    repair_surrogates,
    snowflake_time,
)
from archiver.errors import InvalidRequest
from archiver.records import Observation

MAX_MEMBER_BYTES = 512 * 1024 ** 2      # one tweets-partN.js, decompressed
MAX_TOTAL_BYTES = 2 * 1024 ** 3         # every member read, decompressed
MAX_MEMBERS = 1_000_000                 # names in the zip's directory
_YTD = re.compile(r"\A\ufeff?\s*window\.YTD\.([A-Za-z_]+)\.part([0-9]+)\s*=\s*")
_MANIFEST = re.compile(r"\A\ufeff?\s*window\.__THAR_CONFIG\s*=\s*")
_TWEETS = re.compile(r"(?:^|/)data/(tweets?|deleted-tweets)(?:-part([0-9]+))?\.js$")
_MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}


@dataclass(frozen=True)
class ArchiveAccount:
    id: str
    username: str
    name: str | None


@dataclass(frozen=True)
class _Version:
    entry: dict[str, Any]      # {"tweet": {...}}, as in the file
    id: str
    item_id: str
    created_at: str
    deleted_at: str | None
    where: str


def read_export(path: Path) -> Iterator[Observation]:
    """Every post of the archive (all versions of edited ones, oldest first) and every
    deletion it records; InvalidRequest naming the member and entry when it is not one."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidRequest(f"{path.name}: not a zip file; an X account archive is the "
                             f".zip X sends") from None
    with zf:
        observations = _read(zf, _Reader())
    yield from observations


class _Reader:
    """Counts what has been decompressed, across members."""

    def __init__(self) -> None:
        self.total = 0

    def member(self, zf: zipfile.ZipFile, name: str) -> str:
        info = zf.getinfo(name)
        if info.file_size > MAX_MEMBER_BYTES:
            raise InvalidRequest(f"{name}: {info.file_size} bytes, more than the "
                                 f"{MAX_MEMBER_BYTES}-byte limit for one member")
        try:
            with zf.open(info) as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)
        except RuntimeError as exc:       # an encrypted member
            raise InvalidRequest(f"{name}: cannot be read ({exc})") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InvalidRequest(f"{name}: damaged in the zip ({exc})") from None
        if len(data) > MAX_MEMBER_BYTES:
            raise InvalidRequest(f"{name}: larger than the {MAX_MEMBER_BYTES}-byte limit "
                                 f"for one member")
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise InvalidRequest(f"{name}: the archive's files add up to more than "
                                 f"{MAX_TOTAL_BYTES} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(f"{name}: not UTF-8 text (byte {exc.start})") from None


def _read(zf: zipfile.ZipFile, reader: _Reader) -> list[Observation]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InvalidRequest(f"the zip lists {len(infos)} files, more than {MAX_MEMBERS}")
    names = [i.filename for i in infos if not i.is_dir()]
    parts: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        m = _TWEETS.search(name)
        if m:
            kind = "deleted" if m.group(1) == "deleted-tweets" else "tweets"
            parts.setdefault(kind, []).append((int(m.group(2) or 0), name))
    if "tweets" not in parts:
        raise InvalidRequest("not an X account archive: it has no data/tweets.js")
    account_js = _sibling(names, parts["tweets"][0][1], "account.js")
    if account_js is None:
        raise InvalidRequest("not an X account archive: it has no data/account.js")
    account = _account(_ytd(reader.member(zf, account_js), account_js, {"account"}),
                       account_js)
    manifest = _sibling(names, parts["tweets"][0][1], "manifest.js")
    generated = _generated(reader.member(zf, manifest), manifest) if manifest else None

    versions: list[_Version] = []
    for kind in ("tweets", "deleted"):
        for _, name in sorted(parts.get(kind, [])):
            allowed = {"tweets", "tweet"} if kind == "tweets" else {"deleted_tweets"}
            entries = _ytd(reader.member(zf, name), name, allowed)
            versions.extend(_version(e, f"{name}[{i}]", deleted=kind == "deleted")
                            for i, e in enumerate(entries))
    return _observations(account, versions, generated)


def _sibling(names: list[str], member: str, file: str) -> str | None:
    """`data/<file>` next to the tweets member (the zip may have a top folder)."""
    wanted = member.rsplit("/", 1)[0] + "/" + file
    return wanted if wanted in names else None


def _ytd(text: str, name: str, allowed: set[str]) -> list[Any]:
    """`window.YTD.<name>.partN = [...]` -> the list."""
    m = _YTD.match(text)
    if m is None:
        raise InvalidRequest(f"{name}: does not start with 'window.YTD.<name>.partN ='")
    if m.group(1) not in allowed:
        raise InvalidRequest(f"{name}: holds window.YTD.{m.group(1)}, not "
                             f"{' or '.join(sorted(allowed))}")
    try:
        value = json.loads(text[m.end():].rstrip().rstrip(";"))
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"{name}: not JSON after the assignment ({exc})") from None
    if not isinstance(value, list):
        raise InvalidRequest(f"{name}: the assignment is not a list")
    return repair_surrogates(value)[0]


def _account(entries: list[Any], name: str) -> ArchiveAccount:
    if len(entries) != 1 or not isinstance(entries[0], dict) \
            or not isinstance(entries[0].get("account"), dict):
        raise InvalidRequest(f"{name}: not one {{\"account\": {{...}}}} entry")
    a = entries[0]["account"]
    account_id, username = a.get("accountId"), a.get("username")
    if not isinstance(account_id, str) or not POST_ID.fullmatch(account_id):
        raise InvalidRequest(f"{name}: accountId is not a numeric id")
    if not isinstance(username, str) or not username:
        raise InvalidRequest(f"{name}: username is missing")
    display = a.get("accountDisplayName")
    return ArchiveAccount(account_id, username, display if isinstance(display, str) else None)


def _generated(text: str, name: str) -> str | None:
    """`archiveInfo.generationDate` of manifest.js, when it is there and readable."""
    m = _MANIFEST.match(text)
    if m is None:
        return None
    try:
        config = json.loads(text[m.end():].rstrip().rstrip(";"))
        return times.format_time(times.parse_time(config["archiveInfo"]["generationDate"]))
    except (ValueError, KeyError, TypeError, times.TimeFormatError):
        return None


def _v1_time(value: Any, where: str) -> str:
    """v1.1's "Wed Oct 10 20:19:24 +0000 2018" as the archive's fixed UTC form."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: created_at is missing")
    try:
        return times.format_time(datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y"))
    except ValueError:
        try:   # deleted_at and edit times are ISO 8601
            return times.format_time(times.parse_time(value))
        except times.TimeFormatError:
            raise InvalidRequest(f"{where}: {value!r} is not a time") from None


def _version(entry: Any, where: str, *, deleted: bool) -> _Version:
    if not isinstance(entry, dict) or not isinstance(entry.get("tweet"), dict):
        raise InvalidRequest(f"{where}: not a {{\"tweet\": {{...}}}} entry")
    t = entry["tweet"]
    post_id = t.get("id_str")
    if not isinstance(post_id, str) or not POST_ID.fullmatch(post_id):
        raise InvalidRequest(f"{where}: id_str is not a numeric id")
    text = t.get("full_text", t.get("text"))
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}: full_text is missing")
    edit = t.get("edit_info") if isinstance(t.get("edit_info"), dict) else {}
    initial = edit.get("initial") if isinstance(edit.get("initial"), dict) else {}
    later = edit.get("edit") if isinstance(edit.get("edit"), dict) else {}
    item_id = later.get("initialTweetId") or (initial.get("editTweetIds") or [post_id])[0]
    if not isinstance(item_id, str) or not POST_ID.fullmatch(item_id):
        raise InvalidRequest(f"{where}: edit_info names no numeric initial id")
    deleted_at = _v1_time(t.get("deleted_at"), f"{where}.deleted_at") if deleted else None
    return _Version(entry, post_id, item_id, _v1_time(t.get("created_at"), where),
                    deleted_at, where)


def _observations(account: ArchiveAccount, versions: list[_Version],
                  generated: str | None) -> list[Observation]:
    chains: dict[str, dict[str, _Version]] = {}
    for v in versions:
        chains.setdefault(v.item_id, {}).setdefault(v.id, v)
    chain_of = {v.id: v.item_id for v in versions}
    out: list[Observation] = []
    for item_id in sorted(chains, key=int):
        ordered = sorted(chains[item_id].values(), key=lambda v: int(v.id))
        first = chains[item_id].get(item_id)
        published = first.created_at if first else snowflake_time(item_id)
        deleted = [v for v in ordered if v.deleted_at]
        for n, v in enumerate(ordered):
            newest = n == len(ordered) - 1
            seen = (generated or v.created_at) if newest and not deleted else v.created_at
            out.append(_observation(account, v, item_id, published, seen, chain_of))
        if deleted:
            gone = min(deleted, key=lambda v: v.deleted_at or "")
            out.append(Observation(
                platform=PLATFORM, account=account.id, item_id=item_id,
                kind=out[-1].kind, parent_id=out[-1].parent_id, observed_at=gone.deleted_at,
                url=out[-1].url, raw=gone.entry, event="deleted"))
    return out


def _observation(account: ArchiveAccount, v: _Version, item_id: str, published: str,
                 observed_at: str, chain_of: dict[str, str]) -> Observation:
    t = v.entry["tweet"]
    parent = t.get("in_reply_to_status_id_str")
    if parent is not None and (not isinstance(parent, str) or not POST_ID.fullmatch(parent)):
        raise InvalidRequest(f"{v.where}: in_reply_to_status_id_str is not a numeric id")
    parent = chain_of.get(parent, parent) if parent else None
    lang = t.get("lang") if isinstance(t.get("lang"), str) else None
    return Observation(
        platform=PLATFORM, account=account.id, item_id=item_id,
        kind="reply" if parent else "post",
        text=plain_text(t.get("full_text", t.get("text"))),
        author={"id": account.id, "handle": account.username, "name": account.name},
        parent_id=parent, published_at=published, observed_at=observed_at,
        url=f"https://x.com/{account.username}/status/{v.id}", lang=lang,
        media=_media(t, v.where), raw=v.entry)


def _media(t: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """`extended_entities.media` (else `entities.media`) as the collector's references:
    the API's media key ("3_<id>" photo, "7_" video, "16_" GIF), URL, type, alt text."""
    ext = t.get("extended_entities") if isinstance(t.get("extended_entities"), dict) else {}
    ent = t.get("entities") if isinstance(t.get("entities"), dict) else {}
    items = ext.get("media") or ent.get("media") or []
    if not isinstance(items, list):
        raise InvalidRequest(f"{where}: extended_entities.media is not a list")
    out = []
    for i, m in enumerate(items):
        if not isinstance(m, dict) or not isinstance(m.get("id_str"), str):
            raise InvalidRequest(f"{where}: media[{i}] has no id_str")
        kind = m.get("type")
        key = f"{_MEDIA_KEY_PREFIX.get(kind, '3')}_{m['id_str']}"
        url, mime = m.get("media_url_https"), None
        variants = (m.get("video_info") or {}).get("variants") if kind != "photo" else None
        mp4 = [x for x in variants or [] if isinstance(x, dict)
               and x.get("content_type") == "video/mp4" and isinstance(x.get("url"), str)]
        if mp4:
            best = max(mp4, key=lambda x: int(str(x.get("bitrate") or 0)))
            url, mime = best["url"], "video/mp4"
        elif isinstance(url, str):
            mime = image_type(url)
        alt = m.get("ext_alt_text")
        out.append({"id": key, "url": url if isinstance(url, str) else None, "mime": mime,
                    "alt": alt if isinstance(alt, str) else None})
    return out
