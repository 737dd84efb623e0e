"""/api/v1/accounts: the official accounts the archive collects (admin only).

    GET    /api/v1/accounts                list (credential names only, never values)
    POST   /api/v1/accounts                register one; `account.added` in the log
    GET    /api/v1/accounts/{id}           one
    PATCH  /api/v1/accounts/{id}           pause/resume, interval, tags, department,
                                           options, credentials (replaced, never returned)
    DELETE /api/v1/accounts/{id}           stop collecting; `account.removed` in the log;
                                           its records stay
    GET    /api/v1/accounts/{id}/health    last run, last success, gap, pause reason, alerts

The audit trail records the account id a request touched, never a request body, so a
credential sent here is written only encrypted, to the catalog.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.routing import Strict, note_resource, operation
from archiver.collectors import accounts as acc
from archiver.collectors.health import account_health

_Text = Field(min_length=1, max_length=512)


class AccountPath(Strict):
    account_id: str = Field(min_length=1, max_length=64)


class AccountFilters(Strict):
    platform: str | None = Field(None, max_length=64)
    status: Literal["active", "paused", "removed"] | None = None


class AccountIn(Strict):
    platform: str = Field(min_length=1, max_length=64)
    platform_id: str = _Text
    handle: str = _Text
    base_url: str | None = Field(None, max_length=2048, description="API root; default per "
                                 "platform (Mastodon: required, the instance)")
    department: str | None = Field(None, min_length=1, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=acc.MAX_TAGS)
    interval: str | int = Field("15m", description="`15m`, `1h`, `1d` or seconds")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    credentials: dict[str, str] = Field(default_factory=dict,
                                        description="Stored encrypted; never returned")


class AccountPatch(Strict):
    status: Literal["active", "paused"] | None = Field(None, description="paused: stop "
                                                       "collecting; active: resume")
    paused_reason: str | None = Field(None, min_length=1, max_length=256)
    interval: str | int | None = None
    tags: list[str] | None = Field(None, max_length=acc.MAX_TAGS)
    department: str | None = Field(None, min_length=1, max_length=256)
    options: dict[str, str | int | float | bool] | None = None
    credentials: dict[str, str] | None = Field(None, description="Replaces every credential")


class AccountOut(BaseModel):
    id: str
    platform: str
    platform_id: str
    handle: str
    base_url: str
    department: str | None
    tags: list[str]
    interval_seconds: int
    schedule: str
    options: dict[str, Any]
    credentials: list[str] = Field(description="The names of the credentials set")
    status: str = Field(description="active, paused or removed")
    paused_reason: str | None
    created_at: str
    updated_at: str
    removed_at: str | None


class AccountListOut(BaseModel):
    accounts: list[AccountOut]


class RunOut(BaseModel):
    seq: int = Field(description="The run's `collection.run` record in the log")
    started_at: str
    finished_at: str
    outcome: str
    window: dict[str, str | None]
    listed: int
    looked_up: int
    requests: int
    archived: int
    events: dict[str, int]
    error: str | None
    retry_at: str | None


class AlertOut(BaseModel):
    account: str
    time: str
    kind: str
    message: str


class HealthOut(BaseModel):
    account: str
    platform: str
    handle: str
    status: str
    paused_reason: str | None
    interval_seconds: int
    grace_seconds: int
    last_run: RunOut | None
    last_success: str | None
    outcome: str | None
    unchecked_seconds: int
    gap: bool = Field(description="Not checked for longer than its interval plus grace")
    gap_seconds: int
    alerts: list[AlertOut]
    checked_at: str


def _out(a: acc.Account) -> AccountOut:
    return AccountOut.model_validate(a.as_dict())


def blueprint() -> Blueprint:
    bp = Blueprint("accounts", __name__, url_prefix="/api/v1")
    by_id = "/accounts/<account_id>"

    @bp.get("/accounts", provide_automatic_options=False)
    @operation(summary="List the collected accounts", tag="accounts", query=AccountFilters,
               response=AccountListOut)
    def list_accounts(query: AccountFilters) -> AccountListOut:
        found = acc.list_accounts(api().archive.catalog, platform=query.platform,
                                  status=query.status)
        return AccountListOut(accounts=[_out(a) for a in found])

    @bp.post("/accounts", provide_automatic_options=False)
    @operation(summary="Register an account for collection", tag="accounts", body=AccountIn,
               response=AccountOut, errors=(415,))
    def add_account(body: AccountIn) -> AccountOut:
        ctx = api()
        actor = f"api:{_actor()}"
        a = acc.add_account(ctx.archive.appender, platform=body.platform,
                            platform_id=body.platform_id, handle=body.handle,
                            base_url=body.base_url, credentials=body.credentials,
                            interval=body.interval, department=body.department,
                            tags=body.tags, options=body.options, actor=actor)
        note_resource(account_id=a.id)
        return _out(a)  # 200, as every operation's success is documented (openapi.py)

    @bp.get(by_id, provide_automatic_options=False)
    @operation(summary="One account", tag="accounts", path=AccountPath, response=AccountOut,
               errors=(404,))
    def get_account(path: AccountPath) -> AccountOut:
        return _out(acc.get_account(api().archive.catalog, path.account_id))

    @bp.patch(by_id, provide_automatic_options=False)
    @operation(summary="Pause, resume, reschedule or retag an account", tag="accounts",
               path=AccountPath, body=AccountPatch, response=AccountOut, errors=(404, 415))
    def update_account(path: AccountPath, body: AccountPatch) -> AccountOut:
        a = acc.update_account(api().archive.appender, path.account_id, status=body.status,
                               paused_reason=body.paused_reason, interval=body.interval,
                               tags=body.tags, department=body.department,
                               options=body.options, credentials=body.credentials)
        return _out(a)

    @bp.delete(by_id, provide_automatic_options=False)
    @operation(summary="Stop collecting an account (its records stay)", tag="accounts",
               path=AccountPath, response=AccountOut, errors=(404,))
    def remove_account(path: AccountPath) -> AccountOut:
        return _out(acc.remove_account(api().archive.appender, path.account_id,
                                       actor=f"api:{_actor()}"))

    @bp.get(by_id + "/health", provide_automatic_options=False)
    @operation(summary="Is the account being watched: last runs, gap, alerts",
               tag="accounts", path=AccountPath, response=HealthOut, errors=(404,))
    def account_health_view(path: AccountPath) -> HealthOut:
        return HealthOut.model_validate(account_health(api().archive, path.account_id))

    return bp


def _actor() -> str:
    """Who, for the log's system record: the token's name and id (auth.py sets it)."""
    from flask import g
    principal = getattr(g, "principal", None)
    return f"{principal.name} ({principal.id})" if principal is not None else "unknown"
