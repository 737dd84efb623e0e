"""Capture: an observation plus the item's archived state gives the events to record.

Pure rules (ARCHITECTURE.md, "Capture semantics"); the fingerprint is a keyed HMAC of the
observation's content (text and media), never a plain hash.

    unseen item            -> created (observed, when first seen long after publication)
    source says deleted    -> deleted   (unless already deleted)
    source says hidden     -> hidden    (unless already hidden)
    deleted/hidden, seen   -> restored  (+ edited when the content changed too)
    fingerprint changed    -> edited
    identical              -> nothing; only the item's last-seen time moves
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from archiver.log.crypto import Fingerprinter
from archiver.log.envelope import canonical
from archiver.records import Observation, parse_time
from archiver.times import format_time


@dataclass(frozen=True, slots=True)
class ItemState:
    """What the catalog knows of an item: enough to decide the next event."""

    platform: str
    item_id: str
    account: str
    kind: str
    parent_id: str | None
    state: str  # live | deleted | hidden
    fingerprint: str | None
    first_seq: int
    latest_seq: int
    versions: int
    first_seen: str
    observed_at: str  # the newest observation applied, normalised RFC 3339
    last_seen: str


def content_fingerprint(fp: Fingerprinter, content: dict[str, Any]) -> str:
    return fp.fingerprint(canonical(content))


def decide(obs: Observation, state: ItemState | None, fingerprint: str,
           *, backfill_after: timedelta, now: datetime) -> list[str]:
    """The events an observation makes, in order; [] when it changes nothing."""
    stale = (state is not None and obs.observed_at is not None
             and normalized_time(obs.observed_at) < state.observed_at)
    if stale:
        return []  # older than what the archive already knows: a replay, not news
    if obs.event == "deleted":
        return [] if state is not None and state.state == "deleted" else ["deleted"]
    if obs.event == "hidden":
        return [] if state is not None and state.state == "hidden" else ["hidden"]
    if state is None:
        if obs.published_at:
            seen = parse_time(obs.observed_at, "observed_at") if obs.observed_at else now
            if seen - parse_time(obs.published_at, "published_at") > backfill_after:
                return ["observed"]
        return ["created"]
    events = []
    if state.state in ("deleted", "hidden"):
        events.append("restored")
    if state.fingerprint is not None and state.fingerprint != fingerprint:
        events.append("edited")
    return events


CONTENT_EVENTS = frozenset({"created", "observed", "edited", "restored"})


def next_state(state: ItemState | None, *, seq: int, payload: dict[str, Any],
               fingerprint: str | None, time: str) -> ItemState:
    """The item's state after a capture record; the same rule for append, adopt and rebuild.

    `fingerprint` is the record's content fingerprint, or None when the record carries no
    content (deletion and hiding notices) or its key was destroyed.
    """
    event = payload["event"]
    observed = normalized_time(payload.get("observed_at") or time)
    new_state = {"deleted": "deleted", "hidden": "hidden"}.get(event, "live")
    if state is None:
        return ItemState(
            platform=payload["platform"], item_id=payload["item_id"], account=payload["account"],
            kind=payload["kind"], parent_id=payload.get("parent_id"), state=new_state,
            fingerprint=fingerprint if event in CONTENT_EVENTS else None,
            first_seq=seq, latest_seq=seq, versions=1 if event in CONTENT_EVENTS else 0,
            first_seen=time, observed_at=observed, last_seen=time,
        )
    carries_new_version = event in ("created", "observed", "edited") or (
        event == "restored" and state.fingerprint is None)
    return replace(
        state,
        state=new_state,
        fingerprint=fingerprint if event in CONTENT_EVENTS and fingerprint else state.fingerprint,
        latest_seq=seq,
        versions=state.versions + (1 if carries_new_version else 0),
        observed_at=max(observed, state.observed_at),
        last_seen=time,
    )


_FIXED_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def normalized_time(value: str) -> str:
    """An RFC 3339 time in the one fixed UTC form, so that strings compare as times."""
    if _FIXED_UTC.fullmatch(value):
        return value
    return format_time(parse_time(value, "observed_at"))
