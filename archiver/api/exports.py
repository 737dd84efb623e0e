"""/api/v1/exports: evidence packages (legal, admin). POST starts a background job and
answers 202 at once; GET shows its state and progress; /download serves the zip until the
download expires (then 410). Every call is on the audit trail, downloads included."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, send_file
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.retention import actor_name
from archiver.api.routing import Strict, note_resource, operation
from archiver.exports import jobs
from archiver.exports.bag import ExportOptions
from archiver.exports.loadfile import Delimiters
from archiver.exports.scope import MAX_ITEMS, ExportScope
from archiver.records import MAX_ID_CHARS


class ItemRef(Strict):
    platform: str = Field(min_length=1, max_length=64)
    item_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


class ScopeIn(Strict):
    """One of: a legal hold, a search (query and/or filters), a list of items."""

    hold: str | None = Field(None, min_length=1, max_length=40)
    query: str | None = Field(None, max_length=2000, description="Search query syntax")
    filters: dict[str, str | list[str]] | None = Field(
        None, description="Search filters: platform, account, kind, event, author, "
                          "date_field, from, to, has_edits, deleted, hidden")
    items: list[ItemRef] | None = Field(None, max_length=MAX_ITEMS,
                                        description="Each item with its comment thread")


class DelimitersIn(Strict):
    qualifier: str = Field("\u00fe", min_length=1, max_length=1)
    separator: str = Field("\x14", min_length=1, max_length=1)
    newline: str = Field("\u00ae", min_length=1, max_length=1)


class ExportIn(Strict):
    scope: ScopeIn
    encoding: Literal["utf-8", "cp1252"] = Field(
        "utf-8", description="Of the DAT and CSV load files; in cp1252, characters it "
                             "cannot hold are '?' and the row's ENCODING_LOSS is Y")
    delimiters: DelimitersIn | None = None
    prefix: str = Field("ARC", pattern=r"^[A-Z0-9_-]{1,16}$",
                        description="Of the Bates-style control numbers")
    pdf: bool = True
    download_hours: int = Field(jobs.DEFAULT_DOWNLOAD_HOURS, ge=1, le=jobs.MAX_DOWNLOAD_HOURS)


class ExportPath(Strict):
    export_id: str = Field(pattern=r"^exp-[0-9a-f]{16}$")


class Progress(BaseModel):
    done: int
    total: int


class ExportOut(BaseModel):
    id: str
    state: str = Field(description="queued, running, done, failed, interrupted or expired")
    requested_by: str
    requested_at: str
    scope: dict[str, Any]
    options: dict[str, Any]
    progress: Progress = Field(description="Records read so far, of the total (+1: packaging)")
    finished_at: str | None
    expires_at: str | None = Field(description="After this the download answers 410")
    sha256: str | None = Field(description="Of the zip (also in the export.completed record)")
    bytes: int | None
    summary: dict[str, Any] | None = Field(description="Counts, notes, checkpoint used")
    error: str | None
    created_seq: int = Field(description="The export.created system record")
    completed_seq: int | None = Field(description="The export.completed (or failed) record")
    downloads: int
    download: str | None = Field(description="Where to download it, when done")


def _out(job: jobs.ExportJob) -> ExportOut:
    doc = job.as_dict()
    doc["progress"] = Progress(done=doc.pop("done"), total=doc.pop("total"))
    doc["download"] = f"/api/v1/exports/{job.id}/download" if job.state == "done" else None
    return ExportOut.model_validate(doc)


def blueprint() -> Blueprint:
    bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")

    @bp.post("", provide_automatic_options=False)
    @operation(summary="Start an evidence export (BagIt zip)", tag="exports", body=ExportIn,
               response=ExportOut, errors=(404,), extra_responses={202: ExportOut},
               description="Answers 202 with the queued job; poll GET /api/v1/exports/{id}.")
    def create_export(body: ExportIn) -> tuple[ExportOut, int]:
        s = body.scope
        scope = ExportScope(hold=s.hold, query=s.query, filters=s.filters or {},
                            items=tuple((i.platform, i.item_id) for i in s.items or ()))
        d = body.delimiters or DelimitersIn()
        options = ExportOptions(encoding=body.encoding, prefix=body.prefix, pdf=body.pdf,
                                delimiters=Delimiters(d.qualifier, d.separator, d.newline))
        archive = api().archive
        job = jobs.create_export(archive, scope, options, actor_name(),
                                 download_hours=body.download_hours)
        note_resource(export_id=job.id)
        runner = api().cache.setdefault("exports", jobs.ExportRunner(archive))
        runner.submit(job.id)
        return _out(job), 202

    @bp.get("/<export_id>", provide_automatic_options=False)
    @operation(summary="An export's state and progress", tag="exports", path=ExportPath,
               response=ExportOut, errors=(404,))
    def get_export(path: ExportPath) -> ExportOut:
        return _out(jobs.get_export(api().archive, path.export_id))

    @bp.get("/<export_id>/download", provide_automatic_options=False)
    @operation(summary="Download a finished export (until it expires: then 410)",
               tag="exports", path=ExportPath, media_type="application/zip",
               text_schema={"type": "string", "format": "binary"}, errors=(404, 409, 410))
    def download_export(path: ExportPath) -> Response:
        job, file = jobs.download(api().archive, path.export_id)
        response = send_file(file, mimetype="application/zip", as_attachment=True,
                             download_name=f"{job.id}.zip", conditional=False, etag=False)
        response.headers["X-Content-SHA256"] = job.sha256 or ""
        response.headers["Cache-Control"] = "private, no-store"
        return response

    return bp
