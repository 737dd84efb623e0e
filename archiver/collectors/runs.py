"""Collection runs: each one is a `system` record `collection.run` in the log, and a row of
the catalog's `collection_runs` table derived from it (`archiver rebuild` refills it).

The record is the archive's proof of when it looked and what it saw: the account, the
window of the timeline the listing covered, every id listed, the ids looked up directly,
the events archived, the requests made, the outcome and the error. The account's cursor
is stored in the same catalog transaction as the run's row, so it moves only once the
run's record (and everything the run archived before it) is durable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from archiver.catalog import schema as t
from archiver.log.appender import Appender
from archiver.log.segments import ParsedRecord
from archiver.records import EVENTS, PendingRecord

ACTION = "collection.run"
OUTCOMES = ("ok", "failed", "rate_limited", "paused")


@dataclass
class RunResult:
    """One run, as `archiver collect --json` prints it (plus where it is in the log)."""

    account: str
    outcome: str
    events: dict[str, int] = field(default_factory=lambda: {e: 0 for e in EVENTS})
    listed: int = 0
    looked_up: int = 0
    requests: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seq: int | None = None              # the run's system record; None: not recorded
    retry_at: str | None = None         # rate limited: when the scheduler comes back
    archived: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "outcome": self.outcome, "events": dict(self.events),
                "listed": self.listed, "looked_up": self.looked_up,
                "requests": self.requests, "error": self.error, "notes": list(self.notes)}


@dataclass(frozen=True)
class RunRow:
    seq: int
    account_id: str
    platform: str
    started_at: str
    finished_at: str
    outcome: str
    window_start: str | None
    window_end: str | None
    listed: int
    looked_up: int
    requests: int
    archived: int
    events: dict[str, int]
    error: str | None
    retry_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "started_at": self.started_at,
                "finished_at": self.finished_at, "outcome": self.outcome,
                "window": {"start": self.window_start, "end": self.window_end},
                "listed": self.listed, "looked_up": self.looked_up,
                "requests": self.requests, "archived": self.archived,
                "events": self.events, "error": self.error, "retry_at": self.retry_at}


def run_details(*, account: Any, started_at: str, finished_at: str, result: RunResult,
                window: tuple[str | None, str | None], listed: Sequence[str],
                threads: Sequence[str], looked_up: Sequence[str], seqs: Sequence[int],
                actor_notes: Sequence[str] = ()) -> dict[str, Any]:
    """The `details` of a `collection.run` record (docs/collectors.md, "Run records")."""
    return {
        "account": account.id, "platform": account.platform,
        "platform_id": account.platform_id, "handle": account.handle,
        "started_at": started_at, "finished_at": finished_at, "outcome": result.outcome,
        "window": {"start": window[0], "end": window[1]},
        "listed": sorted(listed), "threads": sorted(threads), "looked_up": sorted(looked_up),
        "events": dict(result.events), "archived": result.archived,
        "seqs": [seqs[0], seqs[-1]] if seqs else [],
        "requests": result.requests, "error": result.error,
        "notes": [*result.notes, *actor_notes], "retry_at": result.retry_at,
    }


def _row(seq: int, details: dict[str, Any]) -> dict[str, Any]:
    window = details.get("window") or {}
    events = details.get("events") or {}
    return {"seq": seq, "account_id": str(details.get("account", ""))[:32],
            "platform": str(details.get("platform", ""))[:64],
            "started_at": str(details.get("started_at", "")),
            "finished_at": str(details.get("finished_at", "")),
            "outcome": str(details.get("outcome", "failed"))[:16],
            "window_start": window.get("start"), "window_end": window.get("end"),
            "listed": len(details.get("listed") or []),
            "looked_up": len(details.get("looked_up") or []),
            "requests": int(details.get("requests") or 0),
            "archived": int(details.get("archived") or 0),
            "events": json.dumps({e: int(events.get(e, 0)) for e in EVENTS}),
            "error": details.get("error"), "retry_at": details.get("retry_at")}


def record_run(appender: Appender, actor: str, details: dict[str, Any],
               cursor: tuple[str, dict[str, Any]] | None) -> int:
    """Append the run's record; in the same transaction its row and (ok runs) the cursor."""
    payload = {"schema": "system/1", "action": ACTION, "actor": actor, "details": details}
    with appender.session() as ws:
        seq = ws.append([PendingRecord("system", payload)])[0]
        ws.conn.execute(t.collection_runs.insert().values(**_row(seq, details)))
        if cursor is not None:
            store_cursor(ws.conn, cursor[0], cursor[1], seq, details["finished_at"])
    return seq


