"""Liveness and readiness: no token, nothing audited, nothing read but reachability."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from pydantic import BaseModel

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


class Ready(BaseModel):
    status: Literal["ready"]
    components: dict[str, Component]


def _check(probe: Any) -> Component:
    """Run one probe; its failure is reported by class name only (no hosts, no paths)."""
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure as "not ready"
        return Component(ok=False, detail=type(exc).__name__)
    return Component(ok=True, detail=detail)


def blueprint() -> Blueprint:
    bp = Blueprint("health", __name__, url_prefix="/api/v1")

    @bp.get("/health", provide_automatic_options=False)
    @operation(summary="Liveness: the process answers", tag="service", response=Health)
    def health() -> Health:
        return Health(status="ok")

    @bp.get("/ready", provide_automatic_options=False)
    @operation(summary="Readiness: catalog and store reachable", tag="service", response=Ready,
               extra_responses={503: ErrorBody},
               description="503 with `details.components` naming what is unreachable.")
    def ready() -> Any:
        archive = api().archive

        def catalog() -> str:
            archive.catalog.check()
            return archive.catalog.dialect

        def store() -> str:
            archive.store.exists(LATEST_CHECKPOINT_KEY)
            return archive.store.description.split(" ", 1)[0]

        components = {
            "catalog": _check(catalog),
            "store": _check(store),
            # The search index lands with the search issue; until then there is none to ask.
            "index": Component(ok=True, detail="not configured"),
        }
        if all(c.ok for c in components.values()):
            return Ready(status="ready", components=components)
        return error_response(503, "not_ready", "a component is unreachable",
                              {"components": {k: c.model_dump() for k, c in components.items()}})

    return bp
