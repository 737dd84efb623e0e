"""Registered official accounts: what to collect, how often, with which credentials.

Accounts live in the catalog's own `accounts` table (not derived from the log), but the
changes that matter legally (an account added to or removed from collection) are also
appended to the log as `system` records, in the same transaction as the catalog change.

Credentials (platform tokens) are encrypted at rest: a fresh AES-256-GCM data key per
account encrypts the JSON of the credentials, and that key is wrapped by the archive's
KEK; the account id is the associated data of both, so a ciphertext cannot be moved to
another account. They are decrypted only to build the `AccountConfig` a collector gets;
lists and API answers show which credential names are set, never a value.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, and_, bindparam, select

from archiver.catalog import schema as t
from archiver.catalog.db import Catalog
from archiver.collectors.protocol import AccountConfig
from archiver.errors import InvalidRequest, KeyUnavailable, NotFound
from archiver.log.appender import Appender
from archiver.log.crypto import KeyEncryptionKey, LocalKek
from archiver.records import PendingRecord
from archiver.times import format_time

# The API root of each platform when none is given; Mastodon has no default (the
# account's own instance), nor has any other platform.
DEFAULT_BASE_URLS: dict[str, str] = {
    "bluesky": "https://public.api.bsky.app",
    "x": "https://api.x.com",
    "youtube": "https://www.googleapis.com/youtube/v3",
    "threads": "https://graph.threads.net/v1.0",
    "linkedin": "https://api.linkedin.com/rest",
    "tiktok": "https://open.tiktokapis.com",
    "facebook": "https://graph.facebook.com/v21.0",
    "instagram": "https://graph.facebook.com/v21.0",
}
STATUSES = ("active", "paused", "removed")
MIN_INTERVAL, MAX_INTERVAL = 10, 30 * 86400
DEFAULT_INTERVAL = 15 * 60
_PLATFORM = re.compile(r"[a-z][a-z0-9_]{0,63}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_TAG = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_CREDENTIAL_BYTES = 16_384
MAX_TAGS = 50


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Account:
    """An account as the catalog holds it; `credential_names` only, never the values."""

    id: str
    platform: str
    platform_id: str
    handle: str
    base_url: str
    department: str | None
    tags: list[str]
    interval_seconds: int
    options: dict[str, Any]
    credential_names: list[str]
    status: str
    paused_reason: str | None
    created_at: str
    updated_at: str
    removed_at: str | None = None
    _sealed: tuple[str | None, str | None, str | None] = field(default=(None, None, None),
                                                               repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform, "platform_id": self.platform_id,
                "handle": self.handle, "base_url": self.base_url,
                "department": self.department, "tags": self.tags,
                "interval_seconds": self.interval_seconds,
                "schedule": format_interval(self.interval_seconds), "options": self.options,
                "credentials": self.credential_names, "status": self.status,
                "paused_reason": self.paused_reason, "created_at": self.created_at,
                "updated_at": self.updated_at, "removed_at": self.removed_at}


# -- input checks (the CLI and the API share them) -----------------------------------------

def parse_interval(value: str | int) -> int:
    """`15m`, `1h`, `30s`, `1d` or plain seconds -> seconds, within sane bounds."""
    if isinstance(value, bool):
        raise InvalidRequest("interval must be a duration such as 15m, 1h or 900")
    if isinstance(value, int):
        seconds = value
    else:
        m = re.fullmatch(r"\s*([0-9]{1,9})\s*([smhd]?)\s*", str(value))
        if not m:
            raise InvalidRequest(f"interval {value!r} is not a duration such as 15m, 1h or 900")
        seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise InvalidRequest(f"interval must be between {MIN_INTERVAL} s and "
                             f"{MAX_INTERVAL // 86400} days")
    return seconds


def format_interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_platform(platform: str) -> str:
    if not isinstance(platform, str) or not _PLATFORM.fullmatch(platform):
        raise InvalidRequest(f"platform {platform!r} is not a platform name "
                             f"(lower-case letters, digits, _)")
    from archiver.collectors.registry import known_platforms
    if platform not in known_platforms():
        raise InvalidRequest(f"no collector for platform {platform!r} "
                             f"(known: {', '.join(sorted(known_platforms())) or 'none'})")
    return platform


def check_base_url(platform: str, base_url: str | None) -> str:
    if base_url is None or base_url == "":
        if platform not in DEFAULT_BASE_URLS:
            raise InvalidRequest(f"{platform} accounts need a base URL (the instance, "
                                 f"e.g. https://mastodon.social)")
        return DEFAULT_BASE_URLS[platform]
    parts = urlsplit(base_url)
    if (parts.scheme not in ("http", "https") or not parts.netloc or parts.query
            or parts.fragment or len(base_url) > 2048 or any(c.isspace() for c in base_url)):
        raise InvalidRequest(f"base URL {base_url!r} must be an http(s) URL without query "
                             f"or fragment")
    if parts.username or parts.password:
        raise InvalidRequest("base URL must not carry credentials; use --credential")
    return base_url.rstrip("/")


def _check_text(name: str, value: Any, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{name} must be a non-empty string")
    if len(value) > limit or "\x00" in value:
        raise InvalidRequest(f"{name} must be at most {limit} characters, without NUL")
    return value


def check_tags(tags: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            raise InvalidRequest(f"tag {tag!r} must be 1-64 characters, without control "
                                 f"characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidRequest(f"at most {MAX_TAGS} tags")
    return out


def check_credentials(creds: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in creds.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidRequest(f"credential name {name!r} must be letters, digits, _ . -")
        if not isinstance(value, str) or not value or "\x00" in value:
            raise InvalidRequest(f"credential {name} must be a non-empty string")
        out[name] = value
    if len(json.dumps(out).encode()) > MAX_CREDENTIAL_BYTES:
        raise InvalidRequest(f"credentials are larger than {MAX_CREDENTIAL_BYTES} bytes")
    return out


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in options.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidRequest(f"option name {name!r} must be letters, digits, _ . -")
        if not isinstance(value, (str, int, float, bool)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise InvalidRequest(f"option {name} must be a string, number or boolean")
        if isinstance(value, str) and (len(value) > 1024 or "\x00" in value):
            raise InvalidRequest(f"option {name} must be at most 1024 characters")
        out[name] = value
    return out


def parse_pairs(pairs: Iterable[str], what: str, *, typed: bool) -> dict[str, Any]:
    """`NAME=VALUE` arguments -> dict; with `typed`, numbers and true/false are parsed."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidRequest(f"{what} must be NAME=VALUE, got {pair.split('=')[0]!r}...")
        if typed:
            if re.fullmatch(r"-?[0-9]{1,18}", value):
                out[name] = int(value)
                continue
            if value in ("true", "false"):
                out[name] = value == "true"
                continue
        out[name] = value
    return out


