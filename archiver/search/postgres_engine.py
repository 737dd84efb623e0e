"""The PostgreSQL search engine: full-text search over the catalog, shared by every replica.

Chosen with `[search] engine = "postgres"` when the catalog is PostgreSQL. The index is
two catalog tables (migration 0003): `search_documents`, one row per readable capture
record with the fields the Whoosh engine stores and a `tokens` tsvector, and
`search_state`, the high-water mark and the number of documents.

`tokens` is built here from the analyzer's terms (`analyzer.terms`: the one
normalization every engine uses), as a tsvector literal with their positions, so
PostgreSQL adds no stemming or stop words of its own (no text search configuration is
involved at all). Text terms are stored as they are; the other searchable fields are
stored with a prefix no text term can have (`!n:` author name, `!u:` URLs, `!h:`
hashtags, `!m:` mentions, `!a:` author handle), and a marker (`!t`, `!n`, ...) says that
a field has terms, for `field:*`. A GIN index serves the terms; B-tree indexes serve the
time orders, date ranges, accounts, items and authors.

Queries are the Whoosh query language, parsed by `query_language` (the same reading
as Whoosh's parser) and compiled to one SQL statement: whatever a tsquery can say
(terms, phrases, prefixes, AND/OR/NOT) becomes one tsquery matched by the GIN index;
identifier fields (`kind:`, `item_id:`, `seq:`, `published_day:`, ...) become column
conditions; wildcards inside a word and ranges over terms are checked on the tsvector's
lexemes. Relevance is `ts_rank`, not Whoosh's BM25F: the same records match, in a
different relevance order. Time orders never rank.

Indexing follows the log as the Whoosh engine does (`log_source`), one writing process
at a time (a PostgreSQL advisory lock), and each batch commits its documents together
with the high-water mark, so a crash can neither lose nor repeat a record. `reindex`
rebuilds in one transaction: searches see the old index until it commits. `remove`
deletes the rows of disposed records and vacuums the table (see `remove` for what
PostgreSQL keeps on disk).

What differs from Whoosh: relevance order (above); boosts (`term^2`) are accepted and
ignored; a word beyond position 16,383 of a text takes that position (phrases there may
be missed) and a term keeps its first 256 positions; wildcards that do not start with a
literal prefix (`*lav`, `?ood`) and ranges over terms (`[a TO c]`) read every row's
terms, so they are slow on a large archive. Totals are exact, so a search counts every
match: on a million records a term in tens of thousands of them costs a read of each of
their rows (benchmarks/search.py measures it).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from archiver.catalog import schema as t
from archiver.catalog.db import Catalog
from archiver.config import Settings
from archiver.errors import ConfigError, InvalidRequest
from archiver.log.appender import Appender
from archiver.search import analyzer, log_source
from archiver.search import query_language as ql
from archiver.search.documents import SearchDocument
from archiver.search.engine import (
    DATE_FIELDS,
    FACETS,
    ORDERS,
    EngineHit,
    EnginePage,
    IndexLocked,
    IndexState,
    QueryPlan,
    SortKey,
)

LOCK_CLASS = 0x73726368  # "srch": with hashtext(current_schema()), the writer's advisory lock
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this (later words share it)
MAX_POSITIONS = 256  # positions kept per lexeme
MAX_LEXEME_BYTES = 2046  # PostgreSQL's limit is 2047
MAX_LEXEMES_BYTES = 1_000_000  # and 1 MiB for the lexemes of one tsvector
MAX_PHRASE_VARIANTS = 256  # a phrase with slop becomes this many exact phrases at most
ANALYZE_AFTER = 1000  # a catch-up adding this many documents refreshes the planner's figures
PREFIX = {"text": "", "author_name": "!n:", "urls": "!u:", "hashtags": "!h:",
          "mentions": "!m:", "author_handle": "!a:"}
MARKER = {"text": "!t", "author_name": "!n", "urls": "!u", "hashtags": "!h",
          "mentions": "!m", "author_handle": "!a"}
COLUMNS = ("seq", "platform", "account", "kind", "event", "item_id", "item_key", "parent_id",
           "author_id", "author_handle", "author_name", "lang", "url", "published",
           "published_at", "published_day", "captured", "captured_at", "captured_day", "time",
           "hashtags", "mentions", "urls", "text", "tokens")
STORED = ("platform", "account", "kind", "event", "item_id", "parent_id", "author_id",
          "author_handle", "author_name", "published_at", "captured_at", "lang", "url",
          "hashtags", "mentions", "text")  # the fields a hit carries (as Whoosh stores them)
_ID_COLUMNS = {"platform": "lower(d.platform)", "kind": "lower(d.kind)",
               "event": "lower(d.event)", "lang": "lower(d.lang)", "account": "d.account",
               "item_id": "d.item_id", "parent_id": "d.parent_id", "item_key": "d.item_key",
               "author_id": "d.author_id", "published_day": "d.published_day",
               "captured_day": "d.captured_day"}


# -- documents as rows --------------------------------------------------------------------

def _day(us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).strftime("%Y-%m-%d")


def _quote(lexeme: str) -> str:
    """A lexeme as a tsvector or tsquery literal: quoted, so nothing in it is syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def pg_text(value: str) -> str:
    """A string PostgreSQL can store: NUL and unpaired surrogates (which a payload may hold
    outside the checked identifiers) become U+FFFD, one character for one, so the offsets
    of highlighted matches stay right."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    return value


def tsvector_literal(doc: SearchDocument) -> str:
    """The `tokens` of a document: every term of every searchable field, with positions."""
    positions: dict[str, list[int]] = {}
    size = 0

    def add(lexeme: str, position: int | None) -> None:
        nonlocal size
        lexeme = pg_text(lexeme)
        length = len(lexeme.encode())
        if not lexeme or length > MAX_LEXEME_BYTES:
            return
        if lexeme not in positions:
            if size + length > MAX_LEXEMES_BYTES:
                return  # PostgreSQL's limit for one tsvector: later new terms are left out
            size += length
        kept = positions.setdefault(lexeme, [])
        if position is not None and len(kept) < MAX_POSITIONS:
            kept.append(min(position + 1, MAX_POSITION))

    for name, value in (("text", doc.text), ("author_name", doc.author_name),
                        ("urls", " ".join(doc.urls))):
        found = False
        for term in analyzer.terms(value or ""):
            add(PREFIX[name] + term.text, term.position)
            found = True
        if found:
            add(MARKER[name], None)
    for name, keys in (("hashtags", " ".join(doc.hashtags)),
                       ("mentions", " ".join(doc.mentions)),
                       ("author_handle", doc.author_handle or "")):
        found = False
        for key in keys.split():
            key = analyzer.normalize_key(key)
            if key:
                add(PREFIX[name] + key, None)
                found = True
        if found:
            add(MARKER[name], None)
    return " ".join(_quote(lexeme) + (":" + ",".join(map(str, sorted(set(p)))) if p else "")
                    for lexeme, p in positions.items())


def row_for(doc: SearchDocument) -> tuple[Any, ...]:
    """The `search_documents` row of a document, in the order of COLUMNS."""
    published = doc.published_us
    captured = doc.captured_us

    def opt(value: str | None) -> str | None:
        return pg_text(value) if isinstance(value, str) and value else None

    return (doc.seq, pg_text(doc.platform), pg_text(doc.account), pg_text(doc.kind),
            pg_text(doc.event), pg_text(doc.item_id), pg_text(doc.item_key),
            opt(doc.parent_id), opt(doc.author_id), opt(doc.author_handle),
            opt(doc.author_name), opt(doc.lang), opt(doc.url), published,
            doc.published_at if published is not None else None,
            None if published is None else _day(published), captured, doc.captured_at,
            _day(captured), doc.time_us, opt(" ".join(doc.hashtags)),
            opt(" ".join(doc.mentions)), opt(" ".join(doc.urls)), pg_text(doc.text),
            tsvector_literal(doc))


# -- queries -> SQL ------------------------------------------------------------------------

class _Sql:
    """Bound parameters of a statement being built."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        if isinstance(value, str):
            value = pg_text(value)
        elif isinstance(value, list):
            value = [pg_text(v) if isinstance(v, str) else v for v in value]
        self.params[name] = value
        return f":{name}"

    def tsquery(self, query: str) -> str:
        return f"d.tokens @@ CAST({self.bind(query)} AS tsquery)"


