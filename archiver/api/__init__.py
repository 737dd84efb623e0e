"""The HTTP API: `create_app(settings)` builds a Flask app; importing this does nothing.

One blueprint per resource under /api/v1 (and /metrics); every view declares its models
with `routing.operation`; `permissions` decides who may call it; `errors` maps every
failure to one JSON shape; `auditing` writes the audit trail.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from archiver.config import Settings
from archiver.wiring import Archive, open_archive


def create_app(settings: Settings, archive: Archive | None = None) -> Flask:
    """A new app serving `archive` (opened from `settings` when not given)."""
    from archiver.api import (
        accounts,
        alerts,
        audit,
        auditing,
        auth,
        disposition,
        errors,
        exports,
        health,
        holds,
        ingest,
        items,
        log,
        media,
        metrics,
        openapi,
        records,
        responses,
        retention,
        search,
        webhooks,
    )
    from archiver.api.context import EXTENSION, ApiContext
    from archiver.api.permissions import PERMISSIONS
    from archiver.search.whoosh_engine import SearchIndex

    if archive is None:
        archive = open_archive(settings)
    app = Flask("archiver.api", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.api.max_body_bytes
    # Item ids may hold "//" (Bluesky's at:// URIs): never merge slashes into a redirect.
    app.url_map.merge_slashes = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.api.proxy_hops:
        hops = settings.api.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    # One index per app, opened lazily by the first search: the app only reads it
    # (`archiver search catch-up` writes it), and a missing index reads as empty.
    index = SearchIndex.for_settings(settings)
    app.extensions[EXTENSION] = ApiContext(settings, archive,
                                           metrics.ApiMetrics(archive, index), index)
    for module in (health, metrics, openapi, ingest, records, items, log, audit, search,
                   accounts, media, retention, holds, disposition, exports,
                   webhooks, responses, alerts):
        app.register_blueprint(module.blueprint())
    undecided = sorted(set(app.view_functions) - set(PERMISSIONS))
    if undecided:
        raise RuntimeError(f"endpoints missing from archiver/api/permissions.py: {undecided}")
    errors.register(app)
    app.before_request(auditing.start)
    app.before_request(auth.authenticate)
    app.after_request(auditing.finish)
    from archiver import web  # the web interface under / (its own app; archiver/web)
    web.mount(app)
    return app
