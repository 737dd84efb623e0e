"""Segments (`log/<first>-<last>.jsonl`) and key objects (`keys/<first>-<last>.json`).

A segment is records first..last, one canonical envelope per line, each line ending in
"\\n", nothing else. A key object is {"v": 1, "kek", "alg", "keys": {kid: wrapped}}
(ARCHIVE_FORMAT.md, "Wrapped data keys"). Pure code over bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from archiver.errors import IntegrityError
from archiver.log.envelope import ZERO_HASH, Envelope, canonical, leaf_hash, parse_line


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    envelope: Envelope
    line: bytes  # C(e), without the newline
    hash: bytes


def iter_segment(data: bytes, first: int, last: int, prev_hash: bytes | None,
                 *, where: str) -> Iterator[ParsedRecord]:
    """Parse and chain-check a segment; raises IntegrityError at the first bad record.

    `prev_hash` is the hash of record first-1 (None for first = 0). The record hash is
    taken over the line's own bytes, after checking they are canonical.
    """
    if data and not data.endswith(b"\n"):
        raise IntegrityError("segment does not end with a newline (truncated?)", last, where)
    lines = data.split(b"\n")[:-1] if data else []
    if len(lines) != last - first + 1:
        bad = first + min(len(lines), last - first + 1)
        raise IntegrityError(f"segment holds {len(lines)} records, its name says "
                             f"{last - first + 1}", bad, where)
    expected_prev = prev_hash.hex() if prev_hash is not None else ZERO_HASH
    for i, line in enumerate(lines):
        seq = first + i
        env = parse_line(line, where=where, expected_seq=seq)
        if env.prev != expected_prev:
            raise IntegrityError("prev does not match the hash of the previous record", seq, where)
        h = leaf_hash(line)
        expected_prev = h.hex()
        yield ParsedRecord(env, line, h)


def encode_segment(envelopes: list[Envelope]) -> bytes:
    return b"".join(e.line() for e in envelopes)


def encode_keys(kek_id: str, alg: str, keys: dict[str, str]) -> bytes:
    return canonical({"v": 1, "kek": kek_id, "alg": alg, "keys": keys}) + b"\n"


@dataclass(frozen=True, slots=True)
class KeysDoc:
    kek: str
    alg: str
    keys: dict[str, str]


def decode_keys(data: bytes, *, where: str) -> KeysDoc:
    try:
        doc = json.loads(data)
        if (not isinstance(doc, dict) or type(doc.get("v")) is not int or doc["v"] != 1
                or set(doc) != {"v", "kek", "alg", "keys"}
                or not isinstance(doc["kek"], str) or not isinstance(doc["alg"], str)
                or not isinstance(doc["keys"], dict)
                or not all(isinstance(k, str) and isinstance(v, str)
                           for k, v in doc["keys"].items())):
            raise ValueError("not a version-1 key object")
    except ValueError as exc:
        raise IntegrityError(f"malformed key object: {exc}", where=where) from None
    return KeysDoc(doc["kek"], doc["alg"], doc["keys"])
