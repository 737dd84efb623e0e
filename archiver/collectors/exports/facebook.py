"""Facebook "Download Your Information" (JSON format): a Page's posts, for history the
Graph API no longer lists.

The export is a zip (or its unpacked posts file) whose posts files are
`posts/your_posts_1.json`, `your_posts_2.json`... (newer exports:
`your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json`,
`profile_posts_1.json` for Pages). Each is a JSON list of posts:

    {"timestamp": 1710410635,                       # epoch seconds
     "data": [{"post": "the text"}, {"update_timestamp": 1710411000}],
     "attachments": [{"data": [{"media": {"uri": "posts/media/..../1.jpg",
                                          "description": "...", "title": "..."}},
                               {"external_context": {"url": "https://..."}}]}],
     "title": "City of Wrenfield updated their status."}

Facebook writes these files with a known defect: every string is UTF-8 whose bytes were
each escaped as a Latin-1 character (`"\\u00c4\\u008d"` for `č`). Each string is repaired
(encoded back to Latin-1, decoded as UTF-8) when, and only when, that round trip works;
a string that is already right (a `é` alone is not valid UTF-8) is left as it is.

What the export does not carry: the post's Graph id, and the Page's id. Items are named
`dyi:<timestamp>:<hash of the title>` (`:<n>` added when one second holds several posts
with the same title), so importing the same export twice, or a later export, archives
nothing new for unchanged posts and an edit for a changed text; but an imported post is
not the same item as the same post collected through the Graph API. Use
`archiver import facebook FILE --account ID` to file the items under the registered Page;
without it their `account` is `facebook-export`. Comments are not in a Page's posts file.
The collector never looks `dyi:` items up (there is no Graph id to ask for), so they are
never presumed deleted.
Media are referenced by their path inside the export (no hash: the import stores no files).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import times
from archiver.collectors.facebook import EXPORT_PREFIX
from archiver.errors import InvalidRequest
from archiver.records import Observation

PLATFORM = "facebook"
UNKNOWN_ACCOUNT = "facebook-export"
MAX_FILE_BYTES = 1024 ** 3
POSTS_FILE = re.compile(r"(^|/)(your_posts|profile_posts)[a-z_]*?(_[0-9]+)?\.json$")


def read_export(path: Path) -> Iterator[Observation]:
    """Every post of the export's posts files, in file order; all read before any yield."""
    files = _posts_files(Path(path))
    out: list[Observation] = []
    seen: dict[str, int] = {}
    for name, data in files:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidRequest(f"{name}: not valid JSON") from None
        posts = _posts_list(doc, name)
        for i, post in enumerate(posts):
            out.append(_observation(repair(post), f"{name}[{i}]", seen))
    yield from out


def _posts_files(path: Path) -> list[tuple[str, bytes]]:
    if not zipfile.is_zipfile(path):
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidRequest(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        return [(path.name, path.read_bytes())]
    with zipfile.ZipFile(path) as zf:
        names = sorted((n for n in zf.namelist() if POSTS_FILE.search(n)
                        and "/posts/" in f"/{n}"), key=_file_order)
        if not names:
            raise InvalidRequest(f"{path}: no posts/your_posts_N.json in this archive (is "
                                 f"it a JSON-format Download Your Information export?)")
        out = []
        for n in names:
            if zf.getinfo(n).file_size > MAX_FILE_BYTES:
                raise InvalidRequest(f"{path}: {n} is larger than {MAX_FILE_BYTES} bytes")
            out.append((n, zf.read(n)))
        return out


def _file_order(name: str) -> tuple[str, int]:
    m = re.search(r"_([0-9]+)\.json$", name)
    return (name[:m.start()] if m else name, int(m.group(1)) if m else 0)


def repair(value: Any) -> Any:
    """Undo Facebook's Latin-1 escaping of UTF-8, string by string (keys included)."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value
    if isinstance(value, list):
        return [repair(v) for v in value]
    if isinstance(value, dict):
        return {repair(k): repair(v) for k, v in value.items()}
    return value


def _posts_list(doc: Any, name: str) -> list[Any]:
    """A list of posts; some exports wrap it in an object with one list member."""
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            doc = lists[0]
    if not isinstance(doc, list):
        raise InvalidRequest(f"{name}: a posts file is a JSON list of posts")
    return doc


def _observation(post: Any, where: str, seen: dict[str, int]) -> Observation:
    if not isinstance(post, dict):
        raise InvalidRequest(f"{where}: a post must be an object")
    stamp = post.get("timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 < stamp < 2**37:
        raise InvalidRequest(f"{where}: `timestamp` must be epoch seconds")
    title = post.get("title")
    if title is not None and not isinstance(title, str):
        raise InvalidRequest(f"{where}: `title` must be a string")
    text = None
    data = post.get("data", [])
    if not isinstance(data, list):
        raise InvalidRequest(f"{where}: `data` must be a list")
    for entry in data:
        if isinstance(entry, dict) and "post" in entry:
            if not isinstance(entry["post"], str):
                raise InvalidRequest(f"{where}: `data[].post` must be a string")
            text = entry["post"]
            break
    base = f"{EXPORT_PREFIX}{stamp}:{hashlib.sha256((title or '').encode()).hexdigest()[:12]}"
    n = seen.get(base, 0)
    seen[base] = n + 1
    item_id = base if n == 0 else f"{base}:{n + 1}"
    return Observation(
        platform=PLATFORM, account=UNKNOWN_ACCOUNT, item_id=item_id, kind="post",
        text=text, published_at=times.format_time(datetime.fromtimestamp(stamp, UTC)),
        media=_media(post.get("attachments"), where), raw=post)


def _media(attachments: Any, where: str) -> list[dict[str, Any]]:
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        raise InvalidRequest(f"{where}: `attachments` must be a list")
    out = []
    for a in attachments:
        for d in (a.get("data") if isinstance(a, dict) else None) or []:
            media = d.get("media") if isinstance(d, dict) else None
            if isinstance(media, dict) and isinstance(media.get("uri"), str):
                alt = media.get("description") or media.get("title")
                out.append({"id": None, "url": media["uri"], "mime": None,
                            "alt": alt if isinstance(alt, str) else None})
    return out
