"""The embedded search engine: a Whoosh index of the readable capture records.

Layout under `$ARCHIVER_HOME/index` (Settings.index_dir):

    CURRENT        the name of the live Whoosh directory (replaced atomically by reindex)
    writer.lock    flock held by the one process writing (catch_up, reindex, remove)
    <name>/        the Whoosh index, and state.json: the last seq indexed, per generation

Indexing follows the log: `catch_up` reads every committed capture record beyond the
high-water mark from the store (one GET per segment), decrypts it and indexes it. The
mark is saved with the Whoosh generation it belongs to; after a crash between the two,
the mark is recomputed from the index itself, so no record is indexed twice or missed.
Destroyed records are skipped; `remove` deletes documents and rewrites the segments that
held them, so a disposed record's text does not linger in the index files.

Speed, from MEASUREMENTS.md: filters are applied before scoring and dates are checked on
numeric columns held in memory per segment (never a second-resolution range query: the
coarse `*_day` terms narrow short ranges); time-sorted queries do not score at all.
Facets count the accepted documents of each segment by per-document value ordinals, built
once per segment from the field's terms and postings and kept in memory like the columns.
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import threading
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from whoosh import columns, fields, index, query
from whoosh.analysis import IDAnalyzer
from whoosh.collectors import Collector
from whoosh.matching import RequireMatcher
from whoosh.qparser import FieldAliasPlugin, FieldsPlugin, QueryParser
from whoosh.reading import SegmentReader

from archiver.catalog import schema as t
from archiver.config import Settings
from archiver.errors import InvalidRequest
from archiver.log.appender import Appender
from archiver.search import analyzer, log_source
from archiver.search.documents import SearchDocument
from archiver.search.engine import (
    EngineHit,
    EnginePage,
    IndexLocked,
    IndexState,
    MatchTerms,
    QueryPlan,
    SortKey,
)
from archiver.search.whoosh_analysis import key_analyzer, text_analyzer
from archiver.times import format_time

SCHEMA_VERSION = 1
MISSING = -(2**63)  # column value of a time the record does not have
DAY_TERMS_MAX = 62  # date ranges up to this many days also narrow by `*_day` terms
ITEM_TERMS_MAX = 1000  # allowed item sets up to this size also narrow by `item_key` terms
SEGMENT_DOCS = 50_000  # a segment this large is not merged again by a catch-up
SMALL_SEGMENTS = 8  # smaller segments are merged when there are this many
FIELD_ALIASES = {"hashtags": ["hashtag", "tag"], "mentions": ["mention"], "urls": ["url"],
                 "author_handle": ["author", "handle"], "author_name": ["name"]}
QUERY_FIELDS = ("text", "author_name", "author_handle", "author_id", "platform", "account",
                "kind", "event", "item_id", "parent_id", "lang", "hashtags", "mentions",
                "urls", "published_day", "captured_day", "seq")


def build_schema() -> fields.Schema:
    text, key, lower = text_analyzer(), key_analyzer(), IDAnalyzer(lowercase=True)

    def time_column() -> fields.COLUMN:
        return fields.COLUMN(columns.NumericColumn("q", default=MISSING))

    return fields.Schema(
        seq=fields.NUMERIC(int, 64, stored=True, unique=True, sortable=True, shift_step=0,
                           signed=False),
        platform=fields.ID(stored=True, analyzer=lower),
        account=fields.ID(stored=True),
        kind=fields.ID(stored=True, analyzer=lower),
        event=fields.ID(stored=True, analyzer=lower),
        item_id=fields.ID(stored=True),
        parent_id=fields.ID(stored=True),
        item_key=fields.ID(sortable=True),
        author_id=fields.ID(stored=True),
        author_handle=fields.KEYWORD(stored=True, analyzer=key),
        author_name=fields.TEXT(stored=True, analyzer=text, multitoken_query="phrase"),
        published=time_column(),
        published_day=fields.ID(),
        published_at=fields.STORED(),
        captured=time_column(),
        captured_day=fields.ID(),
        captured_at=fields.STORED(),
        time=time_column(),
        lang=fields.ID(stored=True, analyzer=lower),
        hashtags=fields.KEYWORD(stored=True, analyzer=key),
        mentions=fields.KEYWORD(stored=True, analyzer=key),
        urls=fields.TEXT(analyzer=text, multitoken_query="phrase"),
        url=fields.STORED(),
        text=fields.TEXT(stored=True, analyzer=text, multitoken_query="phrase"),
    )


def _day(us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).strftime("%Y-%m-%d")


def index_fields(doc: SearchDocument) -> dict[str, Any]:
    """The Whoosh fields of a search document (absent values are left out)."""
    out: dict[str, Any] = {
        "seq": doc.seq, "platform": doc.platform, "account": doc.account, "kind": doc.kind,
        "event": doc.event, "item_id": doc.item_id, "item_key": doc.item_key,
        "captured": doc.captured_us, "captured_day": _day(doc.captured_us),
        "captured_at": doc.captured_at, "time": doc.time_us, "text": doc.text,
    }
    published = doc.published_us
    if published is not None:
        out.update(published=published, published_day=_day(published),
                   published_at=doc.published_at)
    optional = {"parent_id": doc.parent_id, "author_id": doc.author_id,
                "author_handle": doc.author_handle, "author_name": doc.author_name,
                "lang": doc.lang, "url": doc.url, "hashtags": " ".join(doc.hashtags),
                "mentions": " ".join(doc.mentions), "urls": " ".join(doc.urls)}
    out.update({k: v for k, v in optional.items() if isinstance(v, str) and v})
    return out


class SearchIndex:
    """The Whoosh index of one archive. Many readers; one writing process at a time."""

    def __init__(self, path: Path | str, *, procs: int = 1, limitmb: int = 256) -> None:
        self.path = Path(path)
        self.procs = procs
        self.limitmb = limitmb
        self._mutex = threading.RLock()
        self._name: str | None = None
        self._ix: Any = None
        self._searcher: Any = None
        self._columns: dict[tuple[str, str], Any] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> SearchIndex:
        """The archive's search index: this Whoosh index, or the engine `[search] engine`
        names (`engines.open_index`), which offers the same interface."""
        if settings.search.engine != "whoosh":
            from archiver.search.engines import open_index

            return open_index(settings)  # type: ignore[return-value]
        return cls(settings.index_dir)

    def close(self) -> None:
        with self._mutex:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = self._ix = self._name = None
            self._columns.clear()

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def _writer_lock(self, wait: float = 0.0) -> Iterator[None]:
        """Be the one writer, waiting up to `wait` seconds; IndexLocked otherwise."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "writer.lock", os.O_CREAT | os.O_RDWR, 0o600)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexLocked(f"the search index at {self.path} is being written "
                                          f"by another process") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _create(self) -> str:
        name = uuid.uuid4().hex[:16]
        (self.path / name).mkdir()
        index.create_in(str(self.path / name), build_schema())
        _write_json(self.path / name / "state.json",
                    {"schema": SCHEMA_VERSION, "generation": 0, "indexed_through": -1})
        return name

    def _live(self) -> str:
        """The live index's directory name, creating an empty index if there is none yet."""
        name = self._current_name()
        if name is None:
            name = self._create()
            _write_text(self.path / "CURRENT", name)
        return name

    def catch_up(self, appender: Appender, *, batch: int = 10_000) -> int:
        """Index every committed capture record beyond the mark; returns how many."""
        with self._writer_lock():
            return self._catch_up(self._live(), appender, batch)

    def _catch_up(self, name: str, appender: Appender, batch: int) -> int:
        ix = index.open_dir(str(self.path / name))
        mark = self._mark(name, ix)
        added = 0
        while True:
            rows = _pending(appender, mark, batch)
            if not rows:
                return added
            docs = list(_read_documents(appender, rows))
            writer = ix.writer(procs=self.procs, limitmb=self.limitmb,
                               **({"multisegment": True} if self.procs > 1 else {}))
            try:
                for doc in docs:
                    writer.add_document(**index_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=_merge_small_segments)
            mark = rows[-1].seq
            self._save_mark(name, ix, mark)
            added += len(docs)

    def reindex(self, appender: Appender, *, batch: int = 10_000) -> int:
        """Rebuild from the store into a fresh index, then make it live; returns documents.

        Readers keep using the old index until the new one is complete.
        """
        with self._writer_lock():
            # A record disposed of while this runs may have been read before its key was
            # destroyed, and `remove` waits for this lock: purge those before going live.
            started = format_time(datetime.now(UTC) - timedelta(hours=1))
            old = self._current_name()
            name = self._create()
            try:
                count = self._catch_up(name, appender, batch)
                count -= self._delete(name, _destroyed_since(appender, started))
            except BaseException:
                _remove_tree(self.path / name)
                raise
            _write_text(self.path / "CURRENT", name)
            if old is not None:
                _remove_tree(self.path / old)
            return count

    def remove(self, seqs: Sequence[int], *, wait: float = 600.0) -> int:
        """Delete the documents of these records (disposition, after their keys are
        destroyed) and rewrite the segments that held them, so their text leaves the disk.

        Waits up to `wait` seconds for a running catch-up to finish (IndexLocked after).
        """
        if not seqs:
            return 0
        with self._writer_lock(wait):
            return self._delete(self._live(), seqs)

    def _delete(self, name: str, seqs: Sequence[int]) -> int:
        if not seqs:
            return 0
        ix = index.open_dir(str(self.path / name))
        mark = self._mark(name, ix)
        writer = ix.writer()
        removed = 0
        try:
            for seq in seqs:
                removed += writer.delete_by_term("seq", int(seq)) or 0
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=_rewrite_segments_with_deletions)
        self._save_mark(name, ix, mark)
        return removed

    def _mark(self, name: str, ix: Any) -> int:
        state = _read_json(self.path / name / "state.json")
        if state.get("generation") == ix.latest_generation():
            return int(state["indexed_through"])
        with ix.searcher() as searcher:  # a crash after a commit: the index knows
            return _max_seq(searcher)

    def _save_mark(self, name: str, ix: Any, mark: int) -> None:
        _write_json(self.path / name / "state.json",
                    {"schema": SCHEMA_VERSION, "generation": ix.latest_generation(),
                     "indexed_through": mark})

    # -- reading --------------------------------------------------------------------------

    def _current_name(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _open_searcher(self) -> Any:
        """An up-to-date searcher of the live index, or None when there is no index yet."""
        name = self._current_name()
        if name is None:
            self.close()
            return None
        if name != self._name:
            self.close()
            try:
                self._ix = index.open_dir(str(self.path / name))
            except (OSError, index.EmptyIndexError):
                # A reindex made another index live and removed this one meanwhile.
                name = self._current_name()
                if name is None:
                    return None
                self._ix = index.open_dir(str(self.path / name))
            self._searcher = self._ix.searcher()
            self._name = name
        elif not self._searcher.up_to_date():
            self._searcher = self._searcher.refresh()
            live = {_segment_id(r) for r, _ in _leaves(self._searcher)}
            self._columns = {k: v for k, v in self._columns.items() if k[0] in live}
        return self._searcher

    def state(self) -> IndexState:
        """The high-water mark and the number of documents (-1 and 0 with no index)."""
        with self._mutex:
            searcher = self._open_searcher()
            if searcher is None:
                return IndexState(-1, 0)
            return IndexState(self._mark(self._name, self._ix), searcher.doc_count())

    def indexed_through(self) -> int:
        return self.state().indexed_through

    def lag(self, appender: Appender) -> int:
        """Committed, readable capture records that are not yet searchable."""
        mark = self.indexed_through()
        r = t.records.c
        with appender.p.catalog.reader() as conn:
            return int(conn.execute(select(func.count()).select_from(t.records).where(
                r.seq > mark, r.type == "capture", r.destroyed_at.is_(None))).scalar_one())

    def run(self, plan: QueryPlan) -> EnginePage:
        """Run a plan (engine.py states the contract); InvalidRequest for a bad query."""
        parsed = parse_query(plan.query)
        with self._mutex:
            searcher = self._open_searcher()
            if searcher is None or searcher.doc_count_all() == 0:
                return EnginePage([], 0, False, match_terms(parsed))
            collector = _PageCollector(plan, self._segment_columns, self._segment_facet)
            searcher.search_with_collector(_with_filters(parsed, plan), collector)
            page, total = collector.page, collector.total
            more = len(page) > plan.limit
            hits = [EngineHit(seq, key, score, searcher.stored_fields(docnum), matched)
                    for key, seq, docnum, score, matched in page[:plan.limit]]
            return EnginePage(hits, total, more, match_terms(parsed), collector.facets)

    def _segment_columns(self, reader: Any, names: Sequence[str]) -> dict[str, Any]:
        """Column values of one segment, loaded once per segment and kept in memory."""
        segid = _segment_id(reader)
        out = {}
        for name in names:
            key = (segid, name)
            if key not in self._columns:
                values = reader.column_reader(name)
                self._columns[key] = (list(values) if name == "item_key"
                                      else array("q", values) if name != "seq"
                                      else array("Q", values))
            out[name] = self._columns[key]
        return out

    def _segment_facet(self, reader: Any, fieldname: str) -> tuple[list[str], array]:
        """(values, ordinal of each document's value or -1) of a one-term-per-document
        field in one segment, built from its terms and postings once per segment.

        A `*_day` field gives years: its values are the years of the days."""
        key = (_segment_id(reader), f"facet:{fieldname}")
        if key not in self._columns:
            ordinals = array("i", [-1]) * reader.doc_count_all()
            values: list[str] = []
            if fieldname in reader.schema.names():
                for k, term in enumerate(reader.field_terms(fieldname)):
                    values.append(term.split("-")[0] if fieldname.endswith("_day") else term)
                    for d in _posting_ids(reader.postings(fieldname, term)):
                        ordinals[d] = k
            self._columns[key] = (values, ordinals)
        return self._columns[key]


# -- queries --------------------------------------------------------------------------------

_PARSER: QueryParser | None = None


def _parser() -> QueryParser:
    global _PARSER  # built on first use: building a schema is not import-time work
    if _PARSER is None:
        parser = QueryParser("text", build_schema())
        parser.remove_plugin_class(FieldsPlugin)
        parser.add_plugin(FieldsPlugin(remove_unknown=False))
        parser.add_plugin(FieldAliasPlugin(FIELD_ALIASES))
        _PARSER = parser
    return _PARSER


def parse_query(text: str) -> Any:
    """The Whoosh query for `text` (Every for an empty one); InvalidRequest naming the
    problem for an unknown field or a query with nothing searchable in it."""
    if not text.strip():
        return query.Every()
    try:
        parsed = _parser().parse(text)
    except Exception as exc:  # noqa: BLE001 - the parser's errors are not typed
        raise InvalidRequest(f"cannot parse the query: {exc}") from None
    schema_names = set(build_schema_names())
    for leaf in _walk(parsed):
        name = leaf.field() if hasattr(leaf, "field") else None
        if name is not None and name not in schema_names:
            raise InvalidRequest(f"unknown field {name!r} in the query; fields are "
                                 f"{', '.join(QUERY_FIELDS)} (quote a value holding ':')")
        error = getattr(leaf, "error", None)
        if error:
            raise InvalidRequest(f"bad value in the query: {error}")
    if parsed is query.NullQuery or isinstance(parsed, type(query.NullQuery)):
        raise InvalidRequest("the query has no searchable words in it")
    return parsed


_SCHEMA_NAMES: tuple[str, ...] = ()


def build_schema_names() -> tuple[str, ...]:
    global _SCHEMA_NAMES
    if not _SCHEMA_NAMES:
        _SCHEMA_NAMES = tuple(build_schema().names())
    return _SCHEMA_NAMES


def _walk(q: Any) -> Iterator[Any]:
    yield q
    if q.is_leaf():
        return
    for child in q.children():
        yield from _walk(child)


def match_terms(q: Any) -> MatchTerms:
    """The text terms and patterns a query looks for (not those under NOT), to highlight."""
    exact: set[str] = set()
    patterns: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, query.Not):
            return
        if isinstance(node, query.AndNot):
            visit(node.a)
            return
        if isinstance(node, query.Phrase):
            if node.fieldname == "text":
                exact.update(node.words)
            return
        if isinstance(node, query.Prefix | query.Wildcard):
            if node.fieldname == "text":
                patterns.append(node.text + ("*" if isinstance(node, query.Prefix) else ""))
            return
        if isinstance(node, query.Term):
            if node.fieldname == "text" and isinstance(node.text, str):
                exact.add(node.text)
            return
        if not node.is_leaf():
            for child in node.children():
                visit(child)

    visit(q)
    return MatchTerms(frozenset(exact), tuple(patterns))


