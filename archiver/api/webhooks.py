"""Meta webhooks: `GET /api/v1/webhooks/meta` (subscription check) and `POST` (deliveries).

Both are PUBLIC in permissions.py: Meta presents no bearer token. The GET is authenticated
by the verify token (`[webhooks] meta_verify_token`), the POST by `X-Hub-Signature-256`,
the HMAC-SHA256 of the raw body with the app secret (`[webhooks] meta_app_secret`), both
compared in constant time. A bad or missing signature (or no secret configured) is 401
with the error body and nothing archived.

A signed delivery's changes become observations (`archiver.collectors.meta_webhooks`) and
go through the same capture path as every collector (`archive.ingestor`, one writer turn).
The 200 is sent only after they are durable, so a delivery Meta has to retry (timeout,
5xx) is archived at most once: capture's stale-observation rule and fingerprints make a
duplicate or an out-of-order delivery archive nothing. Changes for pages or Instagram
accounts the archive has not registered are acknowledged (200, `unregistered`), archived
nowhere, and logged.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, Field

from archiver.api.context import api
from archiver.api.routing import Strict, note_resource, operation
from archiver.collectors import meta_webhooks as meta
from archiver.collectors.accounts import list_accounts
from archiver.collectors.runner import observation_input
from archiver.errors import Forbidden, InvalidObservation, InvalidRequest, Unauthorized
from archiver.records import EVENTS, parse_observation

log = logging.getLogger("archiver.api.webhooks")


class VerifyQuery(Strict):
    # excluded from dumps: the audit trail records query parameters, never this token
    mode: str = Field(alias="hub.mode", max_length=64, exclude=True)
    verify_token: str = Field(alias="hub.verify_token", max_length=1024, exclude=True)
    # Meta's challenge is a number; anything beyond these characters is refused rather
    # than echoed (the answer reflects it)
    challenge: str = Field(alias="hub.challenge", min_length=1, max_length=256,
                           pattern=r"^[A-Za-z0-9_.~-]+$", exclude=True)


class DeliveryOut(BaseModel):
    changes: int = Field(description="Changes in the delivery")
    archived: int = Field(description="Records written")
    events: dict[str, int]
    unregistered: list[str] = Field(description="Pages / accounts the archive does not "
                                                "collect: acknowledged, not archived")
    ignored: list[str] = Field(description="Changes not archived, and why")


def _registered(platform: str, platform_id: str, cache: dict[str, set[str]]) -> bool:
    if platform not in cache:
        catalog = api().archive.catalog
        cache[platform] = {a.platform_id for a in list_accounts(catalog, platform=platform)
                           if a.status != "removed"}
    return platform_id in cache[platform]


def blueprint() -> Blueprint:
    bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")

    @bp.get("/meta", provide_automatic_options=False)
    @operation(summary="Meta webhook subscription check: echo hub.challenge",
               tag="webhooks", query=VerifyQuery, media_type="text/plain", errors=(400, 403),
               description=__doc__ or "")
    def verify_meta(query: VerifyQuery) -> Any:
        configured = api().settings.webhooks.meta_verify_token
        if query.mode != "subscribe":
            raise InvalidRequest("hub.mode must be 'subscribe'")
        if not meta.verify_token_matches(configured, query.verify_token):
            log.warning("Meta subscription check refused: %s",
                        "no verify token configured" if not configured else "wrong token")
            raise Forbidden("the verify token does not match")
        return query.challenge

    @bp.post("/meta", provide_automatic_options=False)
    @operation(summary="Meta webhook delivery (Page feed, Instagram comments/mentions)",
               tag="webhooks", raw_body={"application/json": {"type": "object"}},
               response=DeliveryOut, errors=(400, 401, 413), description=__doc__ or "")
    def deliver_meta() -> Any:
        ctx = api()
        body = request.get_data(cache=False)   # the raw bytes: what Meta signed
        secret = ctx.settings.webhooks.meta_app_secret
        if not meta.signature_valid(secret, body, request.headers.get(meta.SIGNATURE_HEADER)):
            log.warning("Meta delivery refused: %s", "no app secret configured"
                        if not secret else "bad or missing X-Hub-Signature-256")
            raise Unauthorized("the delivery's X-Hub-Signature-256 is missing or does not "
                               "match; nothing was archived")
        doc = meta.parse_body(body)
        cache: dict[str, set[str]] = {}
        delivery = meta.observations(doc, lambda p, i: _registered(p, i, cache))
        cap = ctx.settings.capture.max_text_bytes
        checked = []
        for obs in delivery.observations:
            try:
                checked.append(parse_observation(observation_input(obs), max_text_bytes=cap))
            except InvalidObservation as exc:
                delivery.ignored.append(f"{obs.item_id}: {exc.reason}")
        for owner in delivery.unregistered:
            log.warning("Meta delivery for %s, which is not a registered account: "
                        "acknowledged, nothing archived", owner)
        for why in delivery.ignored:
            log.info("Meta delivery: not archived: %s", why)
        events = dict.fromkeys(EVENTS, 0)
        archived = 0
        if checked:
            summary = ctx.archive.ingestor.ingest(checked)   # durable before the 200
            events.update({e: summary.events.get(e, 0) for e in EVENTS})
            archived = summary.archived
            note_resource(archived=archived, seq_range=[summary.seqs[0], summary.seqs[-1]]
                          if summary.seqs else [])
        return DeliveryOut(changes=delivery.changes, archived=archived, events=events,
                           unregistered=delivery.unregistered, ignored=delivery.ignored)

    return bp
