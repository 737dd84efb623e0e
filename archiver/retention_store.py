"""Policies and legal holds in the catalog, every change also a `system` record in the log.

Each change happens in one turn of the single writer: the catalog rows and the system
record (`policy.created`, `policy.changed`, `policy.retired`, `hold.placed`,
`hold.changed`, `hold.released`) commit together, so the log alone tells the archive's
legal history and `archiver rebuild` gives the tables back from it (`replay_system`).
Hold history is append-only: a change adds a version, it never rewrites one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from archiver.catalog import schema as t
from archiver.errors import Conflict, InvalidRequest, NotFound
from archiver.log.appender import Appender, WriteSession
from archiver.records import PendingRecord
from archiver.times import format_time
from retention.disposition import overlapping_policies
from retention.holds import Hold, parse_hold, parse_hold_scope
from retention.policies import Policy, RuleError, parse_instant, parse_policy

Clock = Callable[[], datetime]
POLICY_ACTIONS = ("policy.created", "policy.changed", "policy.retired")
HOLD_ACTIONS = ("hold.placed", "hold.changed", "hold.released")
MAX_ACTOR = 256


def utcnow() -> datetime:
    return datetime.now(UTC)


def checked_actor(actor: str) -> str:
    actor = (actor or "").strip()
    if not actor or len(actor) > MAX_ACTOR or not actor.isprintable():
        raise InvalidRequest(f"an actor is 1 to {MAX_ACTOR} printable characters")
    return actor


def log_system(ws: WriteSession, action: str, actor: str, details: dict[str, Any]) -> int:
    """Append a `system` record in this writer turn; it commits with the caller's rows."""
    payload = {"schema": "system/1", "action": action, "actor": actor, "details": details}
    return ws.append([PendingRecord("system", payload)])[0]


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- policies -------------------------------------------------------------------------------


def policy_of(doc_text: str) -> Policy:
    doc = json.loads(doc_text)
    return parse_policy(doc, policy_id=doc["id"], version=doc["version"])


def load_policies(conn: Connection, *, include_retired: bool = False) -> list[Policy]:
    q = select(t.retention_policies.c.doc).order_by(t.retention_policies.c.id)
    if not include_retired:
        q = q.where(t.retention_policies.c.retired_at.is_(None))
    return [policy_of(row.doc) for row in conn.execute(q)]


def policy_row(conn: Connection, policy_id: str) -> Any:
    row = conn.execute(select(t.retention_policies)
                       .where(t.retention_policies.c.id == policy_id)).first()
    if row is None:
        raise NotFound(f"no retention policy {policy_id!r}")
    return row


def _parse_policy(doc: Any, policy_id: str, version: int) -> Policy:
    try:
        return parse_policy(doc, policy_id=policy_id, version=version)
    except RuleError as exc:
        raise InvalidRequest(f"policy: {exc}") from None


def create_policy(appender: Appender, doc: Mapping[str, Any], actor: str,
                  clock: Clock = utcnow) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Store a new policy (version 1) and log `policy.created`; returns it and the
    overlapping policies it disagrees with (allowed: longest wins, but reported)."""
    actor = checked_actor(actor)
    policy = _parse_policy(doc, f"pol_{secrets.token_hex(8)}", 1)
    now = format_time(clock())
    with appender.session() as ws:
        others = load_policies(ws.conn)
        _check_unique_name(ws.conn, policy)
        seq = log_system(ws, "policy.created", actor, {"policy": policy.as_dict()})
        _save_policy(ws.conn, policy, "created", now, actor, seq, created=True)
    return policy.as_dict(), overlapping_policies([*others, policy])


def change_policy(appender: Appender, policy_id: str, doc: Mapping[str, Any], actor: str,
                  clock: Clock = utcnow) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A new version of a policy; the old versions stay in its history."""
    actor = checked_actor(actor)
    now = format_time(clock())
    with appender.session() as ws:
        row = policy_row(ws.conn, policy_id)
        if row.retired_at is not None:
            raise Conflict(f"policy {policy_id} is retired")
        policy = _parse_policy(doc, policy_id, row.version + 1)
        _check_unique_name(ws.conn, policy)
        seq = log_system(ws, "policy.changed", actor, {"policy": policy.as_dict()})
        _save_policy(ws.conn, policy, "changed", now, actor, seq)
        others = [p for p in load_policies(ws.conn) if p.id != policy_id]
    return policy.as_dict(), overlapping_policies([*others, policy])