def _days(start_us: int | None, end_us: int | None) -> list[str] | None:
    if start_us is None or end_us is None:
        return None
    first = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start_us)
    last = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=end_us)
    count = (last.date() - first.date()).days + 1
    if count <= 0 or count > DAY_TERMS_MAX:
        return None
    return [(first.date() + timedelta(days=i)).isoformat() for i in range(count)]


def _with_filters(parsed: Any, plan: QueryPlan) -> Any:
    """The query restricted by the plan's term filters; they match, they do not score."""
    filters = []
    for name, values in plan.terms.items():
        if values:
            lowered = name in ("platform", "kind", "event")
            filters.append(query.Or([query.Term(name, v.lower() if lowered else v)
                                     for v in values]))
    if plan.authors:
        filters.append(query.Or([query.Term("author_id", a) for a in plan.authors]
                                + [query.Term("author_handle", analyzer.normalize_key(a))
                                   for a in plan.authors]))
    days = _days(plan.start_us, plan.end_us)
    if days is not None:
        filters.append(query.Or([query.Term(f"{plan.date_field}_day", d) for d in days]))
    if plan.allow_items is not None and len(plan.allow_items) <= ITEM_TERMS_MAX:
        filters.append(query.Or([query.Term("item_key", k) for k in sorted(plan.allow_items)])
                       if plan.allow_items else query.NullQuery)
    if not filters:
        return parsed
    restriction = filters[0] if len(filters) == 1 else query.And(filters)
    if isinstance(parsed, query.Every):
        return restriction
    return _Require(parsed, restriction)


