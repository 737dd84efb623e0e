"""Liveness and readiness: no token, nothing audited, nothing read but reachability.

Readiness asks the catalog, the store and the search index. The index is ready when it
can be opened (or has not been built yet: searches then answer empty); its lag, the
committed capture records not yet searchable, is reported but never makes the app
unready: lag is a metric (`archiver_index_lag_records`), not an outage. An index that
cannot be opened or read (corrupt, unreadable) is a 503.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.errors import error_response
from archiver.api.models import ErrorBody
from archiver.api.routing import operation
from archiver.log.envelope import LATEST_CHECKPOINT_KEY


class Health(BaseModel):
    status: Literal["ok"]


class Component(BaseModel):
    ok: bool
    detail: str


class IndexComponent(Component):
    documents: int | None = Field(None, description="Documents in the index")
    lag: int | None = Field(None, description="Committed capture records not yet searchable "
                                              "(null when the catalog did not answer)")


class Components(BaseModel):
    catalog: Component
    store: Component
    index: IndexComponent


class Ready(BaseModel):
    status: Literal["ready"]
    components: Components


def _check(probe: Any) -> Component:
    """Run one probe; its failure is reported by class name only (no hosts, no paths)."""
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure as "not ready"
        return Component(ok=False, detail=type(exc).__name__)
    return Component(ok=True, detail=detail)


def _check_index() -> IndexComponent:
    """Open the index and count its documents (a failure is not ready), then its lag (a
    catalog failure leaves it null: the catalog component reports that outage)."""
    ctx = api()
    try:
        state = ctx.index.state()
    except Exception as exc:  # noqa: BLE001 - an index that cannot be read is not ready
        return IndexComponent(ok=False, detail=type(exc).__name__)
    try:
        lag: int | None = ctx.index.lag(ctx.archive.appender)
    except Exception:  # noqa: BLE001 - reported by the catalog probe
        lag = None
    detail = "whoosh" if state.documents else "whoosh, empty"  # not built yet, or nothing in it
    return IndexComponent(ok=True, detail=detail, documents=state.documents, lag=lag)


def blueprint() -> Blueprint:
    bp = Blueprint("health", __name__, url_prefix="/api/v1")

    @bp.get("/health", provide_automatic_options=False)
    @operation(summary="Liveness: the process answers", tag="service", response=Health)
    def health() -> Health:
        return Health(status="ok")

    @bp.get("/ready", provide_automatic_options=False)
    @operation(summary="Readiness: catalog and store reachable, search index readable",
               tag="service", response=Ready,
               extra_responses={503: ErrorBody},
               description="503 with `details.components` naming what is unreachable or, for "
                           "the search index, unreadable. The index's `lag` (records not "
                           "yet searchable) is reported, never a reason for 503.")
    def ready() -> Any:
        archive = api().archive

        def catalog() -> str:
            archive.catalog.check()
            return archive.catalog.dialect

        def store() -> str:
            archive.store.exists(LATEST_CHECKPOINT_KEY)
            return archive.store.description.split(" ", 1)[0]

        components = Components(catalog=_check(catalog), store=_check(store),
                                index=_check_index())
        if all(c.ok for c in (components.catalog, components.store, components.index)):
            return Ready(status="ready", components=components)
        return error_response(503, "not_ready", "a component is unreachable or unreadable",
                              {"components": components.model_dump()})

    return bp
