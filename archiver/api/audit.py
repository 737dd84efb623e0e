"""GET /api/v1/audit: the audit trail, filtered and paged, for auditors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import AwareDatetime, BaseModel, Field

from archiver.api.context import api
from archiver.api.routing import Strict, operation
from archiver.audit import MAX_PAGE, AuditQuery, Outcome, search


class AuditFilters(Strict):
    since: AwareDatetime | None = Field(None, description="Events at or after this time")
    until: AwareDatetime | None = Field(None, description="Events before this time")
    actor: str | None = Field(None, max_length=128, description="A token id or name")
    action: str | None = Field(None, max_length=64,
                               description="Endpoint name prefix, e.g. `records.`")
    path: str | None = Field(None, max_length=2048, description="Request path prefix")
    outcome: Outcome | None = Field(None, description="success (<400), denied (401, 403), "
                                                      "failed (any other error)")
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of a page")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class AuditEventOut(BaseModel):
    id: int
    time: str
    actor_id: str | None
    actor_name: str | None
    method: str
    path: str
    action: str | None
    resource: dict[str, Any] | None
    remote_addr: str | None
    status: int
    outcome: Outcome


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at "
                                                "the end")


def blueprint() -> Blueprint:
    bp = Blueprint("audit", __name__, url_prefix="/api/v1")

    @bp.get("/audit", provide_automatic_options=False)
    @operation(summary="The audit trail, oldest first", tag="audit", query=AuditFilters,
               response=AuditPageOut)
    def list_events(query: AuditFilters) -> AuditPageOut:
        page = search(api().archive.catalog, AuditQuery(**query.model_dump()))
        return AuditPageOut(events=[AuditEventOut.model_validate(e.as_dict())
                                    for e in page.events], next_cursor=page.next_cursor)

    return bp
