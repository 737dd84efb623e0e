"""Search for records officers: the domain behind `archiver search` and `GET /api/v1/search`.

`search(index, archive, SearchRequest)` runs the query language of the engine (Whoosh:
AND/OR/NOT, "phrases", wild*cards, field:value) with filters, sorts by relevance or
time, pages with opaque cursors, highlights snippets, and can collapse the versions of
an item into one result. Item-level filters (has edits, deleted, hidden) and the
collapsed item's state come from the catalog at query time, so they are always current.

Facets (`SearchRequest.facets`) count the records of the whole match set per platform,
account, kind, event and year of the date field, so a UI can offer the filters with
their counts; each facet lists at most FACET_VALUES values.

Bad input raises `InvalidRequest` naming the problem; a query that matches everything
is paginated, never refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from archiver.capture import CONTENT_EVENTS
from archiver.catalog import schema as t
from archiver.errors import InvalidRequest
from archiver.search.documents import item_key, time_us
from archiver.search.engine import (
    DATE_FIELDS,
    FACETS,
    ORDERS,
    EngineHit,
    QueryPlan,
    SearchEngine,
    SortKey,
)
from archiver.search.snippets import snippet
from archiver.times import TimeFormatError, parse_time
from archiver.wiring import Archive

MAX_LIMIT = 1000
MAX_QUERY_CHARS = 4000
MAX_VALUES = 100  # values of one filter
FACET_VALUES = 100  # values listed per facet: the most frequent (years: the latest)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,512}")


@dataclass(frozen=True)
class SearchRequest:
    """What a records officer asks. Filters of several values match any of them; date
    bounds are inclusive, a bare date (`2024-03-08`) meaning that whole UTC day."""

    query: str = ""
    platforms: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # author id or handle
    date_field: str = "published"  # which time `date_from`/`date_to` bound
    date_from: str | None = None
    date_to: str | None = None
    has_edits: bool | None = None  # the item has more than one version
    deleted: bool | None = None  # the item is deleted at its source now
    hidden: bool | None = None  # the item is hidden by the account now
    sort: str = "relevance"  # relevance | newest | oldest
    collapse: bool = False  # one result per item: its latest matching version
    limit: int = 20
    cursor: str | None = None
    facets: tuple[str, ...] = ()  # of FACETS: count the match set per value of these

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or len(self.query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"query must be a string of at most {MAX_QUERY_CHARS} "
                                 f"characters")
        for name in ("platforms", "accounts", "kinds", "events", "authors"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(v, str) and v.strip()
                                                  and len(v) <= 512 for v in values):
                raise InvalidRequest(f"{name} must be a list of non-empty strings")
            if len(values) > MAX_VALUES:
                raise InvalidRequest(f"{name}: at most {MAX_VALUES} values")
            object.__setattr__(self, name, tuple(values))
        if self.date_field not in DATE_FIELDS:
            raise InvalidRequest(f"date_field must be one of {', '.join(DATE_FIELDS)}, "
                                 f"not {self.date_field!r}")
        if self.sort not in ORDERS:
            raise InvalidRequest(f"sort must be one of {', '.join(ORDERS)}, not {self.sort!r}")
        if (type(self.limit) is not int) or not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
        for name in ("has_edits", "deleted", "hidden"):
            if getattr(self, name) not in (None, True, False):
                raise InvalidRequest(f"{name} must be true or false")
        if isinstance(self.facets, str) or not all(isinstance(f, str) for f in self.facets):
            raise InvalidRequest("facets must be a list of facet names")
        unknown = [f for f in self.facets if f not in FACETS]
        if unknown:
            raise InvalidRequest(f"unknown facet(s): {', '.join(map(repr, unknown))}; facets "
                                 f"are {', '.join(FACETS)}")
        object.__setattr__(self, "facets", tuple(dict.fromkeys(self.facets)))
        start, end = self.bounds()
        if start is not None and end is not None and start > end:
            raise InvalidRequest(f"from ({self.date_from}) is after to ({self.date_to})")

    def bounds(self) -> tuple[int | None, int | None]:
        """The inclusive date bounds in microseconds since the epoch."""
        return (None if self.date_from is None else _bound(self.date_from, "from", end=False),
                None if self.date_to is None else _bound(self.date_to, "to", end=True))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchRequest:
        """Parse string parameters (an HTTP query string, CLI options): `q`, `platform`,
        `account`, `kind`, `event`, `author` (repeatable or comma-separated), `date_field`,
        `from`, `to`, `has_edits`, `deleted`, `hidden`, `sort`, `collapse`, `limit`,
        `cursor`, `facets` (names, comma-separated; `true`/`all` for every facet)."""
        known = {"q", "platform", "account", "kind", "event", "author", "date_field", "from",
                 "to", "has_edits", "deleted", "hidden", "sort", "collapse", "limit", "cursor",
                 "facets"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InvalidRequest(f"unknown parameter(s): {', '.join(unknown)}")

        def one(name: str) -> str | None:
            value = params.get(name)
            if isinstance(value, list | tuple):
                if len(value) > 1:
                    raise InvalidRequest(f"{name} given more than once")
                value = value[0] if value else None
            return None if value is None else str(value)

        def many(name: str) -> tuple[str, ...]:
            value = params.get(name)
            values = [value] if isinstance(value, str) else list(value or [])
            return tuple(v.strip() for raw in values for v in str(raw).split(",") if v.strip())

        limit = one("limit")
        try:
            limit_value = 20 if limit is None else int(limit)
        except ValueError:
            raise InvalidRequest(f"limit must be an integer, not {limit!r}") from None
        return cls(
            query=one("q") or "", platforms=many("platform"), accounts=many("account"),
            kinds=many("kind"), events=many("event"), authors=many("author"),
            date_field=one("date_field") or "published", date_from=one("from") or None,
            date_to=one("to") or None, has_edits=_flag(one("has_edits"), "has_edits"),
            deleted=_flag(one("deleted"), "deleted"), hidden=_flag(one("hidden"), "hidden"),
            sort=one("sort") or "relevance", collapse=bool(_flag(one("collapse"), "collapse")),
            limit=limit_value, cursor=one("cursor") or None,
            facets=parse_facets(many("facets")))


def parse_facets(names: Sequence[str]) -> tuple[str, ...]:
    """Facet names as given: `true`/`all` alone means every facet, `false` none."""
    lowered = [n.strip().lower() for n in names if n.strip()]
    if lowered in (["true"], ["all"]):
        return FACETS
    if lowered == ["false"]:
        return ()
    return tuple(lowered)


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidRequest(f"{name} must be true or false, not {value!r}")


def _bound(value: str, name: str, *, end: bool) -> int:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a date or an RFC 3339 time")
    if _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidRequest(f"{name} is not a real date: {value!r}") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return time_us(start) + (86_400_000_000 - 1 if end else 0)
    try:
        return time_us(parse_time(value))
    except TimeFormatError as exc:
        raise InvalidRequest(f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 time with "
                             f"an offset; {value!r} {str(exc).split(': ')[0]}") from None


@dataclass(frozen=True)
class Author:
    id: str | None
    handle: str | None
    name: str | None


@dataclass(frozen=True)
class ItemInfo:
    """A collapsed result's item, from the catalog at query time."""

    state: str  # live | deleted | hidden
    versions: int
    latest_seq: int | None  # its latest content-carrying record
    matched: int  # how many of its records matched the search

    @property
    def deleted(self) -> bool:
        return self.state == "deleted"

    @property
    def hidden(self) -> bool:
        return self.state == "hidden"


