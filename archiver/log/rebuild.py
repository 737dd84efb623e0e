"""`archiver rebuild`: the catalog again, from the object store and the keys alone.

The store is the source of truth (ARCHITECTURE.md): every derived table is emptied and
refilled by replaying every segment in order, checking the chain as it goes, then every
stored checkpoint is checked and adopted. Runs in one transaction: a failure leaves the
catalog as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from archiver.catalog import schema as t
from archiver.errors import IntegrityError
from archiver.log.appender import Appender, WriteSession
from archiver.log.envelope import keys_key, parse_range_key
from archiver.log.segments import decode_keys, iter_segment
from archiver.log.shred import replay_legal_history

DERIVED_TABLES = (t.records, t.data_keys, t.items, t.tree_hashes, t.checkpoints, t.segments,
                  t.media, t.collection_runs)


def rebuild_catalog(appender: Appender, progress: Callable[[int], None] | None = None) -> int:
    """Replay the whole store into an emptied catalog; returns the number of records."""
    from archiver.collectors.runs import rebuild_runs  # the rows of `collection.run` records

    store = appender.p.store
    with appender.p.catalog.writer() as conn:
        for table in DERIVED_TABLES:
            conn.execute(table.delete())
        ws = WriteSession(appender, conn)
        ranges = sorted(r[1:] for k in store.list("log/") if (r := parse_range_key(k)))
        for first, last in ranges:
            name = f"log/{first:012d}-{last:012d}.jsonl"
            if first != ws.size:
                raise IntegrityError(f"segment starts at {first}, expected {ws.size}",
                                     ws.size, name)
            data = store.get(name)
            parsed = list(iter_segment(data, first, last, ws.last_hash, where=name))
            kdoc = decode_keys(store.get(keys_key(first, last)), where=keys_key(first, last))
            appender.replay(ws, first, last, data, parsed, kdoc)
            rebuild_runs(appender, conn, parsed, kdoc.keys, kdoc.kek)
            if progress:
                progress(ws.size)
        appender._adopt_checkpoints(conn)
        replay_legal_history(appender, conn)  # policies, holds, runs, destroyed state
        return ws.size
