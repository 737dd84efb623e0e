"""Offline verifier for archive format version 1 (``archiver-verify``).

An auditor's tool, meant to be read in one sitting. It checks an archive with
nothing but the published contract (``ARCHIVE_FORMAT.md``, format version 1),
SHA-256 and Ed25519, and says what it found, object by object. It imports only
the Python standard library and ``cryptography`` and shares no code with the
archive that wrote the data, so a mistake there is not silently repeated here.

Specifications implemented, each cited where it is used:

* RFC 6962 section 2.1: the Merkle Tree Hash (leaf prefix 0x00, node prefix 0x01),
  the hashes of ``golang.org/x/mod/sumdb/tlog``.
* RFC 9162 section 2.1.3.2: verifying an inclusion proof (audit path).
* RFC 9162 section 2.1.4.2: verifying a consistency proof.
* C2SP signed-note (https://c2sp.org/signed-note) and the verifier key encoding
  of ``golang.org/x/mod/sumdb/note``: ``<name>+<8 hex key hash>+<base64(0x01 || key)>``.
* C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): origin, size, root.
* For stores in S3: the Amazon S3 REST API (ListObjectsV2, GetObject; path-style
  requests) and AWS Signature Version 4 (the ``Authorization`` header).

Usage::

    archiver-verify store DIR_OR_S3_URL --vkey FILE [--kek FILE ...] [--endpoint-url URL]
                    [--region REGION]
    archiver-verify record RECORD.json PROOF.json CHECKPOINT --vkey FILE
    archiver-verify consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF.json --vkey FILE
    archiver-verify bundle FILE.zip [--vkey FILE]

Output is one line per finding: ``OK <where>: ...``, ``INFO <where>: ...``,
``WARN <where>: ...`` or ``FAIL <where>: <reason>``, where ``<where>`` names the
object key (and line and seq) and ``<reason>`` says what was expected and what was
found. The last line is a JSON summary. Exit status: 0 when everything verified,
1 when something failed verification, 2 for a usage error or an input file that
cannot be parsed at all (the message names the file and why), or a store that
cannot be read at all (endpoint, bucket and reason named; never a secret).

A store is a directory (the object keys as relative paths) or ``s3://BUCKET[/PREFIX]``,
read with a small S3 client in this file (path-style GET only: ListObjectsV2 and
GetObject, signed with AWS Signature Version 4). The endpoint comes from
``--endpoint-url``, else ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, else AWS;
the region from ``--region``, else ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, else
us-east-1; credentials from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
optionally ``AWS_SESSION_TOKEN``. Without credentials requests go unsigned (a public
bucket). The same checks run over both kinds of store, one object in memory at a time.

What cannot be checked without the key-encryption key (KEK): the AES-256-GCM
ciphertexts (``ct``), the media blobs' contents and the wrapped data keys. Given the
KEK file(s) (``--kek``, the project's ``{"id", "key"}`` JSON; docs/format.md "Key
objects" and "Media objects"), ``store`` also unwraps every data key, decrypts every
record and media blob, and checks each blob's SHA-256 against the ``sha256`` of every
record whose payload names it (``"object": "media/<id>"``). Media objects
are checked by name: this archive names a blob ``media/<id>`` after the id of its data
key (docs/format.md, "Media objects"), and ARCHIVE_FORMAT puts that key in the keys
object of the segment whose records reference the blob; so every ``media/<id>`` must
have its key in exactly one keys object, as a key of no record there, and every such
key its object. Everything else is checked.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import hmac
import http.client
import json
import os
import re
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "ConsistencyProof",
    "DirectorySource",
    "InclusionProof",
    "MalformedInput",
    "Note",
    "NoteSignature",
    "ObjectSource",
    "Report",
    "S3Credentials",
    "S3Source",
    "StoreUnavailable",
    "VerificationError",
    "VerifierKey",
    "b64decode_strict",
    "canonical",
    "envelope_problems",
    "line_problems",
    "main",
    "merkle_root",
    "node_hash",
    "open_note",
    "parse_checkpoint_text",
    "parse_consistency_proof",
    "parse_inclusion_proof",
    "parse_keys_object",
    "parse_note",
    "parse_s3_url",
    "parse_vkey",
    "record_hash",
    "root_from_inclusion_proof",
    "sigv4_authorization",
    "roots_from_consistency_proof",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
    "verify_store",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 2.1: MTH({}) = SHA-256()
ZERO_PREV = "0" * 64  # ARCHIVE_FORMAT "Record envelope": prev of seq 0
ENVELOPE_MEMBERS = frozenset({"v", "seq", "prev", "time", "type", "kid", "nonce", "ct"})
KEYS_MEMBERS = frozenset({"v", "kek", "alg", "keys"})
RECORD_TYPES = frozenset({"capture", "system"})
NONCE_SIZE = 12  # AES-GCM nonce
TAG_SIZE = 16  # AES-GCM tag: ct is ciphertext || tag, so at least 16 bytes
ALG_ED25519 = 0x01  # signed-note signature type of an Ed25519 key
SIGNATURE_PREFIX = "\u2014 ".encode()  # signed-note: EM DASH, space
MAX_SIGNATURES = 100  # signed-note: verifiers may reject more (as sumdb/note does)
MAX_SMALL_FILE = 1 << 20  # checkpoints, proofs and key files are far smaller
MAX_RECORD_FILE = 64 << 20
MAX_MEDIA_FILE = 4 << 30  # one media blob in memory at a time, when decrypting
LATEST_KEY = "checkpoint"

_LEAF = hashlib.sha256(b"\x00")
_sha256 = hashlib.sha256
_JSON_DECODE = json.JSONDecoder().decode
# Exactly the encoder behind the format's C(e) expression, built once for speed:
# json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
_JSON_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RFC3339_UTC = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?Z"
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SEGMENT_KEY = re.compile(r"log/([0-9]{12})-([0-9]{12})\.jsonl")
_KEYS_KEY = re.compile(r"keys/([0-9]{12})-([0-9]{12})\.json")
_CHECKPOINT_KEY = re.compile(r"checkpoints/([0-9]{12})")
_MEDIA_KEY = re.compile(r"media/[^/]+")
_SIZE_LINE = re.compile(r"0|[1-9][0-9]{0,19}")


# --------------------------------------------------------------------------- errors


class VerificationError(Exception):
    """A check failed. ``where`` names the object (file, key, seq); ``reason`` says
    what was expected and what was found."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class MalformedInput(VerificationError):
    """An input cannot be parsed as the format describes it (exit status 2 when it
    is a file given on the command line; a FAIL when it is an object in a store)."""


# --------------------------------------------------------------------------- bytes


def canonical(obj: Any) -> bytes:
    """``C(e)``: UTF-8 JSON, members sorted, no insignificant whitespace, non-ASCII as
    itself (ARCHIVE_FORMAT "Record envelope"; the format's own Python expression)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(line_bytes: bytes) -> bytes:
    """``H(e) = SHA-256(0x00 || C(e))``, the RFC 6962 section 2.1 leaf hash of a record.

    ``line_bytes`` is ``C(e)``: a segment line *without* its final ``\\n``.
    """
    h = _LEAF.copy()
    h.update(line_bytes)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 section 2.1 interior node: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def b64decode_strict(text: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 section 4) in its canonical form only.

    Rejects whitespace, missing or excess padding, characters outside the alphabet
    and non-zero pad bits (RFC 4648 section 3.5): one value, one spelling. Raises
    ``ValueError``.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not ASCII base64")
    data = binascii.a2b_base64(text, strict_mode=True)
    tail = text[-4:]  # only the last quantum can carry pad bits
    if tail and binascii.b2a_base64(binascii.a2b_base64(tail), newline=False) != tail.encode():
        raise ValueError("non-zero pad bits (not the canonical encoding)")
    return data


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


# --------------------------------------------------------------------------- Merkle tree


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1 Merkle Tree Hash over ``leaves`` (32-byte leaf hashes).

    Computed level by level, carrying an odd last node up unchanged, which yields
    exactly RFC 6962's left-balanced tree (split at the largest power of two below
    n) in n - 1 node hashes; a million leaves take about a second.
    """
    level = list(leaves)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class CompactRange:
    """The RFC 6962 tree over a growing prefix of the log, kept as its perfect subtrees.

    Holds one hash per set bit of ``size``: the perfect subtrees that the Merkle Tree
    Hash (RFC 6962 section 2.1) splits ``size`` leaves into, largest (leftmost) first.
    ``root()`` of the current prefix costs O(log n) and memory stays O(log n), so a
    store's checkpoints are checked while its segments stream past.
    """

    __slots__ = ("size", "_peaks")

    def __init__(self) -> None:
        self.size = 0
        self._peaks: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash, merging equal-sized subtrees like a binary counter."""
        peaks = self._peaks
        n = self.size
        while n & 1:
            leaf = _sha256(b"\x01" + peaks.pop() + leaf).digest()
            n >>= 1
        peaks.append(leaf)
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far: fold the subtrees from the right."""
        if not self._peaks:
            return EMPTY_ROOT
        acc = self._peaks[-1]
        for left in reversed(self._peaks[:-1]):
            acc = node_hash(left, acc)
        return acc


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _inclusion_path_length(index: int, size: int) -> int:
    """How many hashes RFC 9162 2.1.3.2 consumes for leaf ``index`` of ``size``."""
    fn, sn, count = index, size - 1, 0
    while sn:
        if fn == sn and not fn & 1:  # the branch that skips levels with no sibling
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
        count += 1
    return count


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that an audit path implies (RFC 9162 section 2.1.3.2, steps 1-4).

    ``path`` lists the siblings nearest the leaf first. Raises ``VerificationError``
    when the index is out of range or the path has the wrong length for
    (``index``, ``size``); the caller compares the result with a trusted root.
    """
    if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
        raise VerificationError(
            "inclusion proof", f"leaf index {index} is not below tree size {size}"
        )
    if not _is_hash(leaf) or not all(_is_hash(p) for p in path):
        raise VerificationError("inclusion proof", "every hash must be 32 bytes")
    wanted = _inclusion_path_length(index, size)
    if len(path) != wanted:
        raise VerificationError(
            "inclusion proof",
            f"audit path has {len(path)} hashes, leaf {index} of a tree of {size} needs {wanted}",
        )
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable with the length check; kept as the RFC's step 5
        raise VerificationError("inclusion proof", "audit path does not reach the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """True when ``path`` proves ``leaf`` is leaf ``index`` of the tree of ``size`` with
    ``root`` (RFC 9162 section 2.1.3.2). Never raises on malformed arguments."""
    try:
        return _is_hash(root) and root_from_inclusion_proof(leaf, index, size, path) == root
    except (VerificationError, TypeError):
        return False


def roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (old, new) roots a consistency proof implies, for 0 < old_size < new_size
    (RFC 9162 section 2.1.4.2, steps 2-6; ``old_root`` is only used as the path's
    first element when ``old_size`` is a power of two, as step 2 says).

    Raises ``VerificationError`` when the sizes are out of range or the path has
    the wrong length.
    """
    if not (isinstance(old_size, int) and isinstance(new_size, int) and 0 < old_size < new_size):
        raise VerificationError(
            "consistency proof", f"need 0 < old size < new size, got {old_size} and {new_size}"
        )
    if not _is_hash(old_root) or not all(_is_hash(p) for p in path):
        raise VerificationError("consistency proof", "every hash must be 32 bytes")
    if not path:
        raise VerificationError("consistency proof", "empty proof between different sizes")
    hashes = list(path)
    if old_size & (old_size - 1) == 0:  # step 2: an exact power of two
        hashes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]  # step 5
    for c in hashes[1:]:  # step 6
        if sn == 0:
            raise VerificationError("consistency proof", f"too many hashes ({len(path)})")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7, first half
        raise VerificationError("consistency proof", f"too few hashes ({len(path)})")
    return fr, sr


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True when ``path`` proves the tree (``new_size``, ``new_root``) extends the tree
    (``old_size``, ``old_root``) (RFC 9162 section 2.1.4.2). Equal sizes need an empty
    proof and equal roots; the empty tree (root SHA-256 of nothing) precedes every
    tree with an empty proof. Never raises on malformed arguments."""
    try:
        if not (_is_hash(old_root) and _is_hash(new_root)):
            return False
        if old_size == 0:  # the empty tree is a prefix of every tree
            empty_new = new_size == 0 and new_root == EMPTY_ROOT
            return not path and old_root == EMPTY_ROOT and (new_size > 0 or empty_new)
        if old_size == new_size:
            return not path and old_root == new_root
        fr, sr = roots_from_consistency_proof(old_size, new_size, old_root, path)
        return fr == old_root and sr == new_root
    except (VerificationError, TypeError):
        return False


# --------------------------------------------------------------------------- signed notes


@dataclass(frozen=True)
class VerifierKey:
    """A signed-note verifier key: ``<name>+<8 hex key hash>+<base64(0x01 || key)>``."""

    name: str
    key_hash: bytes  # first 4 bytes of SHA-256(name || "\n" || 0x01 || public key)
    public_key: bytes  # 32-byte Ed25519 public key

    @property
    def id(self) -> str:
        """``name+hash``, how findings name the key."""
        return f"{self.name}+{self.key_hash.hex()}"


def key_hash(name: str, public_key: bytes) -> bytes:
    """signed-note key hash of an Ed25519 key: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    return _sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _valid_key_name(name: str) -> bool:
    # signed-note: a key name is non-empty, has no Unicode whitespace and no "+".
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def parse_vkey(line: str | bytes) -> VerifierKey:
    """Parse a verifier key line as ``golang.org/x/mod/sumdb/note`` reads it.

    A trailing newline is allowed. The 8 hex digits must equal the key hash computed
    from the name and key; only Ed25519 (type 0x01) keys exist in format v1. Raises
    ``MalformedInput``.
    """
    where = "verifier key"
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedInput(where, "not UTF-8") from None
    line = line.removesuffix("\n").removesuffix("\r")
    parts = line.split("+", 2)
    if len(parts) != 3:
        raise MalformedInput(where, "expected <name>+<8 hex digits>+<base64 key>")
    name, hash_hex, key_b64 = parts
    if not _valid_key_name(name):
        raise MalformedInput(where, f"invalid key name {name!r}")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hash_hex):
        raise MalformedInput(where, f"key hash must be 8 hex digits, found {hash_hex!r}")
    try:
        key = b64decode_strict(key_b64)
    except ValueError as e:
        raise MalformedInput(where, f"key is not standard base64: {e}") from None
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise MalformedInput(
            where,
            "key must be 0x01 (Ed25519) followed by 32 bytes, "
            f"found {len(key)} bytes starting {key[:1].hex() or 'with nothing'}",
        )
    public_key = key[1:]
    computed = key_hash(name, public_key)
    if computed.hex() != hash_hex.lower():
        raise MalformedInput(
            where, f"key hash {hash_hex} does not match the key (computed {computed.hex()})"
        )
    return VerifierKey(name, computed, public_key)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: ``— <name> <base64(key hash || signature)>``."""

    name: str
    key_hash: bytes
    signature: bytes

    @property
    def id(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}"


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified, signed note: the signed text and its signatures."""

    text: bytes
    signatures: tuple[NoteSignature, ...]


