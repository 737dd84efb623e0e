"""Who may call what: the one table that decides every endpoint.

Keys are Flask endpoint names (`blueprint.view`); values are the roles allowed, or None
(PUBLIC) for the few endpoints that need no token (probes, metrics, the API description). An
endpoint missing from the table is refused: `create_app` fails at start-up rather than
serve a route nobody decided about. Roles are those of ARCHITECTURE.md ("Security"):

- admin: everything, including ingest and token administration;
- records_officer: read records and items, and search them;
- legal: read items and search them (holds and exports, when they land);
- auditor: verification, proofs and the audit trail, but no plaintext content.
"""

from __future__ import annotations

from archiver.tokens import ROLES

PUBLIC = None
_ADMIN = frozenset({"admin"})
_READERS = frozenset({"admin", "records_officer"})
_ITEM_READERS = frozenset({"admin", "records_officer", "legal"})
_AUDITORS = frozenset({"admin", "auditor"})
_LEGAL = frozenset({"admin", "legal"})
_RUN_READERS = frozenset({"admin", "records_officer", "legal"})
_CERTIFICATE_READERS = frozenset({"admin", "records_officer", "legal", "auditor"})

PERMISSIONS: dict[str, frozenset[str] | None] = {
    "health.health": PUBLIC,
    "health.ready": PUBLIC,
    "metrics.metrics": PUBLIC,
    "openapi.document": PUBLIC,
    "ingest.ingest": _ADMIN,
    "records.get_record": _READERS,
    "items.get_item": _ITEM_READERS,
    "media.get_media": _ITEM_READERS,
    "search.search": _ITEM_READERS,
    "log.checkpoint": _AUDITORS,
    "log.inclusion_proof": _AUDITORS,
    "log.consistency_proof": _AUDITORS,
    "log.vkey": _AUDITORS,
    "audit.list_events": _AUDITORS,
    "retention.list_policies": _READERS,
    "retention.create_policy_view": _READERS,
    "retention.get_policy": _READERS,
    "retention.change_policy_view": _READERS,
    "retention.retire_policy_view": _READERS,
    "retention.policy_versions": _READERS,
    "holds.list_holds": _LEGAL,
    "holds.place_hold_view": _LEGAL,
    "holds.get_hold": _LEGAL,
    "holds.change_hold": _LEGAL,
    "holds.release_hold_view": _LEGAL,
    "holds.get_hold_history": _LEGAL,
    "disposition.list_disposition_runs": _RUN_READERS,
    "disposition.create_disposition_run": _READERS,
    "disposition.get_disposition_run": _RUN_READERS,
    "disposition.approve_disposition_run": _READERS,
    "disposition.decide_disposition_run": _READERS,
    "disposition.execute_disposition_run": _READERS,
    "disposition.cancel_disposition_run": _READERS,
    "disposition.disposition_certificate": _CERTIFICATE_READERS,
    "disposition.disposition_certificate_html": _CERTIFICATE_READERS,
    "exports.create_export": _LEGAL,
    "exports.get_export": _LEGAL,
    "exports.download_export": _LEGAL,
    "accounts.list_accounts": _ADMIN,
    "accounts.add_account": _ADMIN,
    "accounts.get_account": _ADMIN,
    "accounts.update_account": _ADMIN,
    "accounts.remove_account": _ADMIN,
    "accounts.account_health_view": _ADMIN,
    # Meta presents no bearer token: the verify token / X-Hub-Signature-256 authenticate.
    "webhooks.verify_meta": PUBLIC,
    "webhooks.deliver_meta": PUBLIC,
    # Public-records work (issue 11): records officers answer requests; a redaction's
    # review by another person is enforced in archiver/redaction/store.py.
    "responses.list_response_sets": _READERS,
    "responses.list_exemptions": _READERS,
    "responses.create_response_set": _READERS,
    "responses.get_response_set": _READERS,
    "responses.add_response_redaction": _READERS,
    "responses.review_response_redaction": _READERS,
    "responses.response_package": _READERS,
    "alerts.list_raised_alerts": _READERS,
    "alerts.list_alert_rules": _READERS,
    "alerts.create_alert_rule": _READERS,
    "alerts.get_alert_rule": _READERS,
    "alerts.mute_alert_rule": _READERS,
    "alerts.portal_settings": _ADMIN,
}

# The web interface (archiver/web, its own Flask app mounted beside the API under /): each
# page is allowed to exactly the roles of the API endpoint it stands for. A signed session
# cookie authenticates there, not a bearer token; archiver/web/auth.py decides every request
# from this table, and the web app refuses to start with an endpoint missing from it.
WEB_PERMISSIONS: dict[str, frozenset[str] | None] = {
    "web.static": PUBLIC,
    "web.signin": PUBLIC,
    "web.signin_oidc": PUBLIC,
    "web.oidc_callback": PUBLIC,
    "web.signout": PUBLIC,
    "web.home": frozenset(ROLES),
    "web.search": PERMISSIONS["search.search"],
    "web.item": PERMISSIONS["items.get_item"],
    "web.media": PERMISSIONS["media.get_media"],
    "web.proof": PERMISSIONS["log.inclusion_proof"],
    "web.accounts": PERMISSIONS["accounts.account_health_view"],
    "web.retention": PERMISSIONS["retention.list_policies"],
    "web.holds": PERMISSIONS["holds.list_holds"],
    "web.place_hold": PERMISSIONS["holds.place_hold_view"],
    "web.release_hold": PERMISSIONS["holds.release_hold_view"],
    "web.runs": PERMISSIONS["disposition.list_disposition_runs"],
    "web.run": PERMISSIONS["disposition.get_disposition_run"],
    "web.create_run": PERMISSIONS["disposition.create_disposition_run"],
    "web.approve_run": PERMISSIONS["disposition.approve_disposition_run"],
    "web.execute_run": PERMISSIONS["disposition.execute_disposition_run"],
    "web.certificate": PERMISSIONS["disposition.disposition_certificate_html"],
    "web.exports": PERMISSIONS["exports.get_export"],
    "web.start_export": PERMISSIONS["exports.create_export"],
    "web.export": PERMISSIONS["exports.get_export"],
    "web.download_export": PERMISSIONS["exports.download_export"],
    "web.integrity": PERMISSIONS["log.checkpoint"],
    "web.verify_now": PERMISSIONS["log.checkpoint"],
    # The public portal (archiver/web/portal.py): PUBLIC because publishing the chosen
    # accounts' history to anyone is its purpose; off unless [portal] enabled = 1, it
    # shows only chosen accounts, never held (non-public) or disposed records, read-only.
    "portal.index": PUBLIC,
    "portal.timeline": PUBLIC,
    "portal.item": PUBLIC,
    "portal.search": PUBLIC,
    "alerts.alerts_page": PERMISSIONS["alerts.list_raised_alerts"],
}

# Requests to these are not written to the audit trail: they read no content and change
# nothing, and probes call them every few seconds.
UNAUDITED: frozenset[str] = frozenset({"health.health", "health.ready", "metrics.metrics",
                                       "openapi.document"})

assert all(roles is PUBLIC or roles <= set(ROLES)
           for roles in [*PERMISSIONS.values(), *WEB_PERMISSIONS.values()])


def allowed_roles(endpoint: str) -> frozenset[str] | None:
    """The roles that may call `endpoint` (None: anyone); KeyError for an unlisted one."""
    return PERMISSIONS[endpoint]