def retire_policy(appender: Appender, policy_id: str, actor: str,
                  clock: Clock = utcnow) -> dict[str, Any]:
    """Stop applying a policy (its history stays)."""
    actor = checked_actor(actor)
    now = format_time(clock())
    with appender.session() as ws:
        row = policy_row(ws.conn, policy_id)
        if row.retired_at is not None:
            raise Conflict(f"policy {policy_id} is retired already")
        policy = replace(policy_of(row.doc), version=row.version + 1)
        seq = log_system(ws, "policy.retired", actor, {"policy": policy.as_dict()})
        _save_policy(ws.conn, policy, "retired", now, actor, seq)
    return policy.as_dict()


def _check_unique_name(conn: Connection, policy: Policy) -> None:
    clash = conn.execute(select(t.retention_policies.c.id).where(
        t.retention_policies.c.name == policy.name, t.retention_policies.c.id != policy.id,
        t.retention_policies.c.retired_at.is_(None))).first()
    if clash is not None:
        raise Conflict(f"a policy named {policy.name!r} exists already ({clash.id})")


def _save_policy(conn: Connection, policy: Policy, change: str, now: str, actor: str,
                 seq: int, *, created: bool = False) -> None:
    doc = _dumps(policy.as_dict())
    values = {"version": policy.version, "name": policy.name,
              "schedule_code": policy.schedule_code, "authority": policy.authority,
              "doc": doc, "updated_at": now,
              "retired_at": now if change == "retired" else None}
    if created:
        conn.execute(t.retention_policies.insert().values(
            id=policy.id, created_at=now, created_by=actor, **values))
    else:
        conn.execute(t.retention_policies.update()
                     .where(t.retention_policies.c.id == policy.id).values(**values))
    conn.execute(t.retention_policy_versions.insert().values(
        policy_id=policy.id, version=policy.version, change=change, doc=doc, time=now,
        actor=actor, log_seq=seq))


def policy_history(conn: Connection, policy_id: str) -> list[dict[str, Any]]:
    policy_row(conn, policy_id)
    v = t.retention_policy_versions.c
    return [{"version": r.version, "change": r.change, "time": r.time, "actor": r.actor,
             "log_seq": r.log_seq, "policy": json.loads(r.doc)}
            for r in conn.execute(select(t.retention_policy_versions)
                                  .where(v.policy_id == policy_id).order_by(v.version))]


def policy_out(row: Any) -> dict[str, Any]:
    return {**json.loads(row.doc), "created_at": row.created_at, "created_by": row.created_by,
            "updated_at": row.updated_at, "retired_at": row.retired_at}