def parse_note(data: bytes, where: str = "checkpoint") -> Note:
    """Split a C2SP signed note into its text and signature lines, as
    ``golang.org/x/mod/sumdb/note`` ``Open`` does.

    The note is UTF-8 without control characters other than ``\\n``; the text ends
    with ``\\n`` and is followed by one empty line and at least one signature line,
    each ending in ``\\n``. Raises ``MalformedInput``.
    """
    if not isinstance(data, bytes):
        raise MalformedInput(where, "a note is bytes")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedInput(where, f"not UTF-8 (byte {e.start})") from None
    bad = next((i for i, ch in enumerate(decoded) if ch < " " and ch != "\n"), None)
    if bad is not None:
        raise MalformedInput(where, f"control character {decoded[bad]!r} in the note")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise MalformedInput(where, "no empty line between the text and the signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise MalformedInput(where, "no signature lines ending in a newline after the empty line")
    signatures = []
    for number, line in enumerate(block[:-1].split(b"\n"), start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedInput(
                where,
                f"signature line {number} does not start with an em dash (U+2014) and a space",
            )
        name, _, sig_b64 = line[len(SIGNATURE_PREFIX) :].decode().partition(" ")
        if not _valid_key_name(name):
            raise MalformedInput(where, f"signature line {number}: invalid key name {name!r}")
        try:
            blob = b64decode_strict(sig_b64)
        except ValueError as e:
            raise MalformedInput(where, f"signature line {number}: not base64: {e}") from None
        if len(blob) < 5:
            raise MalformedInput(where, f"signature line {number}: too short")
        signatures.append(NoteSignature(name, blob[:4], blob[4:]))
        if len(signatures) > MAX_SIGNATURES:
            raise MalformedInput(where, f"more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(signatures))


def open_note(data: bytes, vkey: VerifierKey, where: str = "checkpoint") -> Note:
    """Parse a signed note and check that ``vkey`` signed its text (C2SP signed-note).

    Signatures by other keys are allowed and ignored (cosigners, witnesses), as the
    signed-note spec says; every signature that names ``vkey`` must verify, and at
    least one must exist. Raises ``MalformedInput`` or ``VerificationError``.
    """
    note = parse_note(data, where)
    mine = [s for s in note.signatures if s.name == vkey.name and s.key_hash == vkey.key_hash]
    if not mine:
        found = ", ".join(s.id for s in note.signatures)
        raise VerificationError(where, f"no signature by {vkey.id}; signed by {found}")
    public_key = Ed25519PublicKey.from_public_bytes(vkey.public_key)
    for s in mine:
        try:
            if len(s.signature) != 64:
                raise InvalidSignature
            public_key.verify(s.signature, note.text)
        except InvalidSignature:
            raise VerificationError(
                where, f"signature by {vkey.id} does not verify over the note text"
            ) from None
    return note


def parse_checkpoint_text(text: bytes, where: str = "checkpoint") -> tuple[str, int, bytes]:
    """Parse a C2SP tlog-checkpoint body: origin, decimal size, base64 32-byte root.

    Format v1 defines exactly these three lines; extension lines are rejected.
    Returns ``(origin, size, root)``; raises ``MalformedInput``.
    """
    lines = text.decode("utf-8", "replace").split("\n")
    if lines[-1] != "":
        raise MalformedInput(where, "checkpoint text does not end with a newline")
    lines.pop()
    if len(lines) != 3:
        raise MalformedInput(
            where,
            f"checkpoint text has {len(lines)} lines, format v1 has exactly 3 "
            "(origin, tree size, root hash)",
        )
    origin, size_line, root_line = lines
    if not origin:
        raise MalformedInput(where, "empty origin line")
    if not _SIZE_LINE.fullmatch(size_line) or int(size_line) >= 1 << 64:
        raise MalformedInput(
            where, f"tree size must be a decimal number without leading zeros, found {size_line!r}"
        )
    try:
        root = b64decode_strict(root_line)
    except ValueError as e:
        raise MalformedInput(where, f"root hash is not standard base64: {e}") from None
    if len(root) != HASH_SIZE:
        raise MalformedInput(where, f"root hash has {len(root)} bytes, expected 32")
    return origin, int(size_line), root


def verify_note(
    note_bytes: bytes, vkey: VerifierKey, where: str = "checkpoint"
) -> tuple[str, int, bytes]:
    """Verify a checkpoint: the signature by ``vkey`` first (``open_note``), then parse
    the signed text as a tlog-checkpoint. Returns ``(origin, size, root)``, values a
    caller may trust. Raises ``VerificationError`` (``MalformedInput`` if unparseable).
    """
    note = open_note(note_bytes, vkey, where)
    return parse_checkpoint_text(note.text, where)


# --------------------------------------------------------------------------- records


def _show(value: object, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _time_problem(value: object) -> str | None:
    """RFC 3339 in UTC with ``Z`` (ARCHIVE_FORMAT "Record envelope" ``time``)."""
    if type(value) is not str:
        return f"time: expected a string, found {_show(value)}"
    m = _RFC3339_UTC.fullmatch(value)
    if m is None:
        return f"time: expected RFC 3339 UTC like 2026-11-21T20:51:55.123456Z, found {_show(value)}"
    year, month, day, hour, minute, second = map(int, m.groups())
    if 1 <= month <= 12:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        days = 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]
    else:
        days = 0
    leap_second = second == 60 and hour == 23 and minute == 59
    if not (1 <= day <= days and hour <= 23 and minute <= 59 and (second <= 59 or leap_second)):
        return f"time: not a real date and time: {_show(value)}"
    return None


def _b64_problem(member: str, value: object, size: int, exact: bool) -> str | None:
    if type(value) is not str:
        return f"{member}: expected a base64 string, found {_show(value)}"
    try:
        n = len(b64decode_strict(value))
    except ValueError as e:
        return f"{member}: not standard padded base64 ({e})"
    if n != size if exact else n < size:
        want = f"{size} bytes" if exact else f"at least {size} bytes (ciphertext || 16-byte tag)"
        return f"{member}: decodes to {n} bytes, expected {want}"
    return None


def envelope_problems(env: object, seq: int | None = None, prev: str | None = None) -> list[str]:
    """Every way ``env`` breaks the envelope rules (ARCHIVE_FORMAT "Record envelope"),
    as ``"<member>: expected ..., found ..."`` strings; empty when it follows them.

    With ``seq`` given the record must have that seq; with ``prev`` given (lowercase
    hex of the previous record's hash, or 64 zeros before seq 0) the chain must hold.
    """
    if type(env) is not dict:
        return [f"envelope: expected a JSON object, found {_show(env, 30)}"]
    problems: list[str] = []
    if env.keys() != ENVELOPE_MEMBERS:
        missing = sorted(ENVELOPE_MEMBERS - env.keys())
        extra = sorted(env.keys() - ENVELOPE_MEMBERS)
        if missing:
            problems.append(f"members: missing {', '.join(missing)}")
        if extra:
            problems.append(f"members: unexpected {', '.join(map(_show, extra))}")
    v = env.get("v")
    if type(v) is not int or v != 1:
        problems.append(f"v: expected 1, found {_show(v)}")
    s = env.get("seq")
    if type(s) is not int or s < 0:
        problems.append(f"seq: expected a non-negative integer, found {_show(s)}")
    elif seq is not None and s != seq:
        problems.append(f"seq: expected {seq}, found {s}")
    p = env.get("prev")
    if type(p) is not str or not _HEX64.fullmatch(p):
        problems.append(f"prev: expected 64 lowercase hex digits, found {_show(p)}")
    elif prev is not None and p != prev:
        if prev == ZERO_PREV:
            problems.append(f"prev: expected {prev} (64 zeros for seq 0), found {p}")
        else:
            before = f"seq {seq - 1}" if seq else "the previous record"
            problems.append(
                f"prev: expected {prev} (the hash of {before} as stored), found {p}: "
                f"{before} or this record was changed"
            )
    elif prev is None and type(s) is int and (s == 0) != (p == ZERO_PREV):
        problems.append("prev: must be 64 zeros exactly when seq is 0, found " + _show(p))
    problem = _time_problem(env.get("time"))
    if problem:
        problems.append(problem)
    t = env.get("type")
    if type(t) is not str or t not in RECORD_TYPES:
        problems.append(f'type: expected "capture" or "system", found {_show(t)}')
    kid = env.get("kid")
    if type(kid) is not str or not kid:
        problems.append(f"kid: expected a non-empty string, found {_show(kid)}")
    problem = _b64_problem("nonce", env.get("nonce"), NONCE_SIZE, exact=True)
    if problem:
        problems.append(problem)
    problem = _b64_problem("ct", env.get("ct"), TAG_SIZE, exact=False)
    if problem:
        problems.append(problem)
    return problems


def _canonical_difference(found: str, expected: str) -> str:
    i = next(
        (k for k, (a, b) in enumerate(zip(found, expected, strict=False)) if a != b),
        min(len(found), len(expected)),
    )
    offset = len(found[:i].encode())
    return (
        f"not canonical JSON C(e): from byte {offset} expected {_show(expected[i : i + 24])}, "
        f"found {_show(found[i : i + 24])}"
    )


def line_problems(
    line: bytes, seq: int | None = None, prev: str | None = None
) -> tuple[list[str], dict[str, Any] | None]:
    """Check one segment line (without its ``\\n``): UTF-8, JSON, byte-for-byte equal to
    ``C(e)`` of what it parses to, and ``envelope_problems``. Returns the problems and
    the parsed envelope (``None`` when it is not a JSON object)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return [f"not UTF-8 (byte {e.start})"], None
    try:
        env = _JSON_DECODE(text)
        again = _JSON_ENCODE(env)
    except (ValueError, RecursionError) as e:
        return [f"not JSON: {e}"], None
    problems = [] if again == text else [_canonical_difference(text, again)]
    problems += envelope_problems(env, seq, prev)
    return problems, env if type(env) is dict else None


# --------------------------------------------------------------------------- documents


def _load_json(data: bytes, where: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            names = [k for k, _ in pairs]
            raise MalformedInput(
                where, f"duplicate member {_show(next(k for k in names if names.count(k) > 1))}"
            )
        return obj

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as e:
        raise MalformedInput(where, f"not UTF-8 (byte {e.start})") from None
    except (ValueError, RecursionError) as e:
        raise MalformedInput(where, f"not JSON: {e}") from None


def parse_keys_object(data: bytes, where: str) -> dict[str, str]:
    """Parse ``keys/<first>-<last>.json`` (ARCHIVE_FORMAT "Wrapped data keys"):
    exactly ``v`` (1), ``kek`` and ``alg`` (non-empty strings) and ``keys`` (kid ->
    base64 wrapped key). Returns ``keys``; raises ``MalformedInput``."""
    obj = _load_json(data, where)
    if type(obj) is not dict:
        raise MalformedInput(where, f"expected a JSON object, found {_show(obj, 30)}")
    if obj.keys() != KEYS_MEMBERS:
        missing = sorted(KEYS_MEMBERS - obj.keys())
        extra = sorted(obj.keys() - KEYS_MEMBERS)
        raise MalformedInput(
            where,
            f"members: expected v, kek, alg, keys; missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}",
        )
    if type(obj["v"]) is not int or obj["v"] != 1:
        raise MalformedInput(where, f"v: expected 1, found {_show(obj['v'])}")
    for member in ("kek", "alg"):
        if type(obj[member]) is not str or not obj[member]:
            raise MalformedInput(
                where, f"{member}: expected a non-empty string, found {_show(obj[member])}"
            )
    keys = obj["keys"]
    if type(keys) is not dict:
        raise MalformedInput(where, f"keys: expected an object, found {_show(keys, 30)}")
    for kid, wrapped in keys.items():
        if not kid:
            raise MalformedInput(where, "keys: an empty kid")
        try:
            if not b64decode_strict(wrapped):
                raise ValueError("empty")
        except (ValueError, TypeError) as e:
            raise MalformedInput(
                where, f"keys[{_show(kid)}]: not a base64 wrapped key ({e})"
            ) from None
    return keys


@dataclass(frozen=True)
class InclusionProof:
    """``{"seq", "tree_size", "leaf_hash", "hashes"}`` (ARCHIVE_FORMAT "Proofs"). Only
    ``hashes`` is used to verify; the rest are hints compared with trusted values."""

    seq: int
    tree_size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    unknown_members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsistencyProof:
    """``{"old_size", "new_size", "hashes"}`` (ARCHIVE_FORMAT "Proofs")."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]
    unknown_members: tuple[str, ...] = ()


def _proof_fields(
    data: bytes, where: str, ints: Iterable[str], hashes: Iterable[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    obj = _load_json(data, where)
    if type(obj) is not dict:
        raise MalformedInput(where, f"expected a JSON object, found {_show(obj, 30)}")
    ints, hashes = list(ints), list(hashes)
    missing = [m for m in [*ints, *hashes, "hashes"] if m not in obj]
    if missing:
        raise MalformedInput(where, f"missing member(s): {', '.join(missing)}")
    out: dict[str, Any] = {}
    for m in ints:
        if type(obj[m]) is not int or obj[m] < 0:
            raise MalformedInput(
                where, f"{m}: expected a non-negative integer, found {_show(obj[m])}"
            )
        out[m] = obj[m]
    if type(obj["hashes"]) is not list:
        raise MalformedInput(where, f"hashes: expected a list, found {_show(obj['hashes'], 30)}")
    for m in hashes:
        out[m] = _proof_hash(obj[m], f"{m}", where)
    out["hashes"] = tuple(
        _proof_hash(h, f"hashes[{i}]", where) for i, h in enumerate(obj["hashes"])
    )
    known = {*ints, *hashes, "hashes"}
    return out, tuple(sorted(k for k in obj if k not in known))


def _proof_hash(value: object, member: str, where: str) -> bytes:
    try:
        if type(value) is not str:
            raise ValueError(f"expected a string, found {_show(value, 30)}")
        raw = b64decode_strict(value)
    except ValueError as e:
        raise MalformedInput(where, f"{member}: not a base64 hash ({e})") from None
    if len(raw) != HASH_SIZE:
        raise MalformedInput(where, f"{member}: {len(raw)} bytes, expected 32")
    return raw


def parse_inclusion_proof(data: bytes, where: str = "inclusion proof") -> InclusionProof:
    """Parse an inclusion proof document; raises ``MalformedInput``."""
    f, unknown = _proof_fields(data, where, ("seq", "tree_size"), ("leaf_hash",))
    return InclusionProof(f["seq"], f["tree_size"], f["leaf_hash"], f["hashes"], unknown)


def parse_consistency_proof(data: bytes, where: str = "consistency proof") -> ConsistencyProof:
    """Parse a consistency proof document; raises ``MalformedInput``."""
    f, unknown = _proof_fields(data, where, ("old_size", "new_size"), ())
    return ConsistencyProof(f["old_size"], f["new_size"], f["hashes"], unknown)


# --------------------------------------------------------------------------- findings


class Report:
    """Findings, one line each, written as they are found; counts for the summary.

    At most ``max_per_object`` FAIL lines are shown per object (a shifted segment
    would otherwise print one per record); all of them are counted.
    """

    def __init__(self, out: TextIO, max_per_object: int = 20) -> None:
        self.out = out
        self.max_per_object = max_per_object
        self.failures = 0
        self.warnings = 0
        self.records = 0
        self.segments = 0
        self.checkpoints = 0
        self.destroyed = 0
        self._shown: dict[str, int] = {}
        self._hidden: dict[str, int] = {}

    def _line(self, kind: str, where: str, text: str) -> None:
        self.out.write(f"{kind} {where}: {text}\n")

    def ok(self, where: str, text: str) -> None:
        self._line("OK", where, text)

    def info(self, where: str, text: str) -> None:
        self._line("INFO", where, text)

    def warn(self, where: str, text: str) -> None:
        self.warnings += 1
        self._line("WARN", where, text)

    def fail(self, where: str, reason: str, obj: str | None = None) -> None:
        """Record a failure at ``where``; ``obj`` groups lines for the display cap."""
        self.failures += 1
        obj = obj or where
        shown = self._shown.get(obj, 0)
        if shown >= self.max_per_object:
            self._hidden[obj] = self._hidden.get(obj, 0) + 1
            return
        self._shown[obj] = shown + 1
        self._line("FAIL", where, reason)

    def failures_in(self, obj: str) -> int:
        return self._shown.get(obj, 0) + self._hidden.get(obj, 0)

    def summary(self, error: str | None = None) -> dict[str, Any]:
        """Write any hidden-failure counts and the final JSON line; return it."""
        for obj, n in self._hidden.items():
            self._line("FAIL", obj, f"{n} more failures in this object not shown")
        self._hidden.clear()
        result: dict[str, Any] = {
            "ok": self.failures == 0 and error is None,
            "records": self.records,
            "segments": self.segments,
            "checkpoints": self.checkpoints,
            "destroyed": self.destroyed,
            "failures": self.failures,
            "warnings": self.warnings,
        }
        if error is not None:
            result["error"] = error
        self.out.write(json.dumps(result) + "\n")
        self.out.flush()
        return result


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class _Segment:
    key: str
    first: int
    last: int

    @property
    def keys_key(self) -> str:
        return f"keys/{self.first:012d}-{self.last:012d}.json"


@dataclass(frozen=True)
class _Checkpoint:
    key: str
    origin: str
    size: int
    root: bytes


@dataclass
class _Inventory:
    segments: list[_Segment] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    checkpoints: dict[int, str] = field(default_factory=dict)  # size in name -> key
    latest: bool = False
    media: set[str] = field(default_factory=set)  # ids of the media/<id> objects
    ignored: list[str] = field(default_factory=list)


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1..3, 7"``, to name many seqs in one line."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if start == n else f"{start}..{n}")
            start = None
    return ", ".join(parts)


def _read_limited(path: Path, limit: int, where: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise MalformedInput(where, f"larger than {limit} bytes")
    return data


# --------------------------------------------------------------------------- object sources


class StoreUnavailable(Exception):
    """The store as a whole cannot be read: the endpoint does not answer, the bucket
    does not exist, access is denied, a transfer was cut short. Nothing can then be
    said about the archive, so this is exit status 2, never a FAIL (and deliberately
    not a ``VerificationError``, which the checks catch)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class ObjectSource(Protocol):
    """Where a store's objects are: a directory, or an S3 bucket under a prefix. Keys
    are relative to the store root (``log/...``, ``checkpoint``), as in ARCHIVE_FORMAT
    "Objects". A problem with one object raises ``OSError`` (a FAIL naming it); a
    problem with the whole store raises ``StoreUnavailable``."""

    def keys(self, report: Report, ignored: list[str]) -> Iterable[str]:
        """Every object key, once each; keys the source skips are added to ``ignored``."""
        ...

    def read(self, key: str, limit: int) -> bytes:
        """The whole object; ``MalformedInput`` if it is larger than ``limit`` bytes."""
        ...

    def lines(self, key: str) -> Iterable[bytes]:
        """The object's lines, each with its ``\\n`` (the last perhaps without), streamed."""
        ...


class DirectorySource:
    """A filesystem store: object keys are the paths relative to ``root``. Names that
    start with "." are the filesystem backend's temporary files and are skipped;
    symbolic links and special files are no stored objects (a FAIL each)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, report: Report, ignored: list[str]) -> Iterator[str]:
        def unreadable(error: OSError) -> None:
            where = os.path.relpath(error.filename or self.root, self.root).replace(os.sep, "/")
            report.fail(where, f"cannot list: {error.strerror or error}")

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=unreadable):
            rel_dir = os.path.relpath(dirpath, self.root)
            prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            kept = []
            for d in sorted(dirnames):
                if d.startswith("."):
                    ignored.append(prefix + d + "/")
                elif os.path.islink(os.path.join(dirpath, d)):
                    report.fail(
                        prefix + d, "unexpected object: a symbolic link, not part of the format"
                    )
                else:
                    kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                key = prefix + name
                if name.startswith("."):
                    ignored.append(key)
                    continue
                mode = os.lstat(os.path.join(dirpath, name)).st_mode
                if not stat.S_ISREG(mode):  # a symlink, FIFO or device is no stored object
                    kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                    report.fail(key, f"unexpected object: {kind}, not part of the format")
                    continue
                yield key

    def read(self, key: str, limit: int) -> bytes:
        return _read_limited(self.root / key, limit, key)

    def lines(self, key: str) -> Iterator[bytes]:
        with open(self.root / key, "rb") as f:
            yield from f


# --------------------------------------------------------------------------- S3, read-only

S3_TIMEOUT = 60.0  # seconds without a byte before a request is abandoned
S3_ATTEMPTS = 3  # tries of a request answered 500, 502, 503 (SlowDown) or 504
MAX_LISTING_PAGE = 16 << 20  # one ListObjectsV2 page of at most 1000 keys is far smaller
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()  # x-amz-content-sha256 of a GET
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class S3Credentials:
    """Static AWS credentials. ``repr`` shows neither the secret nor the token, and
    neither ever appears in a message: only HMACs made with the secret leave."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Credentials | None:
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN;
        ``None`` when neither key is set (requests are then sent unsigned)."""
        key_id = env.get("AWS_ACCESS_KEY_ID", "")
        secret = env.get("AWS_SECRET_ACCESS_KEY", "")
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            given, missing = (
                ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
                if key_id
                else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
            )
            raise MalformedInput("credentials", f"{given} is set but {missing} is not")
        return cls(key_id, secret, env.get("AWS_SESSION_TOKEN", ""))

    def scrub(self, text: str) -> str:
        """``text`` with the secret and the token blanked, whatever a server echoes."""
        for secret in (self.secret_access_key, self.session_token):
            if secret:
                text = text.replace(secret, "********")
        return text


def _uri_encode(text: str, safe: str = "") -> str:
    """SigV4 UriEncode: every byte of the UTF-8 form except A-Z a-z 0-9 - _ . ~ (and
    ``safe``) as %XY with upper-case hex."""
    return urllib.parse.quote(text, safe=safe)


def sigv4_authorization(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    region: str,
    credentials: S3Credentials,
    service: str = "s3",
) -> str:
    """The ``Authorization`` header of AWS Signature Version 4 (AWS IAM User Guide,
    "Create a signed AWS API request"; Amazon S3 API, "Signature Calculations for the
    Authorization Header"), for a request with an empty body.

    ``path`` is the URI-encoded path and ``query`` the canonical query string (pairs
    URI-encoded, sorted, joined by "&"), both exactly as sent; ``headers`` are the
    headers to sign and include ``host``, ``x-amz-date`` (``YYYYMMDDTHHMMSSZ``) and
    ``x-amz-content-sha256``.
    """
    canonical = sorted((k.lower(), " ".join(v.split())) for k, v in headers.items())
    named = dict(canonical)
    signed_headers = ";".join(k for k, _ in canonical)
    canonical_request = "\n".join(
        [
            method,
            path,
            query,
            "".join(f"{k}:{v}\n" for k, v in canonical),
            signed_headers,
            named["x-amz-content-sha256"],
        ]
    )
    amz_date = named["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, _sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_access_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope},"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]`` -> (bucket, prefix without surrounding slashes)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise MalformedInput(url, "expected s3://BUCKET[/PREFIX] with a valid bucket name")
    return bucket, prefix.strip("/")


class _S3Error(Exception):
    """An S3 error answer: HTTP status and the ``Code`` and ``Message`` of its XML body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status}" + (f" {code}" if code else "") + f": {message}")
        self.status = status
        self.code = code

    @classmethod
    def from_http_error(cls, error: urllib.error.HTTPError) -> _S3Error:
        code, message = "", str(error.reason or "")
        try:
            body = error.read(1 << 16)
            fields = {_local_name(e.tag): (e.text or "").strip() for e in ET.fromstring(body)}
            code, message = fields.get("Code", code), fields.get("Message", message)
        except (OSError, http.client.HTTPException, ET.ParseError, TypeError):
            pass  # no readable XML body (a HEAD-like answer, a proxy's HTML page)
        finally:
            error.close()
        return cls(error.code, code, message[:300])


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is reported (e.g. PermanentRedirect: wrong region), not followed


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]  # "{http://s3.amazonaws.com/doc/2006-03-01/}Key" -> "Key"


class S3Source:
    """A store in an S3 bucket under a key prefix, read through the S3 REST API with
    path-style URLs (``<endpoint>/<bucket>/<prefix>/<key>``) and nothing but GET:
    ListObjectsV2, paged with continuation tokens, and GetObject, streamed. Requests
    are signed with AWS Signature Version 4 when credentials are given, and sent
    unsigned otherwise (public buckets)."""

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        prefix: str = "",
        region: str = "us-east-1",
        credentials: S3Credentials | None = None,
        timeout: float = S3_TIMEOUT,
    ) -> None:
        try:
            url = urllib.parse.urlsplit(endpoint_url)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            url = urllib.parse.urlsplit("")
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise MalformedInput(
                "endpoint", f"expected http(s)://HOST[:PORT], found {endpoint_url!r}"
            )
        if "@" in url.netloc:
            raise MalformedInput("endpoint", "no user or password in the endpoint URL, please")
        host = url.netloc.lower()
        host = host.removesuffix(":443" if url.scheme == "https" else ":80")  # as sent by default
        self.origin = f"{url.scheme}://{host}"
        self.host = host
        self.base_path = url.path.rstrip("/")  # a gateway may serve S3 below a path
        self.endpoint = self.origin + self.base_path
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        self.credentials = credentials
        self.timeout = timeout
        self.where = f"s3://{bucket}/{self.prefix}".rstrip("/") + f" at {self.endpoint}"
        self._opener = urllib.request.build_opener(_NoRedirects)

    def __repr__(self) -> str:
        return f"S3Source({self.where!r})"

    # -- the three operations of an ObjectSource

    def keys(self, report: Report, ignored: list[str]) -> Iterator[str]:
        """ListObjectsV2 under the prefix, page after page, yielding keys relative to
        the prefix. Zero-byte keys ending in "/" are folder markers (consoles create
        them) and are skipped. No object at all is an error: a misspelt prefix."""
        token: str | None = None
        listed = pages = 0
        while True:
            query = [("list-type", "2"), ("prefix", self.prefix), ("encoding-type", "url")]
            if token is not None:
                query.append(("continuation-token", token))
            contents, truncated, next_token = self._list_page(query)
            pages += 1
            for full_key, size in contents:
                listed += 1
                if not full_key.startswith(self.prefix):
                    raise StoreUnavailable(
                        self.where, f"the listing returned {full_key!r}, outside the prefix"
                    )
                key = full_key[len(self.prefix) :]
                if size == 0 and (not key or key.endswith("/")):
                    ignored.append(key or full_key)
                    continue
                yield key
            if not truncated:
                break
            if not next_token or next_token == token:
                raise StoreUnavailable(
                    self.where,
                    f"listing page {pages} is truncated but gives no new continuation token",
                )
            token = next_token
        if listed == 0:
            what = "under this prefix" if self.prefix else "in this bucket"
            raise StoreUnavailable(self.where, f"no objects {what} (is it misspelt?)")
        how = (
            f"requests signed as access key id {self.credentials.access_key_id}"
            if self.credentials
            else "unsigned requests"
        )
        report.info("store", f"{self.where}: {listed} object(s) listed in {pages} page(s), {how}")

    def read(self, key: str, limit: int) -> bytes:
        with self._get_object(key) as response:
            try:
                data = response.read(limit + 1)
            except (OSError, http.client.HTTPException) as e:
                raise StoreUnavailable(self.where, f"reading {key}: {self._say(e)}") from None
            if len(data) > limit:
                raise MalformedInput(key, f"larger than {limit} bytes")
            self._check_complete(key, response, len(data))
        return data

    def lines(self, key: str) -> Iterator[bytes]:
        with self._get_object(key) as response:
            received = 0
            try:
                for line in response:  # http.client reads the body as it is iterated
                    received += len(line)
                    if not line.endswith(b"\n"):  # the last line: a cut transfer is no FAIL
                        self._check_complete(key, response, received)
                    yield line
            except (OSError, http.client.HTTPException) as e:
                raise StoreUnavailable(self.where, f"reading {key}: {self._say(e)}") from None
            self._check_complete(key, response, received)

    # -- HTTP

    def _list_page(self, query: list[tuple[str, str]]) -> tuple[list[tuple[str, int]], bool, str]:
        """One ListObjectsV2 page: ([(key, size)], truncated?, next continuation token)."""
        try:
            with self._get("", query) as response:
                body = response.read(MAX_LISTING_PAGE + 1)
        except (_S3Error, OSError, http.client.HTTPException) as e:
            raise StoreUnavailable(self.where, f"cannot list objects: {self._say(e)}") from None
        if len(body) > MAX_LISTING_PAGE:
            raise StoreUnavailable(self.where, "a listing page is larger than 16 MiB")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise StoreUnavailable(self.where, f"the listing is not XML: {e}") from None
        if _local_name(root.tag) != "ListBucketResult":
            raise StoreUnavailable(self.where, f"the listing is a {_local_name(root.tag)!r}")
        fields = {
            _local_name(e.tag): (e.text or "") for e in root if _local_name(e.tag) != "Contents"
        }
        decode = urllib.parse.unquote_plus if fields.get("EncodingType") == "url" else str
        contents = []
        for item in root:
            if _local_name(item.tag) == "Contents":
                member = {_local_name(e.tag): (e.text or "") for e in item}
                size = member.get("Size", "")
                contents.append(
                    (decode(member.get("Key", "")), int(size) if size.isdigit() else -1)
                )
        truncated = fields.get("IsTruncated", "false").strip().lower() == "true"
        # encoding-type=url encodes keys and prefixes only; the token is sent back as is.
        return contents, truncated, fields.get("NextContinuationToken", "")

    def _get_object(self, key: str) -> http.client.HTTPResponse:
        """GetObject; a missing key is an ``OSError`` (a FAIL for that object alone)."""
        try:
            return self._get("/" + self.prefix + key, [])
        except _S3Error as e:
            if e.status == 404 and e.code != "NoSuchBucket":
                raise OSError(f"listed but not readable: {self._say(e)}") from None
            raise StoreUnavailable(self.where, f"cannot read {key}: {self._say(e)}") from None

    def _get(self, path_in_bucket: str, query: list[tuple[str, str]]) -> http.client.HTTPResponse:
        """GET ``/<bucket><path_in_bucket>?<query>``: the open response of a 2xx answer,
        ``_S3Error`` for an error answer, ``StoreUnavailable`` for no answer at all."""
        path = _uri_encode(f"{self.base_path}/{self.bucket}{path_in_bucket}", safe="/")
        canonical_query = "&".join(
            f"{k}={v}" for k, v in sorted((_uri_encode(k), _uri_encode(v)) for k, v in query)
        )
        url = self.origin + path + ("?" + canonical_query if canonical_query else "")
        for attempt in range(1, S3_ATTEMPTS + 1):
            request = urllib.request.Request(url, headers=self._headers(path, canonical_query))
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                error = _S3Error.from_http_error(e)
                if e.code not in (500, 502, 503, 504) or attempt == S3_ATTEMPTS:
                    raise error from None
                time.sleep(0.5 * attempt)
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise StoreUnavailable(
                    self.where, f"no answer from {self.endpoint}: {self._say(e)}"
                ) from None
        raise AssertionError("unreachable")

    def _headers(self, path: str, query: str) -> dict[str, str]:
        if self.credentials is None:
            return {}
        headers = {
            "Host": self.host,
            "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "x-amz-content-sha256": EMPTY_SHA256,
        }
        if self.credentials.session_token:
            headers["x-amz-security-token"] = self.credentials.session_token
        headers["Authorization"] = sigv4_authorization(
            "GET", path, query, headers, self.region, self.credentials
        )
        return headers

    def _check_complete(self, key: str, response: http.client.HTTPResponse, got: int) -> None:
        """A body shorter than its Content-Length is a cut transfer, not a short object."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) != got:
            raise StoreUnavailable(
                self.where, f"reading {key}: the transfer ended after {got} of {length} bytes"
            )

    def _say(self, error: BaseException) -> str:
        """An error as one line: the socket's reason, the S3 code, a hint for 403."""
        reason = getattr(error, "reason", None)  # URLError wraps the socket error
        text = str(reason if isinstance(reason, BaseException) else error) or type(error).__name__
        if isinstance(error, _S3Error) and error.status in (401, 403):
            text += (
                f" (requests signed as access key id {self.credentials.access_key_id}, "
                "from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                if self.credentials
                else " (requests unsigned: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set)"
            )
        return self.credentials.scrub(text) if self.credentials else text


class _StoreVerifier:
    """Walks one store, whatever holds it (an ``ObjectSource``); the checks themselves
    are the pure functions above."""

    def __init__(self, source: ObjectSource, vkey: VerifierKey, report: Report,
                 keks: Mapping[str, bytes] | None = None) -> None:
        self.source = source
        self.vkey = vkey
        self.report = report
        self.keks = dict(keks or {})  # KEK id -> 32-byte key: decrypt when given
        self.segment_kek: str | None = None  # the `kek` of the current keys object
        self.media_wrapped: dict[str, tuple[str, str]] = {}  # media id -> (wrapped, kek)
        self.media_refs: dict[str, list[tuple[int, str]]] = {}  # id -> (seq, sha256)
        self.decrypted = 0
        self.tree = CompactRange()  # the log so far, as RFC 6962 subtrees
        self.pending: list[_Checkpoint] = []  # verified checkpoints the log has not reached
        self.next_checkpoint = -1  # size of pending[0], or -1
        self.last_good_size: int | None = None
        self.matched = 0  # checkpoints whose root matched
        # Checkpoint findings are written after the segment in which the log reaches
        # their size, so that a segment's own findings come first.
        self.deferred: list[tuple[Callable[[str, str], None], str, str]] = []
        self.seen_kids: dict[str, int] = {}  # kid -> seq, in the current segment
        self.kid_digests: set[int] = set()  # 8-byte digests of every kid so far
        self.media_keys: dict[str, str] = {}  # media id -> the keys object holding its key

    def run(self) -> None:
        inventory = self.take_inventory()
        checkpoints = self.check_checkpoint_notes(inventory)
        self.check_log(inventory, checkpoints)
        for key in sorted(inventory.keys):  # left over: no segment of that name
            self.report.fail(key, "keys object without a segment of the same name")
        self.check_media(inventory)
        self.check_latest(inventory)
        self.check_coverage(inventory, checkpoints)

    # -- what is there

    def take_inventory(self) -> _Inventory:
        """Classify every object the source lists; anything the format does not describe
        is a failure (what a source skips, such as temporary files, is listed as INFO)."""
        inv = _Inventory()
        report = self.report
        for key in self.source.keys(report, inv.ignored):
            self._classify(key, inv)
        inv.segments.sort(key=lambda s: (s.first, s.last))
        if inv.ignored:
            report.info(
                "store",
                f"ignored {len(inv.ignored)} temporary/dot file(s) or folder marker(s): "
                + ", ".join(inv.ignored[:5])
                + (" ..." if len(inv.ignored) > 5 else ""),
            )
        report.segments = len(inv.segments)
        report.checkpoints = len(inv.checkpoints)
        return inv

    def _classify(self, key: str, inv: _Inventory) -> None:
        if m := _SEGMENT_KEY.fullmatch(key):
            inv.segments.append(_Segment(key, int(m[1]), int(m[2])))
        elif _KEYS_KEY.fullmatch(key):
            inv.keys.add(key)
        elif m := _CHECKPOINT_KEY.fullmatch(key):
            inv.checkpoints[int(m[1])] = key
        elif key == LATEST_KEY:
            inv.latest = True
        elif _MEDIA_KEY.fullmatch(key):
            inv.media.add(key[len("media/"):])
        else:
            top = key.split("/", 1)[0]
            expected = {
                "log": "log/<first>-<last>.jsonl (12-digit numbers)",
                "keys": "keys/<first>-<last>.json (12-digit numbers)",
                "checkpoints": "checkpoints/<size> (12 digits)",
                "media": "media/<id>",
            }.get(top)
            hint = f"; expected {expected}" if expected else ""
            if top == "objects" and not inv.segments:
                hint = "; is the store root DIR/objects?"
            self.report.fail(key, f"unexpected object: not described by ARCHIVE_FORMAT.md{hint}")

    # -- checkpoints

    def check_checkpoint_notes(self, inv: _Inventory) -> list[_Checkpoint]:
        """Verify every ``checkpoints/<size>`` note with the verifier key; return the
        ones that verified, by size. Roots are compared while the log streams past."""
        verified = []
        for name_size, key in sorted(inv.checkpoints.items()):
            try:
                data = self.source.read(key, MAX_SMALL_FILE)
                origin, size, root = verify_note(data, self.vkey, key)
            except OSError as e:
                self.report.fail(key, f"cannot read: {e.strerror or e}")
                continue
            except VerificationError as e:
                self.report.fail(e.where, e.reason)
                continue
            if size != name_size:
                self.report.fail(
                    key, f"signed tree size is {size}, the object name says {name_size}"
                )
            verified.append(_Checkpoint(key, origin, size, root))
        origins = sorted({c.origin for c in verified})
        if len(origins) > 1:
            self.report.warn("checkpoints/", f"more than one origin: {', '.join(origins)}")
        verified.sort(key=lambda c: c.size)
        return verified

    # -- the log

    def check_log(self, inv: _Inventory, checkpoints: list[_Checkpoint]) -> None:
        """Stream the segments in order: names, lines, envelopes, chain, keys, and each
        checkpoint's root the moment the log reaches its size (RFC 6962 2.1)."""
        self.pending = list(checkpoints)
        self._check_tree_at_size()  # a checkpoint of the empty tree, if any
        self._write_deferred()
        next_first = 0
        prev: str | None = ZERO_PREV
        for seg in inv.segments:
            where = seg.key
            if seg.first > seg.last:
                self.report.fail(where, f"first {seg.first} is after last {seg.last}")
            if seg.first > next_first:
                self.report.fail(
                    where,
                    f"gap: records {next_first}..{seg.first - 1} are in no segment "
                    f"(expected a segment starting at {next_first})",
                )
                prev = None  # the previous record is missing: its hash is unknown
            elif seg.first < next_first:
                self.report.fail(
                    where,
                    f"overlap: records {seg.first}..{min(seg.last, next_first - 1)} "
                    "are also in the previous segment",
                )
            next_first = max(next_first, seg.last + 1)
            prev = self.check_segment(seg, inv, prev)
            self._write_deferred()
        for c in self.pending:
            self.report.fail(
                c.key,
                f"signs a tree of {c.size} records, but the log holds only "
                f"{self.tree.size} (records {self.tree.size}..{c.size - 1} missing)",
            )
        self.pending = []

    def _write_deferred(self) -> None:
        for write, where, text in self.deferred:
            write(where, text)
        self.deferred.clear()

    def _check_tree_at_size(self) -> None:
        """Compare the roots of the checkpoints of the current size; set the next size."""
        while self.pending and self.pending[0].size == self.tree.size:
            c = self.pending.pop(0)
            computed = self.tree.root()
            covered = f"records 0..{c.size - 1}" if c.size else "the empty tree"
            if computed == c.root:
                text = (
                    f"signed by {self.vkey.id}, origin {c.origin}, size {c.size}; "
                    f"root matches {covered}"
                )
                self.deferred.append((self.report.ok, c.key, text))
                self.last_good_size = c.size
                self.matched += 1
            else:
                since = self.last_good_size or 0
                text = (
                    f"root: signed {_b64(c.root)}, {covered} hash to {_b64(computed)}; "
                    f"a record in seq {since}..{c.size - 1} was changed after signing, or the "
                    "checkpoint signs another log"
                )
                self.deferred.append((self.report.fail, c.key, text))
        self.next_checkpoint = self.pending[0].size if self.pending else -1

    def _load_keys(self, seg: _Segment, inv: _Inventory) -> dict[str, str] | None:
        key = seg.keys_key
        if key not in inv.keys:
            self.report.fail(key, f"missing: every segment has its keys object ({seg.key})")
            return None
        inv.keys.discard(key)
        try:
            data = self.source.read(key, MAX_RECORD_FILE)
            keys = parse_keys_object(data, key)
            self.segment_kek = _load_json(data, key)["kek"]
            if self.keks and self.segment_kek not in self.keks:
                self.report.warn(key, f"wrapped by KEK {_show(self.segment_kek)}, which was "
                                 "not given: its records are not decrypted")
            return keys
        except OSError as e:
            self.report.fail(key, f"cannot read: {e.strerror or e}")
        except MalformedInput as e:
            self.report.fail(e.where, e.reason)
        return None

    def check_segment(self, seg: _Segment, inv: _Inventory, prev: str | None) -> str | None:
        """Check every line of one segment, one line in memory at a time; return the hex
        hash of its last record (the next segment's first ``prev``)."""
        report = self.report
        keys = self._load_keys(seg, inv)
        failures_before = report.failures_in(seg.key)
        self.seen_kids = {}
        destroyed: list[int] = []
        count = 0
        try:
            for count, raw in enumerate(self.source.lines(seg.key), start=1):
                prev = self.check_line(seg, count, raw, prev, keys, destroyed)
        except OSError as e:
            report.fail(seg.key, f"cannot read: {e.strerror or e}")
            return None
        report.records += count
        expected = seg.last - seg.first + 1
        if count != expected:
            report.fail(
                seg.key,
                f"holds {count} lines, its name says {expected} (seq {seg.first}..{seg.last})",
                seg.key,
            )
        if destroyed:
            report.destroyed += len(destroyed)
            report.info(
                seg.keys_key,
                f"{len(destroyed)} record(s) destroyed (no data key for "
                f"their kid; envelope kept, content unreadable): seq {_ranges(destroyed)}",
            )
        if report.failures_in(seg.key) == failures_before:
            report.ok(seg.key, f"{count} records, seq {seg.first}..{seg.last}, canonical, chained")
        if keys is not None:
            for media_id in sorted(set(keys) - set(self.seen_kids)):  # no record's: media
                if media_id in self.media_keys:
                    report.fail(seg.keys_key, f"key {_show(media_id)} is also in "
                                f"{self.media_keys[media_id]}; every blob has one data key")
                self.media_keys[media_id] = seg.keys_key
                self.media_wrapped[media_id] = (keys[media_id], self.segment_kek or "")
            live = count - len(destroyed)
            report.ok(
                seg.keys_key,
                f"{live} live record key(s), {len(destroyed)} destroyed, "
                f"{max(len(keys) - live, 0)} other key(s) (media)",
            )
        return prev

    def check_line(
        self,
        seg: _Segment,
        number: int,
        raw: bytes,
        prev: str | None,
        keys: dict[str, str] | None,
        destroyed: list[int],
    ) -> str:
        """Check line ``number`` of a segment and add its record to the tree; return the
        hex hash of the record (ARCHIVE_FORMAT: a line is C(e) followed by "\\n")."""
        seq = seg.first + number - 1
        terminated = raw.endswith(b"\n")
        line = raw[:-1] if terminated else raw
        problems, env = line_problems(line, seq, prev)
        if not terminated:
            problems.insert(0, 'no final "\\n": truncated, or bytes after the last line')
        kid = env.get("kid") if env is not None else None
        if type(kid) is str and kid:
            problems += self._kid_problems(kid, seq)
            if keys is not None and kid not in keys:
                destroyed.append(seq)
            elif keys is not None and env is not None and not problems:
                problems += self._decrypt_record(env, keys[kid], seq)
        if problems:
            self.report.fail(f"{seg.key} line {number} (seq {seq})", "; ".join(problems), seg.key)
        leaf = record_hash(line)
        self.tree.append(leaf)
        if self.tree.size == self.next_checkpoint:
            self._check_tree_at_size()
        return leaf.hex()

    def _unwrap(self, kid: str, wrapped: str, kek_id: str) -> bytes | None:
        """The data key: AES-256-GCM under the KEK, base64(nonce (12) || key || tag), the
        kid (UTF-8) as associated data (docs/format.md "Key objects", alg A256GCM).
        None when that KEK was not given; raises ValueError when it does not unwrap."""
        kek = self.keks.get(kek_id)
        if kek is None:
            return None
        raw = b64decode_strict(wrapped)
        try:
            return AESGCM(kek).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], kid.encode())
        except (InvalidTag, ValueError):
            raise ValueError(f"data key of {_show(kid)} does not unwrap under KEK "
                             f"{_show(kek_id)}") from None

    def _decrypt_record(self, env: dict[str, Any], wrapped: str, seq: int) -> list[str]:
        """Decrypt ``ct`` (associated data: C(e) without ``ct``, ARCHIVE_FORMAT "Record
        envelope"); note the media the payload names. Problems, or none."""
        try:
            data_key = self._unwrap(env["kid"], wrapped, self.segment_kek or "")
            if data_key is None:
                return []
            ad = canonical({k: v for k, v in env.items() if k != "ct"})
            plain = AESGCM(data_key).decrypt(b64decode_strict(env["nonce"]),
                                             b64decode_strict(env["ct"]), ad)
        except ValueError as e:
            return [str(e)]
        except InvalidTag:
            return ["ct: does not decrypt under its data key (AES-GCM tag mismatch)"]
        self.decrypted += 1
        if b'"object":"media/' in plain:
            try:
                media = _load_json(plain, f"seq {seq}").get("media")
            except (MalformedInput, AttributeError):
                return ["payload: not a JSON object"]
            for entry in media if type(media) is list else ():
                obj = entry.get("object") if type(entry) is dict else None
                if type(obj) is str and obj.startswith("media/"):
                    self.media_refs.setdefault(obj[len("media/"):], []).append(
                        (seq, str(entry.get("sha256"))))
        return []

    def _kid_problems(self, kid: str, seq: int) -> list[str]:
        """Every record has its own data key (ARCHIVE_FORMAT "Wrapped data keys"), so a
        kid appears once in the log. Across segments only an 8-byte digest per record
        is kept, to bound memory."""
        earlier = self.seen_kids.get(kid)
        if earlier is not None:
            return [
                f"kid: {_show(kid)} is also the kid of seq {earlier}; every record has its "
                "own data key"
            ]
        self.seen_kids[kid] = seq
        raw = kid.encode("utf-8", "surrogatepass")
        digest = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")
        if digest in self.kid_digests:
            return [
                f"kid: {_show(kid)} is also the kid of a record in an earlier segment; "
                "every record has its own data key"
            ]
        self.kid_digests.add(digest)
        return []

    # -- after the log

    def _decrypt_media(self, inv: _Inventory) -> None:
        """Each blob: nonce (12) || AES-256-GCM ciphertext || tag, its id as associated
        data (docs/format.md "Media objects"); its SHA-256 must be what the records say."""
        opened = 0
        for media_id in sorted(inv.media & set(self.media_wrapped)):
            where = f"media/{media_id}"
            wrapped, kek_id = self.media_wrapped[media_id]
            try:
                data_key = self._unwrap(media_id, wrapped, kek_id)
                if data_key is None:
                    continue
                blob = self.source.read(where, MAX_MEDIA_FILE)
                plain = AESGCM(data_key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:],
                                                 media_id.encode())
            except OSError as e:
                self.report.fail(where, f"cannot read: {e.strerror or e}")
                continue
            except (ValueError, InvalidTag, MalformedInput) as e:
                reason = "does not decrypt under its data key with its id as associated data"
                self.report.fail(where, str(e) if isinstance(e, ValueError) else reason)
                continue
            digest = _sha256(plain).hexdigest()
            refs = self.media_refs.get(media_id, [])
            bad = [seq for seq, sha in refs if sha != digest]
            if bad:
                self.report.fail(where, f"SHA-256 of the decrypted blob is {digest}; the "
                                 f"record(s) seq {_ranges(sorted(bad))} say otherwise")
            elif not refs:
                self.report.warn(where, "decrypts, but no decrypted record names it")
            else:
                opened += 1
        if opened:
            self.report.ok("media/", f"{opened} media blob(s) decrypted; each hashes to the "
                           "sha256 of every record that names it")

    def check_media(self, inv: _Inventory) -> None:
        """Every ``media/<id>`` has its data key in a keys object (as a key of no record
        there), and every such key its ``media/<id>``; the blob itself is encrypted."""
        for media_id in sorted(inv.media - set(self.media_keys)):
            if self.report.destroyed:
                # Disposition destroys a blob's key with its record's; a WORM store may
                # refuse to delete the blob itself until its retention date. Unreadable
                # either way; which record named it is inside the destroyed payloads.
                self.report.warn(
                    f"media/{media_id}",
                    "no keys object holds a key for it: shredded at disposition (the log "
                    "has destroyed records) or an orphan; its content cannot be read",
                )
                continue
            self.report.fail(
                f"media/{media_id}",
                "no keys object holds a key for it: an extra or orphan media object",
            )
        for media_id in sorted(set(self.media_keys) - inv.media):
            self.report.fail(
                f"media/{media_id}",
                f"missing: {self.media_keys[media_id]} holds a data key of no record by "
                "this id, so its media object must exist",
            )
        for media_id in sorted(set(self.media_refs) - inv.media):
            seq = self.media_refs[media_id][0][0]
            self.report.fail(f"media/{media_id}",
                             f"named by the payload of seq {seq}, but there is no such object")
        if self.keks:
            self._decrypt_media(inv)
        found = len(inv.media & set(self.media_keys))
        if found:
            self.report.ok(
                "media/",
                f"{found} media blob(s), each with its data key in the keys object of the "
                "segment that first references it"
                + ("" if self.keks else "; contents encrypted, not checked without the KEK"),
            )

    def check_latest(self, inv: _Inventory) -> None:
        """``checkpoint`` must be a byte-for-byte copy of the newest ``checkpoints/<size>``."""
        if not inv.checkpoints:
            if inv.latest:
                self.report.fail(
                    LATEST_KEY, "present, but there is no checkpoints/<size> it copies"
                )
            return
        newest = inv.checkpoints[max(inv.checkpoints)]
        if not inv.latest:
            self.report.fail(LATEST_KEY, f"missing: must be a copy of {newest}")
            return
        try:
            latest = self.source.read(LATEST_KEY, MAX_SMALL_FILE)
            copied = self.source.read(newest, MAX_SMALL_FILE)
        except (OSError, MalformedInput) as e:
            self.report.fail(LATEST_KEY, f"cannot compare with {newest}: {e}")
            return
        if latest == copied:
            self.report.ok(LATEST_KEY, f"byte-identical to the newest checkpoint, {newest}")
            return
        try:
            _, size, _ = parse_checkpoint_text(parse_note(latest, LATEST_KEY).text, LATEST_KEY)
            claim = f" (it has tree size {size})"
        except MalformedInput:
            claim = " (and is not a parseable checkpoint)"
        self.report.fail(LATEST_KEY, f"not byte-identical to the newest checkpoint {newest}{claim}")

    def check_coverage(self, inv: _Inventory, checkpoints: list[_Checkpoint]) -> None:
        """Say what the signed checkpoints cover, and whether they are consistent."""
        n = self.tree.size
        if n == 0 and not inv.segments:
            self.report.warn("store", "no segments: the store holds no records")
        if not checkpoints:
            if n and not inv.checkpoints:
                self.report.fail(
                    "checkpoints/",
                    f"no checkpoint: none of the {n} records is covered by a signed tree head",
                )
            return
        newest = max(c.size for c in checkpoints)
        if n > newest:
            self.report.warn(
                "log/",
                f"records {newest}..{n - 1} ({n - newest}) are not yet "
                "checkpointed: no signature covers them yet",
            )
        if len(checkpoints) > 1 and self.matched == len(checkpoints):
            self.report.ok(
                "checkpoints/",
                f"the {len(checkpoints)} signed trees are consistent: "
                "each root was recomputed from one sequence of record hashes, so each "
                "tree is a prefix of the next (RFC 9162 2.1.4)",
            )


