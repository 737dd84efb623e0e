"""API bearer tokens: create (the value is shown once), list, revoke, verify. No Flask here.

A token is ``arch_`` followed by 32 random bytes (256 bits) in base64url; the prefix lets
secret scanners recognise a leaked one. The catalog keeps only its SHA-256. A fast,
unsalted hash is the right tool for this and a password KDF (bcrypt, scrypt, Argon2) is
not: those exist to make guessing a low-entropy *password* expensive, and there is nothing
to guess in 256 random bits, so a SHA-256 preimage is out of reach however fast the hash.
Being deterministic, the hash is also the lookup key: verifying a request is one indexed
query, no per-row KDF and no secret-dependent comparison loop. Whoever reads the catalog
learns ids, names and roles, never a usable token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.catalog.db import Catalog
from archiver.errors import InvalidRequest, NotFound, Unauthorized
from archiver.times import format_time

ROLES = ("admin", "records_officer", "legal", "auditor")
TOKEN_PREFIX = "arch_"
_TOKEN_CHARS = len(TOKEN_PREFIX) + 43  # 32 bytes in unpadded base64url
MAX_NAME_CHARS = 128

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenInfo:
    """Everything about a token except its value, which exists only in the caller's hands."""

    id: str
    name: str
    roles: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "roles": list(self.roles),
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def token_hash(value: str) -> str:
    """The stored form of a token: SHA-256 of its UTF-8 bytes, hex (see the module doc)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _info(row: Any) -> TokenInfo:
    return TokenInfo(row.id, row.name, tuple(row.roles.split()), row.created_at, row.revoked_at)


def _checked_roles(roles: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(sorted(set(roles)))
    if not wanted:
        raise InvalidRequest(f"a token needs at least one role (one of {', '.join(ROLES)})")
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        raise InvalidRequest(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return wanted


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidRequest(f"a token name is 1 to {MAX_NAME_CHARS} printable characters")
    return name


def create_token(catalog: Catalog, name: str, roles: Iterable[str], *, clock: Clock = _now
                 ) -> tuple[TokenInfo, str]:
    """Create a token; returns its description and its value, which is never stored."""
    info = TokenInfo(id=f"tok_{secrets.token_hex(8)}", name=_checked_name(name),
                     roles=_checked_roles(roles), created_at=format_time(clock()))
    value = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    with catalog.engine.begin() as conn:
        conn.execute(t.tokens.insert().values(
            id=info.id, name=info.name, roles=" ".join(info.roles),
            token_hash=token_hash(value), created_at=info.created_at, revoked_at=None))
    return info, value


def list_tokens(catalog: Catalog) -> list[TokenInfo]:
    """Every token ever created, revoked ones included, oldest first."""
    with catalog.reader() as conn:
        rows = conn.execute(select(t.tokens).order_by(t.tokens.c.created_at, t.tokens.c.id))
        return [_info(r) for r in rows]


def revoke_token(catalog: Catalog, token_id: str, *, clock: Clock = _now) -> TokenInfo:
    """Revoke a token at once; revoking it again keeps the first revocation time."""
    with catalog.engine.begin() as conn:
        row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token with id {token_id!r}")
        if row.revoked_at is None:
            conn.execute(t.tokens.update().where(t.tokens.c.id == token_id)
                         .values(revoked_at=format_time(clock())))
        row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).one()
    return _info(row)


def verify_token(catalog: Catalog, presented: str) -> TokenInfo:
    """The active token whose value this is, or Unauthorized (never saying why)."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) != _TOKEN_CHARS:
        raise Unauthorized("the bearer token is not valid")
    with catalog.reader() as conn:
        row = conn.execute(select(t.tokens)
                           .where(t.tokens.c.token_hash == token_hash(presented))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the bearer token is not valid")
    return _info(row)