def load_schedule(appender: Appender, doc: Any, actor: str, clock: Clock = utcnow
                  ) -> list[dict[str, Any]]:
    """Load a schedule file's policies (seed data an agency adapts); all or nothing:
    every item is checked before the first is stored."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("policies"), list) \
            or not doc["policies"]:
        raise InvalidRequest("a schedule file is {\"policies\": [policy, ...]} with at least "
                             "one policy")
    for i, item in enumerate(doc["policies"]):
        try:
            parse_policy(item, policy_id="check", version=1)
        except RuleError as exc:
            raise InvalidRequest(f"policies[{i}]: {exc}") from None
    names = [p["name"].strip() for p in doc["policies"]]
    if len(set(names)) != len(names):
        raise InvalidRequest("a schedule file names each policy once")
    return [create_policy(appender, item, actor, clock)[0] for item in doc["policies"]]


# -- holds ----------------------------------------------------------------------------------


def hold_of(row: Any) -> Hold:
    doc = json.loads(row.doc)
    return Hold(id=row.id, version=row.version, matter_name=row.matter_name,
                matter_number=row.matter_number, description=doc.get("description", ""),
                reason=doc.get("reason", ""), authority=doc.get("authority", ""),
                scope=parse_hold_scope(doc["scope"]), placed_by=row.placed_by,
                placed_at=parse_instant(row.placed_at, "placed_at"),
                released_by=row.released_by,
                released_at=(parse_instant(row.released_at, "released_at")
                             if row.released_at else None))


def load_holds(conn: Connection) -> list[Hold]:
    return [hold_of(r) for r in conn.execute(select(t.legal_holds).order_by(t.legal_holds.c.id))]


def hold_row(conn: Connection, hold_id: str) -> Any:
    row = conn.execute(select(t.legal_holds).where(t.legal_holds.c.id == hold_id)).first()
    if row is None:
        raise NotFound(f"no legal hold {hold_id!r}")
    return row


def place_hold(appender: Appender, doc: Mapping[str, Any], actor: str,
               clock: Clock = utcnow) -> dict[str, Any]:
    """Place a hold: from now on no record its scope covers can be disposed of."""
    actor = checked_actor(actor)
    moment = clock()
    try:
        hold = parse_hold(doc, hold_id=f"hold_{secrets.token_hex(8)}", placed_by=actor,
                          placed_at=moment)
    except RuleError as exc:
        raise InvalidRequest(f"hold: {exc}") from None
    with appender.session() as ws:
        seq = log_system(ws, "hold.placed", actor, {"hold": hold.as_dict()})
        _save_hold(ws.conn, hold, "placed", format_time(moment), actor, seq, created=True)
    return hold.as_dict()


def change_hold_scope(appender: Appender, hold_id: str, scope: Mapping[str, Any], actor: str,
                      clock: Clock = utcnow) -> dict[str, Any]:
    """A new scope for an active hold (a new version; the old one stays in its history)."""
    actor = checked_actor(actor)
    try:
        new_scope = parse_hold_scope(scope)
    except RuleError as exc:
        raise InvalidRequest(f"hold: {exc}") from None
    moment = clock()
    with appender.session() as ws:
        row = hold_row(ws.conn, hold_id)
        if row.released_at is not None:
            raise Conflict(f"hold {hold_id} was released; place a new one")
        hold = replace(hold_of(row), scope=new_scope, version=row.version + 1)
        seq = log_system(ws, "hold.changed", actor, {"hold": hold.as_dict()})
        _save_hold(ws.conn, hold, "changed", format_time(moment), actor, seq)
    return hold.as_dict()


def release_hold(appender: Appender, hold_id: str, actor: str, reason: str,
                 clock: Clock = utcnow) -> dict[str, Any]:
    """Release a hold; its records become subject to their policies again."""
    actor = checked_actor(actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000 or "\x00" in reason:
        raise InvalidRequest("a release needs a reason (1 to 2000 characters, no NUL)")
    moment = clock()
    with appender.session() as ws:
        row = hold_row(ws.conn, hold_id)
        if row.released_at is not None:
            raise Conflict(f"hold {hold_id} was released already")
        hold = replace(hold_of(row), released_by=actor, released_at=moment,
                       version=row.version + 1)
        details = {"hold": hold.as_dict(), "release_reason": reason}
        seq = log_system(ws, "hold.released", actor, details)
        _save_hold(ws.conn, hold, "released", format_time(moment), actor, seq,
                   release_reason=reason)
    return hold.as_dict()


def _save_hold(conn: Connection, hold: Hold, change: str, now: str, actor: str, seq: int,
               *, created: bool = False, release_reason: str | None = None) -> None:
    full = hold.as_dict()
    if release_reason is not None:
        full["release_reason"] = release_reason
    doc = _dumps(full)
    values = {"version": hold.version, "matter_name": hold.matter_name,
              "matter_number": hold.matter_number, "doc": doc,
              "released_at": format_time(hold.released_at) if hold.released_at else None,
              "released_by": hold.released_by}
    if created:
        conn.execute(t.legal_holds.insert().values(
            id=hold.id, placed_at=format_time(hold.placed_at), placed_by=hold.placed_by,
            **values))
    else:
        conn.execute(t.legal_holds.update().where(t.legal_holds.c.id == hold.id)
                     .values(**values))
    conn.execute(t.legal_hold_events.insert().values(
        hold_id=hold.id, version=hold.version, change=change, doc=doc, time=now,
        actor=actor, log_seq=seq))


def hold_out(row: Any) -> dict[str, Any]:
    doc = json.loads(row.doc)
    return {**doc, "active": row.released_at is None}


def hold_history(conn: Connection, hold_id: str) -> list[dict[str, Any]]:
    hold_row(conn, hold_id)
    e = t.legal_hold_events.c
    return [{"version": r.version, "change": r.change, "time": r.time, "actor": r.actor,
             "log_seq": r.log_seq, "hold": json.loads(r.doc)}
            for r in conn.execute(select(t.legal_hold_events).where(e.hold_id == hold_id)
                                  .order_by(e.version))]


# -- accounts: tags and events the rules match on -------------------------------------------


def set_account(appender: Appender, platform: str, account: str, tags: Iterable[str],
                events: Mapping[str, str], actor: str) -> dict[str, Any]:
    """Tags (e.g. "executive") and events (e.g. closed at T) of an account; logged as
    `account.retention` since they change what policies decide."""
    actor = checked_actor(actor)
    tag_list = sorted({str(x).strip() for x in tags if str(x).strip()})
    clean: dict[str, str] = {}
    for name, when in events.items():
        if not name.strip():
            raise InvalidRequest("an account event needs a name")
        try:
            clean[name.strip()] = format_time(parse_instant(when, f"event {name}"))
        except RuleError as exc:
            raise InvalidRequest(str(exc)) from None
    with appender.session() as ws:
        a = t.retention_accounts.c
        exists = ws.conn.execute(select(a.platform).where(
            a.platform == platform, a.account == account)).first()
        values = {"tags": _dumps(tag_list), "events": _dumps(clean)}
        if exists:
            ws.conn.execute(t.retention_accounts.update().where(
                a.platform == platform, a.account == account).values(**values))
        else:
            ws.conn.execute(t.retention_accounts.insert().values(
                platform=platform, account=account, **values))
        log_system(ws, "account.retention", actor, {"platform": platform, "account": account,
                                                    "tags": tag_list, "events": clean})
    return {"platform": platform, "account": account, "tags": tag_list, "events": clean}


# -- what remains of destroyed records ---------------------------------------------------


def disposition_of(catalog: Any, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
    """For destroyed records among `seqs`: when, under which run and policy (the tombstone
    without the metadata, which the record's own row already shows)."""
    wanted = sorted(set(seqs))
    out: dict[int, dict[str, Any]] = {}
    d = t.destroyed_records.c
    with catalog.reader() as conn:
        for i in range(0, len(wanted), 500):
            for row in conn.execute(select(t.destroyed_records)
                                    .where(d.seq.in_(wanted[i:i + 500]))):
                out[row.seq] = {"run_id": row.run_id, "destroyed_at": row.destroyed_at,
                                "policy_id": row.policy_id,
                                "schedule_code": row.schedule_code,
                                "authority": row.authority, "tombstone": row.tombstone,
                                "log_seq": row.log_seq}
    return out