@dataclass(frozen=True)
class _Ts:
    """A part of the query that a tsquery says."""

    query: str


@dataclass(frozen=True)
class _Cond:
    """A part of the query that only SQL says (a boolean, never NULL when negated)."""

    sql: str


_NOTHING = _Cond("FALSE")
_EVERYTHING = _Cond("TRUE")


def _like(pattern: str) -> str:
    """An fnmatch pattern (`*`, `?`) as a LIKE pattern (backslash escapes)."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _regex(pattern: str) -> str:
    """An fnmatch pattern (`*`, `?`) as an anchored PostgreSQL regular expression."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in "\\^$.|+()[]{}":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


def _phrase(words: Sequence[str], slop: int) -> str:
    lexemes = [_quote(w) for w in words]
    if slop <= 1:
        return " <-> ".join(lexemes)
    gaps = len(words) - 1
    if slop ** gaps > MAX_PHRASE_VARIANTS:
        raise InvalidRequest(f"a phrase of {len(words)} words with ~{slop} is too loose for "
                             f"this search engine; use a smaller ~ or fewer words")
    variants = []
    for distances in itertools.product(range(1, slop + 1), repeat=gaps):
        parts = [lexemes[0]]
        for d, lexeme in zip(distances, lexemes[1:], strict=True):
            parts.append(f"<{d}> {lexeme}")
        variants.append("(" + " ".join(parts) + ")")
    return " | ".join(variants)


