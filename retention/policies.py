"""Retention policies: what a records schedule item says, as plain data and pure rules.

A policy names the records it covers (scope), the event that starts the clock (trigger),
how long the records are kept after it (period), an optional periodic cutoff (records are
grouped into calendar or fiscal years and the period runs from the end of that year, as
records schedules say "cut off at the end of the fiscal year, destroy 3 years after
cutoff"), the action at the end (destroy, review, transfer) and the authority that
allows it (e.g. `GRS 6.4 item 020`, `DAA-GRS-2016-0005-0002`, Washington `GS50-01-12`).

No I/O here (STYLE.md habit 1): `archiver` stores and logs policies; this module only
parses, validates and evaluates them.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TRIGGERS = ("captured", "published", "deleted_on_platform", "account_event")
ACTIONS = ("destroy", "review", "transfer")
UNITS = ("days", "months", "years", "permanent")
CUTOFFS = ("none", "calendar_year", "fiscal_year")
MAX_DAYS = {"days": 200 * 366, "months": 200 * 12, "years": 200}  # beyond: absurd
POLICY_FIELDS = frozenset({"name", "schedule_code", "authority", "description", "scope",
                           "period", "trigger", "account_event", "action", "effective_from",
                           "cutoff", "fiscal_year_start_month"})
SCOPE_FIELDS = frozenset({"platforms", "accounts", "account_tags", "kinds", "events"})
MAX_TEXT = 2000


class RuleError(ValueError):
    """A policy or hold that cannot be accepted; the message names the field and why."""


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the rules need to know of one capture record (and of its item and account)."""

    seq: int
    platform: str
    account: str
    kind: str
    event: str
    captured: datetime
    published: datetime | None = None
    deleted_on_platform: datetime | None = None  # when the item's deletion was captured
    account_events: Mapping[str, datetime] = field(default_factory=dict)
    account_tags: frozenset[str] = frozenset()
    item_id: str = ""


@dataclass(frozen=True, slots=True)
class Period:
    """A retention period; `unit` "permanent" means never disposed of."""

    amount: int
    unit: str

    @property
    def permanent(self) -> bool:
        return self.unit == "permanent"

    def after(self, start: datetime) -> datetime | None:
        """`start` plus the period (month ends clamp: Jan 31 + 1 month = Feb 28/29)."""
        if self.permanent:
            return None
        if self.unit == "days":
            return start + timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        total = start.month - 1 + months
        year, month = start.year + total // 12, total % 12 + 1
        if year > 9999:
            return None  # beyond the calendar: never in practice
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Scope:
    """Which records a policy covers: every non-empty set must contain the record's value."""

    platforms: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    account_tags: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    def matches(self, platform: str, account: str, kind: str, event: str,
                tags: frozenset[str]) -> bool:
        return ((not self.platforms or platform in self.platforms)
                and (not self.accounts or account in self.accounts)
                and (not self.account_tags or bool(self.account_tags & tags))
                and (not self.kinds or kind in self.kinds)
                and (not self.events or event in self.events))

    def as_dict(self) -> dict[str, list[str]]:
        return {f: sorted(getattr(self, f)) for f in sorted(SCOPE_FIELDS)}


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    name: str
    schedule_code: str
    authority: str
    scope: Scope
    period: Period
    trigger: str
    action: str
    effective_from: datetime
    cutoff: str = "none"
    fiscal_year_start_month: int = 10  # US federal fiscal year: 1 October
    account_event: str | None = None  # trigger "account_event": which one (e.g. "closed")
    description: str = ""
    version: int = 1

    def trigger_time(self, r: RecordFacts) -> datetime | None:
        """When the clock starts for `r`, or None when the trigger has not happened."""
        if self.trigger == "captured":
            return r.captured
        if self.trigger == "published":
            return r.published or r.captured  # no publication time: capture is the best known
        if self.trigger == "deleted_on_platform":
            return r.deleted_on_platform
        return r.account_events.get(self.account_event or "")

    def due_at(self, r: RecordFacts) -> datetime | None:
        """When `r` may be disposed of under this policy alone; None: not (yet) ever."""
        start = self.trigger_time(r)
        if start is None or self.period.permanent:
            return None
        end = self.period.after(cutoff_end(start, self.cutoff, self.fiscal_year_start_month))
        if end is None:
            return None
        return max(end, self.effective_from)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "name": self.name,
                "schedule_code": self.schedule_code, "authority": self.authority,
                "description": self.description, "scope": self.scope.as_dict(),
                "period": self.period.as_dict(), "trigger": self.trigger,
                "account_event": self.account_event, "action": self.action,
                "effective_from": iso_time(self.effective_from), "cutoff": self.cutoff,
                "fiscal_year_start_month": self.fiscal_year_start_month}