def verify_store(store: Path | ObjectSource, vkey: VerifierKey, report: Report,
                 keks: Mapping[str, bytes] | None = None) -> None:
    """Verify a store, writing findings to ``report``: a directory (the object keys as
    relative paths) or any ``ObjectSource``, such as an ``S3Source``; with ``keks`` (KEK
    id -> key, ``parse_kek``) it also decrypts records and media. Raises
    ``MalformedInput`` if a directory is not one, ``StoreUnavailable`` if the store
    cannot be read at all."""
    if isinstance(store, Path):
        if not store.is_dir():
            raise MalformedInput(str(store), "not a directory")
        store = DirectorySource(store)
    verifier = _StoreVerifier(store, vkey, report, keks)
    verifier.run()
    if keks:
        report.info("store", f"{verifier.decrypted} record(s) decrypted with the given KEK(s)")


def parse_kek(data: bytes, where: str) -> tuple[str, bytes]:
    """A KEK file as this project writes it: ``{"id": "<KEK id>", "key": "<base64 of 32
    bytes>"}`` (docs/format.md, "Keys kept outside the store")."""
    obj = _load_json(data, where)
    if type(obj) is not dict or type(obj.get("id")) is not str or not obj["id"]:
        raise MalformedInput(where, 'expected {"id": "<KEK id>", "key": "<base64>"}')
    try:
        key = b64decode_strict(obj.get("key"))
    except (ValueError, TypeError):
        raise MalformedInput(where, "key: not base64") from None
    if len(key) != 32:
        raise MalformedInput(where, f"key: {len(key)} bytes, a KEK has 32")
    return obj["id"], key