@dataclass(frozen=True)
class Hit:
    seq: int
    platform: str
    account: str
    item_id: str
    kind: str
    event: str
    parent_id: str | None
    author: Author | None
    published_at: str | None
    captured_at: str | None
    lang: str | None
    url: str | None
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    snippet: str  # HTML: escaped text, matches in <mark>
    score: float | None  # relevance order only
    item: ItemInfo | None = None  # collapsed results only

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.item is not None:
            out["item"].update(deleted=self.item.deleted, hidden=self.item.hidden,
                               latest_shown=self.item.latest_seq == self.seq)
        return out


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int  # matching records, or items when collapsed
    next_cursor: str | None  # None: this is the last page
    collapsed: bool
    index_lag: int  # committed records not yet searchable
    sort: str = "relevance"
    # name -> (value, records) most frequent first (years: latest first); None: not asked
    facets: dict[str, list[tuple[str, int]]] | None = None

    def as_dict(self) -> dict[str, Any]:
        facets = (None if self.facets is None else
                  {name: [{"value": v, "count": n} for v, n in counts]
                   for name, counts in self.facets.items()})
        return {"total": self.total, "collapsed": self.collapsed, "sort": self.sort,
                "next_cursor": self.next_cursor, "index_lag": self.index_lag,
                "facets": facets, "hits": [h.as_dict() for h in self.hits]}


