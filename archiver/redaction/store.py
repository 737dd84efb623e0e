"""Response sets and redactions in the catalog, every change also a `system` record.

`response.created`, `redaction.added` and `redaction.reviewed` carry ids, offsets, codes,
notes and actors, never the withheld content, and commit with the catalog rows in one turn
of the single writer (as holds and policies do, archiver/retention_store.py).
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from archiver.catalog import schema as t
from archiver.errors import Conflict, Forbidden, InvalidRequest, NotFound
from archiver.exports.scope import ExportScope, resolve
from archiver.log.reader import read_media, read_record
from archiver.redaction.exemptions import Exemption
from archiver.redaction.layer import Mark, check_mark
from archiver.retention_store import checked_actor, log_system, utcnow
from archiver.times import format_time
from archiver.wiring import Archive

LIVE = ("pending", "approved")  # the states whose marks a response applies
MAX_NOTE = 2000
MAX_RECORDS = 50_000


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _text(value: Any, name: str, *, required: bool = True, limit: int = MAX_NOTE) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if (required and not value) or len(value) > limit:
        raise InvalidRequest(f"{name} is {'1' if required else '0'} to {limit} characters")
    return value


def create_response(archive: Archive, doc: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """A response set: the capture records an export scope (hold, search, items) resolves
    to, frozen now so later captures do not slip into an answered request."""
    actor = checked_actor(actor)
    name = _text(doc.get("name"), "name")
    ref = _text(doc.get("request_ref"), "request_ref", required=False)
    scope_doc = doc.get("scope")
    if not isinstance(scope_doc, Mapping):
        raise InvalidRequest("scope is an object: {hold}, {query, filters} or {items}")
    scope = ExportScope.from_dict(scope_doc)
    seqs = resolve(archive, scope).seqs
    if len(seqs) > MAX_RECORDS:
        raise InvalidRequest(f"the scope holds {len(seqs)} records; at most {MAX_RECORDS}")
    response_id = f"resp_{secrets.token_hex(8)}"
    now = format_time(utcnow())
    with archive.appender.session() as ws:
        details = {"id": response_id, "name": name, "request_ref": ref,
                   "scope": scope.as_dict(), "records": seqs}
        log_seq = log_system(ws, "response.created", actor, details)
        ws.conn.execute(t.response_sets.insert().values(
            id=response_id, name=name, request_ref=ref, scope=_dumps(scope.as_dict()),
            seqs=_dumps(seqs), created_by=actor, created_at=now, log_seq=log_seq))
    return response_out(archive, response_id)


def response_row(conn: Connection, response_id: str) -> Any:
    row = conn.execute(select(t.response_sets)
                       .where(t.response_sets.c.id == response_id)).first()
    if row is None:
        raise NotFound(f"no response set {response_id}")
    return row


def redaction_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "response_id": row.response_id, "seq": row.seq,
            "target": row.target, "spec": json.loads(row.spec), "code": row.code,
            "note": row.note, "state": row.state, "created_by": row.created_by,
            "created_at": row.created_at, "reviewed_by": row.reviewed_by,
            "reviewed_at": row.reviewed_at, "review_note": row.review_note}


def response_out(archive: Archive, response_id: str) -> dict[str, Any]:
    with archive.catalog.reader() as conn:
        row = response_row(conn, response_id)
        marks = conn.execute(select(t.redactions)
                             .where(t.redactions.c.response_id == response_id)
                             .order_by(t.redactions.c.created_at, t.redactions.c.id)).all()
    return {"id": row.id, "name": row.name, "request_ref": row.request_ref,
            "scope": json.loads(row.scope), "records": json.loads(row.seqs),
            "created_by": row.created_by, "created_at": row.created_at,
            "redactions": [redaction_out(m) for m in marks]}


def list_responses(archive: Archive) -> list[dict[str, Any]]:
    with archive.catalog.reader() as conn:
        ids = conn.execute(select(t.response_sets.c.id)
                           .order_by(t.response_sets.c.created_at)).scalars().all()
    return [response_out(archive, i) for i in ids]


def live_marks(conn: Connection, response_id: str, seq: int | None = None) -> list[Mark]:
    """The marks a response applies (pending and approved), in the order they were made."""
    q = select(t.redactions).where(t.redactions.c.response_id == response_id,
                                   t.redactions.c.state.in_(LIVE))
    if seq is not None:
        q = q.where(t.redactions.c.seq == seq)
    return [Mark(r.id, r.target, json.loads(r.spec), r.code) for r in
            conn.execute(q.order_by(t.redactions.c.created_at, t.redactions.c.id))]


def _image_size(archive: Archive, payload: Mapping[str, Any]) -> Any:
    def size(index: int) -> tuple[int, int] | None:
        from PIL import Image, UnidentifiedImageError

        obj = (payload.get("media") or [])[index].get("object")
        if not (isinstance(obj, str) and obj.startswith("media/")):
            return None
        try:
            f = read_media(archive.appender, obj.removeprefix("media/"))
            with Image.open(io.BytesIO(f.data)) as img:
                return img.size
        except (NotFound, UnidentifiedImageError, OSError):
            return None
    return size


def add_redaction(archive: Archive, response_id: str, doc: Mapping[str, Any], actor: str,
                  exemptions: Mapping[str, Exemption]) -> dict[str, Any]:
    """Mark part of a record of the response withheld; pending until another person
    reviews it. Nothing is written unless every check passes."""
    actor = checked_actor(actor)
    code = doc.get("code")
    if not isinstance(code, str) or code not in exemptions:
        raise InvalidRequest(f"unknown exemption code {code!r}; codes are "
                             f"{', '.join(exemptions)}")
    note = _text(doc.get("note"), "note", required=False)
    seq, target = doc.get("seq"), doc.get("target")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise InvalidRequest("seq (the capture record to redact) must be an integer")
    spec = doc.get("spec") if isinstance(doc.get("spec"), Mapping) else {}
    with archive.catalog.reader() as conn:
        row = response_row(conn, response_id)
    if seq not in json.loads(row.seqs):
        raise InvalidRequest(f"record {seq} is not in response set {response_id}")
    record = read_record(archive.appender, seq)
    if record.payload is None:
        raise Conflict(f"record {seq} was disposed of; there is nothing to redact")
    redaction_id = f"red_{secrets.token_hex(8)}"
    with archive.appender.session() as ws:
        # checked inside the writer turn: two officers marking one record at once cannot
        # both pass the overlap test
        clean = check_mark(str(target), spec, record.payload,
                           live_marks(ws.conn, response_id, seq),
                           _image_size(archive, record.payload))
        details = {"id": redaction_id, "response_id": response_id, "seq": seq,
                   "target": target, "spec": clean, "code": code, "note": note}
        log_seq = log_system(ws, "redaction.added", actor, details)
        ws.conn.execute(t.redactions.insert().values(
            id=redaction_id, response_id=response_id, seq=seq, target=target,
            spec=_dumps(clean), code=code, note=note, state="pending", created_by=actor,
            created_at=format_time(utcnow()), log_seq=log_seq))
    with archive.catalog.reader() as conn:
        return redaction_out(_redaction_row(conn, response_id, redaction_id))


def _redaction_row(conn: Connection, response_id: str, redaction_id: str) -> Any:
    row = conn.execute(select(t.redactions).where(
        t.redactions.c.id == redaction_id, t.redactions.c.response_id == response_id)).first()
    if row is None:
        raise NotFound(f"no redaction {redaction_id} in response set {response_id}")
    return row


def review_redaction(archive: Archive, response_id: str, redaction_id: str, decision: str,
                     actor: str, note: str = "") -> dict[str, Any]:
    """Approve or reject a pending redaction; its author may not review it. A rejected
    mark stops applying (the content is shown); its history stays in the log."""
    actor = checked_actor(actor)
    if decision not in ("approve", "reject"):
        raise InvalidRequest("decision is approve or reject")
    note = _text(note, "note", required=False)
    with archive.appender.session() as ws:
        row = _redaction_row(ws.conn, response_id, redaction_id)
        if row.state != "pending":
            raise Conflict(f"redaction {redaction_id} was {row.state} already")
        if row.created_by == actor:
            raise Forbidden("a redaction is reviewed by another person than its author")
        state = "approved" if decision == "approve" else "rejected"
        log_system(ws, "redaction.reviewed", actor,
                   {"id": redaction_id, "response_id": response_id, "state": state,
                    "note": note})
        ws.conn.execute(t.redactions.update().where(t.redactions.c.id == redaction_id)
                        .values(state=state, reviewed_by=actor,
                                reviewed_at=format_time(utcnow()), review_note=note))
    with archive.catalog.reader() as conn:
        return redaction_out(_redaction_row(conn, response_id, redaction_id))
