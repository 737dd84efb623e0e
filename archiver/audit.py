"""The audit trail: who read, searched, exported or changed what, when, from where, and
with what outcome. Append-only: this module inserts and selects, nothing else, and the
migration (0002) adds triggers that refuse UPDATE and DELETE in the database itself.

Events hold the token's id and name, never its value; `resource` holds the ids a request
named (a seq, an item, tree sizes, filters), never a body or a header.

Pages are ordered by `id`, the order of insertion. On PostgreSQL an id is drawn before its
transaction commits, so an event can become visible just behind a cursor taken at the live
tail; an auditor who needs a closed, complete range pages with `until` a little in the past.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.catalog.db import Catalog
from archiver.errors import InvalidRequest
from archiver.times import format_time

Outcome = Literal["success", "denied", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("success", "denied", "failed")
MAX_PAGE = 1000
_CURSOR_PREFIX = "audit:"


def outcome_of(status: int) -> Outcome:
    """success: 1xx-3xx; denied: 401 and 403; failed: every other 4xx and 5xx."""
    if status < 400:
        return "success"
    return "denied" if status in (401, 403) else "failed"


@dataclass(frozen=True)
class AuditEvent:
    time: str
    method: str
    path: str
    status: int
    actor_id: str | None = None
    actor_name: str | None = None
    action: str | None = None
    resource: dict[str, Any] | None = None
    remote_addr: str | None = None
    id: int | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.status)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "actor_id": self.actor_id,
                "actor_name": self.actor_name, "method": self.method, "path": self.path,
                "action": self.action, "resource": self.resource,
                "remote_addr": self.remote_addr, "status": self.status,
                "outcome": self.outcome}


def now_text(clock: Callable[[], datetime] | None = None) -> str:
    return format_time((clock or (lambda: datetime.now(UTC)))())


def _storable(text: str | None, limit: int) -> str | None:
    """Any request's text as the catalog can hold it: no NUL (PostgreSQL refuses it), no
    unpaired surrogate, cut to the column. An event must never fail on what it records."""
    if text is None:
        return None
    text = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def record(catalog: Catalog, event: AuditEvent) -> int:
    """Append one event; returns its id. The only write this module has."""
    resource = (json.dumps(event.resource, ensure_ascii=False, sort_keys=True)
                if event.resource is not None else None)
    with catalog.engine.begin() as conn:
        result = conn.execute(t.audit_events.insert().values(
            time=event.time, actor_id=_storable(event.actor_id, 32),
            actor_name=_storable(event.actor_name, 128), method=_storable(event.method, 16),
            path=_storable(event.path, 2048), action=_storable(event.action, 64),
            resource=_storable(resource, 1_000_000),
            remote_addr=_storable(event.remote_addr, 64), status=event.status))
        return int(result.inserted_primary_key[0])


def encode_cursor(after_id: int) -> str:
    """An opaque cursor: clients hand it back, they are not meant to build one."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    digits = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise InvalidRequest("the cursor is not one this server issued")
    return int(digits)


def _time_bound(moment: datetime | None, name: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} needs a time zone offset")
    try:
        return format_time(moment)
    except (OverflowError, ValueError):
        raise InvalidRequest(f"{name} is out of range") from None


@dataclass(frozen=True)
class AuditQuery:
    """Filters, all optional and combined with AND; prefixes match from the start."""

    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    actor: str | None = None  # a token id or a token name
    action: str | None = None  # prefix of the endpoint name, e.g. "records."
    path: str | None = None  # prefix of the request path, e.g. "/api/v1/items/"
    outcome: Outcome | None = None
    cursor: str | None = None
    limit: int = 100


@dataclass
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    next_cursor: str | None = None


def _event(row: Any) -> AuditEvent:
    resource = json.loads(row.resource) if row.resource else None
    return AuditEvent(id=row.id, time=row.time, actor_id=row.actor_id,
                      actor_name=row.actor_name, method=row.method, path=row.path,
                      action=row.action, resource=resource, remote_addr=row.remote_addr,
                      status=row.status)


def search(catalog: Catalog, query: AuditQuery) -> AuditPage:
    """One page of events matching `query`, oldest first, and the cursor to the next."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    if query.outcome is not None and query.outcome not in OUTCOMES:
        raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
    c = t.audit_events.c
    stmt = select(t.audit_events)
    if query.cursor is not None:
        stmt = stmt.where(c.id > decode_cursor(query.cursor))
    since = _time_bound(query.since, "since")
    until = _time_bound(query.until, "until")
    if since is not None:
        stmt = stmt.where(c.time >= since)
    if until is not None:
        stmt = stmt.where(c.time < until)
    if query.actor:
        stmt = stmt.where((c.actor_id == query.actor) | (c.actor_name == query.actor))
    if query.action:
        stmt = stmt.where(c.action.startswith(query.action, autoescape=True))
    if query.path:
        stmt = stmt.where(c.path.startswith(query.path, autoescape=True))
    if query.outcome == "success":
        stmt = stmt.where(c.status < 400)
    elif query.outcome == "denied":
        stmt = stmt.where(c.status.in_((401, 403)))
    elif query.outcome == "failed":
        stmt = stmt.where(c.status >= 400, c.status.not_in((401, 403)))
    stmt = stmt.order_by(c.id).limit(query.limit + 1)
    with catalog.reader() as conn:
        rows = conn.execute(stmt).all()
    events = [_event(r) for r in rows[:query.limit]]
    more = len(rows) > query.limit
    return AuditPage(events, encode_cursor(events[-1].id) if more and events[-1].id else None)