# --------------------------------------------------------------------------- one record


def _read_input(path: str, what: str, limit: int = MAX_SMALL_FILE) -> bytes:
    try:
        return _read_limited(Path(path), limit, path)
    except IsADirectoryError:
        raise MalformedInput(path, f"{what}: is a directory") from None
    except OSError as e:
        raise MalformedInput(path, f"{what}: cannot read: {e.strerror or e}") from None


def _verified_checkpoint(path: str, vkey: VerifierKey, report: Report) -> _Checkpoint | None:
    data = _read_input(path, "checkpoint")
    report.checkpoints += 1
    try:
        origin, size, root = verify_note(data, vkey, path)
    except MalformedInput:
        raise
    except VerificationError as e:
        report.fail(e.where, e.reason)
        return None
    report.ok(path, f"signed by {vkey.id}, origin {origin}, tree size {size}")
    return _Checkpoint(path, origin, size, root)


def verify_record(
    record_path: str, proof_path: str, checkpoint_path: str, vkey: VerifierKey, report: Report
) -> None:
    """Check that the record in ``record_path`` is in the tree a verified checkpoint
    signs. Size and root come only from the checkpoint, the leaf hash from the record's
    canonical bytes, the index from its ``seq``; the proof's own seq, tree_size and
    leaf_hash are hints that must agree (ARCHIVE_FORMAT "Proofs")."""
    checkpoint = _verified_checkpoint(checkpoint_path, vkey, report)
    doc = _load_json(_read_input(record_path, "record", MAX_RECORD_FILE), record_path)
    env = doc["envelope"] if type(doc) is dict and "envelope" in doc else doc
    if type(env) is not dict:
        raise MalformedInput(record_path, 'expected an envelope object (or {"envelope": {...}})')
    proof = parse_inclusion_proof(_read_input(proof_path, "inclusion proof"), proof_path)
    report.records += 1
    if proof.unknown_members:
        report.warn(
            proof_path, f"members not in the format, ignored: {', '.join(proof.unknown_members)}"
        )
    problems = envelope_problems(env)
    if problems:
        report.fail(record_path, "; ".join(problems))
    seq = env.get("seq")
    try:
        leaf = record_hash(canonical(env))
    except (ValueError, RecursionError) as e:  # e.g. a lone surrogate cannot be UTF-8
        report.fail(record_path, f"no canonical bytes C(e): {e}")
        return
    if type(seq) is not int or seq < 0:
        return
    where = f"{record_path} (seq {seq})"
    if proof.seq != seq:
        report.fail(proof_path, f"seq: the proof says {proof.seq}, the record is seq {seq}")
    if proof.leaf_hash != leaf:
        report.fail(
            proof_path,
            f"leaf_hash: the proof says {_b64(proof.leaf_hash)}, the record's "
            f"canonical bytes hash to {_b64(leaf)}",
        )
    if checkpoint is None:
        return
    if proof.tree_size != checkpoint.size:
        report.fail(
            proof_path,
            f"tree_size: the proof says {proof.tree_size}, the checkpoint signs {checkpoint.size}",
        )
    try:
        computed = root_from_inclusion_proof(leaf, seq, checkpoint.size, proof.hashes)
    except VerificationError as e:
        report.fail(where, f"not included: {e.reason}")
        return
    if computed != checkpoint.root:
        report.fail(
            where,
            f"not included: the audit path leads to root {_b64(computed)}, the "
            f"checkpoint signs {_b64(checkpoint.root)}",
        )
        return
    report.ok(
        where,
        f"leaf hash {_b64(leaf)} is leaf {seq} of the signed tree of size "
        f"{checkpoint.size} (RFC 9162 2.1.3.2)",
    )


