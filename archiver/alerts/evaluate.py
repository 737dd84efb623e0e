"""Evaluate the active rules over what happened since the stored positions: capture records
(deleted, edited, comments), collector alerts and failed collection runs.

Runs in the alert worker, never in the writer's turn: it reads what is committed, raises
alerts in one catalog transaction that also moves the positions (compare-and-set, so two
evaluators never raise the same alert twice), then delivers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from archiver.alerts.rules import CompiledRule
from archiver.alerts.store import CURSORS, _dumps, _position, active_rules
from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.log.reader import read_record
from archiver.retention_store import utcnow
from archiver.times import format_time
from archiver.wiring import Archive

BATCH = 2000


@dataclass
class Raised:
    rule_id: str
    kind: str
    subject: str
    details: dict[str, Any]
    channels: dict[str, list[str]]
    id: int = 0


def _item_alerts(archive: Archive, rules: list[tuple[CompiledRule, Any]], since: int
                 ) -> tuple[list[Raised], int]:
    r = t.records.c
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(r.seq, r.event, r.kind, r.platform, r.account, r.item_id)
                            .where(r.seq > since, r.type == "capture")
                            .order_by(r.seq).limit(BATCH)).all()
        head = conn.execute(select(r.seq).order_by(r.seq.desc()).limit(1)).scalar() or since
    through = rows[-1].seq if len(rows) == BATCH else max(head, since)
    out: list[Raised] = []
    for row in rows:
        wanted = [(rule, ch) for rule, ch in rules
                  if rule.covers(row.platform, row.account, row.kind)
                  and ((rule.kind == "item_deleted" and row.event == "deleted")
                       or (rule.kind == "item_edited" and row.event == "edited")
                       or (rule.kind == "comment_match"
                           and row.event in ("created", "observed", "edited")))]
        if not wanted:
            continue
        payload = read_record(archive.appender, row.seq).payload or {}
        base = {"platform": row.platform, "account": row.account, "item_id": row.item_id,
                "kind": row.kind, "event": row.event, "seq": row.seq,
                "url": payload.get("url")}
        reason = payload.get("reason")
        for rule, channels in wanted:
            if rule.kind == "comment_match":
                hits = rule.matches(str(payload.get("text") or ""))
                if not hits:
                    continue
                out.append(Raised(rule.id, rule.kind,
                                  f"{rule.name}: {row.platform} {row.kind} {row.item_id} "
                                  f"matches {', '.join(hits)}",
                                  {**base, "matched": hits}, channels))
            else:
                why = f" ({reason})" if reason else ""
                out.append(Raised(rule.id, rule.kind,
                                  f"{rule.name}: {row.platform} {row.kind} {row.item_id} of "
                                  f"account {row.account} {row.event}{why}",
                                  {**base, "reason": reason}, channels))
    return out, through


def _collection_alerts(archive: Archive, rules: list[tuple[CompiledRule, Any]],
                       since_alert: int, since_run: int) -> tuple[list[Raised], int, int]:
    watching = [(rule, ch) for rule, ch in rules
                if rule.kind in ("collection_failed", "credential_expiring")]
    ca, cr, acc = t.collector_alerts.c, t.collection_runs.c, t.accounts.c
    with archive.catalog.reader() as conn:
        notices = conn.execute(select(ca.id, ca.account_id, ca.kind, ca.message, ca.time)
                               .where(ca.id > since_alert).order_by(ca.id)).all()
        runs = conn.execute(select(cr.seq, cr.account_id, cr.error, cr.finished_at)
                            .where(cr.seq > since_run, cr.outcome == "failed")
                            .order_by(cr.seq)).all()
        run_head = conn.execute(select(cr.seq).order_by(cr.seq.desc()).limit(1)
                                ).scalar() or since_run
        accounts = {a.id: a for a in conn.execute(select(acc.id, acc.platform,
                                                         acc.platform_id, acc.handle))}
    out: list[Raised] = []
    events = [(n.account_id, "credential_expiring" if n.kind == "token_expiring"
               else "collection_failed", n.kind, n.message) for n in notices]
    events += [(run.account_id, "collection_failed", "run_failed", run.error or "failed")
               for run in runs]
    for account_id, kind, what, message in events:
        a = accounts.get(account_id)
        platform, pid = (a.platform, a.platform_id) if a else ("", "")
        for rule, channels in watching:
            if rule.kind != kind or (rule.accounts and f"{platform}:{pid}" not in rule.accounts):
                continue
            out.append(Raised(rule.id, kind,
                              f"{rule.name}: account {a.handle if a else account_id} "
                              f"({platform}): {what}",
                              {"account_id": account_id, "platform": platform,
                               "account": pid, "what": what, "message": message[:2000]},
                              channels))
    out += _gap_alerts(archive, [w for w in watching if w[0].kind == "collection_failed"])
    through_alert = notices[-1].id if notices else since_alert
    return out, through_alert, max(run_head, since_run)


def _gap_alerts(archive: Archive, watching: list[tuple[CompiledRule, Any]]) -> list[Raised]:
    """An account unchecked for longer than its interval and grace (the collectors' health
    `gap`): raised once per gap, i.e. per last success, however often this runs."""
    if not watching:
        return []
    from archiver.collectors.accounts import list_accounts
    from archiver.collectors.health import account_health

    with archive.catalog.reader() as conn:
        raised = {(d.get("account_id"), d.get("since")) for d in (
            json.loads(row.details) for row in conn.execute(
                select(t.alerts.c.details).where(t.alerts.c.kind == "collection_failed")
                .order_by(t.alerts.c.id.desc()).limit(5000)))
            if d.get("what") == "gap"}
    out: list[Raised] = []
    for account in list_accounts(archive.catalog):
        if account.status != "active":
            continue
        health = account_health(archive, account.id)
        since = health["last_success"] or account.created_at
        if not health["gap"] or (account.id, since) in raised:
            continue
        for rule, channels in watching:
            if rule.accounts and f"{account.platform}:{account.platform_id}" not in \
                    rule.accounts:
                continue
            out.append(Raised(rule.id, "collection_failed",
                              f"{rule.name}: account {account.handle} ({account.platform}): "
                              f"not collected for {health['unchecked_seconds']} s",
                              {"account_id": account.id, "platform": account.platform,
                               "account": account.platform_id, "what": "gap",
                               "since": since, "message": f"no successful run since {since}"},
                              channels))
    return out


def evaluate(archive: Archive) -> list[Raised]:
    """Raise the alerts of everything since the stored positions; [] when no rule is active
    (the positions still move: muting and unmuting does not replay the past)."""
    with archive.catalog.reader() as conn:
        rules = active_rules(conn)
        cursors = {k: int(db.get_meta(conn, k) or -1) for k in CURSORS}
    if min(cursors.values()) < 0:
        if rules:  # positions lost (a catalog restored without them): watch from now on
            with archive.catalog.writer() as conn:
                for key, value in _position(conn).items():
                    if db.get_meta(conn, key) is None:
                        db.set_meta(conn, key, str(value))
        return []
    raised, rec_through = _item_alerts(archive, rules, cursors[CURSORS[0]])
    more, alert_through, run_through = _collection_alerts(archive, rules, cursors[CURSORS[1]],
                                                          cursors[CURSORS[2]])
    raised += more
    now = format_time(utcnow())
    with archive.catalog.writer() as conn:
        current = {k: int(db.get_meta(conn, k) or -1) for k in CURSORS}
        if current != cursors:
            return []  # another evaluator got there first; it raised these
        for k, v in zip(CURSORS, (rec_through, alert_through, run_through), strict=True):
            db.set_meta(conn, k, str(v))
        for a in raised:
            a.id = conn.execute(t.alerts.insert().values(
                rule_id=a.rule_id, time=now, kind=a.kind, subject=a.subject,
                details=_dumps(a.details), deliveries="{}")).inserted_primary_key[0]
    return raised


def record_deliveries(archive: Archive, alert_id: int, deliveries: dict[str, Any]) -> None:
    with archive.catalog.writer() as conn:
        conn.execute(t.alerts.update().where(t.alerts.c.id == alert_id)
                     .values(deliveries=json.dumps(deliveries, ensure_ascii=False)))
