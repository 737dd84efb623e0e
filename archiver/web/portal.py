"""The public archive portal (/public/...): read-only, unauthenticated pages of the
accounts an agency chooses ([portal] settings), off by default.

What it never shows: an account not chosen (404, the same page as an unknown one), a
record disposed of, a record any active legal hold covers unless that hold is listed in
`[portal] public_holds`, comments unless `comments = 1`, comments the account hid, and,
under the standing rule `hide_commenter_names`, who wrote a comment. Each client address
gets a token bucket of `rate_per_minute` requests (429 with Retry-After when empty).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from archiver.api.context import api
from archiver.catalog import schema as t
from archiver.config import PortalSettings
from archiver.errors import InvalidRequest
from archiver.log.reader import read_record
from archiver.records import MAX_ID_CHARS
from archiver.wiring import Archive

TOP_KINDS = ("post", "video", "reel", "story", "article")
# Under a post: the public's comments (and posts on a Facebook Page, Instagram mentions)
# and the account's own replies; the standing name rule applies to the public's only.
COMMENT_KINDS = ("comment", "reply", "visitor_post", "mention")
PUBLIC_KINDS = ("comment", "visitor_post", "mention")
PAGE = 30


@dataclass
class TokenBucket:
    """Per client address: `rate` tokens a minute, at most `rate` saved up."""

    rate: int
    clock: Any = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is there."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - at) * self.rate / 60)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > 100_000:  # forget full buckets of idle clients
                    self._buckets = {k: v for k, v in self._buckets.items()
                                     if v[0] < self.rate - 1}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) * 60 / self.rate


def chosen_accounts(settings: PortalSettings) -> set[tuple[str, str]]:
    out = set()
    for part in settings.accounts.split(","):
        platform, sep, account = part.strip().partition(":")
        if sep and platform and account:
            out.add((platform, account))
    return out


@dataclass
class PublicVersion:
    seq: int
    event: str
    captured: str
    text: str | None
    reason: str | None
    media: int


@dataclass
class PublicItem:
    platform: str
    item_id: str
    account: str
    kind: str
    state: str
    author: str
    url: str
    published_at: str
    versions: list[PublicVersion]
    comments: list[PublicItem] = field(default_factory=list)


class PublicView:
    """What the portal may show of an archive, decided per request from the catalog."""

    def __init__(self, archive: Archive, settings: PortalSettings) -> None:
        from archiver.retention_store import load_holds

        self.archive = archive
        self.settings = settings
        self.accounts = chosen_accounts(settings)
        public = {h.strip() for h in settings.public_holds.split(",") if h.strip()}
        now = datetime.now(UTC)
        with archive.catalog.reader() as conn:
            self.holds = [h for h in load_holds(conn) if h.active(now) and h.id not in public]

    def kinds(self) -> tuple[str, ...]:
        return TOP_KINDS + (COMMENT_KINDS if self.settings.comments else ())

    def _shown_seqs(self, seqs: list[int]) -> set[int]:
        """The seqs neither disposed of nor covered by a non-public hold."""
        from archiver.disposal import load_facts

        with self.archive.catalog.reader() as conn:
            facts = list(load_facts(conn, seqs))  # undestroyed records only
        return {f.seq for f in facts
                if not any(h.covers(f, None) for h in self.holds)}

    def item(self, platform: str, item_id: str, *, with_comments: bool = True
             ) -> PublicItem | None:
        it, r = t.items.c, t.records.c
        with self.archive.catalog.reader() as conn:
            row = conn.execute(select(t.items).where(it.platform == platform,
                                                     it.item_id == item_id)).first()
            if row is None or (row.platform, row.account) not in self.accounts:
                return None
            if row.kind not in self.kinds() or row.state == "hidden":
                return None
            seqs = list(conn.execute(select(r.seq).where(
                r.platform == platform, r.item_id == item_id, r.type == "capture")
                .order_by(r.seq)).scalars())
            children = [] if not (with_comments and self.settings.comments) else list(
                conn.execute(select(it.item_id).where(it.platform == platform,
                                                      it.parent_id == item_id)
                             .order_by(it.first_seq)).scalars())
        shown = self._shown_seqs(seqs)
        if len(shown) < len(seqs):
            return None  # part of its history is held or disposed of: none of it is shown
        versions, latest = [], {}
        for seq in seqs:
            rec = read_record(self.archive.appender, seq)
            p = rec.payload or {}
            if p.get("text") is not None or p.get("author"):
                latest = p
            reason = p.get("reason")
            versions.append(PublicVersion(seq, str(p.get("event") or ""), rec.envelope.time,
                                          p.get("text"), reason if isinstance(reason, str)
                                          else None, len(p.get("media") or [])))
        if not versions:
            return None
        author = latest.get("author") or {}
        name = str(author.get("name") or author.get("handle") or "")
        is_comment = row.kind in PUBLIC_KINDS
        if is_comment and self.settings.hide_commenter_names:
            name = "Commenter (name withheld)"
        out = PublicItem(platform, item_id, row.account, row.kind, row.state, name,
                         "" if is_comment and self.settings.hide_commenter_names
                         else str(latest.get("url") or ""),
                         str(latest.get("published_at") or ""), versions)
        for child in children:
            c = self.item(platform, child, with_comments=False)
            if c is not None:
                out.comments.append(c)
        return out

    def timeline(self, platform: str, account: str, before: int | None) -> list[PublicItem]:
        it = t.items.c
        q = (select(it.item_id, it.first_seq).where(
            it.platform == platform, it.account == account, it.kind.in_(TOP_KINDS))
            .order_by(it.first_seq.desc()).limit(PAGE))
        if before is not None:
            q = q.where(it.first_seq < before)
        with self.archive.catalog.reader() as conn:
            rows = conn.execute(q).all()
        items = [self.item(platform, r.item_id, with_comments=False) for r in rows]
        return [i for i in items if i is not None]


def _view() -> PublicView:
    settings = api().settings.portal
    if not settings.enabled:
        abort(404)
    return PublicView(api().archive, settings)


def blueprint(settings: PortalSettings) -> Blueprint:
    bp = Blueprint("portal", __name__, url_prefix="/public")
    bucket = TokenBucket(settings.rate_per_minute) if settings.rate_per_minute else None

    @bp.before_request
    def limit() -> Response | None:
        if bucket is None:
            return None
        wait = bucket.take(request.remote_addr or "?")
        if wait > 0:
            r = Response("Too many requests; try again shortly.\n", status=429,
                         mimetype="text/plain")
            r.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return r
        return None

    @bp.get("/", endpoint="index")
    def index() -> Any:
        view = _view()
        return render_template("portal_index.html", accounts=sorted(view.accounts))

    @bp.get("/accounts/<platform>/<path:account>", endpoint="timeline")
    def timeline(platform: str, account: str) -> Any:
        view = _view()
        if (platform, account) not in view.accounts:
            abort(404)
        before = request.args.get("before")
        if before is not None and not before.isdigit():
            abort(400)
        items = view.timeline(platform, account, int(before) if before else None)
        return render_template("portal_timeline.html", platform=platform, account=account,
                               items=items, page=PAGE)

    @bp.get("/items/<platform>/<path:item_id>", endpoint="item")
    def item(platform: str, item_id: str) -> Any:
        view = _view()
        if len(platform) > 64 or len(item_id) > MAX_ID_CHARS:
            abort(404)
        found = view.item(platform, item_id)
        if found is None:
            abort(404)
        return render_template("portal_item.html", item=found)

    @bp.get("/search", endpoint="search")
    def search_page() -> Any:
        from archiver.search.query import SearchRequest, search

        view = _view()
        q = (request.args.get("q") or "").strip()[:500]
        items: list[PublicItem] = []
        error = None
        if q:
            seen: set[tuple[str, str]] = set()
            try:
                for platform, account in sorted(view.accounts):
                    req = SearchRequest.from_params({"q": q, "platform": platform,
                                                     "account": account, "collapse": "true",
                                                     "limit": str(PAGE)})
                    for hit in search(api().index, api().archive, req).hits:
                        key = (hit.platform, hit.item_id)
                        if key in seen:
                            continue
                        seen.add(key)
                        found = view.item(*key, with_comments=False)
                        if found is not None:
                            items.append(found)
            except InvalidRequest as exc:
                error = str(exc)
        return render_template("portal_search.html", q=q, items=items, error=error), (
            400 if error else 200)

    return bp