def store_cursor(conn: Connection, account_id: str, cursor: dict[str, Any], seq: int,
                 time: str) -> None:
    text = json.dumps(cursor, ensure_ascii=False, sort_keys=True)
    exists = conn.execute(select(t.collector_cursors.c.account_id)
                          .where(t.collector_cursors.c.account_id == account_id)).first()
    if exists:
        conn.execute(t.collector_cursors.update()
                     .where(t.collector_cursors.c.account_id == account_id)
                     .values(cursor=text, run_seq=seq, updated_at=time))
    else:
        conn.execute(t.collector_cursors.insert().values(account_id=account_id, cursor=text,
                                                         run_seq=seq, updated_at=time))


def load_cursor(conn: Connection, account_id: str) -> dict[str, Any]:
    text = conn.execute(select(t.collector_cursors.c.cursor)
                        .where(t.collector_cursors.c.account_id == account_id)).scalar()
    return json.loads(text) if text else {}


def _run(row: Any) -> RunRow:
    data = row._asdict()
    data["events"] = json.loads(data["events"])
    return RunRow(**data)


def last_run(conn: Connection, account_id: str, *, outcome: str | None = None
             ) -> RunRow | None:
    q = select(t.collection_runs).where(t.collection_runs.c.account_id == account_id)
    if outcome is not None:
        q = q.where(t.collection_runs.c.outcome == outcome)
    row = conn.execute(q.order_by(t.collection_runs.c.seq.desc()).limit(1)).first()
    return None if row is None else _run(row)


def runs_of(conn: Connection, account_id: str, limit: int = 20) -> list[RunRow]:
    q = (select(t.collection_runs).where(t.collection_runs.c.account_id == account_id)
         .order_by(t.collection_runs.c.seq.desc()).limit(limit))
    return [_run(r) for r in conn.execute(q)]


def outcome_counts(conn: Connection) -> dict[str, int]:
    q = select(t.collection_runs.c.outcome, func.count()).group_by(t.collection_runs.c.outcome)
    counts = {o: 0 for o in OUTCOMES}
    counts.update({o: n for o, n in conn.execute(q)})
    return counts


def rebuild_runs(appender: Appender, conn: Connection, parsed: Sequence[ParsedRecord],
                 keys: dict[str, str], kek: str) -> None:
    """`archiver rebuild`: the rows of the segment's `collection.run` records.

    Only system records are decrypted (a handful per segment): capture records are left
    to the replay that rebuilds the rest of the catalog."""
    rows = []
    for rec in parsed:
        env = rec.envelope
        if env.type != "system":
            continue
        payload = appender.decrypt(env, keys.get(env.kid), kek)
        if payload is not None and payload.get("action") == ACTION:
            rows.append(_row(env.seq, payload.get("details") or {}))
    if rows:
        conn.execute(t.collection_runs.insert(), rows)


def adopt_missing_runs(appender: Appender) -> int:
    """Rows for `collection.run` records the catalog lacks; returns how many were added.

    A crash after a run's segment reached the store but before the catalog committed
    leaves the record in the log (the next writer adopts the segment) without its row;
    the worker calls this when it starts, so health and the scheduler see that run."""
    from archiver.log.reader import read_record

    missing = (select(t.records.c.seq)
               .where(t.records.c.type == "system", t.records.c.action == ACTION)
               .where(~select(t.collection_runs.c.seq)
                      .where(t.collection_runs.c.seq == t.records.c.seq).exists())
               .order_by(t.records.c.seq))
    with appender.p.catalog.reader() as conn:
        seqs = list(conn.execute(missing).scalars())
    rows = []
    for seq in seqs:
        payload = read_record(appender, seq).payload
        if payload is not None:
            rows.append(_row(seq, payload.get("details") or {}))
    if not rows:
        return 0
    with appender.p.catalog.writer() as conn:
        have = set(conn.execute(select(t.collection_runs.c.seq).where(
            t.collection_runs.c.seq.in_([r["seq"] for r in rows]))).scalars())
        rows = [r for r in rows if r["seq"] not in have]
        if rows:
            conn.execute(t.collection_runs.insert(), rows)
    return len(rows)
