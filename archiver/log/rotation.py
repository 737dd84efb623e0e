"""KEK rotation: every data key re-wrapped under a new key-encryption key.

Segments are never rewritten (ARCHITECTURE.md, "Encryption"): only the key objects
`keys/<first>-<last>.json` (replaced, older versions purged) and the catalog's copies
change. Crash-safe by construction: the new KEK is written first as kek.next.json and
the keyring unwraps under either KEK by the id each key object names, so an interrupted
rotation leaves every record readable and is finished by running it again. The change of
legal state is appended to the log as a `system` record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, bindparam

from archiver.catalog import schema as t
from archiver.log.appender import Appender
from archiver.log.crypto import KekRing, LocalKek, write_secret_file
from archiver.log.envelope import keys_key, parse_range_key
from archiver.log.segments import decode_keys, encode_keys


@dataclass(frozen=True)
class RotationResult:
    old_kek: str
    new_kek: str
    key_objects: int
    keys: int
    seq: int  # the system record


def rotate_kek(appender: Appender, kek_path: Path, actor: str) -> RotationResult:
    """Re-wrap every data key under a new KEK, then make it current and retire the old one."""
    ring = appender.p.kek
    if not isinstance(ring, KekRing):
        raise TypeError("KEK rotation needs the local keyring provider")
    old = ring.current
    next_path = kek_path.with_name("kek.next.json")
    new = LocalKek.load(next_path) if next_path.exists() else LocalKek.generate(next_path)
    ring.by_id[new.kek_id] = new
    store = appender.p.store
    objects = keys_total = 0
    with appender.p.catalog.writer() as conn:
        for name in store.list("keys/"):
            rng = parse_range_key(name)
            if rng is None or rng[0] != "keys":
                continue
            doc = decode_keys(store.get(name), where=name)
            if doc.kek == new.kek_id:  # done by an interrupted earlier run
                rewrapped = doc.keys
            else:
                rewrapped = {kid: new.wrap(kid, ring.unwrap(kid, w, doc.kek))
                             for kid, w in doc.keys.items()}
                store.replace(keys_key(rng[1], rng[2]), encode_keys(new.kek_id, new.alg,
                                                                    rewrapped))
            rows = [{"b_kid": kid, "kek": new.kek_id, "wrapped": w}
                    for kid, w in rewrapped.items()]
            if rows:
                conn.execute(t.data_keys.update()
                             .where(and_(t.data_keys.c.kid == bindparam("b_kid")))
                             .values(kek=bindparam("kek"), wrapped=bindparam("wrapped")), rows)
            objects += 1
            keys_total += len(rows)
        from archiver.collectors.accounts import rewrap_credentials  # accounts' data keys
        rewrap_credentials(conn, ring, new)
    # The new KEK becomes current only once every key object names it; the log says so
    # before the files swap, and kek.json exists at every instant (a crash here leaves
    # kek.next.json, and running the rotation again finishes it).
    retired = kek_path.parent / "retired" / f"{old.kek_id}.json"
    ring.current = new
    seq = appender.append_system("kek.rotated", actor, {
        "from": old.kek_id, "to": new.kek_id, "key_objects": objects, "keys": keys_total,
        "retired_kek_file": str(retired.name),
    })
    if not retired.exists():
        retired.parent.mkdir(mode=0o700, exist_ok=True)
        write_secret_file(retired, kek_path.read_text())
    os.replace(next_path, kek_path)
    return RotationResult(old.kek_id, new.kek_id, objects, keys_total, seq)
