"""What an export takes in: a legal hold, a search (query + filters) or a list of items.

A scope resolves to the capture records that can be exported (readable: not disposed of)
and the records of that scope that were disposed of, which the package lists by their
tombstone and never exports. Holds are matched with the rules retention uses
(`retention.holds.Hold.covers`), searches with the search facade, items through the
catalog (an item's records and the records of the replies under it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import InvalidRequest
from archiver.wiring import Archive
from retention.policies import RecordFacts

# Search filters a scope may carry: the names `SearchRequest.from_params` reads.
FILTERS = frozenset({"platform", "account", "kind", "event", "author", "date_field", "from",
                     "to", "has_edits", "deleted", "hidden"})
MAX_ITEMS = 10_000
_PAGE = 1000


@dataclass(frozen=True)
class ExportScope:
    """Exactly one of: `hold`, a search (`query` and/or `filters`), `items`."""

    hold: str | None = None
    query: str | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    items: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        kinds = [k for k, v in (("hold", self.hold), ("search", self.query or self.filters),
                                ("items", self.items)) if v]
        if not kinds:
            raise InvalidRequest("the scope is empty: give a hold, a search query or filters, "
                                 "or a list of items")
        if len(kinds) > 1:
            raise InvalidRequest(f"give one kind of scope, not {' and '.join(kinds)}")
        unknown = sorted(set(self.filters) - FILTERS)
        if unknown:
            raise InvalidRequest(f"unknown search filter(s): {', '.join(unknown)}; filters are "
                                 f"{', '.join(sorted(FILTERS))}")
        if len(self.items) > MAX_ITEMS:
            raise InvalidRequest(f"at most {MAX_ITEMS} items in one export")
        for platform, item_id in self.items:
            if not platform or not item_id:
                raise InvalidRequest("an item is PLATFORM:ID with both parts non-empty")

    @property
    def kind(self) -> str:
        return "hold" if self.hold else "items" if self.items else "search"

    def as_dict(self) -> dict[str, Any]:
        """The scope as the custody record and the catalog keep it."""
        if self.hold:
            return {"hold": self.hold}
        if self.items:
            return {"items": [{"platform": p, "item_id": i} for p, i in self.items]}
        return {"query": self.query or "", "filters": dict(self.filters)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ExportScope:
        items = tuple((str(i["platform"]), str(i["item_id"])) for i in doc.get("items") or ())
        return cls(hold=doc.get("hold"), query=doc.get("query"),
                   filters=dict(doc.get("filters") or {}), items=items)


def parse_item(text: str) -> tuple[str, str]:
    """`PLATFORM:ID` (the id may hold colons: Bluesky's at:// URIs)."""
    platform, sep, item_id = text.partition(":")
    if not sep or not platform or not item_id:
        raise InvalidRequest(f"an item is PLATFORM:ID, not {text!r}")
    return platform, item_id


@dataclass(frozen=True)
class Disposed:
    """A record of the scope that was disposed of: listed, never exported."""

    seq: int
    platform: str | None
    item_id: str | None
    event: str | None
    destroyed_at: str
    run_id: str
    policy_id: str
    schedule_code: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Resolved:
    seqs: list[int]  # exportable capture records, ascending
    disposed: list[Disposed]
    notes: list[str]


def check(archive: Archive, scope: ExportScope) -> None:
    """Refuse now what would only fail in the background: an unknown hold (NotFound), a
    search whose query or filters do not parse (InvalidRequest)."""
    if scope.hold:
        from archiver.retention_store import hold_row

        with archive.catalog.reader() as conn:
            hold_row(conn, scope.hold)
    elif not scope.items:
        from archiver.search.engines import open_index
        from archiver.search.query import SearchRequest, search

        params = {**scope.filters, "q": scope.query or "", "limit": "1"}
        index = open_index(archive.settings)
        try:
            search(index, archive, SearchRequest.from_params(params))
        finally:
            index.close()


def resolve(archive: Archive, scope: ExportScope) -> Resolved:
    """The records of `scope`; NotFound for a hold that does not exist."""
    if scope.hold:
        return _hold(archive, scope.hold)
    if scope.items:
        return _items(archive, scope.items)
    return _search(archive, scope.query or "", scope.filters)


def _disposed(archive: Archive, seqs: Iterable[int] | None = None,
              where: Any = None) -> list[Disposed]:
    d = t.destroyed_records.c
    q = select(t.destroyed_records).order_by(d.seq)
    if where is not None:
        q = q.where(where)
    wanted = None if seqs is None else sorted(set(seqs))
    out: list[Disposed] = []
    with archive.catalog.reader() as conn:
        chunks = [None] if wanted is None else [wanted[i:i + 500]
                                                for i in range(0, len(wanted), 500)]
        for chunk in chunks:
            query = q if chunk is None else q.where(d.seq.in_(chunk))
            out += [Disposed(r.seq, r.platform, r.item_id, r.event, r.destroyed_at, r.run_id,
                             r.policy_id, r.schedule_code) for r in conn.execute(query)]
    return out


def _hold(archive: Archive, hold_id: str) -> Resolved:
    from archiver.disposal import load_facts
    from archiver.retention_store import hold_of, hold_row

    with archive.catalog.reader() as conn:
        hold = hold_of(hold_row(conn, hold_id))
        facts = list(load_facts(conn))
    notes = []
    matches = None
    if hold.scope.query:
        matches = set(_search_seqs(archive, hold.scope.query, {}))
    seqs = [f.seq for f in facts if hold.covers(f, matches)]
    disposed = []
    if hold.scope.query:
        notes.append("the hold's scope has a search query: disposed records cannot be matched "
                     "by their (destroyed) text, so none are listed")
    else:
        for r in _disposed(archive):
            if r.platform is None:
                continue  # a bare tombstone says nothing a scope could match
            if hold.covers(_facts_of_tombstone(archive, r), None):
                disposed.append(r)
    if hold.released_at is not None:
        notes.append(f"the hold was released at {hold.released_at.isoformat()}")
    return Resolved(sorted(seqs), disposed, notes)


def _facts_of_tombstone(archive: Archive, r: Disposed) -> RecordFacts:
    d = t.destroyed_records.c
    with archive.catalog.reader() as conn:
        row = conn.execute(select(t.destroyed_records).where(d.seq == r.seq)).one()
    captured = datetime.fromisoformat(row.captured_at or row.destroyed_at)
    published = datetime.fromisoformat(row.published_at) if row.published_at else None
    return RecordFacts(seq=row.seq, platform=row.platform or "", account=row.account or "",
                       kind=row.kind or "", event=row.event or "", item_id=row.item_id or "",
                       captured=captured, published=published)


def _search_seqs(archive: Archive, query: str, filters: Mapping[str, Any]) -> list[int]:
    from archiver.search.engines import open_index
    from archiver.search.query import SearchRequest, search

    params: dict[str, Any] = {k: v for k, v in filters.items()}
    params.update(q=query, sort="oldest", limit=str(_PAGE))
    found: list[int] = []
    index = open_index(archive.settings)
    try:
        while True:
            res = search(index, archive, SearchRequest.from_params(params))
            found += [h.seq for h in res.hits]
            if not res.next_cursor:
                return found
            params["cursor"] = res.next_cursor
    finally:
        index.close()


def _search(archive: Archive, query: str, filters: Mapping[str, Any]) -> Resolved:
    seqs = sorted(set(_search_seqs(archive, query, filters)))
    return Resolved(seqs, [], ["records disposed of are no longer searchable: a search scope "
                               "lists none"])


def _items(archive: Archive, items: tuple[tuple[str, str], ...]) -> Resolved:
    r, it = t.records.c, t.items.c
    seqs: set[int] = set()
    gone: set[int] = set()
    missing: list[str] = []
    with archive.catalog.reader() as conn:
        for platform, item_id in dict.fromkeys(items):
            ids = [item_id] + [c.item_id for c in conn.execute(
                select(it.item_id).where(it.platform == platform, it.parent_id == item_id))]
            rows = conn.execute(select(r.seq, r.destroyed_at).where(
                r.platform == platform, r.item_id.in_(ids), r.type == "capture")).all()
            if not rows:
                missing.append(f"{platform}:{item_id}")
            for row in rows:
                (gone if row.destroyed_at else seqs).add(row.seq)
    notes = [f"not in the archive: {json.dumps(m, ensure_ascii=False)}" for m in missing]
    return Resolved(sorted(seqs), _disposed(archive, gone), notes)
