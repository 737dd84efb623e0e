"""Who is signed in, what they may open, CSRF, the audit trail and error pages.

The session is Flask's signed cookie (HttpOnly, SameSite=Strict) holding a token's *id*
(never its value) or an OIDC subject with its mapped roles, and an expiry. Every request
checks it again on the server: a revoked or expired token signs the browser out at once.
Every POST carries the session's CSRF token. Every request but static files is written to
the audit trail as the API writes its own, and like the API's it fails closed.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import time
from typing import Any

from flask import Flask, Response, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from archiver import audit
from archiver.api.context import api
from archiver.api.errors import status_of
from archiver.api.permissions import PUBLIC, WEB_PERMISSIONS
from archiver.catalog import schema as t
from archiver.config import Settings
from archiver.errors import ArchiveError, ConfigError
from archiver.log.crypto import write_secret_file
from archiver.tokens import ROLES, TokenInfo

log = logging.getLogger("archiver.web")
SECRET_FILE = "web-session.key"
UNAUDITED = frozenset({"web.static"})


def production(settings: Settings) -> bool:
    """An archive on S3 or PostgreSQL is a deployment: its secrets come from settings."""
    return settings.store.kind == "s3" or settings.catalog_url.startswith("postgresql")


def session_secret(settings: Settings) -> str:
    """[web] session_secret; for an embedded archive, one generated once (0600)."""
    if settings.web.session_secret:
        return settings.web.session_secret
    if production(settings):
        raise ConfigError("[web] session_secret is required with an S3 store or a PostgreSQL "
                          "catalog (set ARCHIVER_WEB_SESSION_SECRET_FILE)")
    path = settings.home / "keys" / SECRET_FILE
    if not path.exists():
        with contextlib.suppress(ConfigError):  # another process wrote it first: use theirs
            write_secret_file(path, secrets.token_urlsafe(48) + "\n")
    value = path.read_text().strip()
    if len(value) < 32:
        raise ConfigError(f"{path} holds no usable session secret")
    return value


def sign_in(kind: str, principal: TokenInfo, hours: int) -> None:
    """A new session (never the old one's id or CSRF token: no fixation)."""
    session.clear()
    session.permanent = True
    session.update({"kind": kind, "id": principal.id, "name": principal.name,
                    "roles": list(principal.roles), "exp": int(time.time()) + hours * 3600,
                    "csrf": secrets.token_urlsafe(32)})
    g.principal = principal


def _token_principal(token_id: str) -> TokenInfo | None:
    with api().archive.catalog.reader() as conn:
        row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    return TokenInfo(row.id, row.name, tuple(row.roles.split()), row.created_at)


def current_principal() -> TokenInfo | None:
    """The signed-in person, checked again now; None (and the session dropped) if not."""
    kind, exp = session.get("kind"), session.get("exp")
    if kind is None:
        return None
    principal = None
    if isinstance(exp, int) and exp > time.time():
        if kind == "token":
            principal = _token_principal(str(session.get("id")))
        elif kind == "oidc" and api().settings.web.oidc_issuer:
            roles = tuple(r for r in session.get("roles", ()) if r in ROLES)
            principal = TokenInfo(str(session.get("id")), str(session.get("name")), roles, "")
    if principal is None:
        session.clear()
    return principal


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def may(endpoint: str) -> bool:
    """Whether the signed-in person may open `endpoint` (for links and menus)."""
    roles = WEB_PERMISSIONS[endpoint]
    principal = g.get("principal")
    return roles is PUBLIC or (principal is not None and bool(roles & set(principal.roles)))


def note_resource(**ids: Any) -> None:
    """Add ids to what the audit trail records this request touched."""
    g.setdefault("audit_resource", {}).update(ids)


def page_error(status: int, message: str) -> Response:
    return Response(render_template("error.html", status=status, message=message),
                    status=status, mimetype="text/html")


def _check() -> Response | None:
    g.started = time.perf_counter()
    rule = request.url_rule
    if rule is not None and rule.endpoint in UNAUDITED:
        return None  # static files: no session, no audit
    g.principal = current_principal()
    if rule is None:
        return None  # 404/405 next
    roles = WEB_PERMISSIONS[rule.endpoint]
    texts = [request.path, *request.args.keys(), *request.args.values()]
    if any("\x00" in x for x in texts):
        # PostgreSQL cannot hold or compare NUL: refused here, for every page at once.
        return page_error(400, _("The address holds a NUL character."))
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            return page_error(400, _("This form has expired or did not come from this site. "
                                     "Go back, reload the page and try again."))
    if roles is PUBLIC:
        return None
    if g.principal is None:
        return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
    if not roles & set(g.principal.roles):
        return page_error(403, _("Your role (%(roles)s) may not open this page; it needs one "
                                 "of: %(needed)s.", roles=", ".join(g.principal.roles),
                                 needed=", ".join(sorted(roles))))
    return None


def _audit(response: Response) -> Response:
    rule = request.url_rule
    endpoint = rule.endpoint if rule is not None else None
    if endpoint in UNAUDITED:
        return response
    principal = g.get("principal")
    event = audit.AuditEvent(
        time=audit.now_text(), method=request.method, path=request.path,
        status=response.status_code, action=endpoint,
        actor_id=principal.id if principal else None,
        actor_name=principal.name if principal else None,
        resource=g.get("audit_resource") or None, remote_addr=request.remote_addr)
    try:
        audit.record(api().archive.catalog, event)
    except Exception:  # noqa: BLE001 - any failure to record means the same thing
        log.exception("could not write the audit event for %s %s", request.method, endpoint)
        if response.status_code < 400:
            return page_error(503, _("The audit trail cannot be written; the page was not "
                                     "served."))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def _domain_error(exc: ArchiveError) -> Response:
    status = status_of(exc)
    if status >= 500:
        incident = secrets.token_hex(6)
        log.error("incident %s", incident, exc_info=exc)
        return page_error(status, _("Internal error (incident %(id)s).", id=incident))
    return page_error(status, str(exc))


def _http_error(exc: HTTPException) -> Response:
    messages = {404: _("There is no such page."),
                405: _("This page does not take that method."),
                413: _("What was sent is too large.")}
    return page_error(exc.code or 500, messages.get(exc.code or 0, exc.description or ""))


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    incident = secrets.token_hex(6)
    log.error("incident %s", incident, exc_info=exc)
    return page_error(500, _("Internal error (incident %(id)s).", id=incident))


def register(app: Flask) -> None:
    app.before_request(_check)
    app.after_request(_audit)
    app.register_error_handler(ArchiveError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
