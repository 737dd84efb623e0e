"""/api/v1/retention/policies: records schedule items as policies (admin, records_officer).

Every change is a new version (history kept) and a `system` record in the log. Overlapping
policies are allowed (the longest retention wins) and reported in `overlaps`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from sqlalchemy import select

from archiver.api.context import api
from archiver.api.retention_models import (
    ListQuery,
    PolicyHistory,
    PolicyIn,
    PolicyList,
    PolicyOut,
    PolicyPath,
    PolicySaved,
)
from archiver.api.routing import note_resource, operation
from archiver.catalog import schema as t
from archiver.retention_store import (
    change_policy,
    create_policy,
    policy_history,
    policy_out,
    policy_row,
    retire_policy,
)


def actor_name() -> str:
    """Who calls: the token's name and id, as the log records it."""
    p = g.principal
    return f"{p.name} ({p.id})"


def _doc(body: PolicyIn) -> dict[str, Any]:
    return body.model_dump(exclude_none=True)


def _saved(policy_id: str, overlaps: list[tuple[str, str]]) -> PolicySaved:
    with api().archive.catalog.reader() as conn:
        out = policy_out(policy_row(conn, policy_id))
    return PolicySaved(policy=PolicyOut.model_validate(out),
                       overlaps=[list(p) for p in overlaps])


def blueprint() -> Blueprint:
    bp = Blueprint("retention", __name__, url_prefix="/api/v1/retention/policies")

    @bp.get("", provide_automatic_options=False)
    @operation(summary="Retention policies", tag="retention", query=ListQuery,
               response=PolicyList)
    def list_policies(query: ListQuery) -> PolicyList:
        with api().archive.catalog.reader() as conn:
            rows = conn.execute(select(t.retention_policies)
                                .order_by(t.retention_policies.c.created_at)).all()
        return PolicyList(policies=[PolicyOut.model_validate(policy_out(r)) for r in rows
                                    if query.all == "true" or r.retired_at is None])

    @bp.post("", provide_automatic_options=False)
    @operation(summary="Create a retention policy", tag="retention", body=PolicyIn,
               response=PolicySaved, errors=(409,))
    def create_policy_view(body: PolicyIn) -> PolicySaved:
        policy, overlaps = create_policy(api().archive.appender, _doc(body), actor_name())
        note_resource(policy_id=policy["id"])
        return _saved(policy["id"], overlaps)

    @bp.get("/<policy_id>", provide_automatic_options=False)
    @operation(summary="One retention policy", tag="retention", path=PolicyPath,
               response=PolicyOut, errors=(404,))
    def get_policy(path: PolicyPath) -> PolicyOut:
        with api().archive.catalog.reader() as conn:
            return PolicyOut.model_validate(policy_out(policy_row(conn, path.policy_id)))

    @bp.put("/<policy_id>", provide_automatic_options=False)
    @operation(summary="Change a policy (a new version)", tag="retention", path=PolicyPath,
               body=PolicyIn, response=PolicySaved, errors=(404, 409))
    def change_policy_view(path: PolicyPath, body: PolicyIn) -> PolicySaved:
        _, overlaps = change_policy(api().archive.appender, path.policy_id, _doc(body),
                                    actor_name())
        return _saved(path.policy_id, overlaps)

    @bp.post("/<policy_id>/retire", provide_automatic_options=False)
    @operation(summary="Retire a policy (it stops applying; history kept)", tag="retention",
               path=PolicyPath, response=PolicyOut, errors=(404, 409))
    def retire_policy_view(path: PolicyPath) -> PolicyOut:
        retire_policy(api().archive.appender, path.policy_id, actor_name())
        with api().archive.catalog.reader() as conn:
            return PolicyOut.model_validate(policy_out(policy_row(conn, path.policy_id)))

    @bp.get("/<policy_id>/versions", provide_automatic_options=False)
    @operation(summary="Every version of a policy", tag="retention", path=PolicyPath,
               response=PolicyHistory, errors=(404,))
    def policy_versions(path: PolicyPath) -> PolicyHistory:
        with api().archive.catalog.reader() as conn:
            return PolicyHistory.model_validate({"versions": policy_history(
                conn, path.policy_id)})

    return bp
