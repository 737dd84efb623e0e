"""What every engine indexes: the committed, readable capture records of the log.

`pending` lists the next capture records beyond a high-water mark (with their data keys),
`read_documents` fetches each segment once from the store, checks each record against
the catalog, decrypts it and converts it to a search document, and `destroyed_since`
names the records disposed of lately (a rebuild purges those it read before their keys
went).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import IntegrityError
from archiver.log.appender import Appender
from archiver.log.envelope import leaf_hash, parse_line, segment_key
from archiver.search.documents import SearchDocument, document_for


def pending(appender: Appender, after: int, limit: int) -> list[Any]:
    """The next committed, undestroyed capture records after seq `after`, with their keys."""
    r, k, s = t.records.c, t.data_keys.c, t.segments.c
    q = (select(r.seq, r.segment_first, r.record_hash, k.wrapped, k.kek, s.last)
         .select_from(t.records.outerjoin(t.data_keys, k.kid == r.kid)
                      .join(t.segments, s.first == r.segment_first))
         .where(r.seq > after, r.type == "capture", r.destroyed_at.is_(None))
         .order_by(r.seq).limit(limit))
    with appender.p.catalog.reader() as conn:
        return list(conn.execute(q))


def destroyed_since(appender: Appender, since: str) -> list[int]:
    r = t.records.c
    with appender.p.catalog.reader() as conn:
        return [row.seq for row in conn.execute(select(r.seq).where(
            r.type == "capture", r.destroyed_at.is_not(None), r.destroyed_at >= since))]


def read_documents(appender: Appender, rows: Sequence[Any]) -> Iterator[SearchDocument]:
    """Fetch each segment once, check each record against the catalog, decrypt, convert."""
    key, lines = None, [b""]
    for row in rows:
        if row.wrapped is None:
            continue  # destroyed between the query and now
        where = segment_key(row.segment_first, row.last)
        if where != key:
            key, lines = where, appender.p.store.get(where).split(b"\n")
        i = row.seq - row.segment_first
        if i >= len(lines) - 1:
            raise IntegrityError("record missing from its segment", row.seq, where)
        env = parse_line(lines[i], where=where, expected_seq=row.seq)
        if leaf_hash(lines[i]) != row.record_hash:
            raise IntegrityError("record hash differs from the catalog's", row.seq, where)
        payload = appender.decrypt(env, row.wrapped, row.kek)
        if payload is not None:
            yield document_for(row.seq, env.time, payload)