def cutoff_end(start: datetime, cutoff: str, fiscal_start_month: int = 10) -> datetime:
    """The instant the period starts: `start` itself, or the end of its calendar/fiscal year.

    A fiscal year starting in month m ends at 00:00 UTC on the 1st of month m after
    `start` (for m = 10: FY2026 runs 1 Oct 2025 to 30 Sep 2026, cut off at 1 Oct 2026).
    """
    if cutoff == "none":
        return start
    month = 1 if cutoff == "calendar_year" else fiscal_start_month
    year = start.year if start.month < month else start.year + 1
    return datetime(year, month, 1, tzinfo=UTC)


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: Any, name: str) -> datetime:
    """An RFC 3339 time with an offset, or a date (YYYY-MM-DD, midnight UTC)."""
    if not isinstance(value, str) or not value:
        raise RuleError(f"{name}: expected an RFC 3339 time or a date, got {value!r}")
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise RuleError(f"{name}: {value!r} is not an RFC 3339 time or a date") from None
    if moment.tzinfo is None:
        raise RuleError(f"{name}: {value!r} has no time zone offset")
    return moment.astimezone(UTC)


def text_field(doc: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = doc.get(name, "")
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise RuleError(f"{name}: expected a string")
    value = value.strip()
    if required and not value:
        raise RuleError(f"{name}: required")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise RuleError(f"{name}: at most {MAX_TEXT} characters, no NUL")
    return value


def string_set(value: Any, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v and len(v) <= 512 and "\x00" not in v for v in value):
        raise RuleError(f"{name}: expected a list of non-empty strings")
    return frozenset(value)


def parse_scope(value: Any, name: str = "scope") -> Scope:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise RuleError(f"{name}: expected an object")
    extra = set(value) - SCOPE_FIELDS
    if extra:
        raise RuleError(f"{name}: unknown field(s) {sorted(extra)}; known: "
                        f"{sorted(SCOPE_FIELDS)}")
    return Scope(**{f: string_set(value.get(f), f"{name}.{f}") for f in SCOPE_FIELDS})


def parse_period(value: Any) -> Period:
    if not isinstance(value, Mapping) or set(value) - {"amount", "unit"}:
        raise RuleError("period: expected {\"amount\": N, \"unit\": days|months|years} or "
                        "{\"unit\": \"permanent\"}")
    unit = value.get("unit")
    if unit not in UNITS:
        raise RuleError(f"period.unit: {unit!r} is not one of {', '.join(UNITS)}")
    if unit == "permanent":
        if value.get("amount") not in (None, 0):
            raise RuleError("period.amount: a permanent period has no amount")
        return Period(0, "permanent")
    amount = value.get("amount")
    if type(amount) is not int:
        raise RuleError("period.amount: expected a whole number")
    if amount < 0:
        raise RuleError(f"period.amount: {amount} is negative")
    if amount > MAX_DAYS[unit]:
        raise RuleError(f"period.amount: {amount} {unit} is absurd (at most "
                        f"{MAX_DAYS[unit]} {unit})")
    return Period(amount, unit)


def parse_policy(doc: Any, *, policy_id: str, version: int = 1) -> Policy:
    """A policy from its JSON form (API body, seed file, log record); RuleError if wrong."""
    if not isinstance(doc, Mapping):
        raise RuleError("a policy is a JSON object")
    extra = set(doc) - POLICY_FIELDS - {"id", "version"}
    if extra:
        raise RuleError(f"unknown field(s) {sorted(extra)}")
    trigger = doc.get("trigger")
    if trigger not in TRIGGERS:
        raise RuleError(f"trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")
    account_event = doc.get("account_event")
    if trigger == "account_event":
        account_event = text_field(doc, "account_event")
    elif account_event is not None:
        raise RuleError("account_event: only with trigger \"account_event\"")
    action = doc.get("action")
    if action not in ACTIONS:
        raise RuleError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    cutoff = doc.get("cutoff", "none") or "none"
    if cutoff not in CUTOFFS:
        raise RuleError(f"cutoff: {cutoff!r} is not one of {', '.join(CUTOFFS)}")
    fy = doc.get("fiscal_year_start_month", 10)
    if type(fy) is not int or not 1 <= fy <= 12:
        raise RuleError("fiscal_year_start_month: a month number, 1 to 12")
    period = parse_period(doc.get("period"))
    return Policy(
        id=policy_id, version=version, name=text_field(doc, "name"),
        schedule_code=text_field(doc, "schedule_code"), authority=text_field(doc, "authority"),
        description=text_field(doc, "description", required=False),
        scope=parse_scope(doc.get("scope")), period=period, trigger=trigger,
        account_event=account_event, action=action,
        effective_from=parse_instant(doc.get("effective_from", "1970-01-01"), "effective_from"),
        cutoff=cutoff, fiscal_year_start_month=fy)