# -- credentials at rest ------------------------------------------------------------------

def seal_credentials(kek: KeyEncryptionKey, account_id: str, creds: Mapping[str, str]
                     ) -> tuple[str, str, str]:
    """(kek id, wrapped data key, base64(nonce || ciphertext)) for the catalog."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    plain = json.dumps(dict(creds), ensure_ascii=False, sort_keys=True).encode()
    ct = AESGCM(data_key).encrypt(nonce, plain, account_id.encode())
    return (kek.kek_id, kek.wrap(account_id, data_key),
            base64.b64encode(nonce + ct).decode())


def open_credentials(kek: KeyEncryptionKey, account_id: str, kek_id: str | None,
                     wrapped: str | None, sealed: str | None) -> dict[str, str]:
    if not wrapped or not sealed:
        return {}
    data_key = kek.unwrap(account_id, wrapped, kek_id)
    raw = base64.b64decode(sealed)
    try:
        plain = AESGCM(data_key).decrypt(raw[:12], raw[12:], account_id.encode())
    except InvalidTag:
        raise KeyUnavailable(f"credentials of account {account_id} do not decrypt") from None
    return json.loads(plain)


def rewrap_credentials(conn: Connection, ring: Any, new: LocalKek) -> int:
    """KEK rotation: re-wrap every account's data key under `new` (same transaction)."""
    rows = conn.execute(select(t.accounts.c.id, t.accounts.c.credentials_kek,
                               t.accounts.c.credentials_key)
                        .where(t.accounts.c.credentials_key.is_not(None))).all()
    updates = [{"b_id": r.id, "credentials_kek": new.kek_id,
                "credentials_key": new.wrap(r.id, ring.unwrap(r.id, r.credentials_key,
                                                              r.credentials_kek))}
               for r in rows if r.credentials_kek != new.kek_id]
    if updates:
        conn.execute(t.accounts.update().where(and_(t.accounts.c.id == bindparam("b_id")))
                     .values(credentials_kek=bindparam("credentials_kek"),
                             credentials_key=bindparam("credentials_key")), updates)
    return len(updates)


# -- the catalog --------------------------------------------------------------------------

def _account(row: Any) -> Account:
    return Account(id=row.id, platform=row.platform, platform_id=row.platform_id,
                   handle=row.handle, base_url=row.base_url, department=row.department,
                   tags=json.loads(row.tags), interval_seconds=row.interval_seconds,
                   options=json.loads(row.options),
                   credential_names=json.loads(row.credential_names), status=row.status,
                   paused_reason=row.paused_reason, created_at=row.created_at,
                   updated_at=row.updated_at, removed_at=row.removed_at,
                   _sealed=(row.credentials_kek, row.credentials_key, row.credentials_ct))