def _lexemes_where(sql: _Sql, fieldname: str, condition: str) -> str:
    """EXISTS a lexeme of the document's field meeting `condition` (on `u.lexeme`)."""
    prefix = PREFIX[fieldname]
    field_check = ("left(u.lexeme, 1) <> '!'" if not prefix
                   else f"starts_with(u.lexeme, {sql.bind(prefix)})")
    return (f"EXISTS (SELECT 1 FROM unnest(d.tokens) AS u(lexeme, positions, weights) "
            f"WHERE {field_check} AND {condition})")


def _text_leaf(q: ql.Query, sql: _Sql) -> _Ts | _Cond:
    """A leaf on a field of `tokens` (the text-like and key fields)."""
    fieldname = q.field  # type: ignore[attr-defined]
    prefix = PREFIX[fieldname]
    if isinstance(q, ql.Every):
        return _Ts(_quote(MARKER[fieldname]))
    if isinstance(q, ql.Term | ql.Prefix):
        value = str(q.text)
        if not prefix and value.startswith("!"):
            return _NOTHING  # no text term has one: never let it reach another field's
        if isinstance(q, ql.Prefix):
            if not value:
                return _Ts(_quote(MARKER[fieldname]))
            return _Ts(_quote(prefix + value) + ":*")
        return _Ts(_quote(prefix + value))
    if isinstance(q, ql.Phrase):
        return _Ts(_phrase([prefix + w for w in q.words], q.slop))
    if isinstance(q, ql.Wildcard):
        literal = re.split(r"[*?]", q.pattern, maxsplit=1)[0]
        found = _lexemes_where(sql, fieldname,
                               f"u.lexeme ~ {sql.bind(_regex(prefix + q.pattern))}")
        if literal and not (not prefix and literal.startswith("!")):
            found = f"{sql.tsquery(_quote(prefix + literal) + ':*')} AND {found}"
        elif literal:
            return _NOTHING
        return _Cond(f"({found})")
    if isinstance(q, ql.Range):
        checks = []
        if q.start is not None:
            checks.append(f"u.lexeme {'>' if q.start_excl else '>='} "
                          f"{sql.bind(prefix + str(q.start))} COLLATE \"C\"")
        if q.end is not None:
            checks.append(f"u.lexeme {'<' if q.end_excl else '<='} "
                          f"{sql.bind(prefix + str(q.end))} COLLATE \"C\"")
        checks.append(f"u.lexeme <> {sql.bind(MARKER[fieldname])}")
        return _Cond(_lexemes_where(sql, fieldname, " AND ".join(checks)))
    raise AssertionError(q)


def _column_leaf(q: ql.Query, sql: _Sql) -> _Cond:
    """A leaf on a column: an identifier field or `seq`."""
    fieldname = q.field  # type: ignore[attr-defined]
    if fieldname == "seq":
        if isinstance(q, ql.Every):
            return _EVERYTHING
        if isinstance(q, ql.Term):
            return _Cond(f"d.seq = {sql.bind(int(q.text))}")
        if isinstance(q, ql.Range):
            checks = []
            if q.start is not None:
                checks.append(f"d.seq {'>' if q.start_excl else '>='} {sql.bind(int(q.start))}")
            if q.end is not None:
                checks.append(f"d.seq {'<' if q.end_excl else '<='} {sql.bind(int(q.end))}")
            return _Cond("(" + " AND ".join(checks) + ")") if checks else _EVERYTHING
        raise AssertionError(q)
    column = _ID_COLUMNS[fieldname]
    if isinstance(q, ql.Every):
        return _Cond(f"({column} IS NOT NULL)")
    if isinstance(q, ql.Term):
        return _Cond(f"{column} = {sql.bind(str(q.text))}")
    if isinstance(q, ql.Prefix):
        return _Cond(f"{column} LIKE {sql.bind(_like(q.text) + '%')}")
    if isinstance(q, ql.Wildcard):
        return _Cond(f"{column} LIKE {sql.bind(_like(q.pattern))}")
    if isinstance(q, ql.Range):
        checks = [f"{column} IS NOT NULL"]
        if q.start is not None:
            checks.append(f"{column} {'>' if q.start_excl else '>='} "
                          f"{sql.bind(str(q.start))} COLLATE \"C\"")
        if q.end is not None:
            checks.append(f"{column} {'<' if q.end_excl else '<='} "
                          f"{sql.bind(str(q.end))} COLLATE \"C\"")
        return _Cond("(" + " AND ".join(checks) + ")")
    raise AssertionError(q)