def verify_consistency_files(
    old_path: str, new_path: str, proof_path: str, vkey: VerifierKey, report: Report
) -> None:
    """Check that two verified checkpoints are consistent: the newer tree extends the
    older (RFC 9162 section 2.1.4.2). Sizes and roots come only from the notes."""
    old = _verified_checkpoint(old_path, vkey, report)
    new = _verified_checkpoint(new_path, vkey, report)
    proof = parse_consistency_proof(_read_input(proof_path, "consistency proof"), proof_path)
    if proof.unknown_members:
        report.warn(
            proof_path, f"members not in the format, ignored: {', '.join(proof.unknown_members)}"
        )
    if old is None or new is None:
        return
    if old.origin != new.origin:
        report.fail(
            new_path, f"origin {new.origin!r} differs from the old checkpoint's {old.origin!r}"
        )
    if (proof.old_size, proof.new_size) != (old.size, new.size):
        report.fail(
            proof_path,
            f"sizes: the proof says {proof.old_size} -> {proof.new_size}, the "
            f"checkpoints sign {old.size} -> {new.size}",
        )
    where = f"{old_path} -> {new_path}"
    if old.size > new.size:
        report.fail(where, f"the old checkpoint ({old.size}) is larger than the new ({new.size})")
        return
    if old.size == 0 or old.size == new.size:
        if verify_consistency(old.size, new.size, old.root, new.root, proof.hashes):
            report.ok(where, f"tree {new.size} extends tree {old.size} (trivially)")
        else:
            report.fail(
                where,
                "not consistent: equal sizes need equal roots and an empty proof; "
                "size 0 needs the empty root and an empty proof",
            )
        return
    try:
        old_root, new_root = roots_from_consistency_proof(
            old.size, new.size, old.root, proof.hashes
        )
    except VerificationError as e:
        report.fail(where, f"not consistent: {e.reason}")
        return
    if old_root != old.root or new_root != new.root:
        report.fail(
            where,
            f"not consistent: the proof leads to roots {_b64(old_root)} and "
            f"{_b64(new_root)}, the checkpoints sign {_b64(old.root)} and {_b64(new.root)}",
        )
        return
    report.ok(where, f"the tree of {new.size} extends the tree of {old.size} (RFC 9162 2.1.4.2)")


