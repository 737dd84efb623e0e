"""What every template may use: the signed-in person, links they may follow, CSRF, times."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, request
from flask_babel import format_datetime, get_locale

from archiver.web.auth import csrf_token, may


def when(value: str | None) -> str:
    """An archive time (RFC 3339, UTC) for people, in the page's language; as is if odd."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return format_datetime(moment, "medium") + " UTC"


def url_with(**changes: Any) -> str:
    """This page's URL with some query parameters changed (None drops one)."""
    args = request.args.to_dict()
    for k, v in changes.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = str(v)
    return request.path + ("?" + urlencode(args) if args else "")


def register(app: Flask) -> None:
    app.jinja_env.autoescape = True
    app.jinja_env.filters["when"] = when
    app.jinja_env.globals.update(csrf_token=csrf_token, may=may, url_with=url_with,
                                 locale=get_locale)

    @app.context_processor
    def principal() -> dict[str, Any]:
        return {"principal": g.get("principal")}
