"""/api/v1/alerts and /api/v1/alert-rules (admin, records_officer): the alerts raised, the
rules that raise them, muting (archiver/alerts); and /api/v1/portal (admin): the public
portal's settings in effect (they are set in [portal], not through the API)."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from pydantic import BaseModel, Field

from archiver.alerts.store import create_rule, get_rule, list_alerts, list_rules, set_muted
from archiver.api.context import api
from archiver.api.retention import actor_name
from archiver.api.routing import Strict, note_resource, operation


class ChannelsIn(Strict):
    email: list[str] = Field(default_factory=list, max_length=20)
    webhook: list[str] = Field(default_factory=list, max_length=20)


class RuleIn(Strict):
    name: str = Field(min_length=1, max_length=2000)
    kind: Literal["item_deleted", "item_edited", "comment_match", "collection_failed",
                  "credential_expiring"]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="accounts, kinds; comment_match: terms, "
                                               "patterns, presets (phone, email, "
                                               "national_id)")
    channels: ChannelsIn


class MuteIn(Strict):
    muted: bool


class RulePath(Strict):
    rule_id: str = Field(pattern=r"^rule_[0-9a-f]{16}$")


class AlertQuery(Strict):
    limit: int = Field(100, ge=1, le=1000)
    rule: str | None = Field(None, pattern=r"^rule_[0-9a-f]{16}$")


class RuleOut(BaseModel):
    id: str
    name: str
    kind: str
    config: dict[str, Any]
    channels: dict[str, list[str]]
    muted: bool
    created_by: str
    created_at: str
    updated_at: str


class RuleList(BaseModel):
    rules: list[RuleOut]


class AlertOut(BaseModel):
    id: int
    rule_id: str
    time: str
    kind: str
    subject: str
    details: dict[str, Any]
    deliveries: dict[str, Any]


class AlertList(BaseModel):
    alerts: list[AlertOut]


class PortalOut(BaseModel):
    enabled: bool
    accounts: list[str] = Field(description="platform:account of each account shown")
    comments: bool
    hide_commenter_names: bool
    public_holds: list[str]
    rate_per_minute: int


def blueprint() -> Blueprint:
    bp = Blueprint("alerts", __name__)

    @bp.get("/api/v1/alerts", provide_automatic_options=False)
    @operation(summary="Alerts raised, newest first", tag="alerts", query=AlertQuery,
               response=AlertList)
    def list_raised_alerts(query: AlertQuery) -> AlertList:
        return AlertList.model_validate(
            {"alerts": list_alerts(api().archive, query.limit, query.rule)})

    @bp.get("/api/v1/alert-rules", provide_automatic_options=False)
    @operation(summary="Alert rules", tag="alerts", response=RuleList)
    def list_alert_rules() -> RuleList:
        return RuleList.model_validate({"rules": list_rules(api().archive)})

    @bp.post("/api/v1/alert-rules", provide_automatic_options=False)
    @operation(summary="Create an alert rule (patterns checked: invalid -> 400)",
               tag="alerts", body=RuleIn, response=RuleOut, extra_responses={201: RuleOut})
    def create_alert_rule(body: RuleIn) -> tuple[RuleOut, int]:
        out = create_rule(api().archive, body.model_dump(), actor_name())
        note_resource(rule_id=out["id"])
        return RuleOut.model_validate(out), 201

    @bp.get("/api/v1/alert-rules/<rule_id>", provide_automatic_options=False)
    @operation(summary="One alert rule", tag="alerts", path=RulePath, response=RuleOut,
               errors=(404,))
    def get_alert_rule(path: RulePath) -> RuleOut:
        return RuleOut.model_validate(get_rule(api().archive, path.rule_id))

    @bp.post("/api/v1/alert-rules/<rule_id>/mute", provide_automatic_options=False)
    @operation(summary="Mute or unmute a rule", tag="alerts", path=RulePath, body=MuteIn,
               response=RuleOut, errors=(404,))
    def mute_alert_rule(path: RulePath, body: MuteIn) -> RuleOut:
        return RuleOut.model_validate(set_muted(api().archive, path.rule_id, body.muted,
                                                actor_name()))

    @bp.get("/api/v1/portal", provide_automatic_options=False)
    @operation(summary="The public portal's settings in effect ([portal])", tag="alerts",
               response=PortalOut)
    def portal_settings() -> PortalOut:
        from archiver.web.portal import chosen_accounts

        p = api().settings.portal
        return PortalOut(enabled=bool(p.enabled),
                         accounts=sorted(f"{a}:{b}" for a, b in chosen_accounts(p)),
                         comments=bool(p.comments),
                         hide_commenter_names=bool(p.hide_commenter_names),
                         public_holds=[h.strip() for h in p.public_holds.split(",")
                                       if h.strip()],
                         rate_per_minute=p.rate_per_minute)

    return bp
