"""Envelope encryption: a fresh AES-256-GCM data key per record, wrapped by a KEK.

Disposition destroys a record by deleting its wrapped data key (crypto-shredding), so a
data key must never be derivable from anything that survives: keys are random, used
once, and wrapped under a key-encryption key (KEK) that never leaves its provider.

Wrapping (`alg` = "A256GCM" in the keys objects): AES-256-GCM under the KEK with a
random 12-byte nonce and the kid (UTF-8) as associated data, so a wrapped key cannot be
moved to another kid; the wrapped value is base64(nonce || ciphertext || tag).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archiver.errors import ConfigError, IntegrityError, KeyUnavailable

WRAP_ALG = "A256GCM"


class KeyEncryptionKey(Protocol):
    """A KEK provider: wraps and unwraps 32-byte data keys, never exposing itself."""

    kek_id: str
    alg: str

    def wrap(self, kid: str, data_key: bytes) -> str: ...

    def unwrap(self, kid: str, wrapped: str, kek_id: str | None = None) -> bytes: ...


class LocalKek:
    """KEK held in a local file (embedded default): JSON {"id": ..., "key": base64}, mode 0600."""

    alg = WRAP_ALG

    def __init__(self, kek_id: str, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("a KEK must be 32 bytes")
        self.kek_id = kek_id
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls, path: Path) -> LocalKek:
        key = AESGCM.generate_key(bit_length=256)
        kek_id = "local-" + secrets.token_hex(8)
        write_secret_file(path, json.dumps({"id": kek_id, "key": base64.b64encode(key).decode()}))
        return cls(kek_id, key)

    @classmethod
    def load(cls, path: Path) -> LocalKek:
        try:
            doc = json.loads(path.read_text())
            return cls(doc["id"], base64.b64decode(doc["key"], validate=True))
        except FileNotFoundError:
            raise ConfigError(f"KEK file {path} does not exist (run `archiver init`)") from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"KEK file {path} is malformed") from None

    def wrap(self, kid: str, data_key: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, data_key, kid.encode())).decode()

    def unwrap(self, kid: str, wrapped: str, kek_id: str | None = None) -> bytes:
        if kek_id is not None and kek_id != self.kek_id:
            raise KeyUnavailable(f"data key {kid} is wrapped by KEK {kek_id}, not {self.kek_id}")
        try:
            raw = base64.b64decode(wrapped, validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], kid.encode())
        except (InvalidTag, ValueError):
            raise KeyUnavailable(f"data key {kid} does not unwrap under KEK {self.kek_id}") \
                from None


class KekRing:
    """The current KEK (wraps new keys) and the others still needed to unwrap old ones.

    Rotation re-wraps every data key under a new KEK; until it has finished, some key
    objects name the old KEK and some the new one, so unwrapping picks by the KEK id
    recorded with the wrapped key. Files: kek.json (current), kek.next.json (a rotation
    under way), retired/<id>.json (kept only until the operator destroys them).
    """

    def __init__(self, current: LocalKek, others: list[LocalKek] | None = None) -> None:
        self.current = current
        self.by_id = {k.kek_id: k for k in [*(others or []), current]}

    @property
    def kek_id(self) -> str:
        return self.current.kek_id

    @property
    def alg(self) -> str:
        return self.current.alg

    @classmethod
    def load(cls, kek_path: Path) -> KekRing:
        current = LocalKek.load(kek_path)
        others = [LocalKek.load(p) for p in sorted(kek_path.parent.glob("retired/*.json"))]
        nxt = kek_path.with_name("kek.next.json")
        if nxt.exists():
            others.append(LocalKek.load(nxt))
        return cls(current, others)

    def wrap(self, kid: str, data_key: bytes) -> str:
        return self.current.wrap(kid, data_key)

    def unwrap(self, kid: str, wrapped: str, kek_id: str | None = None) -> bytes:
        kek = self.by_id.get(kek_id or self.current.kek_id)
        if kek is None:
            raise KeyUnavailable(f"data key {kid} is wrapped by KEK {kek_id}, which this "
                                 f"archive does not hold")
        return kek.unwrap(kid, wrapped)


def write_secret_file(path: Path, text: str) -> None:
    """Create a secret file readable by its owner only; refuses to overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists already; refusing to overwrite a key") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def new_kid() -> str:
    """A random data-key id: 128 bits, hex; unlinkable to the record's content."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Sealed:
    nonce: str
    ct: str


def seal(data_key: bytes, plaintext: bytes, associated_data: bytes, nonce: bytes) -> str:
    """AES-256-GCM ciphertext || tag, standard base64."""
    return base64.b64encode(AESGCM(data_key).encrypt(nonce, plaintext, associated_data)).decode()


def open_sealed(data_key: bytes, nonce_b64: str, ct_b64: str, associated_data: bytes,
                *, seq: int | None = None) -> bytes:
    try:
        return AESGCM(data_key).decrypt(base64.b64decode(nonce_b64), base64.b64decode(ct_b64),
                                        associated_data)
    except (InvalidTag, ValueError):
        raise IntegrityError("ciphertext does not decrypt with its data key", seq) from None


MEDIA_NONCE_BYTES = 12
MEDIA_OVERHEAD = MEDIA_NONCE_BYTES + 16  # nonce before, GCM tag after the ciphertext


def seal_blob(data_key: bytes, media_id: str, plaintext: bytes) -> bytes:
    """A media object's bytes: nonce (12) || AES-256-GCM ciphertext || tag (16), with the
    media id (ASCII) as associated data, so a blob cannot pass for another id's."""
    nonce = os.urandom(MEDIA_NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, media_id.encode())


def open_blob(data_key: bytes, media_id: str, blob: bytes) -> bytes:
    """The plaintext of a media object; IntegrityError when it does not decrypt."""
    if len(blob) < MEDIA_OVERHEAD:
        raise IntegrityError(f"media object of {len(blob)} bytes is shorter than nonce and "
                             f"tag", where=f"media/{media_id}")
    try:
        return AESGCM(data_key).decrypt(blob[:MEDIA_NONCE_BYTES], blob[MEDIA_NONCE_BYTES:],
                                        media_id.encode())
    except InvalidTag:
        raise IntegrityError("media object does not decrypt with its data key",
                             where=f"media/{media_id}") from None


class Fingerprinter:
    """Keyed content fingerprints (HMAC-SHA256) for edit detection.

    A plain hash of a short post could be confirmed by guessing even after the post's
    key is destroyed; an HMAC under a secret kept like the KEK cannot.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def generate(cls, path: Path) -> Fingerprinter:
        key = secrets.token_bytes(32)
        write_secret_file(path, base64.b64encode(key).decode())
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> Fingerprinter:
        try:
            return cls(base64.b64decode(path.read_text().strip(), validate=True))
        except FileNotFoundError:
            raise ConfigError(f"fingerprint key {path} does not exist (run `archiver init`)") \
                from None
        except ValueError:
            raise ConfigError(f"fingerprint key {path} is malformed") from None

    def fingerprint(self, content: bytes) -> str:
        return hmac.new(self._key, content, hashlib.sha256).hexdigest()

    def media(self, sha256_hex: str) -> str:
        """The catalog's dedupe key of a media file: keyed, so the catalog holds no plain
        hash by which a known file could be confirmed (ARCHITECTURE.md, invariants)."""
        return self.fingerprint(b"media\x00" + bytes.fromhex(sha256_hex))
