"""The small interface between the search domain (`query.py`) and an engine.

The domain turns a request into a `QueryPlan`; an engine runs the plan over its index and
returns an `EnginePage`. Everything an engine must agree on is fixed here:

- result order is ascending `key`: relevance `(-score, -seq)`, newest `(-time, -seq)`,
  oldest `(time, seq)`, where time is microseconds since the epoch of publication (or
  capture, for records without a publication time) or of capture, as the plan says;
- `after` is the key of the last result of the previous page: a page holds only keys
  greater than it, so pages never overlap or skip;
- date bounds are inclusive and in microseconds; a record without the time filtered on
  (a deletion notice has no publication time) does not pass a date filter;
- item filters are item keys (`documents.item_key`) to allow or to deny;
- facets count the records of the whole match set (every filter applied, the cursor and
  the page size not), per value of each field the plan names: `platform`, `kind` and
  `event` lowercased, `account` as stored, `year` the four-digit (or shorter) year of the
  plan's date field in UTC; a record without that time has no year. Values with a count
  of zero are left out.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from archiver.errors import ArchiveError
from archiver.log.appender import Appender

ORDERS = ("relevance", "newest", "oldest")
DATE_FIELDS = ("published", "captured")
TERM_FILTERS = ("platform", "account", "kind", "event")
FACETS = (*TERM_FILTERS, "year")
SortKey = tuple[float, int]


class IndexLocked(ArchiveError):
    """Another process holds the index's writer lock (only one process writes the index)."""

    code = "index_locked"


@dataclass(frozen=True)
class QueryPlan:
    query: str = ""  # the engine's query language; "" matches every record
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> any of
    authors: tuple[str, ...] = ()  # author id or handle, any of
    date_field: str = "published"
    start_us: int | None = None
    end_us: int | None = None
    allow_items: frozenset[str] | None = None
    deny_items: frozenset[str] | None = None
    order: str = "relevance"
    after: SortKey | None = None
    limit: int = 20
    collapse: bool = False
    facets: tuple[str, ...] = ()  # of FACETS: count the match set per value of these


@dataclass(frozen=True)
class MatchTerms:
    """What the query looks for in the text, to highlight: exact terms and patterns."""

    exact: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()  # fnmatch-style (`*`, `?`), already normalized

    def matches(self, term: str) -> bool:
        return term in self.exact or any(_pattern(p).fullmatch(term) for p in self.patterns)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(p: str) -> re.Pattern[str]:
    if p not in _PATTERNS:
        _PATTERNS[p] = re.compile(fnmatch.translate(p), re.S)
    return _PATTERNS[p]


@dataclass(frozen=True)
class IndexState:
    indexed_through: int  # the highest seq examined: every capture record up to it is done
    documents: int


@dataclass(frozen=True)
class EngineHit:
    seq: int
    key: SortKey
    score: float | None
    fields: dict[str, Any]  # the stored fields of the document
    matched: int = 1  # collapsed: how many records of the item matched


@dataclass(frozen=True)
class EnginePage:
    hits: list[EngineHit]
    total: int  # records (or items, collapsed) matching the query and every filter
    more: bool  # there are results after the last hit
    match_terms: MatchTerms = MatchTerms()
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> value -> n


class SearchEngine(Protocol):
    """What the domain needs of an engine: Whoosh (`whoosh_engine.SearchIndex`) or
    PostgreSQL full-text search (`postgres_engine.PostgresIndex`); `engines.open_index`
    opens the one the settings name."""

    def run(self, plan: QueryPlan) -> EnginePage: ...

    def state(self) -> IndexState: ...

    def close(self) -> None: ...

    def catch_up(self, appender: Appender) -> int: ...

    def reindex(self, appender: Appender) -> int: ...

    def remove(self, seqs: list[int]) -> int: ...

    def lag(self, appender: Appender) -> int: ...

    def indexed_through(self) -> int: ...
