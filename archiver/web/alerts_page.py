"""The web interface's alerts page: the alerts raised (newest first) and the rules, with
the same roles as GET /api/v1/alerts (archiver/alerts)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from archiver.alerts.store import list_alerts, list_rules
from archiver.api.context import api


def blueprint() -> Blueprint:
    bp = Blueprint("alerts", __name__)

    @bp.get("/alerts", endpoint="alerts_page")
    def alerts_page() -> Any:
        archive = api().archive
        return render_template("portal_alerts.html", alerts=list_alerts(archive, 200),
                               rules=list_rules(archive))

    return bp
