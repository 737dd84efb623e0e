"""Record envelopes, canonical bytes and record hashes (ARCHIVE_FORMAT.md, "Record envelope").

Pure code over bytes: no I/O. Every byte this module produces is part of the contract
that outside verifiers check, so the rules are spelled out where they are applied.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.errors import IntegrityError

FORMAT_VERSION = 1
ZERO_HASH = "0" * 64
RECORD_TYPES = frozenset({"capture", "system"})
ENVELOPE_MEMBERS = frozenset({"v", "seq", "prev", "time", "type", "kid", "nonce", "ct"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PLAIN = re.compile(r"[0-9A-Za-z+/=:.\-]*")  # characters JSON never escapes
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")


def canonical(obj: Any) -> bytes:
    """C(e): UTF-8 JSON, members sorted, no insignificant whitespace, non-ASCII as itself."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(canonical_bytes: bytes) -> bytes:
    """H(e) = SHA-256(0x00 || C(e)); also the RFC 6962 leaf hash of the record."""
    return hashlib.sha256(b"\x00" + canonical_bytes).digest()


def segment_key(first: int, last: int) -> str:
    return f"log/{first:012d}-{last:012d}.jsonl"


def keys_key(first: int, last: int) -> str:
    return f"keys/{first:012d}-{last:012d}.json"


MEDIA_PREFIX = "media/"
_MEDIA_ID = re.compile(r"[0-9a-f]{32}")


def media_key(media_id: str) -> str:
    """`media/<id>`: the id is the blob's data-key id (random, never a content hash)."""
    return MEDIA_PREFIX + media_id


def parse_media_key(key: str) -> str | None:
    """The media id of a `media/<id>` object name this archive writes, else None."""
    if key.startswith(MEDIA_PREFIX) and _MEDIA_ID.fullmatch(key[len(MEDIA_PREFIX):]):
        return key[len(MEDIA_PREFIX):]
    return None


def checkpoint_key(size: int) -> str:
    return f"checkpoints/{size:012d}"


LATEST_CHECKPOINT_KEY = "checkpoint"
_RANGE_KEY = re.compile(r"(log|keys)/([0-9]{12})-([0-9]{12})\.(jsonl|json)")


def parse_range_key(key: str) -> tuple[str, int, int] | None:
    """('log'|'keys', first, last) for a segment or key object name, else None."""
    m = _RANGE_KEY.fullmatch(key)
    if not m or (m.group(1) == "log") != (m.group(4) == "jsonl"):
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


@dataclass(frozen=True, slots=True)
class Envelope:
    """One log record as stored: every member is covered by the record hash."""

    seq: int
    prev: str
    time: str
    type: str
    kid: str
    nonce: str
    ct: str
    v: int = FORMAT_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "seq": self.seq,
            "prev": self.prev,
            "time": self.time,
            "type": self.type,
            "kid": self.kid,
            "nonce": self.nonce,
            "ct": self.ct,
        }

    def _plain(self) -> bool:
        """True when no member needs JSON escaping, so C(e) can be formatted directly."""
        return (self.v == FORMAT_VERSION and type(self.seq) is int and self.type in RECORD_TYPES
                and _PLAIN.fullmatch(self.kid + self.prev + self.time + self.nonce + self.ct)
                is not None)

    def associated_data(self) -> bytes:
        """AES-GCM associated data: C(e) of the envelope without its `ct` member."""
        if self._plain():  # members in sorted order, as canonical() would write them
            return (f'{{"kid":"{self.kid}","nonce":"{self.nonce}","prev":"{self.prev}",'
                    f'"seq":{self.seq},"time":"{self.time}","type":"{self.type}","v":1}}'
                    ).encode()
        d = self.as_dict()
        del d["ct"]
        return canonical(d)

    def canonical(self) -> bytes:
        """C(e); formatted directly on the append path, identical to canonical(as_dict())."""
        if self._plain():
            return (f'{{"ct":"{self.ct}","kid":"{self.kid}","nonce":"{self.nonce}",'
                    f'"prev":"{self.prev}","seq":{self.seq},"time":"{self.time}",'
                    f'"type":"{self.type}","v":1}}').encode()
        return canonical(self.as_dict())

    def line(self) -> bytes:
        """A segment line: C(e) followed by a newline."""
        return self.canonical() + b"\n"

    def record_hash(self) -> bytes:
        return leaf_hash(self.canonical())


def parse_line(line: bytes, *, where: str, expected_seq: int | None = None) -> Envelope:
    """Parse one segment line (without its newline) and check it is canonical and well-formed.

    Raises IntegrityError naming `where` and the seq; a line that is not exactly C(e) of
    its own content is refused, so no byte can change without the check noticing.
    """
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"line is not JSON: {exc}", expected_seq, where) from None
    if not isinstance(obj, dict):
        raise IntegrityError("line is not a JSON object", expected_seq, where)
    seq = obj.get("seq") if type(obj.get("seq")) is int else expected_seq
    if set(obj) != ENVELOPE_MEMBERS:
        raise IntegrityError(f"members are {sorted(obj)}, expected {sorted(ENVELOPE_MEMBERS)}",
                             seq, where)
    for name in ("v", "seq"):
        if type(obj[name]) is not int:
            raise IntegrityError(f"{name} is not an integer", seq, where)
    for name in ("prev", "time", "type", "kid", "nonce", "ct"):
        if not isinstance(obj[name], str):
            raise IntegrityError(f"{name} is not a string", seq, where)
    if obj["v"] != FORMAT_VERSION:
        raise IntegrityError(f"unknown format version {obj['v']}", seq, where)
    if expected_seq is not None and obj["seq"] != expected_seq:
        raise IntegrityError(f"seq is {obj['seq']}, expected {expected_seq}", expected_seq, where)
    if not _HEX64.fullmatch(obj["prev"]):
        raise IntegrityError("prev is not 64 lowercase hex digits", seq, where)
    if not _TIME.fullmatch(obj["time"]) or not _real_time(obj["time"]):
        raise IntegrityError(f"time {obj['time']!r} is not RFC 3339 UTC with Z", seq, where)
    if obj["type"] not in RECORD_TYPES:
        raise IntegrityError(f"unknown record type {obj['type']!r}", seq, where)
    if not obj["kid"]:
        raise IntegrityError("kid is empty", seq, where)
    try:
        nonce = base64.b64decode(obj["nonce"], validate=True)
        ct = base64.b64decode(obj["ct"], validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError("nonce or ct is not standard base64", seq, where) from None
    if len(nonce) != 12 or len(ct) < 16:
        raise IntegrityError("nonce is not 12 bytes or ct is shorter than its tag", seq, where)
    env = Envelope(**obj)
    try:
        again = env.canonical()  # exactly canonical(obj); formatted directly when it can be
    except UnicodeEncodeError:
        raise IntegrityError("line holds a string that is not valid Unicode", seq, where) from None
    if again != line:
        raise IntegrityError("line is not the canonical form of its record", seq, where)
    return env


@functools.lru_cache(maxsize=4096)
def _real_time(value: str) -> bool:
    try:
        datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def associated_data_of_line(line: bytes, ct: str) -> bytes:
    """C(e without ct) cut from a canonical line: `ct` sorts first, so dropping its member
    `"ct":"...",` from `{"ct":"...","kid":...}` leaves exactly the associated data."""
    return b"{" + line[len(ct) + 9:]


def hash_hex(h: bytes) -> str:
    return h.hex()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
