"""Legal holds: a matter that suspends disposition of every record its scope covers.

A hold names its matter (name and number), why and under what authority, and a scope:
accounts, platforms, kinds, a date range (over publication time by default, capture time
on request) and an optional search query. The query is evaluated by the caller (the
search index is I/O) and handed in as the set of seqs it matched; a hold whose query was
not evaluated covers everything its other criteria match, so a missing answer can only
keep more, never destroy more. A hold covers records captured after it was placed too,
and a record may be under several holds at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retention.policies import (
    MAX_TEXT,
    RecordFacts,
    RuleError,
    iso_time,
    parse_instant,
    string_set,
    text_field,
)

DATE_FIELDS = ("published", "captured")
HOLD_FIELDS = frozenset({"matter_name", "matter_number", "description", "scope", "reason",
                         "authority"})
HOLD_SCOPE_FIELDS = frozenset({"accounts", "platforms", "kinds", "date_from", "date_to",
                               "date_field", "query"})


@dataclass(frozen=True, slots=True)
class HoldScope:
    accounts: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    date_from: datetime | None = None
    date_to: datetime | None = None  # inclusive
    date_field: str = "published"
    query: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.platforms or self.kinds or self.date_from
                    or self.date_to or self.query)

    def as_dict(self) -> dict[str, Any]:
        return {"accounts": sorted(self.accounts), "platforms": sorted(self.platforms),
                "kinds": sorted(self.kinds),
                "date_from": iso_time(self.date_from) if self.date_from else None,
                "date_to": iso_time(self.date_to) if self.date_to else None,
                "date_field": self.date_field, "query": self.query}


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    matter_name: str
    matter_number: str
    scope: HoldScope
    placed_by: str
    placed_at: datetime
    description: str = ""
    reason: str = ""
    authority: str = ""
    released_by: str | None = None
    released_at: datetime | None = None
    version: int = 1

    def active(self, now: datetime) -> bool:
        """Placed by `now` and not released by then."""
        return self.placed_at <= now and (self.released_at is None or self.released_at > now)

    def covers(self, r: RecordFacts, query_matches: frozenset[int] | set[int] | None) -> bool:
        """Whether the scope takes in `r` (activity is the caller's question)."""
        return (self.covers_kind_of(r.platform, r.account, r.kind)
                and self.covers_instance(r, query_matches))

    def covers_kind_of(self, platform: str, account: str, kind: str) -> bool:
        """The part of the scope that depends on the record's platform, account and kind."""
        s = self.scope
        return ((not s.accounts or account in s.accounts)
                and (not s.platforms or platform in s.platforms)
                and (not s.kinds or kind in s.kinds))

    def covers_instance(self, r: RecordFacts,
                        query_matches: frozenset[int] | set[int] | None) -> bool:
        """The part of the scope that depends on the record itself: dates and the query."""
        s = self.scope
        if s.date_from is not None or s.date_to is not None:
            when = r.captured if s.date_field == "captured" else (r.published or r.captured)
            if s.date_from is not None and when < s.date_from:
                return False
            if s.date_to is not None and when > s.date_to:
                return False
        return not (s.query and query_matches is not None and r.seq not in query_matches)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "matter_name": self.matter_name,
                "matter_number": self.matter_number, "description": self.description,
                "reason": self.reason, "authority": self.authority,
                "scope": self.scope.as_dict(), "placed_by": self.placed_by,
                "placed_at": iso_time(self.placed_at), "released_by": self.released_by,
                "released_at": iso_time(self.released_at) if self.released_at else None}


def parse_hold_scope(value: Any) -> HoldScope:
    if not isinstance(value, Mapping):
        raise RuleError("scope: expected an object")
    extra = set(value) - HOLD_SCOPE_FIELDS
    if extra:
        raise RuleError(f"scope: unknown field(s) {sorted(extra)}; known: "
                        f"{sorted(HOLD_SCOPE_FIELDS)}")
    date_field = value.get("date_field") or "published"
    if date_field not in DATE_FIELDS:
        raise RuleError(f"scope.date_field: {date_field!r} is not published or captured")
    start = value.get("date_from")
    end = value.get("date_to")
    date_from = parse_instant(start, "scope.date_from") if start is not None else None
    date_to = parse_instant(end, "scope.date_to") if end is not None else None
    if isinstance(end, str) and len(end.strip()) == 10 and date_to is not None:
        date_to = date_to.replace(hour=23, minute=59, second=59, microsecond=999999)
    if date_from and date_to and date_from > date_to:
        raise RuleError("scope: date_from is after date_to")
    query = value.get("query")
    if query is not None:
        if not isinstance(query, str) or len(query) > MAX_TEXT or "\x00" in query:
            raise RuleError(f"scope.query: a string of at most {MAX_TEXT} characters")
        query = query.strip() or None
    scope = HoldScope(accounts=string_set(value.get("accounts"), "scope.accounts"),
                      platforms=string_set(value.get("platforms"), "scope.platforms"),
                      kinds=string_set(value.get("kinds"), "scope.kinds"),
                      date_from=date_from, date_to=date_to, date_field=date_field, query=query)
    if scope.empty:
        raise RuleError("scope: a hold needs at least one of accounts, platforms, kinds, "
                        "date_from, date_to or query (an empty scope would hold nothing "
                        "anyone could name)")
    return scope


def parse_hold(doc: Any, *, hold_id: str, placed_by: str, placed_at: datetime,
               version: int = 1) -> Hold:
    """A hold from its JSON form; RuleError names the field that is wrong."""
    if not isinstance(doc, Mapping):
        raise RuleError("a hold is a JSON object")
    extra = set(doc) - HOLD_FIELDS
    if extra:
        raise RuleError(f"unknown field(s) {sorted(extra)}")
    return Hold(id=hold_id, version=version, matter_name=text_field(doc, "matter_name"),
                matter_number=text_field(doc, "matter_number"),
                description=text_field(doc, "description", required=False),
                reason=text_field(doc, "reason", required=False),
                authority=text_field(doc, "authority", required=False),
                scope=parse_hold_scope(doc.get("scope")), placed_by=placed_by,
                placed_at=placed_at)
