"""GET /api/v1/records/{seq}: one record, decrypted (envelope, hash, payload)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.retention_models import DisposedOut
from archiver.api.routing import MAX_INT, Strict, operation
from archiver.log.reader import read_record
from archiver.retention_store import disposition_of


class RecordPath(Strict):
    seq: int = Field(ge=0, le=MAX_INT, description="The record's sequence number")


class EnvelopeOut(BaseModel):
    v: int
    seq: int
    prev: str
    time: str
    type: str
    kid: str
    nonce: str
    ct: str


class RecordOut(BaseModel):
    seq: int
    envelope: EnvelopeOut
    record_hash: str = Field(description="Hex SHA-256 leaf hash of the envelope line")
    destroyed: bool = Field(description="True when disposition destroyed the data key")
    payload: dict[str, Any] | None
    disposition: DisposedOut | None = Field(
        None, description="When destroyed: when, under which run and policy")


def blueprint() -> Blueprint:
    bp = Blueprint("records", __name__, url_prefix="/api/v1/records")

    @bp.get("/<seq>", provide_automatic_options=False)
    @operation(summary="One record, decrypted", tag="records", path=RecordPath,
               response=RecordOut, errors=(404,))
    def get_record(path: RecordPath) -> RecordOut:
        out = read_record(api().archive.appender, path.seq).as_dict()
        if out["destroyed"]:
            out["disposition"] = disposition_of(api().archive.catalog, [path.seq]).get(path.seq)
        return RecordOut.model_validate(out)

    return bp
