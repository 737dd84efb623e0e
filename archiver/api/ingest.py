"""POST /api/v1/ingest: observations in, archived events out; the rules of `archiver ingest`.

The body is JSON Lines (`application/x-ndjson` or `application/jsonl`) or one JSON array
(`application/json`); "line" in errors is the 1-based line, or array position. Each
observation is checked by `archiver.records.parse_observation`, as on the command line:

- every observation valid: 200 and the summary;
- some invalid: the valid ones are archived, 200 with `rejected` > 0 and `errors` naming
  each bad line (the first 100), as `archiver ingest` archives the good lines of a file;
- none valid (or no observation at all, or an array body that is not valid JSON): 400
  with the error body and nothing archived.
Ingest is idempotent, so a client that lost a response sends the same batch again.
"""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, Field
from werkzeug.exceptions import UnsupportedMediaType

from archiver.api.context import api
from archiver.api.errors import RequestInvalid, error_response
from archiver.api.models import ObservationIn
from archiver.api.routing import note_resource, operation
from archiver.errors import InvalidObservation
from archiver.ingest import read_jsonl
from archiver.records import Observation, parse_observation

JSON_LINES = ("application/x-ndjson", "application/jsonl")
MAX_ERRORS = 100


class IngestError(BaseModel):
    line: int | None = Field(description="1-based line (JSON Lines) or array position")
    reason: str


class IngestSummaryOut(BaseModel):
    received: int
    archived: int = Field(description="Records written (an observation may make two)")
    events: dict[str, int]
    rejected: int
    errors: list[IngestError] = Field(description=f"The first {MAX_ERRORS} rejections")
    seqs: list[int] = Field(description="The sequence numbers of the records written")


def _parse_array(raw: bytes, max_text_bytes: int) -> list[Observation | InvalidObservation]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise RequestInvalid(f"the body is not valid JSON: {detail}") from None
    if not isinstance(data, list):
        raise RequestInvalid("an application/json body must be an array of observations")
    out: list[Observation | InvalidObservation] = []
    for number, obj in enumerate(data, start=1):
        try:
            out.append(parse_observation(obj, max_text_bytes=max_text_bytes, line=number))
        except InvalidObservation as exc:
            out.append(exc)
    return out


def _errors(rejected: list[InvalidObservation]) -> list[dict[str, Any]]:
    return [{"line": e.line, "reason": e.reason} for e in rejected[:MAX_ERRORS]]


def blueprint() -> Blueprint:
    bp = Blueprint("ingest", __name__, url_prefix="/api/v1")

    @bp.post("/ingest", provide_automatic_options=False)
    @operation(
        summary="Archive observations (JSON Lines or a JSON array)", tag="ingest",
        raw_body={"application/json": {"type": "array", "items": ObservationIn,
                                        "minItems": 1},
                  "application/x-ndjson": {"type": "string",
                                           "description": "One observation per line"}},
        response=IngestSummaryOut, errors=(400, 413, 415), description=__doc__ or "")
    def ingest() -> Any:
        ctx = api()
        if request.mimetype not in (*JSON_LINES, "application/json"):
            raise UnsupportedMediaType(
                f"send observations as {' or '.join(JSON_LINES)} or application/json")
        raw = request.get_data(cache=False)  # 413 here when over MAX_CONTENT_LENGTH
        cap = ctx.settings.capture.max_text_bytes
        if request.mimetype == "application/json":
            parsed = _parse_array(raw, cap)
        else:
            parsed = [o for _, o in read_jsonl(io.BytesIO(raw), max_text_bytes=cap,
                                               max_line_bytes=4 * cap + 1_000_000)]
        rejected = [p for p in parsed if isinstance(p, InvalidObservation)]
        metrics = ctx.metrics
        if not parsed:
            metrics.ingest_batches.labels("rejected").inc()
            raise RequestInvalid("the body holds no observations")
        if len(rejected) == len(parsed):
            metrics.ingest_batches.labels("rejected").inc()
            metrics.ingest_observations.labels("rejected").inc(len(rejected))
            note_resource(received=len(parsed), archived=0)
            return error_response(
                400, InvalidObservation.code,
                f"every observation was rejected ({len(rejected)}); nothing was archived",
                {"received": len(parsed), "rejected": len(rejected),
                 "errors": _errors(rejected)})
        summary = ctx.archive.ingestor.ingest(parsed)
        if summary.archived:  # alert rules run in their worker, after the response's turn
            from archiver.alerts.worker import notify
            notify(ctx.archive)
        metrics.ingest_batches.labels("partial" if rejected else "accepted").inc()
        metrics.ingest_observations.labels("accepted").inc(len(parsed) - len(rejected))
        metrics.ingest_observations.labels("rejected").inc(len(rejected))
        note_resource(received=summary.received, archived=summary.archived,
                      seq_range=[summary.seqs[0], summary.seqs[-1]] if summary.seqs else [])
        out = summary.as_dict()
        out["errors"] = _errors(summary.rejected)
        out["seqs"] = summary.seqs
        return IngestSummaryOut.model_validate(out)

    return bp
