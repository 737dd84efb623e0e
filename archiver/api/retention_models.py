"""Request and response models of the retention endpoints (policies, holds, runs).

Requests are strict (unknown fields are a 400); the retention rules
(`retention.policies.parse_policy`, `retention.holds.parse_hold`) check them again, so
the API, the command line and schedule files accept exactly the same policies.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from archiver.api.routing import MAX_INT, Strict

_Text = Field(min_length=1, max_length=2000)
_Names = Field(None, max_length=1000)
_Id = Field(min_length=1, max_length=40, pattern=r"^[a-z]+_[0-9a-f]{1,32}$")


class PolicyScopeIn(Strict):
    """Empty lists match everything; a record must match every non-empty list."""

    platforms: list[str] | None = _Names
    accounts: list[str] | None = _Names
    account_tags: list[str] | None = _Names
    kinds: list[str] | None = _Names
    events: list[str] | None = _Names


class PeriodIn(Strict):
    amount: int | None = Field(None, ge=0, le=73_200,
                               description="Whole days, months or years; none if permanent")
    unit: Literal["days", "months", "years", "permanent"]


class PolicyIn(Strict):
    """A records schedule item as a policy."""

    name: str = _Text
    schedule_code: str = Field(min_length=1, max_length=2000,
                               description="e.g. GRS 6.4 item 020, GS50-01-12")
    authority: str = Field(min_length=1, max_length=2000,
                           description="The disposition authority, e.g. DAA-GRS-2016-0005-0002")
    description: str | None = Field(None, max_length=2000)
    scope: PolicyScopeIn | None = None
    period: PeriodIn
    trigger: Literal["captured", "published", "deleted_on_platform", "account_event"]
    account_event: str | None = Field(None, min_length=1, max_length=200,
                                      description="With trigger account_event: e.g. closed")
    action: Literal["destroy", "review", "transfer"]
    effective_from: str | None = Field(None, min_length=10, max_length=64,
                                       description="Date or RFC 3339 time; nothing is "
                                                   "disposed of under the policy before it")
    cutoff: Literal["none", "calendar_year", "fiscal_year"] | None = None
    fiscal_year_start_month: int | None = Field(None, ge=1, le=12)


class PolicyOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    version: int
    name: str
    schedule_code: str
    authority: str
    scope: dict[str, list[str]]
    period: dict[str, Any]
    trigger: str
    action: str
    effective_from: str
    cutoff: str
    created_at: str | None = None
    created_by: str | None = None
    retired_at: str | None = None


class PolicySaved(BaseModel):
    policy: PolicyOut
    overlaps: list[list[str]] = Field(description="Policies that can cover the same records "
                                                  "and disagree (allowed: longest wins)")


class PolicyList(BaseModel):
    policies: list[PolicyOut]


class PolicyVersion(BaseModel):
    version: int
    change: str
    time: str
    actor: str
    log_seq: int
    policy: dict[str, Any]


class PolicyHistory(BaseModel):
    versions: list[PolicyVersion]


class PolicyPath(Strict):
    policy_id: str = _Id


class ListQuery(Strict):
    all: Literal["true", "false"] = Field("false", description="Include retired / released")


class HoldScopeIn(Strict):
    """At least one criterion: a hold with an empty scope is refused."""

    accounts: list[str] | None = _Names
    platforms: list[str] | None = _Names
    kinds: list[str] | None = _Names
    date_from: str | None = Field(None, min_length=10, max_length=64)
    date_to: str | None = Field(None, min_length=10, max_length=64)
    date_field: Literal["published", "captured"] | None = None
    query: str | None = Field(None, max_length=2000,
                              description="A search query (the search endpoint's language)")


class HoldIn(Strict):
    matter_name: str = _Text
    matter_number: str = _Text
    description: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    authority: str | None = Field(None, max_length=2000)
    scope: HoldScopeIn


class HoldChangeIn(Strict):
    scope: HoldScopeIn


class ReleaseIn(Strict):
    reason: str = _Text


class HoldOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    version: int
    matter_name: str
    matter_number: str
    scope: dict[str, Any]
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None
    active: bool | None = None


class HoldSaved(BaseModel):
    hold: HoldOut
    object_holds: dict[str, Any] = Field(description="S3 object legal holds placed/released")


class HoldList(BaseModel):
    holds: list[HoldOut]


class HoldEvent(BaseModel):
    version: int
    change: str
    time: str
    actor: str
    log_seq: int
    hold: dict[str, Any]


class HoldHistory(BaseModel):
    history: list[HoldEvent]


class HoldPath(Strict):
    hold_id: str = _Id


class RunCreateIn(Strict):
    tombstone: Literal["metadata", "bare"] = Field(
        "metadata", description="What stays besides the envelope: platform, account, item "
                                "id, dates and hash (metadata), or nothing (bare)")


class DecisionIn(Strict):
    seqs: list[Annotated[int, Field(ge=0, le=MAX_INT)]] = Field(min_length=1,
                                                                 max_length=10_000)
    decision: Literal["destroy", "keep"]
    export_id: str | None = Field(None, min_length=1, max_length=64,
                                  description="For records due for transfer: the finished "
                                              "export that held them (transfer = export, "
                                              "then destroy)")


class RunPath(Strict):
    run_id: str = _Id


class RunQuery(Strict):
    items: Literal["true", "false"] = Field("false", description="List every record")


class RunOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    state: Literal["created", "approved", "executing", "done", "cancelled"]
    as_of: str
    tombstone: str
    created_at: str
    created_by: str
    approved_at: str | None
    approved_by: str | None
    executed_at: str | None
    finished_at: str | None
    preview: dict[str, Any]
    actions: dict[str, int]
    outcomes: dict[str, int]
    certificate: dict[str, Any] | None


class RunList(BaseModel):
    runs: list[RunOut]


class DisposedOut(BaseModel):
    """What remains of a destroyed record: when, under which run and policy."""

    run_id: str
    destroyed_at: str
    policy_id: str
    schedule_code: str
    authority: str
    tombstone: str
    log_seq: int = Field(description="The key.destroyed system record")