class _Require(query.Require):
    """`a`, restricted to documents `b` matches, scored by `a` only.

    Whoosh 2.7.4's own `Require.matcher` returns an AndNotMatcher (the opposite: documents
    of `a` NOT in `b`), so the matcher is built here.
    """

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return RequireMatcher(self.a.matcher(searcher, context),
                              self.b.matcher(searcher, searcher.boolean_context()))


def _segment_id(reader: Any) -> str:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else f"empty-{id(reader)}"


def _leaves(searcher: Any) -> list[tuple[Any, int]]:
    return [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]


def _posting_ids(matcher: Any) -> Iterable[int]:
    """Every document id of a fresh term matcher. Whoosh 2.7.4's leaf matcher is read a
    block at a time (its generic `all_ids` costs a method call per posting); any other
    matcher (a segment with deletions wraps it) through `all_ids`."""
    if not all(hasattr(matcher, a) for a in ("_read_ids", "_next_block", "_i")):
        yield from matcher.all_ids()
        return
    while matcher.is_active():
        matcher._read_ids()
        yield from matcher._ids[matcher._i:]
        matcher._next_block()


def _facet_field(name: str, date_field: str) -> str:
    """The index field a facet counts: the year of a date from its `*_day` terms."""
    return f"{date_field}_day" if name == "year" else name


