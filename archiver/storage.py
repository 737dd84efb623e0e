"""The object store: the archive's source of truth (ARCHITECTURE.md, "Data flow").

Every byte the archive keeps lives here under the keys of ARCHIVE_FORMAT.md "Objects";
the catalog and the search index are rebuilt from it. Two backends share one contract,
`ObjectStore`:

- `FilesystemStore`: the embedded default, keys as relative paths under a root
  directory (ARCHIVE_FORMAT.md: "the same keys as relative paths"). Writes are atomic
  and fsynced so that an acknowledged record survives a crash (invariant 3).
- `S3Store`: any S3-compatible server. Where the bucket has Object Lock, immutable
  objects are written with a COMPLIANCE retention (ARCHITECTURE.md "WORM"); `delete`
  purges every version so that destroying a key object really destroys it
  (crypto-shredding, ARCHITECTURE.md "Disposition").

This is the only module that imports boto3 (STYLE.md habit 15). Every failure surfaces
as a `StoreError` naming the store (`description`, never a secret) and the reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import pathlib
import tempfile
import threading
import urllib.parse
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archiver.errors import ObjectLocked, ObjectNotFound, StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FilesystemStore",
    "ObjectStore",
    "S3Store",
    "ensure_bucket",
    "validate_key",
]

# Prefix of the filesystem backend's in-flight temp files; list() skips them and no key
# segment may start with it, so a temp file can never be mistaken for an object.
_TEMP_PREFIX = ".tmp-"

# S3 error codes meaning "no such object" (GetObject says NoSuchKey, HEAD only has a status).
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NotFound", "404"})
# Answers to GetObjectLockConfiguration that mean "this bucket has no Object Lock".
_NO_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NotImplemented", "MethodNotAllowed", "501"}
)


@runtime_checkable
class ObjectStore(Protocol):
    """What the log, the catalog rebuild and disposition need from a store.

    Keys are '/'-separated relative names (ARCHIVE_FORMAT.md "Objects"), validated by
    `validate_key`; both backends accept exactly the same keys.
    """

    description: str
    """Human-readable identity for errors and logs; never contains a secret."""

    @property
    def supports_object_lock(self) -> bool:
        """True only when the store really enforces retention (an Object Lock bucket)."""
        ...

    def put(self, key: str, data: bytes, *, lock: bool = False) -> None:
        """Store `data` under `key`, durably once this returns; `lock` asks for WORM retention."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; `ObjectNotFound` when there is none."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with `prefix`, sorted ascending, however many there are."""
        ...

    def replace(self, key: str, data: bytes) -> None:
        """Write `data` as the only version of `key` (older versions purged): key objects."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object and every older version; `ObjectLocked` if retention forbids it."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or release a legal hold on the object, where the store supports it."""
        ...

    def hide(self, key: str) -> None:
        """Remove the key from listings and reads, leaving locked versions to their
        retention (a delete marker); for objects `delete` may not purge (ObjectLocked)."""
        ...


def validate_key(key: str) -> str:
    """Return `key` if it is a valid object key, else raise ValueError saying why.

    One rule for every backend, so an archive can move between them (ARCHIVE_FORMAT.md
    "Objects"): non-empty, relative, '/'-separated, no empty/'.'/'..' segments, no
    backslash or NUL (which a filesystem would interpret), no temp-file marker.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("object key must be a non-empty string")
    if "\x00" in key:
        raise ValueError(f"object key {key!r} contains NUL")
    if "\\" in key:
        raise ValueError(f"object key {key!r} contains a backslash")
    if key.startswith("/"):
        raise ValueError(f"object key {key!r} is absolute")
    if ".." in key:
        raise ValueError(f"object key {key!r} contains '..'")
    for segment in key.split("/"):
        if segment in ("", "."):
            raise ValueError(f"object key {key!r} has an empty or '.' segment")
        if segment.startswith(_TEMP_PREFIX):
            raise ValueError(f"object key {key!r} uses the reserved prefix {_TEMP_PREFIX!r}")
    return key


def _validate_prefix(prefix: str) -> str:
    """A listing prefix may be empty or end mid-segment, but obeys the key rules otherwise."""
    if not isinstance(prefix, str):
        raise ValueError("prefix must be a string")
    if any(bad in prefix for bad in ("\x00", "\\", "..")) or prefix.startswith("/"):
        raise ValueError(f"invalid prefix {prefix!r}")
    return prefix


# --------------------------------------------------------------------------- filesystem


