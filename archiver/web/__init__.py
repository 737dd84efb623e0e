"""The web interface for records officers, legal teams and auditors (docs/web.md).

Server-rendered pages (Jinja2, a small CSS file and a little progressive-enhancement JS,
all served from here: no build step, no CDN) over the same domain functions the API
blueprints call, never HTTP to itself. It is its own Flask app (HTML errors, a session
cookie, translations) mounted by `create_app` beside the API: /api/... and /metrics go to
the API, everything else here, so the API's JSON error handlers, bearer check and OpenAPI
document stay as they are. Who may open a page: `WEB_PERMISSIONS` in
archiver/api/permissions.py, the same roles as the API endpoint each page stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from archiver.api.context import EXTENSION
from archiver.errors import ConfigError

log = logging.getLogger("archiver.web")
API_PATHS = ("/api/", "/metrics")
WEB_EXTENSION = "archiver.web"


def create_web_app(api_app: Flask) -> Flask:
    """The web UI's app, sharing the API app's archive, index and settings."""
    from flask_babel import Babel

    from archiver.api.permissions import WEB_PERMISSIONS
    from archiver.web import auth, pages, templating
    from archiver.web.i18n import TRANSLATIONS, select_locale

    ctx = api_app.extensions[EXTENSION]
    settings = ctx.settings
    app = Flask("archiver.web", static_folder=None, template_folder="templates",
                root_path=__path__[0])
    app.extensions[EXTENSION] = ctx  # `archiver.api.context.api()` works in pages too
    app.url_map.merge_slashes = False  # Bluesky item ids hold "//"
    app.config.update(
        MAX_CONTENT_LENGTH=1_000_000,
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=bool(settings.web.cookie_secure),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=max(1, settings.web.session_hours)),
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        BABEL_DEFAULT_LOCALE="en",
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if settings.api.proxy_hops:
        hops = settings.api.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    Babel(app, locale_selector=select_locale)
    templating.register(app)
    try:
        app.secret_key = auth.session_secret(settings)
    except ConfigError as exc:
        # The API still starts; the web UI refuses to, saying why on every page.
        log.error("web interface not started: %s", exc)
        return _refusing(str(exc))
    app.register_blueprint(pages.blueprint())
    from archiver.web import portal  # /public: 404 unless [portal] enabled = 1
    app.register_blueprint(portal.blueprint(settings.portal))
    from archiver.web import alerts_page  # the alerts raised and the rules (issue 11)
    app.register_blueprint(alerts_page.blueprint())
    undecided = sorted(set(app.view_functions) - set(WEB_PERMISSIONS))
    if undecided:
        raise RuntimeError(f"web endpoints missing from WEB_PERMISSIONS in "
                           f"archiver/api/permissions.py: {undecided}")
    auth.register(app)
    from archiver.web import oidc
    oidc.register(app, settings)
    return app


def _refusing(reason: str) -> Flask:
    app = Flask("archiver.web.refusing")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def refused(path: str) -> Response:
        return Response(f"The web interface is not started: {reason}\n", status=503,
                        mimetype="text/plain")

    return app


def mount(api_app: Flask) -> None:
    """Serve the web UI from `api_app`: /api/... and /metrics stay the API's."""
    web = create_web_app(api_app)
    api_wsgi = api_app.wsgi_app
    web_wsgi = web.wsgi_app

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/api" or path.startswith(API_PATHS):
            return api_wsgi(environ, start_response)
        return web_wsgi(environ, start_response)

    api_app.wsgi_app = dispatch  # type: ignore[method-assign]
    api_app.extensions[WEB_EXTENSION] = web