def _as_cond(part: _Ts | _Cond, sql: _Sql) -> str:
    return sql.tsquery(part.query) if isinstance(part, _Ts) else part.sql


def _combine(parts: list[_Ts | _Cond], sql: _Sql, *, conjunction: bool) -> _Ts | _Cond:
    ts = [p.query for p in parts if isinstance(p, _Ts)]
    conds = [p.sql for p in parts if isinstance(p, _Cond)]
    joined = f" {'&' if conjunction else '|'} ".join(f"({q})" for q in ts)
    if not conds:
        return _Ts(joined)
    if ts:
        conds.append(sql.tsquery(joined))
    return _Cond("(" + f" {'AND' if conjunction else 'OR'} ".join(conds) + ")")


def compile_query(q: ql.Query, sql: _Sql) -> _Ts | _Cond:
    """The SQL (or tsquery) that matches what `q` matches."""
    if isinstance(q, ql.And | ql.Or):
        return _combine([compile_query(c, sql) for c in q.children], sql,
                        conjunction=isinstance(q, ql.And))
    if isinstance(q, ql.Not):
        inner = compile_query(q.child, sql)
        if isinstance(inner, _Ts):
            return _Ts(f"!({inner.query})")
        return _Cond(f"(({inner.sql}) IS NOT TRUE)")
    if isinstance(q, ql.AndNot):
        return compile_query(ql.And((q.a, ql.Not(q.b))), sql)
    if isinstance(q, ql.AndMaybe):
        return compile_query(q.a, sql)  # b only adds to the score
    if isinstance(q, ql.Require):
        return compile_query(ql.And((q.a, q.b)), sql)
    if isinstance(q, ql.Every) and q.field is None:
        return _EVERYTHING
    fieldname = q.field  # type: ignore[attr-defined]
    if fieldname in PREFIX:
        return _text_leaf(q, sql)
    return _column_leaf(q, sql)


def rank_query(q: ql.Query) -> str | None:
    """A tsquery of the terms that score (every term not under NOT), or None."""
    found: list[str] = []

    def visit(node: ql.Query) -> None:
        if isinstance(node, ql.Not):
            return
        if isinstance(node, ql.And | ql.Or):
            for child in node.children:
                visit(child)
        elif isinstance(node, ql.AndNot):
            visit(node.a)
        elif isinstance(node, ql.AndMaybe | ql.Require):
            visit(node.a)
            visit(node.b)
        elif isinstance(node, ql.Term | ql.Phrase | ql.Prefix) and node.field in PREFIX:
            part = _text_leaf(node, _Sql())
            if isinstance(part, _Ts):
                found.append(f"({part.query})")

    visit(q)
    return " | ".join(found) or None


# -- the engine ------------------------------------------------------------------------

