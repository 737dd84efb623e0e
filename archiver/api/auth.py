"""Bearer-token authentication and the role check, before every view.

The token is read from `Authorization: Bearer ...` only (never a query parameter, which
would end up in access logs); it is checked against the catalog and dropped: only the
token's id, name and roles stay on the request (`g.principal`).
"""

from __future__ import annotations

from flask import g, request

from archiver.api.context import api
from archiver.api.permissions import PUBLIC, allowed_roles
from archiver.errors import Forbidden, Unauthorized
from archiver.tokens import verify_token


def authenticate() -> None:
    """401 without a valid token, 403 when none of its roles may call this endpoint."""
    rule = request.url_rule
    if rule is None:
        return  # no such route: routing answers 404/405 next
    roles = allowed_roles(rule.endpoint)
    if roles is PUBLIC:
        return
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("this endpoint needs a token: Authorization: Bearer <token>")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("use the Bearer scheme: Authorization: Bearer <token>")
    principal = verify_token(api().archive.catalog, value.strip())
    g.principal = principal
    if not roles & set(principal.roles):
        raise Forbidden(f"token {principal.name!r} has role(s) {', '.join(principal.roles)}; "
                        f"this needs one of {', '.join(sorted(roles))}")