def search(index: SearchEngine, archive: Archive, request: SearchRequest) -> SearchResult:
    """Run a search; InvalidRequest for a bad query, filter, date or cursor."""
    after = decode_cursor(request.cursor, request) if request.cursor else None
    allow, deny = _item_scope(archive, request)
    start, end = request.bounds()
    terms = {"platform": request.platforms, "account": request.accounts,
             "kind": request.kinds, "event": request.events}
    plan = QueryPlan(query=request.query, terms={k: v for k, v in terms.items() if v},
                     authors=request.authors, date_field=request.date_field, start_us=start,
                     end_us=end, allow_items=allow, deny_items=deny, order=request.sort,
                     after=after, limit=request.limit, collapse=request.collapse,
                     facets=request.facets)
    page = index.run(plan)
    readable = _undestroyed(archive, [h.seq for h in page.hits])
    items = _item_infos(archive, page.hits) if request.collapse else {}
    hits = []
    for h in page.hits:
        if h.seq not in readable:
            continue  # destroyed after it was indexed: never shown
        f = h.fields
        author = (Author(f.get("author_id"), f.get("author_handle"), f.get("author_name"))
                  if any(f.get(k) for k in ("author_id", "author_handle", "author_name"))
                  else None)
        info = None
        if request.collapse:
            state, versions, latest = items.get((f["platform"], f["item_id"]), ("live", 1, None))
            info = ItemInfo(state, versions, latest, h.matched)
        hits.append(Hit(
            seq=h.seq, platform=f["platform"], account=f["account"], item_id=f["item_id"],
            kind=f["kind"], event=f["event"], parent_id=f.get("parent_id"), author=author,
            published_at=f.get("published_at"), captured_at=f.get("captured_at"),
            lang=f.get("lang"), url=f.get("url"),
            hashtags=tuple((f.get("hashtags") or "").split()),
            mentions=tuple((f.get("mentions") or "").split()),
            snippet=snippet(f.get("text") or "", page.match_terms), score=h.score, item=info))
    next_cursor = (encode_cursor(request, page.hits[-1].key) if page.more and page.hits
                   else None)
    facets = ({name: _facet_list(name, page.facets.get(name, {})) for name in request.facets}
              if request.facets else None)
    return SearchResult(hits, page.total, next_cursor, request.collapse,
                        index.lag(archive.appender), request.sort, facets)