class PostgresIndex:
    """The PostgreSQL full-text index of one archive, in its catalog. Many readers (every
    API replica); one writing process at a time."""

    def __init__(self, catalog: Catalog, *, owned: bool = False) -> None:
        if catalog.dialect != "postgresql":
            raise ConfigError("the PostgreSQL search engine needs a PostgreSQL catalog")
        self.catalog = catalog
        self._owned = owned

    @classmethod
    def for_settings(cls, settings: Settings) -> PostgresIndex:
        if not settings.catalog_url.startswith("postgresql"):
            raise ConfigError("[search] engine = 'postgres' needs a PostgreSQL catalog")
        return cls(Catalog(settings.catalog_url), owned=True)

    def close(self) -> None:
        if self._owned:
            self.catalog.dispose()

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def _writer_lock(self, wait: float = 0.0) -> Iterator[Connection]:
        """Be the one writer, waiting up to `wait` seconds; IndexLocked otherwise. Yields
        the connection that holds the (session) lock, for the writes."""
        conn = self.catalog.engine.connect()
        key = {"k": LOCK_CLASS}
        locked = False
        try:
            deadline = time.monotonic() + wait
            while True:
                locked = bool(conn.execute(text(
                    "SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
                    key).scalar())
                conn.commit()
                if locked:
                    break
                if time.monotonic() >= deadline:
                    raise IndexLocked("the search index in the catalog is being written by "
                                      "another process")
                time.sleep(0.05)
            yield conn
        finally:
            try:
                if conn.in_transaction():
                    conn.rollback()
                if locked:
                    conn.execute(text(
                        "SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"), key)
                    conn.commit()
            except SQLAlchemyError:
                conn.invalidate()  # the session ends, and its lock with it
            conn.close()

    def catch_up(self, appender: Appender, *, batch: int = 10_000) -> int:
        """Index every committed capture record beyond the mark; returns how many."""
        with self._writer_lock() as conn:
            mark = _state(conn).indexed_through
            conn.commit()
            added = 0
            while True:
                with conn.begin():
                    count, mark, done = self._index_batch(conn, appender, mark, batch)
                added += count
                if done:
                    break
            if added >= ANALYZE_AFTER:
                _analyze(conn)
            return added

    def _index_batch(self, conn: Connection, appender: Appender, mark: int, batch: int
                     ) -> tuple[int, int, bool]:
        """Index the next batch after `mark` in the caller's transaction, with the mark;
        (documents added, new mark, nothing was left)."""
        rows = _pending(appender, mark, batch)
        if not rows:
            return 0, mark, True
        docs = list(_read_documents(appender, rows))
        _copy_rows(conn, [row_for(doc) for doc in docs])
        # A record disposed of after it was read: its `remove` waits for this lock, but
        # the catalog already says so; its document goes in the same transaction.
        gone = _purge_destroyed(conn, [d.seq for d in docs])
        _add_state(conn, indexed_through=rows[-1].seq, documents=len(docs) - gone)
        return len(docs), rows[-1].seq, False

    def reindex(self, appender: Appender, *, batch: int = 10_000) -> int:
        """Rebuild from the store in one transaction; returns documents. Searches use the
        old index until it commits."""
        with self._writer_lock() as conn:
            self._rebuild(conn, appender, batch)
            count = _state(conn).documents
            conn.commit()
            _analyze(conn)
            return count

    def _rebuild(self, conn: Connection, appender: Appender, batch: int) -> None:
        with conn.begin():
            conn.execute(t.search_documents.delete())
            _set_state(conn, indexed_through=-1, documents=0)
            mark = -1
            while True:
                _, mark, done = self._index_batch(conn, appender, mark, batch)
                if done:
                    break
            _purge_destroyed(conn, None)
            count = int(conn.execute(select(func.count()).select_from(
                t.search_documents)).scalar_one())
            _set_state(conn, documents=count)

    def remove(self, seqs: Sequence[int], *, wait: float = 600.0) -> int:
        """Delete the documents of these records (disposition, after their keys are
        destroyed); waits up to `wait` seconds for a running writer (IndexLocked after).

        The rows go at once and the table is vacuumed; PostgreSQL may still hold bytes of
        them on disk (free space in pages, GIN entry keys, WAL) until they are reused.
        """
        if not seqs:
            return 0
        with self._writer_lock(wait) as conn:
            with conn.begin():
                removed = conn.execute(t.search_documents.delete().where(
                    t.search_documents.c.seq.in_([int(s) for s in seqs]))).rowcount
                _add_state(conn, documents=-removed)
            self._vacuum()
            return removed

    def _vacuum(self) -> None:
        try:
            with self.catalog.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM search_documents"))
        except SQLAlchemyError:
            pass  # best effort: autovacuum gets there too

    # -- reading --------------------------------------------------------------------------

    def state(self) -> IndexState:
        with self.catalog.reader() as conn:
            return _state(conn)

    def indexed_through(self) -> int:
        return self.state().indexed_through

    def lag(self, appender: Appender) -> int:
        """Committed, readable capture records that are not yet searchable."""
        mark = self.indexed_through()
        r = t.records.c
        with self.catalog.reader() as conn:
            return int(conn.execute(select(func.count()).select_from(t.records).where(
                r.seq > mark, r.type == "capture", r.destroyed_at.is_(None))).scalar_one())

    def run(self, plan: QueryPlan) -> EnginePage:
        """Run a plan (engine.py states the contract); InvalidRequest for a bad query."""
        if plan.order not in ORDERS or plan.date_field not in DATE_FIELDS:
            raise InvalidRequest(f"cannot order by {plan.order!r} on {plan.date_field!r}")
        parsed = ql.parse(plan.query)
        matching = ql.match_terms(parsed)
        sql = _Sql()
        where = [_as_cond(compile_query(parsed, sql), sql), *_filters(plan, sql)]
        ranked = rank_query(parsed) if plan.order == "relevance" else None
        score = (f"ts_rank(d.tokens, CAST({sql.bind(ranked)} AS tsquery))::float8" if ranked
                 else "1.0::float8")
        # One snapshot for the count and the page, as a Whoosh searcher has.
        with self.catalog.engine.connect().execution_options(
                isolation_level="REPEATABLE READ") as conn, conn.begin():
            conn.execute(text("SET LOCAL jit = off"))
            if plan.collapse:
                hits, total = _collapsed_page(conn, plan, sql, where, score)
            else:
                hits, total = _page(conn, plan, sql, where, score)
            facets = _facets(conn, plan, sql, where) if plan.facets and total else {}
        more = len(hits) > plan.limit
        return EnginePage(hits[:plan.limit], total, more, matching,
                          {name: facets.get(name, {}) for name in plan.facets})


# -- reading a page ----------------------------------------------------------------------

def _filters(plan: QueryPlan, sql: _Sql) -> list[str]:
    out = []

    def any_of(column: str, values: list[str]) -> str:
        # One value as `=`: then an index on (column, time) also gives the time order.
        if len(values) == 1:
            return f"{column} = {sql.bind(values[0])}"
        return f"{column} = ANY({sql.bind(values)})"

    for name, values in plan.terms.items():
        if not values:
            continue
        if name in ("platform", "kind", "event"):
            out.append(any_of(f"lower(d.{name})", [v.lower() for v in values]))
        elif name == "account":
            out.append(any_of("d.account", list(values)))
        else:
            raise InvalidRequest(f"unknown filter {name!r}")
    if plan.authors:
        keys = [k for k in (analyzer.normalize_key(a) for a in plan.authors) if k]
        either = [f"d.author_id = ANY({sql.bind(list(plan.authors))})"]
        if keys:
            either.append(sql.tsquery(" | ".join(_quote(PREFIX["author_handle"] + k)
                                                 for k in keys)))
        out.append("(" + " OR ".join(either) + ")")
    column = f"d.{plan.date_field}"
    if plan.date_field == "published" and (plan.start_us is not None
                                           or plan.end_us is not None):
        # `time` is the publication time wherever there is one: bounding it lets the
        # (time, seq) and (account, time, seq) indexes serve the range and the order.
        out.append("d.published IS NOT NULL")
        column = "d.time"
    if plan.start_us is not None:
        out.append(f"{column} >= {sql.bind(plan.start_us)}")
    if plan.end_us is not None:
        out.append(f"{column} <= {sql.bind(plan.end_us)}")
    if plan.allow_items is not None:
        out.append(f"d.item_key = ANY({sql.bind(sorted(plan.allow_items))})"
                   if plan.allow_items else "FALSE")
    if plan.deny_items:
        out.append(f"NOT (d.item_key = ANY({sql.bind(sorted(plan.deny_items))}))")
    return out


def _facet_expression(name: str, date_field: str) -> str:
    """The value a facet counts, as the Whoosh engine has it (ID terms, lowercased where
    the filter is; the year from the `*_day` text, so both engines cut years alike)."""
    if name == "year":
        return f"split_part(d.{date_field}_day, '-', 1)"
    if name in _ID_COLUMNS and name in FACETS:
        return _ID_COLUMNS[name]
    raise InvalidRequest(f"unknown facet {name!r}; facets are {', '.join(FACETS)}")


def _facets(conn: Connection, plan: QueryPlan, sql: _Sql, where: list[str]
            ) -> dict[str, dict[str, int]]:
    """Counts per value of each facet over the whole match set: one scan of the matching
    rows, grouped by every facet at once (GROUPING SETS)."""
    names = list(dict.fromkeys(plan.facets))
    exprs = [_facet_expression(n, plan.date_field) for n in names]
    flags = ", ".join(f"GROUPING({e}) AS g{i}" for i, e in enumerate(exprs))
    values = ", ".join(f"{e} AS v{i}" for i, e in enumerate(exprs))
    sets = ", ".join(f"({e})" for e in exprs)
    rows = conn.execute(text(
        f"SELECT {flags}, {values}, count(*) AS n FROM search_documents d "
        f"WHERE {' AND '.join(where)} GROUP BY GROUPING SETS ({sets})"), sql.params).all()
    out: dict[str, dict[str, int]] = {n: {} for n in names}
    for row in rows:
        for i, name in enumerate(names):
            value = getattr(row, f"v{i}")
            if getattr(row, f"g{i}") == 0 and value is not None:
                out[name][value] = out[name].get(value, 0) + int(row.n)
    return out


def _time_column(plan: QueryPlan) -> str:
    return "d.time" if plan.date_field == "published" else "d.captured"


def _fields(row: Any) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in STORED}
    out["seq"] = row.seq
    return {k: v for k, v in out.items() if v is not None}


