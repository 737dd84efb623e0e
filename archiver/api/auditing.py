"""After every request: write it to the audit trail (when it is audited) and count it.

Audited: every request under /api/v1 except the probes and the API description
(permissions.UNAUDITED), whatever its outcome, so refused attempts are on record too.
The trail fails closed: if the event cannot be written, a response that would have
served content is replaced by a 503, so nothing is read without a trace.
"""

from __future__ import annotations

import logging
import time

from flask import Response, g, request

from archiver import audit
from archiver.api.context import api
from archiver.api.errors import error_response
from archiver.api.permissions import UNAUDITED

log = logging.getLogger("archiver.api.audit")
API_PREFIX = "/api/v1"


def start() -> None:
    g.started = time.perf_counter()


def _audited(endpoint: str | None) -> bool:
    if endpoint in UNAUDITED:
        return False
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def finish(response: Response) -> Response:
    ctx = api()
    rule = request.url_rule
    endpoint = rule.endpoint if rule is not None else None
    if _audited(endpoint):
        principal = g.get("principal")
        event = audit.AuditEvent(
            time=audit.now_text(), method=request.method, path=request.path,
            status=response.status_code, action=endpoint,
            actor_id=principal.id if principal else None,
            actor_name=principal.name if principal else None,
            resource=g.get("audit_resource") or None, remote_addr=request.remote_addr)
        try:
            audit.record(ctx.archive.catalog, event)
        except Exception:  # noqa: BLE001 - any failure to record means the same thing
            log.exception("could not write the audit event for %s %s", request.method,
                          endpoint or "unmatched")
            if response.status_code < 400:
                response = error_response(503, "audit_unavailable",
                                          "the audit trail cannot be written; the request "
                                          "was not served")
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    ctx.metrics.observe_request(endpoint or "unmatched", request.method, response.status_code,
                                elapsed)
    return response
