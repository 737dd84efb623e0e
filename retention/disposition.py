"""What a disposition run may do with each record: `due(records, policies, holds, now)`.

The rules, in order, for each capture record:

1. held: an active hold covers it -> never disposed of, whatever any policy says;
2. uncovered: no policy covers it -> kept, and reported (a gap in the schedule);
3. longest wins: of the policies covering it, the one giving the latest disposal date
   decides; a permanent policy, or one whose trigger has not happened yet (an account
   not closed, an item not deleted), keeps the record, since its period could be longer
   than anything else; equal dates prefer transfer, then review, over destroy;
4. due: when `now` has reached that date the winning policy's action applies (destroy,
   review, transfer); before, the record is kept until then.

Every covering pair of policies that disagree (different period, trigger, cutoff or
action) is counted as an overlap, to be reported: overlaps are allowed, not silent.
Decisions depend on `now` only through `now >= due_at`, so once due a record stays due
(monotone in time) as long as the policies and holds do not change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retention.holds import Hold
from retention.policies import Policy, RecordFacts

OUTCOMES = ("destroy", "review", "transfer", "held", "kept")
_ACTION_RANK = {"transfer": 2, "review": 1, "destroy": 0}


@dataclass(frozen=True, slots=True)
class Decision:
    seq: int
    outcome: str  # destroy | review | transfer | held | kept
    policy_id: str | None = None  # the winning policy
    due_at: datetime | None = None
    hold_ids: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class DueSet:
    destroy: list[Decision] = field(default_factory=list)
    review: list[Decision] = field(default_factory=list)
    transfer: list[Decision] = field(default_factory=list)
    held: list[Decision] = field(default_factory=list)
    kept: list[Decision] = field(default_factory=list)
    uncovered: int = 0
    overlaps: Counter[tuple[str, str]] = field(default_factory=Counter)

    def by_outcome(self, outcome: str) -> list[Decision]:
        return getattr(self, outcome)

    def counts(self) -> dict[str, int]:
        return {o: len(self.by_outcome(o)) for o in OUTCOMES}


def _disagree(a: Policy, b: Policy) -> bool:
    return (a.period, a.trigger, a.account_event, a.cutoff, a.fiscal_year_start_month,
            a.action) != (b.period, b.trigger, b.account_event, b.cutoff,
                          b.fiscal_year_start_month, b.action)


def decide(r: RecordFacts, covering: list[Policy], hold_ids: list[str], now: datetime
           ) -> Decision:
    """The decision for one record, given the policies and active holds covering it."""
    if hold_ids:
        return Decision(r.seq, "held", hold_ids=tuple(sorted(hold_ids)), reason="legal hold")
    if not covering:
        return Decision(r.seq, "kept", reason="uncovered: no policy covers this record")
    best: tuple[datetime, int, str] | None = None
    winner: Policy | None = None
    for p in covering:
        at = p.due_at(r)
        if at is None:
            why = ("permanent" if p.period.permanent else
                   f"trigger {p.trigger}{':' + p.account_event if p.account_event else ''} "
                   f"has not happened")
            return Decision(r.seq, "kept", policy_id=p.id, reason=f"{why} under {p.id}")
        key = (at, _ACTION_RANK[p.action], p.id)
        if best is None or key > best:
            best, winner = key, p
    assert best is not None and winner is not None
    if now >= best[0]:
        return Decision(r.seq, winner.action, policy_id=winner.id, due_at=best[0])
    return Decision(r.seq, "kept", policy_id=winner.id, due_at=best[0],
                    reason=f"retained until {best[0].isoformat()} under {winner.id}")


def due(records: Iterable[RecordFacts], policies: Iterable[Policy], holds: Iterable[Hold],
        now: datetime, query_matches: Mapping[str, frozenset[int]] | None = None) -> DueSet:
    """Sort every record into destroy / review / transfer / held / kept (see module doc).

    `query_matches`: for holds with a search query, the seqs the query matched, by hold
    id; a query hold missing from it covers whatever its other criteria match.
    """
    query_matches = query_matches or {}
    cands = _CandidateMemo(list(policies), [h for h in holds if h.active(now)])
    out = DueSet()
    per_set: Counter[Any] = Counter()
    sets: dict[Any, list[Policy]] = {}
    for r in records:
        set_key, covering, candidate_holds = cands.get(r)
        if set_key not in sets:
            sets[set_key] = covering
        per_set[set_key] += 1
        hold_ids = [h.id for h in candidate_holds
                    if h.covers_instance(r, query_matches.get(h.id))] if candidate_holds else []
        d = decide(r, covering, hold_ids, now)
        out.by_outcome(d.outcome).append(d)
        if not covering and not hold_ids:
            out.uncovered += 1
    for set_key, n in per_set.items():
        covering = sets[set_key]
        for i, a in enumerate(covering):
            for b in covering[i + 1:]:
                if _disagree(a, b):
                    out.overlaps[(min(a.id, b.id), max(a.id, b.id))] += n
    return out


@dataclass(frozen=True, slots=True)
class _KindEntry:
    policies: list[Policy]  # those naming no accounts
    by_account: dict[str, list[Policy]]  # those naming accounts, per account
    holds: list[Hold]
    holds_by_account: dict[str, list[Hold]]


class _CandidateMemo:
    """Which policies and holds can cover a record depends on few of its fields: worked
    out once per (platform, kind, event, account tags), with the many-valued account
    looked up in an index of the policies and holds that name accounts. 50 policies and
    20 holds then cost dictionary lookups per record; dates and queries are checked per
    record."""

    def __init__(self, policies: list[Policy], holds: list[Hold]) -> None:
        # keepers first (permanent, then triggers that may not have happened): decide()
        # stops at the first policy that keeps the record
        self.policies = sorted(policies, key=lambda p: (not p.period.permanent,
                                                        p.trigger in ("captured", "published")))
        self.holds = holds
        self._by_kind: dict[tuple[str, str, str, frozenset[str]], _KindEntry] = {}

    def _entry(self, r: RecordFacts) -> _KindEntry:
        base: list[Policy] = []
        by_account: dict[str, list[Policy]] = {}
        for p in self.policies:
            accounts = p.scope.accounts
            probe = next(iter(accounts)) if accounts else r.account
            if p.scope.matches(r.platform, probe, r.kind, r.event, r.account_tags):
                if accounts:
                    for a in accounts:
                        by_account.setdefault(a, []).append(p)
                else:
                    base.append(p)
        hs: list[Hold] = []
        hs_by_account: dict[str, list[Hold]] = {}
        for h in self.holds:
            accounts = h.scope.accounts
            if h.covers_kind_of(r.platform, next(iter(accounts)) if accounts else r.account,
                                r.kind):
                if accounts:
                    for a in accounts:
                        hs_by_account.setdefault(a, []).append(h)
                else:
                    hs.append(h)
        return _KindEntry(base, by_account, hs, hs_by_account)

    def get(self, r: RecordFacts) -> tuple[Any, list[Policy], list[Hold]]:
        """(a key naming the covering set, the covering policies, the candidate holds)."""
        kind_key = (r.platform, r.kind, r.event, r.account_tags)
        e = self._by_kind.get(kind_key)
        if e is None:
            e = self._by_kind[kind_key] = self._entry(r)
        extra = e.by_account.get(r.account) if e.by_account else None
        held = e.holds_by_account.get(r.account) if e.holds_by_account else None
        if extra:
            return (kind_key, r.account), e.policies + extra, \
                e.holds + held if held else e.holds
        return kind_key, e.policies, e.holds + held if held else e.holds


def overlapping_policies(policies: Iterable[Policy]) -> list[tuple[str, str]]:
    """Pairs of policies whose scopes can cover the same record and that disagree: the
    report asked for when a policy is saved (allowed; longest wins)."""
    ps = list(policies)
    pairs = []
    for i, a in enumerate(ps):
        for b in ps[i + 1:]:
            if _disagree(a, b) and _scopes_intersect(a, b):
                pairs.append((a.id, b.id))
    return pairs


def _scopes_intersect(a: Policy, b: Policy) -> bool:
    for f in ("platforms", "accounts", "account_tags", "kinds", "events"):
        x, y = getattr(a.scope, f), getattr(b.scope, f)
        if x and y and not (x & y):
            return False
    return True