def _page(conn: Connection, plan: QueryPlan, sql: _Sql, where: list[str], score: str
          ) -> tuple[list[EngineHit], int]:
    if plan.order == "relevance":
        return _ranked_page(conn, plan, sql, where, score)
    total = _count(conn, sql, where)
    page_where = list(where)
    column = _time_column(plan)
    direction = "DESC" if plan.order == "newest" else "ASC"
    if plan.after is not None:
        sign = -1 if plan.order == "newest" else 1
        page_where.append(f"({column}, d.seq) {'<' if sign < 0 else '>'} "
                          f"({sql.bind(sign * int(plan.after[0]))}, "
                          f"{sql.bind(sign * int(plan.after[1]))})")
    columns = ", ".join(f"d.{c}" for c in STORED)
    rows = conn.execute(text(f"""
        WITH p AS (
            SELECT d.seq, {column} AS sort_time FROM search_documents d
            WHERE {' AND '.join(page_where)}
            ORDER BY {column} {direction}, d.seq {direction} LIMIT {sql.bind(plan.limit + 1)}
        )
        SELECT p.seq, p.sort_time, {columns}
        FROM p JOIN search_documents d ON d.seq = p.seq
        ORDER BY p.sort_time {direction}, p.seq {direction}"""), sql.params).all()
    hits = []
    for row in rows:
        key: SortKey = ((-row.sort_time, -row.seq) if plan.order == "newest"
                        else (row.sort_time, row.seq))
        hits.append(EngineHit(row.seq, key, None, _fields(row)))
    return hits, total


