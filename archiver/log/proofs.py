"""Inclusion and consistency proofs and stored checkpoints, in ARCHIVE_FORMAT.md's JSON.

Proofs are computed from the tree hashes stored in the catalog (tlog layout), so one
costs O(log n) reads whatever the archive's size. Sizes are bounded by the newest signed
checkpoint: a proof against a tree nobody signed would prove nothing to an outsider.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection

from archiver.catalog import db
from archiver.errors import InvalidRequest, NotFound
from archiver.log import merkle
from archiver.log.appender import Appender


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _newest_size(conn: Connection) -> int:
    latest = db.latest_checkpoint(conn)
    if latest is None:
        raise NotFound("the log has no checkpoint yet")
    return latest[0]


def _checked_size(conn: Connection, size: int | None, what: str = "tree size") -> int:
    """A size an outsider can check against: one with a signed checkpoint."""
    newest = _newest_size(conn)
    if size is None:
        return newest
    if size < 1:
        raise InvalidRequest(f"{what} must be at least 1, got {size}")
    if size > newest:
        raise InvalidRequest(f"{what} {size} is beyond the newest checkpoint ({newest})")
    if db.checkpoint_at(conn, size) is None:
        raise InvalidRequest(f"no signed checkpoint of {what} {size}: a proof against it could "
                             f"not be verified")
    return size


def checkpoint_note(appender: Appender, size: int | None = None) -> bytes:
    """The signed checkpoint of `size` records (default: the newest)."""
    with appender.p.catalog.reader() as conn:
        if size is None:
            latest = db.latest_checkpoint(conn)
            if latest is None:
                raise NotFound("the log has no checkpoint yet")
            return latest[2]
        if size < 1:
            raise InvalidRequest(f"tree size must be at least 1, got {size}")
        found = db.checkpoint_at(conn, size)
    if found is None:
        raise NotFound(f"no checkpoint of size {size}")
    return found[2]


def inclusion_proof(appender: Appender, seq: int, size: int | None = None) -> dict[str, Any]:
    """RFC 6962 audit path of record `seq` in the tree of `size` records."""
    with appender.p.catalog.reader() as conn:
        tree = _checked_size(conn, size)
        if seq < 0 or seq >= tree:
            raise InvalidRequest(f"seq {seq} is not in the tree of {tree} records")
        read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
        path = merkle.prove_inclusion(tree, seq, read)
        leaf = read([merkle.stored_hash_index(0, seq)])[0]
    return {"seq": seq, "tree_size": tree, "leaf_hash": _b64(leaf),
            "hashes": [_b64(h) for h in path]}


def consistency_proof(appender: Appender, old: int, new: int | None = None) -> dict[str, Any]:
    """RFC 6962 consistency proof that the tree of `old` records is a prefix of `new`."""
    with appender.p.catalog.reader() as conn:
        new_size = _checked_size(conn, new, "new size")
        if old > new_size:
            raise InvalidRequest(f"old size {old} is larger than new size {new_size}")
        _checked_size(conn, old, "old size")
        path = merkle.prove_consistency(old, new_size, lambda ix: db.read_tree_hashes(conn, ix))
    return {"old_size": old, "new_size": new_size, "hashes": [_b64(h) for h in path]}


def checkpoint_sizes(appender: Appender) -> list[int]:
    """Every tree size with a signed checkpoint, ascending: the sizes proofs can target."""
    from sqlalchemy import select

    from archiver.catalog import schema as t

    with appender.p.catalog.reader() as conn:
        return [r.size for r in conn.execute(select(t.checkpoints.c.size)
                                             .order_by(t.checkpoints.c.size))]