# --------------------------------------------------------------------------- bundles


BAGIT_DECLARATION = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MAX_BUNDLE_MEMBER = 4 << 30
# The one manifest line form the archive writes (RFC 8493 section 2.1.3 allows any run of
# linear whitespace; accepting only one form means no byte of a manifest can change
# unnoticed, the tag manifest's own bytes included).
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  ([^\r\n]+)")
_RECORD_MEMBER = re.compile(r"data/records/([0-9]{12})\.json")
_PROOF_MEMBER = re.compile(r"data/proofs/inclusion/([0-9]{12})\.json")


def _bag_path(text: str) -> str:
    """A manifest path as a member name: RFC 8493 2.1.3 percent-encodes CR, LF and %."""
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


class _Bundle:
    """One zipped bag: its members by path inside the bag's single top directory."""

    def __init__(self, path: str, report: Report) -> None:
        self.path = path
        self.report = report
        try:
            self.zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise MalformedInput(path, "no such file") from None
        except IsADirectoryError:
            raise MalformedInput(path, "is a directory") from None
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise MalformedInput(path, f"not a readable zip file: {e}") from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.top = ""

    def index(self) -> bool:
        """Find the bag's top directory and its members; False when there is no bag."""
        infos = [i for i in self.zip.infolist() if not i.is_dir()]
        tops = sorted({i.filename.split("/", 1)[0] for i in infos})
        if len(tops) != 1 or not all("/" in i.filename for i in infos):
            self.report.fail(self.path, f"a bag zip holds one top directory, found {tops[:5]}")
            return False
        self.top = tops[0]
        for i in infos:
            rel = i.filename.split("/", 1)[1]
            unsafe = rel.startswith("/") or "\\" in rel or ".." in rel.split("/")
            if unsafe:
                self.report.fail(f"{self.top}/{rel}", "member name is not a safe relative path")
            elif rel in self.members:
                self.report.fail(f"{self.top}/{rel}", "member appears twice in the zip")
            else:
                self.members[rel] = i
        return True

    def read(self, rel: str, limit: int = MAX_RECORD_FILE) -> bytes | None:
        """A member's bytes, or None (and a FAIL) when absent, too large or damaged."""
        info = self.members.get(rel)
        where = f"{self.top}/{rel}"
        if info is None:
            self.report.fail(where, "missing from the bag")
            return None
        if info.file_size > limit:
            self.report.fail(where, f"{info.file_size} bytes, more than the {limit} expected")
            return None
        try:
            return self.zip.read(info)
        except Exception as e:  # noqa: BLE001 - a damaged member (CRC, deflate): say so
            self.report.fail(where, f"cannot be read from the zip: {e}")
            return None

    def sha256(self, rel: str) -> str | None:
        info = self.members[rel]
        h = hashlib.sha256()
        try:
            with self.zip.open(info) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except Exception as e:  # noqa: BLE001 - a damaged member (CRC, deflate): say so
            self.report.fail(f"{self.top}/{rel}", f"cannot be read from the zip: {e}")
            return None
        return h.hexdigest()