def _count(conn: Connection, sql: _Sql, where: list[str]) -> int:
    if where == [_EVERYTHING.sql]:
        return _state(conn).documents  # kept exact, with the documents, in each commit
    return int(conn.execute(text(
        f"SELECT count(*) FROM search_documents d WHERE {' AND '.join(where)}"),
        sql.params).scalar_one())


def _ranked_page(conn: Connection, plan: QueryPlan, sql: _Sql, where: list[str], score: str
                 ) -> tuple[list[EngineHit], int]:
    """Relevance: one pass ranks and counts every match (the heap is read once), the
    page is taken from those, and only the page's stored fields are read."""
    after = ""
    if plan.after is not None:
        after = (f"WHERE (m.score, m.seq) < ({sql.bind(-float(plan.after[0]))}, "
                 f"{sql.bind(-int(plan.after[1]))})")
    columns = ", ".join(f"d.{c}" for c in STORED)
    rows = conn.execute(text(f"""
        WITH m AS MATERIALIZED (
            SELECT d.seq, {score} AS score FROM search_documents d
            WHERE {' AND '.join(where)}
        ), p AS (
            SELECT m.seq, m.score FROM m {after}
            ORDER BY m.score DESC, m.seq DESC LIMIT {sql.bind(plan.limit + 1)}
        )
        SELECT (SELECT count(*) FROM m) AS total, p.seq, p.score, {columns}
        FROM (SELECT 1) AS one
        LEFT JOIN p ON true LEFT JOIN search_documents d ON d.seq = p.seq
        ORDER BY p.score DESC, p.seq DESC"""), sql.params).all()
    total = int(rows[0].total)
    return [EngineHit(row.seq, (-row.score, -row.seq), row.score, _fields(row))
            for row in rows if row.seq is not None], total