def _facet_list(name: str, counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """The FACET_VALUES values to show: years latest first, others most frequent first
    (then by value, so the order is the same on every engine)."""
    if name == "year":
        ordered = sorted(counts.items(), key=lambda vc: (len(vc[0]), vc[0]), reverse=True)
    else:
        ordered = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
    return [(v, n) for v, n in ordered[:FACET_VALUES] if n > 0]


# -- cursors -----------------------------------------------------------------------------

def _fingerprint(request: SearchRequest) -> str:
    """Names the search a cursor belongs to: everything but the cursor and the page size."""
    d = {f.name: getattr(request, f.name) for f in fields(request)
         if f.name not in ("cursor", "limit", "facets")}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def encode_cursor(request: SearchRequest, key: SortKey) -> str:
    """An opaque cursor: the position after `key` in this search's order."""
    doc = json.dumps({"v": 1, "s": _fingerprint(request), "k": list(key)},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(doc).rstrip(b"=").decode()


def decode_cursor(cursor: str, request: SearchRequest) -> SortKey:
    """The sort key a cursor holds; InvalidRequest if it is malformed or from another search."""
    if not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor):
        raise InvalidRequest("malformed cursor")
    try:
        obj = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("malformed cursor") from None
    if not isinstance(obj, dict) or obj.get("v") != 1 or set(obj) != {"v", "s", "k"}:
        raise InvalidRequest("malformed cursor")
    if obj["s"] != _fingerprint(request):
        raise InvalidRequest("the cursor belongs to a different search (query, filters or "
                             "sort changed); start again without it")
    key = obj["k"]
    first_ok = (float, int) if request.sort == "relevance" else (int,)
    if (not isinstance(key, list) or len(key) != 2
            or type(key[0]) not in first_ok or type(key[1]) is not int
            or (isinstance(key[0], float) and not math.isfinite(key[0]))):
        raise InvalidRequest("malformed cursor")
    return (key[0], key[1])


# -- the catalog's part ------------------------------------------------------------------

def _item_keys(archive: Archive, condition: Any) -> set[str]:
    it = t.items.c
    with archive.catalog.reader() as conn:
        return {item_key(r.platform, r.item_id)
                for r in conn.execute(select(it.platform, it.item_id).where(condition))}


def _item_scope(archive: Archive, request: SearchRequest
                ) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """Items to allow (every True filter holds) and to deny (some False filter holds)."""
    it = t.items.c
    conditions = [(request.has_edits, it.versions > 1), (request.deleted, it.state == "deleted"),
                  (request.hidden, it.state == "hidden")]
    allow: set[str] | None = None
    deny: set[str] = set()
    for wanted, condition in conditions:
        if wanted is None:
            continue
        keys = _item_keys(archive, condition)
        if wanted:
            allow = keys if allow is None else allow & keys
        else:
            deny |= keys
    return (None if allow is None else frozenset(allow - deny)), (frozenset(deny) or None)


def _undestroyed(archive: Archive, seqs: Sequence[int]) -> set[int]:
    if not seqs:
        return set()
    r = t.records.c
    with archive.catalog.reader() as conn:
        return {row.seq for row in conn.execute(
            select(r.seq).where(r.seq.in_(list(seqs)), r.destroyed_at.is_(None)))}


def _item_infos(archive: Archive, hits: Iterable[EngineHit]
                ) -> dict[tuple[str, str], tuple[str, int, int | None]]:
    """(state, versions, latest content-carrying seq) of the items of a page."""
    by_platform: dict[str, set[str]] = {}
    for h in hits:
        by_platform.setdefault(h.fields["platform"], set()).add(h.fields["item_id"])
    out: dict[tuple[str, str], tuple[str, int, int | None]] = {}
    it, r = t.items.c, t.records.c
    with archive.catalog.reader() as conn:
        for platform, ids in by_platform.items():
            latest = {row.item_id: row.seq for row in conn.execute(
                select(r.item_id, func.max(r.seq).label("seq"))
                .where(r.platform == platform, r.item_id.in_(sorted(ids)),
                       r.event.in_(sorted(CONTENT_EVENTS)), r.destroyed_at.is_(None))
                .group_by(r.item_id))}
            for row in conn.execute(select(it.item_id, it.state, it.versions)
                                    .where(it.platform == platform,
                                           it.item_id.in_(sorted(ids)))):
                out[(platform, row.item_id)] = (row.state, row.versions,
                                                latest.get(row.item_id))
    return out
