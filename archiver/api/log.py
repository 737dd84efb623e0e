"""GET /api/v1/log/...: the public face of the log (checkpoints, proofs, verifier key)."""

from __future__ import annotations

from flask import Blueprint, Response
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.routing import MAX_INT, Strict, operation
from archiver.log.proofs import checkpoint_note, consistency_proof, inclusion_proof

_Size = Field(None, ge=1, le=MAX_INT, description="A tree size (default: the newest checkpoint)")


class CheckpointQuery(Strict):
    size: int | None = _Size


class InclusionQuery(Strict):
    seq: int = Field(ge=0, le=MAX_INT)
    size: int | None = _Size


class ConsistencyQuery(Strict):
    old: int = Field(ge=1, le=MAX_INT)
    new: int | None = _Size


class InclusionProof(BaseModel):
    seq: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="The RFC 6962 audit path, base64")


class ConsistencyProof(BaseModel):
    old_size: int
    new_size: int
    hashes: list[str] = Field(description="The RFC 6962 consistency proof, base64")


def _text(body: bytes | str) -> Response:
    return Response(body, mimetype="text/plain")


def blueprint() -> Blueprint:
    bp = Blueprint("log", __name__, url_prefix="/api/v1/log")

    @bp.get("/checkpoint", provide_automatic_options=False)
    @operation(summary="A signed checkpoint (C2SP signed note)", tag="log",
               query=CheckpointQuery, media_type="text/plain", errors=(404,))
    def checkpoint(query: CheckpointQuery) -> Response:
        return _text(checkpoint_note(api().archive.appender, query.size))

    @bp.get("/proof/inclusion", endpoint="inclusion_proof", provide_automatic_options=False)
    @operation(summary="RFC 6962 inclusion proof of a record", tag="log",
               query=InclusionQuery, response=InclusionProof, errors=(404,))
    def inclusion_proof_view(query: InclusionQuery) -> InclusionProof:
        return InclusionProof.model_validate(
            inclusion_proof(api().archive.appender, query.seq, query.size))

    @bp.get("/proof/consistency", endpoint="consistency_proof",
            provide_automatic_options=False)
    @operation(summary="RFC 6962 consistency proof between two tree sizes", tag="log",
               query=ConsistencyQuery, response=ConsistencyProof, errors=(404,))
    def consistency_proof_view(query: ConsistencyQuery) -> ConsistencyProof:
        return ConsistencyProof.model_validate(
            consistency_proof(api().archive.appender, query.old, query.new))

    @bp.get("/vkey", provide_automatic_options=False)
    @operation(summary="The verifier key (sumdb/note format)", tag="log", media_type="text/plain")
    def vkey() -> Response:
        return _text(api().archive.appender.p.signer.vkey() + "\n")

    return bp