class _PageCollector(Collector):
    """Collects one page: filters on columns before scoring, keys in the plan's order.

    Not scoring at all for the time orders; all matches are counted, so `total` is exact,
    and with facets every accepted document is also counted per facet value.
    """

    def __init__(self, plan: QueryPlan, columns_of: Any, facet_of: Any) -> None:
        self.plan = plan
        self.columns_of = columns_of
        self.facet_of = facet_of
        self.facets: dict[str, dict[str, int]] = {name: {} for name in plan.facets}
        self.total = 0
        self.page: list[tuple[SortKey, int, int, float | None, int]] = []
        self._heap: list[tuple[float, int, int, int, float | None]] = []
        self._groups: dict[str, list[Any]] = {}

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        scored = self.plan.order == "relevance"
        context = context.set(needs_current=scored,
                              weighting=top_searcher.weighting if scored else None)
        super().prepare(top_searcher, q, context)

    def set_subsearcher(self, subsearcher: Any, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        plan = self.plan
        names = ["seq"]
        if plan.order != "relevance":
            names.append("time" if plan.date_field == "published" else "captured")
        if plan.start_us is not None or plan.end_us is not None:
            names.append(plan.date_field)
        if plan.collapse or plan.allow_items is not None or plan.deny_items is not None:
            names.append("item_key")
        self.cols = self.columns_of(subsearcher.reader(), names)
        self.facet_cols = {name: self.facet_of(subsearcher.reader(),
                                               _facet_field(name, plan.date_field))
                           for name in plan.facets}

    def collect(self, sub_docnum: int) -> None:  # the loop is in collect_matches
        raise NotImplementedError

    def sort_key(self, sub_docnum: int) -> None:
        raise NotImplementedError

    def collect_matches(self) -> None:
        plan, cols = self.plan, self.cols
        seqs = cols["seq"]
        times = (cols["time" if plan.date_field == "published" else "captured"]
                 if plan.order != "relevance" else None)
        dates = cols.get(plan.date_field)
        lo = MISSING + 1 if plan.start_us is None else plan.start_us
        hi = 2**63 - 1 if plan.end_us is None else plan.end_us
        keys = cols.get("item_key")
        allow, deny = plan.allow_items, plan.deny_items
        offset, sign = self.offset, (-1 if plan.order == "newest" else 1)
        matcher = self.matcher
        take = self._take_group if plan.collapse else self._take

        def rejected(d: int) -> bool:
            if dates is not None and not lo <= dates[d] <= hi:
                return True
            if allow is not None and keys[d] not in allow:
                return True
            return deny is not None and keys[d] in deny

        check = dates is not None or allow is not None or deny is not None
        accepted: list[int] = []
        keep = accepted.append if self.facet_cols else None
        if times is None:  # relevance: the score is computed only for accepted documents
            while matcher.is_active():
                d = matcher.id()
                if not (check and rejected(d)):
                    if keep is not None:
                        keep(d)
                    score = matcher.score()
                    seq = seqs[d]
                    take((-score, -seq), seq, offset + d, score,
                         None if keys is None else keys[d])
                matcher.next()
        else:
            for d in matcher.all_ids():
                if not (check and rejected(d)):
                    if keep is not None:
                        keep(d)
                    seq = seqs[d]
                    take((sign * times[d], sign * seq), seq, offset + d, None,
                         None if keys is None else keys[d])
        self._count_facets(accepted)

    def _count_facets(self, docs: list[int]) -> None:
        for name, (values, ordinals) in self.facet_cols.items():
            out = self.facets[name]
            for k, n in Counter(map(ordinals.__getitem__, docs)).items():
                if k >= 0:
                    out[values[k]] = out.get(values[k], 0) + n

    def _take(self, key: SortKey, seq: int, docnum: int, score: float | None,
              _item: str | None) -> None:
        self.total += 1
        after = self.plan.after
        if after is not None and key <= after:
            return
        heap, size = self._heap, self.plan.limit + 1
        entry = (-key[0], -key[1], seq, docnum, score)
        if len(heap) < size:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def _take_group(self, key: SortKey, seq: int, docnum: int, score: float | None,
                    item: str | None) -> None:
        group = self._groups.get(item)  # type: ignore[arg-type]
        if group is None:
            self._groups[item] = [key, seq, docnum, score, 1]  # type: ignore[index]
            return
        group[4] += 1
        if key < group[0]:
            group[0] = key
        if seq > group[1]:  # show the item's latest matching version
            group[1], group[2], group[3] = seq, docnum, score

    def finish(self) -> None:
        super().finish()
        size = self.plan.limit + 1
        after = self.plan.after
        if self.plan.collapse:
            self.total = len(self._groups)
            groups = (g for g in self._groups.values() if after is None or g[0] > after)
            best = heapq.nsmallest(size, groups, key=lambda g: g[0])
            page = [(g[0], g[1], g[2], g[3], g[4]) for g in best]
        else:
            ordered = sorted(self._heap, reverse=True)
            page = [((-k0, -k1), seq, docnum, score, 1)
                    for k0, k1, seq, docnum, score in ordered]
        self.page = page  # limit + 1 at most: the extra one says there is more

    def results(self) -> None:
        return None


def _merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for `catch_up`: once there are SMALL_SEGMENTS segments of fewer than
    SEGMENT_DOCS records, the smallest of them (together under SEGMENT_DOCS records) are
    merged into the new one; larger segments are never merged again. So a commit rewrites
    fewer than SEGMENT_DOCS records, and a search reads one segment per ~SEGMENT_DOCS / 2
    records or fewer. Whoosh's default (MERGE_SMALL) merges ever larger sets of segments
    as the index grows (two dozen 10,000-record segments into one in a single commit, in
    the one writing process). Merges are kept rare also because a merge re-encodes field
    lengths, which moves BM25F scores a little."""
    small = sorted((seg for seg in segments if seg.doc_count_all() < SEGMENT_DOCS),
                   key=lambda seg: seg.doc_count_all())
    if len(small) < SMALL_SEGMENTS:
        return segments
    merged, total = [], 0
    for seg in small:
        if total + seg.doc_count_all() >= SEGMENT_DOCS:
            break
        merged.append(seg)
        total += seg.doc_count_all()
    if len(merged) < 2:
        return segments
    for seg in merged:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    gone = {seg.segment_id() for seg in merged}
    return [seg for seg in segments if seg.segment_id() not in gone]


def _rewrite_segments_with_deletions(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for `remove`: copy the live documents of every segment that has
    deletions into the new segment, so the deleted documents' files are deleted."""
    keep = []
    for seg in segments:
        if seg.has_deletions():
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


def _max_seq(searcher: Any) -> int:
    best = -1
    if searcher.doc_count_all() == 0:
        return best
    for reader, _ in _leaves(searcher):
        values = reader.column_reader("seq")
        for d in reader.all_doc_ids():
            best = max(best, values[d])
    return best


# -- reading the log (archiver/search/log_source.py; named here so tests can intercept) ----

_pending = log_source.pending
_destroyed_since = log_source.destroyed_since
_read_documents = log_source.read_documents


# -- small files ----------------------------------------------------------------------------

def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_json(path: Path, obj: Any) -> None:
    _write_text(path, json.dumps(obj, sort_keys=True))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