def _fsync_dir(path: pathlib.Path) -> None:
    """fsync a directory so a rename or a new entry in it survives a crash (POSIX)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStore:
    """Objects as files under `root`; the embedded default (`$ARCHIVER_HOME/objects/`).

    A put is write-temp, fsync, `os.replace`, fsync the directory: readers see the old
    object or the new one, never a torn write, and a returned put survives power loss.
    There is no Object Lock: `lock` and legal holds are accepted and ignored, and
    `supports_object_lock` says so, so callers (and auditors) know WORM is not enforced.
    """

    supports_object_lock = False

    def __init__(self, root: pathlib.Path | str) -> None:
        self.root = pathlib.Path(os.path.abspath(root))
        self.description = f"filesystem {self.root}"

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    def _path(self, key: str) -> pathlib.Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _unavailable(self, action: str, key: str, exc: OSError) -> StoreUnavailable:
        reason = exc.strerror or str(exc)
        return StoreUnavailable(f"{self.description}: cannot {action} {key!r}: {reason}")

    def _make_parents(self, directory: pathlib.Path) -> None:
        """Create missing directories down to `directory`, fsyncing each new entry's parent."""
        missing: list[pathlib.Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        for path in reversed(missing):
            with suppress(FileExistsError):
                path.mkdir()
            _fsync_dir(path.parent)

    def put(self, key: str, data: bytes, *, lock: bool = False) -> None:
        """Atomically and durably write `data`; `lock` is ignored (no WORM on a filesystem)."""
        path = self._path(key)
        try:
            self._make_parents(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise self._unavailable("write", key, exc) from exc

    def get(self, key: str) -> bytes:
        """The file's bytes; `ObjectNotFound` when no file (or a directory) is there."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"{self.description}: no object {key!r}") from exc
        except OSError as exc:
            raise self._unavailable("read", key, exc) from exc

    def exists(self, key: str) -> bool:
        """Whether a regular file is stored under `key`."""
        path = self._path(key)
        try:
            return path.is_file()
        except OSError as exc:
            raise self._unavailable("stat", key, exc) from exc

    def list(self, prefix: str = "") -> list[str]:
        """Keys under the root starting with `prefix`, sorted by code point (as S3 does)."""
        _validate_prefix(prefix)
        # Only walk the directory the prefix's complete segments name.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*head.split("/")) if head else self.root
        try:
            keys = sorted(key for key in self._walk(start) if key.startswith(prefix))
        except OSError as exc:
            raise self._unavailable("list", prefix, exc) from exc
        return keys

    def _walk(self, start: pathlib.Path) -> Iterator[str]:
        if not start.is_dir():
            return

        def fail(exc: OSError) -> None:
            raise exc  # os.walk ignores errors by default; a silent gap would lose objects

        for dirpath, _dirnames, filenames in os.walk(start, onerror=fail):
            rel = pathlib.Path(dirpath).relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            for name in filenames:
                if not name.startswith(_TEMP_PREFIX):
                    yield base + name

    def replace(self, key: str, data: bytes) -> None:
        """Overwrite atomically; a filesystem keeps no older versions to purge."""
        self.put(key, data)

    def delete(self, key: str) -> None:
        """Remove the file (there are no older versions); a missing key is not an error."""
        path = self._path(key)
        try:
            if path.is_dir():
                return
            path.unlink()
            _fsync_dir(path.parent)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise self._unavailable("delete", key, exc) from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        """No-op: a filesystem cannot enforce a hold (the catalog still records it)."""
        validate_key(key)

    def hide(self, key: str) -> None:
        """Nothing is ever locked on a filesystem: the same as `delete`."""
        self.delete(key)


# --------------------------------------------------------------------------------- S3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _public_url(endpoint_url: str | None, region: str) -> str:
    """The endpoint as shown in errors: user-info (possible credentials) stripped."""
    if endpoint_url is None:
        return f"aws:{region}"
    parts = urllib.parse.urlsplit(endpoint_url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class S3Store:
    """Objects in an S3 bucket under an optional key prefix.

    Nothing touches the network until the first operation: the boto3 client is built
    lazily (STYLE.md habit 11). Object Lock support is asked of the bucket once
    (GetObjectLockConfiguration) and cached; only then does `put(lock=True)` send a
    COMPLIANCE retention of `lock_days` (S3 API "Object Lock": COMPLIANCE retention
    cannot be shortened or removed by any user, root included, until it expires).
    """

    def __init__(
        self,
        endpoint_url: str | None,
        bucket: str,
        prefix: str = "",
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        lock_days: int = 1,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 3,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid bucket name {bucket!r}")
        if lock_days < 1:
            raise ValueError("lock_days must be at least 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.prefix = prefix + "/" if prefix else ""
        self.region = region
        self.lock_days = lock_days
        self._access_key = access_key
        self._secret_key = secret_key
        # retries.max_attempts counts the first attempt too (botocore "standard" mode).
        self._config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"} if endpoint_url else {},
            # Integrity is asserted explicitly with Content-MD5 in put(); opting out of
            # botocore's default CRC trailers keeps other S3-compatible servers working.
            request_checksum_calculation="when_required",
        )
        self.description = f"s3 {_public_url(endpoint_url, region)} {bucket}/{prefix}".rstrip("/")
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._object_lock: bool | None = None

    def __repr__(self) -> str:
        return f"S3Store({self.description!r})"

    # -- plumbing

    def client(self) -> Any:
        """The boto3 S3 client, built on first use (thread-safe; boto3 clients are)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    session = boto3.session.Session(
                        aws_access_key_id=self._access_key,
                        aws_secret_access_key=self._secret_key,
                        region_name=self.region,
                    )
                    self._client = session.client(
                        "s3", endpoint_url=self.endpoint_url, config=self._config
                    )
        return self._client

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    @staticmethod
    def _code(exc: ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    def _unavailable(self, action: str, what: str, exc: Exception) -> StoreUnavailable:
        """Map a botocore failure to StoreUnavailable; botocore never puts secrets in errors."""
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            reason = f"{error.get('Code', 'error')} (HTTP {status}) {error.get('Message', '')}"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return StoreUnavailable(f"{self.description}: {action} {what!r} failed: {reason.strip()}")

    # -- the contract

    @property
    def supports_object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled; asked once, then cached."""
        if self._object_lock is None:
            try:
                answer = self.client().get_object_lock_configuration(Bucket=self.bucket)
            except ClientError as exc:
                if self._code(exc) not in _NO_LOCK_CODES:
                    raise self._unavailable("object lock query", self.bucket, exc) from exc
                self._object_lock = False
            except BotoCoreError as exc:
                raise self._unavailable("object lock query", self.bucket, exc) from exc
            else:
                config = answer.get("ObjectLockConfiguration", {})
                self._object_lock = config.get("ObjectLockEnabled") == "Enabled"
        return self._object_lock

    def put(self, key: str, data: bytes, *, lock: bool = False) -> None:
        """PUT with Content-MD5, so the server refuses bytes damaged in transit (BadDigest).

        With `lock` on an Object Lock bucket the new version carries COMPLIANCE retention
        until now + `lock_days`; a later PUT of the same key only adds a newer version.
        """
        full = self._full(key)
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "Body": data,
            "ContentMD5": base64.b64encode(hashlib.md5(data).digest()).decode("ascii"),
        }
        if lock and self.supports_object_lock:
            args["ObjectLockMode"] = "COMPLIANCE"
            args["ObjectLockRetainUntilDate"] = _now() + dt.timedelta(days=self.lock_days)
        try:
            self.client().put_object(**args)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("put", key, exc) from exc

    def get(self, key: str) -> bytes:
        """The current version's bytes; `ObjectNotFound` for NoSuchKey / 404."""
        full = self._full(key)
        try:
            response = self.client().get_object(Bucket=self.bucket, Key=full)
            return response["Body"].read()
        except ClientError as exc:
            if self._code(exc) in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"{self.description}: no object {key!r}") from exc
            raise self._unavailable("get", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("get", key, exc) from exc

    def exists(self, key: str) -> bool:
        """HEAD the key: True when it has a current (non-deleted) version."""
        full = self._full(key)
        try:
            self.client().head_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if self._code(exc) in _NOT_FOUND_CODES:
                return False
            raise self._unavailable("head", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("head", key, exc) from exc
        return True

    def list(self, prefix: str = "") -> list[str]:
        """ListObjectsV2, following continuation tokens past the 1000-key page limit."""
        _validate_prefix(prefix)
        keys: list[str] = []
        try:
            paginator = self.client().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("list", prefix, exc) from exc
        return sorted(keys)

    def _versions(self, full: str) -> list[tuple[str, bool]]:
        """(VersionId, is_delete_marker) of every version of exactly `full`, newest first."""
        found: list[tuple[str, bool]] = []
        paginator = self.client().get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Versions", []):
                if item["Key"] == full:
                    found.append((item["VersionId"], False))
            for item in page.get("DeleteMarkers", []):
                if item["Key"] == full:
                    found.append((item["VersionId"], True))
        return found

    def _lock_on(self, full: str, version_id: str) -> str | None:
        """Why this version may not be deleted (retention or legal hold), or None."""
        head = self.client().head_object(Bucket=self.bucket, Key=full, VersionId=version_id)
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "a legal hold"
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and until > _now():
            return f"{head.get('ObjectLockMode', 'retention')} retention until {until.isoformat()}"
        return None

    def replace(self, key: str, data: bytes) -> None:
        """PUT a new current version, then delete every older version of the key.

        For key objects rewritten at rotation or disposition: the superseded versions hold
        wrapped keys that must not stay readable (ARCHIVE_FORMAT.md, "Wrapped data keys").
        """
        self.put(key, data)
        full = self._full(key)
        try:
            paginator = self.client().get_paginator("list_object_versions")
            old = [item["VersionId"]
                   for page in paginator.paginate(Bucket=self.bucket, Prefix=full)
                   for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
                   if item["Key"] == full and not item.get("IsLatest")]
            for version_id in old:
                self.client().delete_object(Bucket=self.bucket, Key=full, VersionId=version_id)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("purge older versions of", key, exc) from exc

    def delete(self, key: str) -> None:
        """Purge the key: delete every version and delete marker by VersionId.

        A plain DELETE on a versioned bucket only adds a delete marker and leaves the bytes
        readable by VersionId, which would defeat crypto-shredding of key objects
        (ARCHITECTURE.md "Disposition"). On an Object Lock bucket every version is checked
        first, so a refusal (`ObjectLocked`) leaves all versions in place; the purge is
        then confirmed by listing again.
        """
        full = self._full(key)
        try:
            versions = self._versions(full)
            if self.supports_object_lock:
                for version_id, is_marker in versions:
                    why = None if is_marker else self._lock_on(full, version_id)
                    if why:
                        raise ObjectLocked(
                            f"{self.description}: {key!r} version {version_id} is under {why}"
                        )
            for version_id, _ in versions:
                try:
                    self.client().delete_object(Bucket=self.bucket, Key=full, VersionId=version_id)
                except ClientError as exc:
                    if self._code(exc) == "AccessDenied" and self.supports_object_lock:
                        raise ObjectLocked(
                            f"{self.description}: store refused to delete {key!r} "
                            f"version {version_id} (locked)"
                        ) from exc
                    raise
            left = self._versions(full)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete", key, exc) from exc
        if left:
            raise StoreUnavailable(
                f"{self.description}: delete {key!r} left {len(left)} version(s) behind"
            )

    def hide(self, key: str) -> None:
        """A DELETE without VersionId: on a versioned (Object Lock) bucket it only adds a
        delete marker, which retention allows; the locked version stays until it expires.

        For an orphan media object (a crash before its segment's PUT) whose key object is
        purged: its bytes can no longer be decrypted by anyone, and it is no longer listed.
        """
        try:
            self.client().delete_object(Bucket=self.bucket, Key=self._full(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete", key, exc) from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        """PutObjectLegalHold ON/OFF on the current version; no-op without Object Lock."""
        full = self._full(key)
        if not self.supports_object_lock:
            return
        try:
            self.client().put_object_legal_hold(
                Bucket=self.bucket, Key=full, LegalHold={"Status": "ON" if on else "OFF"}
            )
        except ClientError as exc:
            # SeaweedFS 4.48 answers a missing key with InternalError (500), not NoSuchKey.
            if self._code(exc) in _NOT_FOUND_CODES or not self.exists(key):
                raise ObjectNotFound(f"{self.description}: no object {key!r}") from exc
            raise self._unavailable("legal hold", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("legal hold", key, exc) from exc


def ensure_bucket(store: S3Store, *, object_lock: bool) -> None:
    """Create the store's bucket if it does not exist (for `archiver init` and tests).

    Object Lock can only be chosen when a bucket is created (S3 API CreateBucket,
    ObjectLockEnabledForBucket, which also turns on versioning). An existing bucket is
    left as it is: callers that need WORM must check `store.supports_object_lock`.
    """
    client = store.client()
    try:
        client.head_bucket(Bucket=store.bucket)
        exists = True
    except ClientError as exc:
        if store._code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise store._unavailable("head bucket", store.bucket, exc) from exc
        exists = False
    except BotoCoreError as exc:
        raise store._unavailable("head bucket", store.bucket, exc) from exc
    if not exists:
        args: dict[str, Any] = {"Bucket": store.bucket}
        if object_lock:
            args["ObjectLockEnabledForBucket"] = True
        if store.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": store.region}
        try:
            client.create_bucket(**args)
        except ClientError as exc:
            if store._code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise store._unavailable("create bucket", store.bucket, exc) from exc
        except BotoCoreError as exc:
            raise store._unavailable("create bucket", store.bucket, exc) from exc
    store._object_lock = None  # ask again: the bucket may have just been created
