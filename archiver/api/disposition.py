"""/api/v1/disposition-runs: create (a preview of what is due) -> approve -> execute.

Who: creating, approving, deciding reviews, executing and cancelling are for admin and
records_officer; approval must come from another token and another name than the
creator's (two people for every destruction). Reading runs is open to legal as well (to
see what a hold must catch); certificates to auditors too.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g

from archiver.api.context import api
from archiver.api.retention_models import (
    DecisionIn,
    RunCreateIn,
    RunList,
    RunOut,
    RunPath,
    RunQuery,
)
from archiver.api.routing import note_resource, operation
from archiver.disposal import (
    Actor,
    approve_run,
    cancel_run,
    create_run,
    decide_review,
    execute_run,
    get_run,
    list_runs,
    render_certificate_html,
)
from archiver.errors import Conflict


def _actor() -> Actor:
    p = g.principal
    return Actor(p.name, p.id)


def _certificate(run_id: str) -> dict[str, Any]:
    cert = get_run(api().archive, run_id)["certificate"]
    if cert is None:
        raise Conflict(f"run {run_id} has no certificate (it has not finished)")
    return cert


def _out(run: dict[str, Any]) -> RunOut:
    return RunOut.model_validate(run)


def blueprint() -> Blueprint:
    bp = Blueprint("disposition", __name__, url_prefix="/api/v1/disposition-runs")

    @bp.get("", provide_automatic_options=False)
    @operation(summary="Disposition runs", tag="disposition", response=RunList)
    def list_disposition_runs() -> RunList:
        runs = list_runs(api().archive)
        for r in runs:
            r["certificate"] = None  # GET /{id}/certificate has it
        return RunList(runs=[_out(r) for r in runs])

    @bp.post("", provide_automatic_options=False)
    @operation(summary="Create a run: compute what is due now (nothing is destroyed)",
               tag="disposition", body=RunCreateIn, response=RunOut)
    def create_disposition_run(body: RunCreateIn) -> RunOut:
        run = create_run(api().archive, _actor(), tombstone=body.tombstone)
        note_resource(run_id=run["id"])
        return _out(run)

    @bp.get("/<run_id>", provide_automatic_options=False)
    @operation(summary="One run: state, preview, outcomes", tag="disposition", path=RunPath,
               query=RunQuery, response=RunOut, errors=(404,))
    def get_disposition_run(path: RunPath, query: RunQuery) -> RunOut:
        return _out(get_run(api().archive, path.run_id, items=query.items == "true"))

    @bp.post("/<run_id>/approve", provide_automatic_options=False)
    @operation(summary="Approve a run (not by its creator)", tag="disposition", path=RunPath,
               response=RunOut, errors=(404, 409))
    def approve_disposition_run(path: RunPath) -> RunOut:
        return _out(approve_run(api().archive, path.run_id, _actor()))

    @bp.post("/<run_id>/decisions", provide_automatic_options=False)
    @operation(summary="Decide records due for review: destroy or keep", tag="disposition",
               path=RunPath, body=DecisionIn, response=RunOut, errors=(404, 409))
    def decide_disposition_run(path: RunPath, body: DecisionIn) -> RunOut:
        return _out(decide_review(api().archive, path.run_id, body.seqs, body.decision,
                                  _actor(), body.export_id))

    @bp.post("/<run_id>/execute", provide_automatic_options=False)
    @operation(summary="Execute an approved run (or finish an interrupted one)",
               tag="disposition", path=RunPath, response=RunOut, errors=(404, 409))
    def execute_disposition_run(path: RunPath) -> RunOut:
        return _out(execute_run(api().archive, path.run_id, _actor()))

    @bp.post("/<run_id>/cancel", provide_automatic_options=False)
    @operation(summary="Cancel a run that has not started", tag="disposition", path=RunPath,
               response=RunOut, errors=(404, 409))
    def cancel_disposition_run(path: RunPath) -> RunOut:
        return _out(cancel_run(api().archive, path.run_id, _actor()))

    @bp.get("/<run_id>/certificate", provide_automatic_options=False)
    @operation(summary="The signed certificate of destruction (JSON, authoritative)",
               tag="disposition", path=RunPath, media_type="application/json",
               text_schema={"type": "object"}, errors=(404, 409))
    def disposition_certificate(path: RunPath) -> Any:
        return Response(json.dumps(_certificate(path.run_id), ensure_ascii=False),
                        mimetype="application/json")

    @bp.get("/<run_id>/certificate.html", provide_automatic_options=False)
    @operation(summary="The certificate of destruction for people (HTML)", tag="disposition",
               path=RunPath, media_type="text/html", errors=(404, 409))
    def disposition_certificate_html(path: RunPath) -> Any:
        return Response(render_certificate_html(_certificate(path.run_id)),
                        mimetype="text/html")

    return bp
