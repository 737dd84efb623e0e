"""Properties of `due` over random records, policies and holds (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from retention.disposition import due
from retention.holds import Hold, HoldScope
from retention.policies import Period, Policy, RecordFacts, Scope, cutoff_end

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
PLATFORMS = ("mastodon", "bluesky", "x")
ACCOUNTS = ("a", "b", "c")
KINDS = ("post", "comment")
moments = st.integers(0, 3000).map(lambda d: EPOCH + timedelta(days=d, hours=d % 24))
names = lambda pool: st.frozensets(st.sampled_from(pool), max_size=2)  # noqa: E731


@st.composite
def records(draw: st.DrawFn) -> list[RecordFacts]:
    n = draw(st.integers(1, 25))
    out = []
    for seq in range(n):
        captured = draw(moments)
        out.append(RecordFacts(
            seq=seq, platform=draw(st.sampled_from(PLATFORMS)),
            account=draw(st.sampled_from(ACCOUNTS)), kind=draw(st.sampled_from(KINDS)),
            event=draw(st.sampled_from(("created", "edited", "deleted"))), captured=captured,
            published=draw(st.none() | moments),
            deleted_on_platform=draw(st.none() | moments),
            account_events=draw(st.dictionaries(st.just("closed"), moments, max_size=1))))
    return out


@st.composite
def policies(draw: st.DrawFn) -> list[Policy]:
    out = []
    for i in range(draw(st.integers(0, 6))):
        unit = draw(st.sampled_from(("days", "months", "years", "permanent")))
        trigger = draw(st.sampled_from(("captured", "published", "deleted_on_platform",
                                        "account_event")))
        out.append(Policy(
            id=f"p{i}", name=f"p{i}", schedule_code="S", authority="A",
            scope=Scope(platforms=draw(names(PLATFORMS)), accounts=draw(names(ACCOUNTS)),
                        kinds=draw(names(KINDS))),
            period=Period(0 if unit == "permanent" else draw(st.integers(0, 40)), unit),
            trigger=trigger, account_event="closed" if trigger == "account_event" else None,
            action=draw(st.sampled_from(("destroy", "review", "transfer"))),
            effective_from=draw(moments),
            cutoff=draw(st.sampled_from(("none", "calendar_year", "fiscal_year"))),
            fiscal_year_start_month=draw(st.integers(1, 12))))
    return out


@st.composite
def holds(draw: st.DrawFn) -> list[Hold]:
    out = []
    for i in range(draw(st.integers(0, 4))):
        start = draw(st.none() | moments)
        scope = HoldScope(accounts=draw(names(ACCOUNTS)), platforms=draw(names(PLATFORMS)),
                          date_from=start,
                          date_to=None if start is None else start + timedelta(days=400),
                          date_field=draw(st.sampled_from(("published", "captured"))))
        if scope.empty:
            scope = HoldScope(accounts=frozenset({"a"}))
        placed = draw(moments)
        after = draw(st.none() | st.integers(1, 900))
        released = None if after is None else placed + timedelta(days=after)
        out.append(Hold(id=f"h{i}", matter_name="m", matter_number=str(i), scope=scope,
                        placed_by="x", placed_at=placed, released_at=released))
    return out


def _destroyable(result: object) -> set[int]:
    return {d.seq for o in ("destroy", "review", "transfer") for d in getattr(result, o)}


@settings(max_examples=120, deadline=None)
@given(records(), policies(), holds(), moments)
def test_no_record_under_an_active_hold_is_ever_due(rs: list[RecordFacts], ps: list[Policy],
                                                    hs: list[Hold], now: datetime) -> None:
    result = due(rs, ps, hs, now)
    active = [h for h in hs if h.active(now)]
    covered = {r.seq for r in rs if any(h.covers(r, None) for h in active)}
    assert not (_destroyable(result) & covered)
    assert {d.seq for d in result.held} == covered


@settings(max_examples=120, deadline=None)
@given(records(), policies(), moments)
def test_the_longest_retention_always_wins(rs: list[RecordFacts], ps: list[Policy],
                                           now: datetime) -> None:
    result = due(rs, ps, [], now)
    by_seq = {r.seq: r for r in rs}
    for d in result.destroy + result.review + result.transfer:
        covering = [p for p in ps if p.scope.matches(by_seq[d.seq].platform,
                                                     by_seq[d.seq].account,
                                                     by_seq[d.seq].kind, by_seq[d.seq].event,
                                                     frozenset())]
        dates = [p.due_at(by_seq[d.seq]) for p in covering]
        assert None not in dates  # a permanent or untriggered policy would have kept it
        assert d.due_at == max(dates) <= now  # type: ignore[type-var]
        winner = next(p for p in covering if p.id == d.policy_id)
        assert winner.due_at(by_seq[d.seq]) == d.due_at and winner.action == d.outcome


@settings(max_examples=120, deadline=None)
@given(records(), policies(), holds(), moments, st.integers(0, 2000))
def test_due_is_monotone_in_time(rs: list[RecordFacts], ps: list[Policy], hs: list[Hold],
                                 now: datetime, later_days: int) -> None:
    """With the holds in force at both times, what is due now is still due later."""
    still_active = [h for h in hs if h.released_at is None]
    later = now + timedelta(days=later_days)
    early = due(rs, ps, still_active, now)
    late = due(rs, ps, still_active, later)
    for outcome in ("destroy", "review", "transfer"):
        assert {d.seq for d in early.by_outcome(outcome)} <= \
            {d.seq for d in late.by_outcome(outcome)} | {d.seq for d in late.held}


@settings(max_examples=120, deadline=None)
@given(moments, st.sampled_from(("calendar_year", "fiscal_year")), st.integers(1, 12))
def test_cutoff_is_the_first_year_boundary_after_the_trigger(start: datetime, kind: str,
                                                             month: int) -> None:
    end = cutoff_end(start, kind, month)
    first = 1 if kind == "calendar_year" else month
    assert end > start and end.month == first and end.day == 1
    assert end - start <= timedelta(days=366)
    assert cutoff_end(start, "none", month) == start


@settings(max_examples=100, deadline=None)
@given(records(), policies(), holds(), moments)
def test_every_record_gets_exactly_one_decision(rs: list[RecordFacts], ps: list[Policy],
                                                hs: list[Hold], now: datetime) -> None:
    result = due(rs, ps, hs, now)
    seqs = [d.seq for o in ("destroy", "review", "transfer", "held", "kept")
            for d in result.by_outcome(o)]
    assert sorted(seqs) == [r.seq for r in rs]