def check_account_id(account_id: str) -> str:
    if not isinstance(account_id, str) or not re.fullmatch(r"acc_[0-9a-f]{16}", account_id):
        raise NotFound(f"no account {account_id!r}")
    return account_id


def get_account(catalog: Catalog, account_id: str) -> Account:
    check_account_id(account_id)
    with catalog.reader() as conn:
        row = conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound(f"no account {account_id!r}")
    return _account(row)


def list_accounts(catalog: Catalog, *, platform: str | None = None,
                  status: str | None = None, include_removed: bool = False) -> list[Account]:
    q = select(t.accounts).order_by(t.accounts.c.created_at, t.accounts.c.id)
    if platform:
        q = q.where(t.accounts.c.platform == platform)
    if status:
        q = q.where(t.accounts.c.status == status)
    elif not include_removed:
        q = q.where(t.accounts.c.status != "removed")
    with catalog.reader() as conn:
        return [_account(r) for r in conn.execute(q)]


def account_config(appender: Appender, account: Account) -> AccountConfig:
    """What the collector gets: the account with its credentials decrypted."""
    creds = open_credentials(appender.p.kek, account.id, *account._sealed)
    return AccountConfig(id=account.id, platform=account.platform,
                         platform_id=account.platform_id, handle=account.handle,
                         base_url=account.base_url, credentials=creds,
                         options=dict(account.options))


def _system(appender: Appender, action: str, actor: str, details: dict[str, Any],
            then: Callable[[Connection, int], None],
            check: Callable[[Connection], None] | None = None) -> int:
    """Append a system record and make the catalog change in the same transaction.

    `check` runs under the writer lock before anything is written: once the record's
    segment is on the store it would be adopted by the next writer even if the
    transaction rolled back, so nothing may refuse after the append."""
    payload = {"schema": "system/1", "action": action, "actor": actor, "details": details}
    with appender.session() as ws:
        if check is not None:
            check(ws.conn)
        seq = ws.append([PendingRecord("system", payload)])[0]
        then(ws.conn, seq)
    return seq


def _legal_details(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "platform", "platform_id", "handle", "base_url", "department", "tags",
            "interval_seconds")
    return {**{k: a[k] for k in keys}, "credentials": a["credential_names"]}


def add_account(appender: Appender, *, platform: str, platform_id: str, handle: str,
                base_url: str | None = None, credentials: Mapping[str, Any] | None = None,
                interval: str | int = DEFAULT_INTERVAL, department: str | None = None,
                tags: Iterable[Any] = (), options: Mapping[str, Any] | None = None,
                actor: str = "archiver accounts add", clock: Callable[[], datetime] = _now
                ) -> Account:
    """Register an account (validated first: nothing is written for bad input)."""
    platform = check_platform(platform)
    platform_id = _check_text("platform id", platform_id, 512)  # type: ignore[assignment]
    handle = _check_text("handle", handle, 512)  # type: ignore[assignment]
    department = _check_text("department", department, 256, required=False)
    row: dict[str, Any] = {
        "platform": platform, "platform_id": platform_id, "handle": handle,
        "base_url": check_base_url(platform, base_url),
        "department": department, "tags": check_tags(tags),
        "interval_seconds": parse_interval(interval),
        "options": check_options(options or {}),
    }
    creds = check_credentials(credentials or {})
    account_id = "acc_" + secrets.token_hex(8)
    now = format_time(clock())
    row.update(id=account_id, credential_names=sorted(creds), status="active",
               paused_reason=None, created_at=now, updated_at=now, removed_at=None)
    kek_id = wrapped = sealed = None
    if creds:
        kek_id, wrapped, sealed = seal_credentials(appender.p.kek, account_id, creds)
    db_row = {**row, "tags": json.dumps(row["tags"], ensure_ascii=False),
              "options": json.dumps(row["options"], ensure_ascii=False),
              "credential_names": json.dumps(row["credential_names"]),
              "credentials_kek": kek_id, "credentials_key": wrapped,
              "credentials_ct": sealed}

    def unique(conn: Connection) -> None:
        dup = conn.execute(select(t.accounts.c.id).where(
            t.accounts.c.platform == platform, t.accounts.c.platform_id == platform_id,
            t.accounts.c.status != "removed")).scalar()
        if dup is not None:
            raise InvalidRequest(f"{platform} account {platform_id} is registered already "
                                 f"as {dup}")

    def insert(conn: Connection, _seq: int) -> None:
        conn.execute(t.accounts.insert().values(**db_row))

    _system(appender, "account.added", actor, _legal_details(row), insert, check=unique)
    return get_account(appender.p.catalog, account_id)


