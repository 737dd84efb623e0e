"""/api/v1/responses: public-records response sets, their redactions and review, and the
redacted package (records_officer, admin). Every change is a `system` record in the log;
the archived records never change (archiver/redaction)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from flask import Blueprint, Response
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.exports import ScopeIn
from archiver.api.retention import actor_name
from archiver.api.routing import MAX_INT, Strict, note_resource, operation
from archiver.redaction.exemptions import load_exemptions
from archiver.redaction.package import build_response
from archiver.redaction.store import (
    add_redaction,
    create_response,
    list_responses,
    response_out,
    review_redaction,
)


class ResponseIn(Strict):
    name: str = Field(min_length=1, max_length=2000)
    request_ref: str = Field("", max_length=2000, description="The request's own number")
    scope: ScopeIn


class RedactionIn(Strict):
    seq: int = Field(ge=0, le=MAX_INT, description="The capture record redacted")
    target: Literal["text", "author", "media"]
    spec: dict[str, Any] = Field(description="text: {start, end} (character offsets); "
                                             "author: {field: name|handle|id|all}; media: "
                                             "{index, regions: [[x, y, width, height]]}")
    code: str = Field(min_length=1, max_length=64, description="An exemption code")
    note: str = Field("", max_length=2000)


class ReviewIn(Strict):
    decision: Literal["approve", "reject"]
    note: str = Field("", max_length=2000)


class ResponsePath(Strict):
    response_id: str = Field(pattern=r"^resp_[0-9a-f]{16}$")


class RedactionPath(Strict):
    response_id: str = Field(pattern=r"^resp_[0-9a-f]{16}$")
    redaction_id: str = Field(pattern=r"^red_[0-9a-f]{16}$")


class RedactionOut(BaseModel):
    id: str
    response_id: str
    seq: int
    target: str
    spec: dict[str, Any]
    code: str
    note: str
    state: str = Field(description="pending, approved or rejected")
    created_by: str
    created_at: str
    reviewed_by: str | None
    reviewed_at: str | None
    review_note: str | None


class ResponseOut(BaseModel):
    id: str
    name: str
    request_ref: str
    scope: dict[str, Any]
    records: list[int]
    created_by: str
    created_at: str
    redactions: list[RedactionOut]


class ResponseList(BaseModel):
    responses: list[ResponseOut]


class ExemptionOut(BaseModel):
    code: str
    label: str
    authority: str


class ExemptionList(BaseModel):
    exemptions: list[ExemptionOut]


def _codes() -> Any:
    return load_exemptions(api().settings.alerts.exemptions_file)


def blueprint() -> Blueprint:
    bp = Blueprint("responses", __name__, url_prefix="/api/v1/responses")

    @bp.get("", provide_automatic_options=False)
    @operation(summary="Response sets", tag="responses", response=ResponseList)
    def list_response_sets() -> ResponseList:
        return ResponseList.model_validate({"responses": list_responses(api().archive)})

    @bp.get("/exemptions", provide_automatic_options=False)
    @operation(summary="The exemption codes a redaction may cite", tag="responses",
               response=ExemptionList)
    def list_exemptions() -> ExemptionList:
        return ExemptionList(exemptions=[ExemptionOut(**e.__dict__)
                                         for e in _codes().values()])

    @bp.post("", provide_automatic_options=False)
    @operation(summary="Build a response set from a hold, a search or items",
               tag="responses", body=ResponseIn, response=ResponseOut, errors=(404,),
               extra_responses={201: ResponseOut})
    def create_response_set(body: ResponseIn) -> tuple[ResponseOut, int]:
        out = create_response(api().archive, body.model_dump(exclude_none=True),
                              actor_name())
        note_resource(response_id=out["id"])
        return ResponseOut.model_validate(out), 201

    @bp.get("/<response_id>", provide_automatic_options=False)
    @operation(summary="A response set with its redactions", tag="responses",
               path=ResponsePath, response=ResponseOut, errors=(404,))
    def get_response_set(path: ResponsePath) -> ResponseOut:
        return ResponseOut.model_validate(response_out(api().archive, path.response_id))

    @bp.post("/<response_id>/redactions", provide_automatic_options=False)
    @operation(summary="Mark part of a record withheld (pending review)", tag="responses",
               path=ResponsePath, body=RedactionIn, response=RedactionOut,
               errors=(404, 409), extra_responses={201: RedactionOut})
    def add_response_redaction(path: ResponsePath, body: RedactionIn
                               ) -> tuple[RedactionOut, int]:
        out = add_redaction(api().archive, path.response_id, body.model_dump(),
                            actor_name(), _codes())
        note_resource(redaction_id=out["id"])
        return RedactionOut.model_validate(out), 201

    @bp.post("/<response_id>/redactions/<redaction_id>/review",
             provide_automatic_options=False)
    @operation(summary="Approve or reject a redaction (not its author)", tag="responses",
               path=RedactionPath, body=ReviewIn, response=RedactionOut,
               errors=(404, 409))
    def review_response_redaction(path: RedactionPath, body: ReviewIn) -> RedactionOut:
        return RedactionOut.model_validate(review_redaction(
            api().archive, path.response_id, path.redaction_id, body.decision, actor_name(),
            body.note))

    @bp.post("/<response_id>/package", provide_automatic_options=False)
    @operation(summary="The redacted response package (zip: HTML, PDF, CSV, media)",
               tag="responses", path=ResponsePath, media_type="application/zip",
               text_schema={"type": "string", "format": "binary"}, errors=(404,))
    def response_package(path: ResponsePath) -> Response:
        with tempfile.TemporaryDirectory(prefix="response-") as tmp:
            out = Path(tmp) / f"{path.response_id}.zip"
            build_response(api().archive, path.response_id, out, _codes())
            data = out.read_bytes()
        response = Response(data, mimetype="application/zip")
        response.headers["Content-Disposition"] = (
            f"attachment; filename={path.response_id}.zip")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    return bp