def _check_manifest(bundle: _Bundle, name: str, payload: bool) -> set[str]:
    """Check every line of a manifest; returns the paths it lists."""
    report = bundle.report
    data = bundle.read(name, 256 << 20)
    listed: set[str] = set()
    if data is None:
        return listed
    where = f"{bundle.top}/{name}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        report.fail(where, f"not UTF-8 (byte {e.start})")
        return listed
    if text and not text.endswith("\n"):
        report.fail(where, "does not end with a newline")
    bad = matched = 0
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else
                             text.split("\n"), start=1):
        m = _MANIFEST_LINE.fullmatch(line)
        if m is None:
            report.fail(f"{where} line {n}", f"not '<64 lowercase hex>  <path>': {_show(line)}",
                        where)
            continue
        digest, rel = m.group(1), _bag_path(m.group(2))
        if rel in listed:
            report.fail(f"{where} line {n}", f"{rel} is listed twice", where)
            continue
        listed.add(rel)
        if rel.startswith("data/") != payload:
            report.fail(f"{where} line {n}", f"{rel}: a {'payload' if payload else 'tag'} "
                        f"manifest lists only {'data/' if payload else 'tag'} files", where)
            continue
        if rel not in bundle.members:
            report.fail(f"{bundle.top}/{rel}", f"listed in {name} but missing from the bag")
            bad += 1
            continue
        found = bundle.sha256(rel)
        if found is None:
            bad += 1
        elif found != digest:
            report.fail(f"{bundle.top}/{rel}", f"SHA-256 {found}, {name} says {digest}")
            bad += 1
        else:
            matched += 1
    if not bad:
        report.ok(where, f"{matched} files match their SHA-256")
    return listed


