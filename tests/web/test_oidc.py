"""OIDC single sign-on against a tiny local provider (tests/replay/server.py serving
discovery, JWKS and the token endpoint; joserfc, authlib's JOSE library, signs the ID
token)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from archiver.api import create_app
from archiver.wiring import Archive
from tests.replay.server import ReplayServer, Reply, Request

CLIENT_ID = "archive-web"
# Sign-on touches no storage path of its own: the embedded backend only.
pytestmark = pytest.mark.parametrize("backend_env", [("filesystem", "sqlite")],
                                     ids=["filesystem-sqlite"], indirect=True)


class Provider:
    """Discovery, JWKS and a token endpoint answering with an ID token for `claims`."""

    def __init__(self, server: ReplayServer) -> None:
        self.server = server
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.signing_key = self.key
        self.claims: dict[str, Any] = {}
        self.nonce = ""
        url = server.url
        server.route("GET", "/.well-known/openid-configuration", Reply.json({
            "issuer": url, "authorization_endpoint": f"{url}/authorize",
            "token_endpoint": f"{url}/token", "jwks_uri": f"{url}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"]}))
        server.route("GET", "/jwks", Reply.json({"keys": [self.key.as_dict(private=False)]}))
        server.route("POST", "/token", self._token)

    def _token(self, req: Request) -> Reply:
        now = int(time.time())
        claims = {"iss": self.server.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": self.nonce, **self.claims}
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.signing_key)
        return Reply.json({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300,
                           "id_token": id_token})


@pytest.fixture
def provider() -> Iterator[Provider]:
    with ReplayServer() as server:
        yield Provider(server)


@pytest.fixture
def sso_app(make_archive: Callable[..., Archive], provider: Provider, tmp_path: Path) -> Flask:
    secret = tmp_path / "oidc-secret"
    secret.write_text("s3cr3t\n")
    archive = make_archive(ARCHIVER_WEB_OIDC_ISSUER=provider.server.url,
                           ARCHIVER_WEB_OIDC_CLIENT_ID=CLIENT_ID,
                           ARCHIVER_WEB_OIDC_CLIENT_SECRET_FILE=str(secret),
                           ARCHIVER_WEB_OIDC_ROLES="records-team=records_officer,"
                                                   "counsel=legal")
    return create_app(archive.settings, archive)


def _start(client: FlaskClient, provider: Provider) -> dict[str, str]:
    response = client.get("/signin/oidc?next=/search")
    assert response.status_code == 302
    where = urlsplit(response.headers["Location"])
    assert f"{where.scheme}://{where.netloc}" == provider.server.url
    assert where.path == "/authorize"
    query = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    provider.nonce = query["nonce"]
    return query


def test_sign_on_maps_the_claim_to_roles(sso_app: Flask, provider: Provider) -> None:
    client = sso_app.test_client()
    query = _start(client, provider)
    provider.claims = {"sub": "u-42", "email": "amani@example.org",
                       "groups": ["records-team", "unrelated"]}
    response = client.get(f"/signin/oidc/callback?code=c0de&state={query['state']}")
    assert response.status_code == 302 and response.headers["Location"] == "/search"
    token_call = provider.server.calls("/token")[0]
    assert b"c0de" in token_call.body
    assert client.get("/search").status_code == 200
    assert client.get("/holds").status_code == 403  # records_officer, not legal
    assert "amani@example.org" in client.get("/search").get_data(as_text=True)


def test_an_id_token_signed_by_another_key_is_refused(sso_app: Flask, provider: Provider
                                                      ) -> None:
    client = sso_app.test_client()
    query = _start(client, provider)
    provider.claims = {"sub": "u-42", "groups": "counsel"}
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    response = client.get(f"/signin/oidc/callback?code=c0de&state={query['state']}")
    assert response.status_code == 401
    assert client.get("/holds").status_code == 302


def test_claims_that_map_to_no_role_are_refused(sso_app: Flask, provider: Provider) -> None:
    client = sso_app.test_client()
    query = _start(client, provider)
    provider.claims = {"sub": "u-7", "groups": ["visitors"]}
    response = client.get(f"/signin/oidc/callback?code=c0de&state={query['state']}")
    assert response.status_code == 403
    assert client.get("/search").status_code == 302


def test_a_wrong_state_is_refused(sso_app: Flask, provider: Provider) -> None:
    client = sso_app.test_client()
    _start(client, provider)
    provider.claims = {"sub": "u-42", "groups": "counsel"}
    response = client.get("/signin/oidc/callback?code=c0de&state=forged&bounced=1")
    assert response.status_code == 401
    assert provider.server.calls("/token") == []


def test_a_callback_without_the_cookie_reloads_once_from_this_site(sso_app: Flask) -> None:
    """The provider's redirect is cross-site: a SameSite=Strict cookie is not sent."""
    response = sso_app.test_client().get("/signin/oidc/callback?code=c&state=s")
    assert response.status_code == 200
    assert 'http-equiv="refresh"' in response.get_data(as_text=True)
    assert "bounced=1" in response.get_data(as_text=True)


def test_without_oidc_settings_single_sign_on_is_404(app: Flask) -> None:
    assert app.test_client().get("/signin/oidc").status_code == 404
    assert "single sign-on" not in app.test_client().get("/signin").get_data(as_text=True)


def test_an_unknown_role_in_the_mapping_stops_the_start(make_archive: Callable[..., Archive],
                                                        provider: Provider) -> None:
    from archiver.errors import ConfigError
    archive = make_archive(ARCHIVER_WEB_OIDC_ISSUER=provider.server.url,
                           ARCHIVER_WEB_OIDC_CLIENT_ID=CLIENT_ID,
                           ARCHIVER_WEB_OIDC_ROLES="g=superuser")
    with pytest.raises(ConfigError, match="oidc_roles"):
        create_app(archive.settings, archive)



def test_the_audit_trail_names_the_person_and_a_subject_id_that_never_collides(
        sso_app: Flask, provider: Provider) -> None:
    from archiver.web.oidc import actor_id
    long_a, long_b = "x" * 40 + "a", "x" * 40 + "b"
    assert actor_id("u-42") == "oidc:u-42"
    assert actor_id(long_a) != actor_id(long_b) and len(actor_id(long_a)) == 32
    client = sso_app.test_client()
    query = _start(client, provider)
    provider.claims = {"sub": "u-42", "email": "wakili@example.org", "groups": "counsel"}
    client.get(f"/signin/oidc/callback?code=c0de&state={query['state']}")
    client.get("/holds")
    from tests.api.conftest import audit_rows
    archive = sso_app.extensions["archiver"].archive
    row = next(r for r in audit_rows(archive) if r.action == "web.holds")
    assert (row.actor_id, row.actor_name, row.status) == ("oidc:u-42", "wakili@example.org", 200)
