"""Alert rules and raised alerts in the catalog (the catalog's own tables, migration 0008).

Rule changes are `system` records (`alert_rule.created`, `alert_rule.muted`,
`alert_rule.unmuted`); raised alerts are operational notices, kept in the catalog only.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from archiver.alerts.rules import CompiledRule, check_config, compile_rule
from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.config import Settings
from archiver.errors import InvalidRequest, NotFound
from archiver.retention_store import checked_actor, log_system, utcnow
from archiver.times import format_time
from archiver.wiring import Archive

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Positions the evaluation has reached (the `meta` table): capture records, collector
# alerts and collection runs already looked at.
CURSORS = ("alerts.records_through", "alerts.collector_alerts_through",
           "alerts.runs_through")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def check_channels(doc: Any, settings: Settings) -> dict[str, list[str]]:
    """{"email": [addresses], "webhook": [http(s) URLs]}, at least one; email needs SMTP."""
    if not isinstance(doc, Mapping) or set(doc) - {"email", "webhook"}:
        raise InvalidRequest("channels is an object with email and/or webhook lists")
    out: dict[str, list[str]] = {"email": [], "webhook": []}
    for name in ("email", "webhook"):
        values = doc.get(name) or []
        if not isinstance(values, list) or len(values) > 20 or not all(
                isinstance(v, str) for v in values):
            raise InvalidRequest(f"channels.{name} is a list of at most 20 strings")
        for v in values:
            ok = (_EMAIL.fullmatch(v) if name == "email"
                  else re.fullmatch(r"https?://[^\s]+", v))
            if not ok:
                raise InvalidRequest(f"channels.{name}: {v!r} is not a valid "
                                     f"{'address' if name == 'email' else 'http(s) URL'}")
        out[name] = list(values)
    if not out["email"] and not out["webhook"]:
        raise InvalidRequest("a rule needs at least one channel (email or webhook)")
    if out["email"] and not settings.alerts.smtp_host:
        raise InvalidRequest("email alerts need [alerts] smtp_host in the settings")
    return out


def _position(conn: Connection) -> dict[str, int]:
    rec = conn.execute(select(func.max(t.records.c.seq))).scalar() or 0
    col = conn.execute(select(func.max(t.collector_alerts.c.id))).scalar() or 0
    runs = conn.execute(select(func.max(t.collection_runs.c.seq))).scalar() or 0
    return dict(zip(CURSORS, (rec, col, runs), strict=True))


def create_rule(archive: Archive, doc: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """A new rule, watching from now on (what was archived before raises nothing)."""
    actor = checked_actor(actor)
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 2000:
        raise InvalidRequest("name is 1 to 2000 characters")
    kind = str(doc.get("kind") or "")
    config_doc = doc.get("config") or {}
    if not isinstance(config_doc, Mapping):
        raise InvalidRequest("config is an object")
    config = check_config(kind, config_doc)
    channels = check_channels(doc.get("channels"), archive.settings)
    rule_id = f"rule_{secrets.token_hex(8)}"
    now = format_time(utcnow())
    with archive.appender.session() as ws:
        for key, value in _position(ws.conn).items():
            if db.get_meta(ws.conn, key) is None:
                db.set_meta(ws.conn, key, str(value))
        log_system(ws, "alert_rule.created", actor,
                   {"id": rule_id, "name": name.strip(), "kind": kind, "config": config,
                    "channels": channels})
        ws.conn.execute(t.alert_rules.insert().values(
            id=rule_id, name=name.strip(), kind=kind, config=_dumps(config),
            channels=_dumps(channels), muted=0, created_by=actor, created_at=now,
            updated_at=now))
    return get_rule(archive, rule_id)


def rule_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind,
            "config": json.loads(row.config), "channels": json.loads(row.channels),
            "muted": bool(row.muted), "created_by": row.created_by,
            "created_at": row.created_at, "updated_at": row.updated_at}


def get_rule(archive: Archive, rule_id: str) -> dict[str, Any]:
    with archive.catalog.reader() as conn:
        row = conn.execute(select(t.alert_rules).where(t.alert_rules.c.id == rule_id)).first()
    if row is None:
        raise NotFound(f"no alert rule {rule_id}")
    return rule_out(row)


def list_rules(archive: Archive) -> list[dict[str, Any]]:
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(t.alert_rules).order_by(t.alert_rules.c.created_at)).all()
    return [rule_out(r) for r in rows]


def set_muted(archive: Archive, rule_id: str, muted: bool, actor: str) -> dict[str, Any]:
    """Mute (nothing is raised or sent) or unmute a rule."""
    actor = checked_actor(actor)
    get_rule(archive, rule_id)
    with archive.appender.session() as ws:
        log_system(ws, "alert_rule.muted" if muted else "alert_rule.unmuted", actor,
                   {"id": rule_id})
        ws.conn.execute(t.alert_rules.update().where(t.alert_rules.c.id == rule_id)
                        .values(muted=int(muted), updated_at=format_time(utcnow())))
    return get_rule(archive, rule_id)


def active_rules(conn: Connection) -> list[tuple[CompiledRule, dict[str, list[str]]]]:
    rows = conn.execute(select(t.alert_rules).where(t.alert_rules.c.muted == 0)
                        .order_by(t.alert_rules.c.created_at)).all()
    return [(compile_rule(r.id, r.name, r.kind, json.loads(r.config)),
             json.loads(r.channels)) for r in rows]


def has_active_rules(archive: Archive) -> bool:
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.alert_rules.c.id).where(t.alert_rules.c.muted == 0)
                            .limit(1)).first() is not None


def alert_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "rule_id": row.rule_id, "time": row.time, "kind": row.kind,
            "subject": row.subject, "details": json.loads(row.details),
            "deliveries": json.loads(row.deliveries)}


def list_alerts(archive: Archive, limit: int = 100, rule_id: str | None = None
                ) -> list[dict[str, Any]]:
    """The newest alerts first."""
    q = select(t.alerts).order_by(t.alerts.c.id.desc()).limit(max(1, min(limit, 1000)))
    if rule_id:
        q = q.where(t.alerts.c.rule_id == rule_id)
    with archive.catalog.reader() as conn:
        return [alert_out(r) for r in conn.execute(q)]