def _check_records(bundle: _Bundle, size: int | None, root: bytes | None) -> list[dict[str, Any]]:
    """Every record's hash, and its inclusion proof against the verified checkpoint."""
    report = bundle.report
    records = {m.group(1): rel for rel in bundle.members
               if (m := _RECORD_MEMBER.fullmatch(rel))}
    proofs = {m.group(1): rel for rel in bundle.members if (m := _PROOF_MEMBER.fullmatch(rel))}
    for orphan in sorted(set(proofs) - set(records)):
        report.fail(f"{bundle.top}/{proofs[orphan]}", "an inclusion proof of no record in the "
                    "bag")
    out = []
    for name in sorted(records):
        rel = records[name]
        where = f"{bundle.top}/{rel}"
        report.records += 1
        data = bundle.read(rel)
        if data is None:
            continue
        try:
            doc = _load_json(data, where)
        except MalformedInput as e:
            report.fail(where, e.reason)
            continue
        env = doc.get("envelope") if type(doc) is dict else None
        if type(env) is not dict:
            report.fail(where, "expected an object with an envelope")
            continue
        problems = envelope_problems(env, int(name))
        if problems:
            report.fail(where, "; ".join(problems))
            continue
        leaf = record_hash(canonical(env))
        if doc.get("record_hash") != leaf.hex() or doc.get("seq") != env["seq"]:
            report.fail(where, f"record_hash/seq: the file says {_show(doc.get('record_hash'))} "
                        f"seq {_show(doc.get('seq'))}, the envelope is seq {env['seq']} and "
                        f"hashes to {leaf.hex()}")
            continue
        out.append(doc)
        if name not in proofs:
            report.fail(where, "no inclusion proof in data/proofs/inclusion/")
            continue
        proof_data = bundle.read(proofs[name], MAX_SMALL_FILE)
        if proof_data is None or size is None or root is None:
            continue
        try:
            proof = parse_inclusion_proof(proof_data, f"{bundle.top}/{proofs[name]}")
        except MalformedInput as e:
            report.fail(e.where, e.reason)
            continue
        if (proof.seq, proof.tree_size, proof.leaf_hash) != (env["seq"], size, leaf):
            report.fail(f"{bundle.top}/{proofs[name]}", "seq, tree_size or leaf_hash differ from "
                        "the record and the checkpoint")
            continue
        try:
            computed = root_from_inclusion_proof(leaf, env["seq"], size, proof.hashes)
        except VerificationError as e:
            report.fail(where, f"not included: {e.reason}")
            continue
        if computed != root:
            report.fail(where, f"not included: the audit path leads to root {_b64(computed)}, "
                        f"the checkpoint signs {_b64(root)}")
            continue
        report.ok(where, f"seq {env['seq']} is leaf {env['seq']} of the signed tree of size "
                  f"{size} (RFC 9162 2.1.3.2)")
    return out


def verify_bundle(path: str, vkey: VerifierKey | None, report: Report) -> None:
    """Check an evidence package (a BagIt bag in a zip, docs/exports.md): the bag's
    declaration and manifests, every record's hash and inclusion proof, and the bundled
    checkpoint's signature by ``vkey`` (or, without it, by the bundled verifier key,
    which proves only that the package agrees with itself)."""
    bundle = _Bundle(path, report)
    if not bundle.index():
        return
    top = bundle.top
    declaration = bundle.read("bagit.txt", MAX_SMALL_FILE)
    if declaration is not None and declaration != BAGIT_DECLARATION:
        report.fail(f"{top}/bagit.txt", f"expected {BAGIT_DECLARATION!r}, found "
                    f"{_show(declaration)}")
    payload = _check_manifest(bundle, "manifest-sha256.txt", payload=True)
    tags = _check_manifest(bundle, "tagmanifest-sha256.txt", payload=False)
    for rel in sorted(bundle.members):
        if rel.startswith("data/") and rel not in payload:
            report.fail(f"{top}/{rel}", "a payload file not in manifest-sha256.txt")
        elif not rel.startswith("data/") and rel != "tagmanifest-sha256.txt" and rel not in tags:
            report.fail(f"{top}/{rel}", "a tag file not in tagmanifest-sha256.txt")
    for required in ("manifest-sha256.txt", "bag-info.txt", "chain-of-custody.json"):
        if required not in tags:
            report.fail(f"{top}/tagmanifest-sha256.txt", f"does not list {required}")
    info = bundle.read("bag-info.txt", MAX_SMALL_FILE)
    if info is not None:
        octets = sum(bundle.members[p].file_size for p in payload if p in bundle.members)
        oxum = f"Payload-Oxum: {octets}.{len(payload)}\n"
        if oxum.encode() not in info:
            report.fail(f"{top}/bag-info.txt", f"Payload-Oxum differs from the payload "
                        f"({oxum.strip()})")
    size = root = None
    if vkey is None:
        vkey_text = bundle.read("data/proofs/vkey.txt", MAX_SMALL_FILE)
        if vkey_text is not None:
            try:
                vkey = parse_vkey(vkey_text)
            except MalformedInput as e:
                report.fail(f"{top}/data/proofs/vkey.txt", e.reason)
        if vkey is not None:
            report.warn(f"{top}/data/proofs/vkey.txt", f"using the bundled verifier key "
                        f"{vkey.id}: this proves only that the package agrees with itself; "
                        f"give the archive's key, obtained separately, with --vkey")
    note = bundle.read("data/proofs/checkpoint", MAX_SMALL_FILE)
    if note is not None and vkey is not None:
        report.checkpoints += 1
        try:
            origin, size, root = verify_note(note, vkey, f"{top}/data/proofs/checkpoint")
            report.ok(f"{top}/data/proofs/checkpoint", f"signed by {vkey.id}, origin {origin}, "
                      f"tree size {size}")
        except VerificationError as e:
            report.fail(e.where, e.reason)
    docs = _check_records(bundle, size, root)
    custody = bundle.read("chain-of-custody.json", MAX_RECORD_FILE)
    if custody is not None:
        try:
            c = _load_json(custody, f"{top}/chain-of-custody.json")
            listed = {(r["seq"], r["record_hash"]) for r in c["records"]}
            ok_size = size is None or c["checkpoint"]["size"] == size
        except (MalformedInput, KeyError, TypeError) as e:
            report.fail(f"{top}/chain-of-custody.json", f"not the custody record: {e}")
            return
        found = {(d["seq"], d["record_hash"]) for d in docs}
        if listed != found or not ok_size:
            report.fail(f"{top}/chain-of-custody.json", f"lists {len(listed)} records and "
                        f"checkpoint {c['checkpoint'].get('size')}; the bag holds {len(found)} "
                        f"verified records and checkpoint {size}")
        for d in c.get("disposed") or []:
            report.destroyed += 1
            report.info(f"{top}/chain-of-custody.json", f"seq {d.get('seq')} was disposed of "
                        f"at {d.get('destroyed_at')}: listed, not exported")


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archiver-verify",
        description="Verify an archive (format v1) offline, with only its verifier key.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    store = sub.add_parser("store", help="verify a whole store: a directory or an S3 prefix")
    store.add_argument(
        "store",
        metavar="DIR_OR_S3_URL",
        help="store root holding log/, keys/, checkpoints/, checkpoint: a directory, "
        "or s3://BUCKET[/PREFIX]",
    )
    store.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="S3 endpoint, e.g. http://127.0.0.1:8333 (default: $AWS_ENDPOINT_URL_S3, "
        "$AWS_ENDPOINT_URL, else AWS S3 in the region)",
    )
    store.add_argument(
        "--region",
        help="S3 signing region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)",
    )
    record = sub.add_parser("record", help="verify one record's inclusion proof")
    record.add_argument("record", help='envelope JSON, or {"envelope": ...}')
    record.add_argument("proof", help="inclusion proof JSON")
    record.add_argument("checkpoint", help="signed checkpoint note")
    consistency = sub.add_parser("consistency", help="verify a consistency proof")
    consistency.add_argument("old_checkpoint")
    consistency.add_argument("new_checkpoint")
    consistency.add_argument("proof", help="consistency proof JSON")
    for p in (store, record, consistency):
        p.add_argument("--vkey", required=True, metavar="FILE", help="verifier key file")
    store.add_argument(
        "--kek", action="append", default=[], metavar="FILE",
        help='a KEK file ({"id", "key"}); repeat for retired KEKs: also decrypt every '
        "record and media blob and check each blob against its records' sha256",
    )
    bundle = sub.add_parser("bundle", help="verify an evidence package (BagIt zip)")
    bundle.add_argument("bundle", metavar="FILE.zip", help="the package from archiver export")
    bundle.add_argument("--vkey", metavar="FILE", help="the archive's verifier key, obtained "
                        "separately (default: the bundled one, with a warning)")
    return parser


def _store_location(args: argparse.Namespace, env: Mapping[str, str]) -> Path | S3Source:
    """The store argument: ``s3://BUCKET[/PREFIX]`` (credentials and endpoint from the
    options and the standard AWS variables), or else a directory."""
    if args.store.startswith("s3://"):
        bucket, prefix = parse_s3_url(args.store)
        region = args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        region = region or "us-east-1"
        endpoint = (
            args.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        )
        endpoint = endpoint or f"https://s3.{region}.amazonaws.com"
        return S3Source(endpoint, bucket, prefix, region, S3Credentials.from_env(env))
    if args.endpoint_url or args.region:
        raise MalformedInput(args.store, "--endpoint-url and --region apply to s3:// stores only")
    return Path(args.store)


def _vkey(path: str) -> VerifierKey:
    try:
        return parse_vkey(_read_input(path, "verifier key"))
    except MalformedInput as e:
        if e.where == path:
            raise
        raise MalformedInput(path, f"{e.where}: {e.reason}") from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``archiver-verify``; returns the exit status (0, 1 or 2)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error
        return e.code if isinstance(e.code, int) else 2
    report = Report(sys.stdout)
    try:
        if args.command == "bundle":
            verify_bundle(args.bundle, _vkey(args.vkey) if args.vkey else None, report)
            return 0 if report.summary()["ok"] else 1
        vkey_text = _read_input(args.vkey, "verifier key")
        try:
            vkey = parse_vkey(vkey_text)
        except MalformedInput as e:
            raise MalformedInput(args.vkey, f"{e.where}: {e.reason}") from None
        if args.command == "store":
            keks = dict(parse_kek(_read_input(path, "KEK file"), path) for path in args.kek)
            verify_store(_store_location(args, os.environ), vkey, report, keks)
        elif args.command == "record":
            verify_record(args.record, args.proof, args.checkpoint, vkey, report)
        else:
            verify_consistency_files(
                args.old_checkpoint, args.new_checkpoint, args.proof, vkey, report
            )
    except (MalformedInput, StoreUnavailable) as e:
        print(f"ERROR {e.where}: {e.reason}", file=sys.stderr)
        report.summary(error=f"{e.where}: {e.reason}")
        return 2
    except KeyboardInterrupt:
        print("ERROR interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback at an auditor; say what broke instead
        print(f"ERROR internal: {type(e).__name__}: {e}", file=sys.stderr)
        report.summary(error=f"internal: {type(e).__name__}: {e}")
        return 2
    return 0 if report.summary()["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
