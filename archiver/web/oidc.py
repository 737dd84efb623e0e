"""Single sign-on with OpenID Connect (authlib): the provider's ID token, its claims
mapped to the archive's roles by `[web] oidc_roles`.

Authorization code flow with state and nonce (authlib keeps both in the session); the ID
token's signature is checked against the provider's JWKS, and its issuer, audience,
expiry and nonce by authlib. The session then holds the subject and the mapped roles; a
person whose claims map to no role is refused (403), never given a default one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Flask, current_app, request, url_for
from flask_babel import gettext as _

from archiver.config import Settings
from archiver.errors import ArchiveError, ConfigError, Forbidden, NotFound, Unauthorized
from archiver.tokens import ROLES, TokenInfo
from archiver.web import auth

log = logging.getLogger("archiver.web.oidc")
EXTENSION = "archiver.web.oidc"


def role_map(text: str) -> dict[str, str]:
    """`value=role,value=role` -> {value: role}; ConfigError for an unknown role."""
    out: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        value, sep, role = pair.rpartition("=")
        if not sep or not value.strip() or role.strip() not in ROLES:
            raise ConfigError(f"[web] oidc_roles: {pair.strip()!r} is not CLAIM_VALUE=ROLE "
                              f"(roles: {', '.join(ROLES)})")
        out[value.strip()] = role.strip()
    return out


def roles_of(claims: dict[str, Any], claim: str, mapping: dict[str, str]) -> tuple[str, ...]:
    """The roles the ID token's claim values map to (a string or a list of strings)."""
    raw = claims.get(claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(sorted({mapping[v] for v in values if isinstance(v, str) and v in mapping}))


def actor_id(subject: str) -> str:
    """`oidc:<sub>` for the audit trail's 32-character actor id; a longer subject is
    hashed rather than cut, so two people never share an id."""
    if len(subject) <= 27:
        return f"oidc:{subject}"
    return "oidc:" + hashlib.sha256(subject.encode()).hexdigest()[:27]


def register(app: Flask, settings: Settings) -> None:
    web = settings.web
    if not web.oidc_issuer:
        return
    if not web.oidc_client_id:
        raise ConfigError("[web] oidc_client_id is required with oidc_issuer")
    from authlib.integrations.flask_client import OAuth
    oauth = OAuth(app)
    client = oauth.register(
        "archiver", client_id=web.oidc_client_id, client_secret=web.oidc_client_secret,
        server_metadata_url=web.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": web.oidc_scope})
    app.extensions[EXTENSION] = (client, role_map(web.oidc_roles))


def _client() -> tuple[Any, dict[str, str]]:
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        raise NotFound(_("Single sign-on is not configured on this server."))
    return found


def start(next_path: str) -> Any:
    """Send the browser to the provider."""
    client, _mapping = _client()
    from flask import session
    session["oidc_next"] = next_path
    return client.authorize_redirect(url_for("web.oidc_callback", _external=True))


def finish(settings: Settings) -> str:
    """The provider's answer: a signed-in session, and where to go next."""
    from authlib.common.errors import AuthlibBaseError
    from flask import session
    from joserfc.errors import JoseError  # authlib's JOSE library: a bad ID token
    client, mapping = _client()
    if request.args.get("error"):
        raise Unauthorized(_("The sign-on provider refused: %(error)s",
                             error=request.args.get("error", "")[:200]))
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
    except (AuthlibBaseError, JoseError, ArchiveError, ValueError, KeyError, OSError) as exc:
        log.warning("OIDC sign-in refused: %s", exc)
        raise Unauthorized(_("Single sign-on failed; try again.")) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized(_("Single sign-on failed: the ID token names nobody."))
    roles = roles_of(claims, settings.web.oidc_role_claim, mapping)
    name = str(claims.get(settings.web.oidc_name_claim) or subject)[:128]
    if not roles:
        raise Forbidden(_("%(name)s has no role in this archive (claim %(claim)s).",
                          name=name, claim=settings.web.oidc_role_claim))
    next_path = session.get("oidc_next") or url_for("web.home")
    principal = TokenInfo(actor_id(subject), name, roles, "")
    auth.sign_in("oidc", principal, settings.web.session_hours)
    log.info("OIDC sign-in: %s as %s", name, ", ".join(roles))
    return next_path