def update_account(appender: Appender, account_id: str, *, status: str | None = None,
                   paused_reason: str | None = None, interval: str | int | None = None,
                   tags: Iterable[Any] | None = None, department: str | None = None,
                   options: Mapping[str, Any] | None = None,
                   credentials: Mapping[str, Any] | None = None,
                   clock: Callable[[], datetime] = _now) -> Account:
    """Pause/resume, reschedule, retag, or replace options/credentials of an account."""
    account = get_account(appender.p.catalog, account_id)
    if account.status == "removed":
        raise InvalidRequest(f"account {account_id} was removed; add it again instead")
    values: dict[str, Any] = {}
    if status is not None:
        if status not in ("active", "paused"):
            raise InvalidRequest("status must be 'active' or 'paused' (DELETE removes)")
        values["status"] = status
        values["paused_reason"] = (_check_text("reason", paused_reason, 256, required=False)
                                   or "paused by an administrator") if status == "paused" \
            else None
    if interval is not None:
        values["interval_seconds"] = parse_interval(interval)
    if tags is not None:
        values["tags"] = json.dumps(check_tags(tags), ensure_ascii=False)
    if department is not None:
        values["department"] = _check_text("department", department, 256)
    if options is not None:
        values["options"] = json.dumps(check_options(options), ensure_ascii=False)
    if credentials is not None:
        creds = check_credentials(credentials)
        kek_id, wrapped, sealed = (seal_credentials(appender.p.kek, account_id, creds)
                                   if creds else (None, None, None))
        values.update(credential_names=json.dumps(sorted(creds)), credentials_kek=kek_id,
                      credentials_key=wrapped, credentials_ct=sealed)
    if not values:
        return account
    values["updated_at"] = format_time(clock())
    with appender.p.catalog.writer() as conn:
        conn.execute(t.accounts.update().where(t.accounts.c.id == account_id).values(**values))
        if values.get("status") == "active" or credentials is not None:
            clear_alerts(conn, account_id, values["updated_at"])
    return get_account(appender.p.catalog, account_id)


def pause_account(appender: Appender, account_id: str, reason: str) -> Account:
    return update_account(appender, account_id, status="paused", paused_reason=reason)


def resume_account(appender: Appender, account_id: str) -> Account:
    return update_account(appender, account_id, status="active")


def remove_account(appender: Appender, account_id: str, *,
                   actor: str = "archiver accounts remove",
                   clock: Callable[[], datetime] = _now) -> Account:
    """Stop collecting an account: its credentials are erased, its records stay."""
    account = get_account(appender.p.catalog, account_id)
    if account.status == "removed":
        return account
    now = format_time(clock())

    def mark(conn: Connection, _seq: int) -> None:
        conn.execute(t.accounts.update().where(t.accounts.c.id == account_id).values(
            status="removed", removed_at=now, updated_at=now, credentials_kek=None,
            credentials_key=None, credentials_ct=None, credential_names="[]"))

    _system(appender, "account.removed", actor,
            {"id": account.id, "platform": account.platform,
             "platform_id": account.platform_id, "handle": account.handle}, mark)
    return get_account(appender.p.catalog, account_id)


# -- alerts -------------------------------------------------------------------------------

def raise_alert(conn: Connection, account_id: str, kind: str, message: str, time: str) -> None:
    open_ = conn.execute(select(t.collector_alerts.c.id).where(
        t.collector_alerts.c.account_id == account_id, t.collector_alerts.c.kind == kind,
        t.collector_alerts.c.cleared_at.is_(None))).first()
    if open_ is None:
        conn.execute(t.collector_alerts.insert().values(account_id=account_id, time=time,
                                                        kind=kind, message=message[:2000]))


def clear_alerts(conn: Connection, account_id: str, time: str) -> None:
    conn.execute(t.collector_alerts.update().where(
        t.collector_alerts.c.account_id == account_id,
        t.collector_alerts.c.cleared_at.is_(None)).values(cleared_at=time))


def open_alerts(conn: Connection, account_id: str | None = None) -> list[dict[str, Any]]:
    q = select(t.collector_alerts).where(t.collector_alerts.c.cleared_at.is_(None)) \
        .order_by(t.collector_alerts.c.id)
    if account_id is not None:
        q = q.where(t.collector_alerts.c.account_id == account_id)
    return [{"account": r.account_id, "time": r.time, "kind": r.kind, "message": r.message}
            for r in conn.execute(q)]
