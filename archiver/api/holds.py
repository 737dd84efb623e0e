"""/api/v1/holds: legal holds (legal, admin). A hold's history is append-only: placing,
changing the scope and releasing each add a version and a `system` record."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from archiver.api.context import api
from archiver.api.retention import actor_name
from archiver.api.retention_models import (
    HoldChangeIn,
    HoldHistory,
    HoldIn,
    HoldList,
    HoldOut,
    HoldPath,
    HoldSaved,
    ListQuery,
    ReleaseIn,
)
from archiver.api.routing import note_resource, operation
from archiver.catalog import schema as t
from archiver.errors import StoreError
from archiver.retention_store import (
    change_hold_scope,
    hold_history,
    hold_out,
    hold_row,
    place_hold,
    release_hold,
)


def _object_holds() -> dict[str, Any]:
    """S3 object legal holds follow the catalog; a store failure is reported, not fatal
    (`archiver hold sync` finishes it; the hold is in force for disposition already)."""
    from archiver.disposal import sync_object_holds

    try:
        return sync_object_holds(api().archive)
    except StoreError:
        return {"error": "the object store is unavailable; run `archiver hold sync`"}


def _saved(hold_id: str) -> HoldSaved:
    with api().archive.catalog.reader() as conn:
        out = hold_out(hold_row(conn, hold_id))
    return HoldSaved(hold=HoldOut.model_validate(out), object_holds=_object_holds())


def blueprint() -> Blueprint:
    bp = Blueprint("holds", __name__, url_prefix="/api/v1/holds")

    @bp.get("", provide_automatic_options=False)
    @operation(summary="Legal holds", tag="holds", query=ListQuery, response=HoldList)
    def list_holds(query: ListQuery) -> HoldList:
        with api().archive.catalog.reader() as conn:
            rows = conn.execute(select(t.legal_holds)
                                .order_by(t.legal_holds.c.placed_at)).all()
        return HoldList(holds=[HoldOut.model_validate(hold_out(r)) for r in rows
                               if query.all == "true" or r.released_at is None])

    @bp.post("", provide_automatic_options=False)
    @operation(summary="Place a legal hold", tag="holds", body=HoldIn, response=HoldSaved)
    def place_hold_view(body: HoldIn) -> HoldSaved:
        hold = place_hold(api().archive.appender, body.model_dump(exclude_none=True),
                          actor_name())
        note_resource(hold_id=hold["id"])
        return _saved(hold["id"])

    @bp.get("/<hold_id>", provide_automatic_options=False)
    @operation(summary="One legal hold", tag="holds", path=HoldPath, response=HoldOut,
               errors=(404,))
    def get_hold(path: HoldPath) -> HoldOut:
        with api().archive.catalog.reader() as conn:
            return HoldOut.model_validate(hold_out(hold_row(conn, path.hold_id)))

    @bp.patch("/<hold_id>", provide_automatic_options=False)
    @operation(summary="Change a hold's scope (a new version)", tag="holds", path=HoldPath,
               body=HoldChangeIn, response=HoldSaved, errors=(404, 409))
    def change_hold(path: HoldPath, body: HoldChangeIn) -> HoldSaved:
        change_hold_scope(api().archive.appender, path.hold_id,
                          body.scope.model_dump(exclude_none=True), actor_name())
        return _saved(path.hold_id)

    @bp.post("/<hold_id>/release", provide_automatic_options=False)
    @operation(summary="Release a hold", tag="holds", path=HoldPath, body=ReleaseIn,
               response=HoldSaved, errors=(404, 409))
    def release_hold_view(path: HoldPath, body: ReleaseIn) -> HoldSaved:
        release_hold(api().archive.appender, path.hold_id, actor_name(), body.reason)
        return _saved(path.hold_id)

    @bp.get("/<hold_id>/history", provide_automatic_options=False)
    @operation(summary="A hold's history (placed, scope changed, released)", tag="holds",
               path=HoldPath, response=HoldHistory, errors=(404,))
    def get_hold_history(path: HoldPath) -> HoldHistory:
        with api().archive.catalog.reader() as conn:
            return HoldHistory.model_validate({"history": hold_history(conn, path.hold_id)})

    return bp
