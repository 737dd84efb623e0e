"""The archive's exception tree, raised in the core and mapped to HTTP/CLI once at the edge.

    ArchiveError
    ├── ConfigError            settings missing or invalid; archive not initialised
    ├── InvalidObservation     an observation failed validation (line number, reason)
    ├── InvalidRequest         a caller's argument is out of range or malformed
    ├── NotFound               an id / seq that does not exist
    ├── StoreError             the object store failed
    │   ├── StoreUnavailable   unreachable or refused a request (which store, why)
    │   ├── ObjectNotFound     a key that is not on the store
    │   └── ObjectLocked       the store refused to delete/overwrite a locked object
    ├── KeyUnavailable         a data key is gone (destroyed) or cannot be unwrapped
    ├── IntegrityError         the log does not verify (seq, reason)
    ├── CollectorError         a platform could not be collected (which platform, why)
    │   ├── CredentialsRejected  the platform refused the account's credentials
    │   ├── RateLimited          the platform asks to wait longer than a run may
    │   ├── PlatformUnavailable  network failures or 5xx answers after every retry
    │   └── MalformedResponse    a response not in the platform's documented shape
    ├── Conflict               valid, but the resource's state forbids it (a run not approved)
    │   └── ExportRequired     a transfer needs an export first (exports: issue 8)
    ├── Gone                   existed, but is no longer available (an expired export download)
    ├── Unauthorized           no credentials, or credentials that are unknown or revoked
    └── Forbidden              valid credentials whose roles do not allow the action
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base of every error the archive raises on purpose."""

    code = "archive_error"


class ConfigError(ArchiveError):
    code = "config_error"


class InvalidObservation(ArchiveError):
    """An observation is malformed; `line` is 1-based when it came from a file."""

    code = "invalid_observation"

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class InvalidRequest(ArchiveError):
    code = "invalid_request"


class NotFound(ArchiveError):
    code = "not_found"


class StoreError(ArchiveError):
    code = "store_error"


class StoreUnavailable(StoreError):
    code = "store_unavailable"


class ObjectNotFound(StoreError):
    code = "object_not_found"


class ObjectLocked(StoreError):
    code = "object_locked"


class KeyUnavailable(ArchiveError):
    code = "key_unavailable"


class IntegrityError(ArchiveError):
    """The archive failed a check; `seq` names the first bad record when there is one."""

    code = "integrity_error"

    def __init__(self, reason: str, seq: int | None = None, where: str | None = None) -> None:
        self.reason = reason
        self.seq = seq
        self.where = where
        parts = []
        if seq is not None:
            parts.append(f"seq {seq}")
        if where:
            parts.append(where)
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class Conflict(ArchiveError):
    """The request is well-formed but the resource's state forbids it (409)."""

    code = "conflict"


class ExportRequired(Conflict):
    """Transfer means export then destroy; no export exists for these records yet."""

    code = "export_required"


class Gone(ArchiveError):
    """The resource existed but is no longer available (410): an expired export download."""

    code = "gone"


class Unauthorized(ArchiveError):
    """No bearer token, or one that is unknown or revoked (never says which: no oracle)."""

    code = "unauthorized"


class Forbidden(ArchiveError):
    """The caller is known, but none of its roles allows the action."""

    code = "forbidden"


class CollectorError(ArchiveError):
    """A collection run failed; nothing after the failure is archived (the run says why)."""

    code = "collector_error"


class CredentialsRejected(CollectorError):
    """The platform refused the account's token (expired, revoked): pause and alert."""

    code = "credentials_rejected"


class RateLimited(CollectorError):
    """The platform's limit resets later than a run may wait; `retry_at` is epoch seconds."""

    code = "rate_limited"

    def __init__(self, reason: str, retry_at: float | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(reason)


class PlatformUnavailable(CollectorError):
    code = "platform_unavailable"


class MalformedResponse(CollectorError):
    """Not JSON, an HTML error page, wrong types, too large: never archived."""

    code = "malformed_response"
