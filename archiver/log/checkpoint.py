"""Signed checkpoints: a C2SP tlog-checkpoint inside a C2SP signed note (Ed25519).

Text:  "<origin>\\n<size>\\n<base64 root>\\n"; then an empty line; then
"— <key name> <base64(key hash(4) || signature(64))>\\n" where the key hash is the first
4 bytes of SHA-256(name || "\\n" || 0x01 || public key) and the signature covers the text.
The verifier key is "<name>+<8 hex of key hash>+<base64(0x01 || public key)>", the
format golang.org/x/mod/sumdb/note reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.errors import ConfigError, IntegrityError
from archiver.log.crypto import write_secret_file

_ALG_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "
_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]*")  # decimal, ASCII digits, no leading zeros


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + public).digest()[:4]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


class CheckpointSigner:
    """The archive's Ed25519 checkpoint key; its name is the log's origin."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        if not _NAME.fullmatch(name):
            raise ConfigError(f"key name {name!r} must have no spaces or '+'")
        self.name = name
        self._private = private
        self.public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_hash = _key_hash(name, self.public)

    @classmethod
    def generate(cls, path: Path, name: str) -> CheckpointSigner:
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        write_secret_file(path, json.dumps({"name": name, "key": base64.b64encode(seed).decode()}))
        return cls(name, private)

    @classmethod
    def load(cls, path: Path) -> CheckpointSigner:
        try:
            doc = json.loads(path.read_text())
            seed = base64.b64decode(doc["key"], validate=True)
            return cls(doc["name"], Ed25519PrivateKey.from_private_bytes(seed))
        except FileNotFoundError:
            raise ConfigError(f"signing key {path} does not exist (run `archiver init`)") from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"signing key {path} is malformed") from None

    def vkey(self) -> str:
        return (f"{self.name}+{self.key_hash.hex()}+"
                f"{base64.b64encode(_ALG_ED25519 + self.public).decode()}")

    def sign(self, cp: Checkpoint) -> bytes:
        text = cp.text()
        sig = base64.b64encode(self.key_hash + self._private.sign(text)).decode()
        return text + b"\n" + f"{_SIG_PREFIX}{self.name} {sig}\n".encode()

    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier.from_vkey(self.vkey())


@dataclass(frozen=True, slots=True)
class CheckpointVerifier:
    name: str
    key_hash: bytes
    public: Ed25519PublicKey

    @classmethod
    def from_vkey(cls, vkey: str) -> CheckpointVerifier:
        try:
            name, hash_hex, key_b64 = vkey.strip().split("+", 2)
            raw = base64.b64decode(key_b64, validate=True)
            if raw[:1] != _ALG_ED25519 or len(raw) != 33 or len(hash_hex) != 8:
                raise ValueError
            key_hash = bytes.fromhex(hash_hex)
            if _key_hash(name, raw[1:]) != key_hash:
                raise ValueError
            return cls(name, key_hash, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, binascii.Error):
            raise ConfigError("malformed verifier key") from None

    def verify(self, note: bytes, *, where: str = "checkpoint") -> Checkpoint:
        """Check the note's signature by this key and parse its checkpoint, or raise."""
        text, sep, sigs = note.partition(b"\n\n")
        if not sep or not text:
            raise IntegrityError("not a signed note (no blank line after the text)", where=where)
        text += b"\n"
        ok = False
        for line in sigs.split(b"\n"):
            if not line:
                continue
            try:
                s = line.decode()
                if not s.startswith(_SIG_PREFIX):
                    raise ValueError
                name, b64 = s[len(_SIG_PREFIX):].split(" ")
                raw = base64.b64decode(b64, validate=True)
                if base64.b64encode(raw).decode() != b64:  # one encoding per byte string
                    raise ValueError
            except (ValueError, UnicodeDecodeError, binascii.Error):
                raise IntegrityError("malformed signature line", where=where) from None
            if name == self.name and raw[:4] == self.key_hash:
                try:
                    self.public.verify(raw[4:], text)
                    ok = True
                except InvalidSignature:
                    raise IntegrityError("checkpoint signature does not verify",
                                         where=where) from None
        if not ok:
            raise IntegrityError(f"no signature by {self.name}", where=where)
        if not sigs.endswith(b"\n"):
            raise IntegrityError("note does not end with a newline", where=where)
        try:
            origin, size_s, root_b64, *rest = text.decode().split("\n")
            if rest != [""] or not _SIZE.fullmatch(size_s):
                raise ValueError
            root = base64.b64decode(root_b64, validate=True)
            if len(root) != 32 or base64.b64encode(root).decode() != root_b64:
                raise ValueError
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise IntegrityError("malformed checkpoint text", where=where) from None
        return Checkpoint(origin, int(size_s), root)