def _collapsed_page(conn: Connection, plan: QueryPlan, sql: _Sql, where: list[str],
                    score: str) -> tuple[list[EngineHit], int]:
    """One hit per item: keyed by its best matching record, showing its latest."""
    if plan.order == "relevance":
        k0, k1 = f"-({score})", "-d.seq"
    elif plan.order == "newest":
        k0, k1 = f"-{_time_column(plan)}", "-d.seq"
    else:
        k0, k1 = _time_column(plan), "d.seq"
    after = ""
    if plan.after is not None:
        first = float(plan.after[0]) if plan.order == "relevance" else int(plan.after[0])
        after = f"WHERE (g.k0, g.k1) > ({sql.bind(first)}, {sql.bind(int(plan.after[1]))})"
    rows = conn.execute(text(f"""
        WITH m AS (
            SELECT d.seq, d.item_key, {score} AS score, {k0} AS k0, {k1} AS k1
            FROM search_documents d WHERE {' AND '.join(where)}
        ), best AS (
            SELECT DISTINCT ON (item_key) item_key, k0, k1 FROM m ORDER BY item_key, k0, k1
        ), agg AS (
            SELECT item_key, count(*) AS matched, max(seq) AS latest,
                   (array_agg(score ORDER BY seq DESC))[1] AS score
            FROM m GROUP BY item_key
        ), g AS (
            SELECT b.k0, b.k1, a.matched, a.latest, a.score
            FROM best b JOIN agg a USING (item_key)
        )
        SELECT t.total, p.k0, p.k1, p.matched, p.latest, p.score
        FROM (SELECT count(*) AS total FROM g) t
        LEFT JOIN LATERAL (
            SELECT g.* FROM g {after} ORDER BY g.k0, g.k1 LIMIT {sql.bind(plan.limit + 1)}
        ) p ON true"""), sql.params).all()
    total = int(rows[0].total)
    groups = [r for r in rows if r.latest is not None]
    stored = {}
    if groups:
        columns = ", ".join(f"d.{c}" for c in STORED)
        stored = {r.seq: _fields(r) for r in conn.execute(text(
            f"SELECT d.seq, {columns} FROM search_documents d WHERE d.seq = ANY(:seqs)"),
            {"seqs": [g.latest for g in groups]})}
    hits = [EngineHit(g.latest, (g.k0, g.k1), g.score if plan.order == "relevance" else None,
                      stored[g.latest], int(g.matched)) for g in groups]
    return hits, total


# -- the index's state and rows ----------------------------------------------------------

def _state(conn: Connection) -> IndexState:
    """The mark and the document count. The mark commits with the documents it covers; it
    is never taken below the highest seq indexed (as the Whoosh engine recomputes it), so
    a mark set back by hand cannot make a catch-up index a record twice."""
    values = dict(conn.execute(select(t.search_state.c.name, t.search_state.c.value)).all())
    highest = conn.execute(select(func.max(t.search_documents.c.seq))).scalar()
    mark = max(int(values.get("indexed_through", -1)), -1 if highest is None else highest)
    return IndexState(mark, int(values.get("documents", 0)))


def _set_state(conn: Connection, **values: int) -> None:
    for name, value in values.items():
        conn.execute(text(
            "INSERT INTO search_state (name, value) VALUES (:n, :v) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"), {"n": name, "v": value})


def _add_state(conn: Connection, *, indexed_through: int | None = None,
               documents: int = 0) -> None:
    if indexed_through is not None:
        _set_state(conn, indexed_through=indexed_through)
    if documents:
        conn.execute(text(
            "INSERT INTO search_state (name, value) VALUES ('documents', :v) "
            "ON CONFLICT (name) DO UPDATE SET value = search_state.value + EXCLUDED.value"),
            {"v": documents})


def _copy_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """COPY the rows into search_documents, in the caller's transaction."""
    if not rows:
        return
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(  # type: ignore[union-attr]
            f"COPY search_documents ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _analyze(conn: Connection) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum would, later)."""
    conn.execute(text("ANALYZE search_documents"))
    conn.commit()


def _purge_destroyed(conn: Connection, seqs: list[int] | None) -> int:
    """Delete the documents of records the catalog says are destroyed (of `seqs`, or all)."""
    if seqs is not None and not seqs:
        return 0
    only = "" if seqs is None else "AND d.seq = ANY(:seqs)"
    return conn.execute(text(
        f"DELETE FROM search_documents d USING records r WHERE r.seq = d.seq "
        f"AND r.destroyed_at IS NOT NULL {only}"), {"seqs": seqs or []}).rowcount


# -- reading the log (named here so tests can intercept) ---------------------------------

_pending = log_source.pending
_read_documents = log_source.read_documents
