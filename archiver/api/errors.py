"""Every error the API returns, in one shape and from one table.

    {"error": {"code": "not_found", "message": "no record with seq 99", "details": {}}}

Domain exceptions (archiver/errors.py) are looked up along their class's MRO in
`DOMAIN_STATUS`; werkzeug's HTTP exceptions (routing 404/405, 413 from the body limit,
415) keep their status. Client errors carry the exception's message, which the core
writes for people; anything unexpected becomes a 500 that says only "internal error" and
an incident id, with the traceback in the server log and never in the response.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from archiver.errors import (
    ArchiveError,
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    IntegrityError,
    InvalidObservation,
    InvalidRequest,
    KeyUnavailable,
    NotFound,
    ObjectLocked,
    ObjectNotFound,
    StoreError,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger("archiver.api")

# The one table. A class not listed takes the entry of its nearest listed base.
DOMAIN_STATUS: dict[type[ArchiveError], int] = {
    InvalidObservation: 400,
    InvalidRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Gone: 410,  # an export whose download expired
    Conflict: 409,  # e.g. executing a disposition run nobody approved
    ObjectLocked: 409,  # the store refused to change a locked object: a conflict, not a fault
    StoreUnavailable: 503,  # the store or catalog is unreachable: retry later
    StoreError: 503,
    ObjectNotFound: 500,  # the catalog names an object the store lacks: the archive's fault
    KeyUnavailable: 500,
    IntegrityError: 500,  # the archive failed its own check; never caused by a request
    ConfigError: 500,
    ArchiveError: 500,
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


class RequestInvalid(InvalidRequest):
    """A request's parameters or body failed its model; `details` names each field."""

    code = "invalid_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def from_validation(where: str, exc: ValidationError) -> RequestInvalid:
    """A pydantic error as the API reports it: location, field and reason, not the input."""
    fields = [{"in": where, "field": ".".join(str(p) for p in e["loc"]) or None,
               "reason": e["msg"], "type": e["type"]} for e in exc.errors(include_input=False)]
    first = fields[0]
    where_text = f"{where} field {first['field']!r}" if first["field"] else where
    return RequestInvalid(f"{where_text}: {first['reason']}", {"errors": fields[:50]})


def status_of(exc: ArchiveError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 500


def _details(exc: ArchiveError) -> dict[str, Any]:
    if isinstance(exc, RequestInvalid):
        return exc.details
    if isinstance(exc, InvalidObservation) and exc.line is not None:
        return {"line": exc.line}
    if isinstance(exc, IntegrityError):
        return {k: v for k, v in (("seq", exc.seq), ("where", exc.where)) if v is not None}
    return getattr(exc, "details", None) or {}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="archiver"'
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def handle_archive_error(exc: ArchiveError) -> Response:
    status = status_of(exc)
    if status >= 500:
        incident = secrets.token_hex(6)
        log.error("%s (incident %s): %s", type(exc).__name__, incident, exc)
        # Store and catalog messages name hosts, paths and buckets: they go to the log only.
        message = (str(exc) if isinstance(exc, IntegrityError) else
                   "a storage backend is unavailable; try again later" if status == 503 else
                   "internal error")
        return error_response(status, exc.code, message, {"incident": incident})
    return error_response(status, exc.code, str(exc), _details(exc))


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 405:
        allow = exc.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
    message = {
        404: "no such resource",
        405: "method not allowed here",
        413: "the request body is larger than this server accepts",
    }.get(status, exc.description or exc.name)
    return error_response(status, HTTP_CODES.get(status, f"http_{status}"), message,
                          headers=headers)


def handle_unexpected(exc: Exception) -> Response:
    incident = secrets.token_hex(6)
    log.exception("unhandled %s (incident %s)", type(exc).__name__, incident)
    return error_response(500, "internal_error", "internal error", {"incident": incident})


def register(app: Flask) -> None:
    """Install the handlers: every error leaves the app through one of these three."""
    app.register_error_handler(ArchiveError, handle_archive_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
